//! What to do with a request the inbox still holds that has not finished: after a restart, run
//! it, tell the channel its answer was lost, or let it go; after a run that failed for an
//! internal reason, when to run it again and when to stop. And what to tell people. The same
//! rules and words for every platform.
//!
//! One rule bounds both: a request runs only while its platform still takes an answer to it
//! (its reply window, counted from when it was received), and a request replayed after
//! [`MAX_ATTEMPTS`] restarts is given up. Between failed runs it waits longer each time
//! ([`backoff`]), so a store that stays down is not hammered.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

use crate::message::Message;
use crate::store::Inbound;

/// Replays after which a request is given up (it may be what crashed firewatch).
pub const MAX_ATTEMPTS: u32 = 3;
/// Failed runs in a row after which the author is told that firewatch keeps trying: a failure
/// that the first retry gets past is not worth a message.
pub const TELL_AFTER: u32 = 2;
/// The longest wait between two runs of a request that failed.
const LONGEST_WAIT: Duration = Duration::from_secs(30);

/// What a restart does with one pending request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Not handled yet and still answerable: run it.
    Run,
    /// Handled (its effect is saved) but the answer was never delivered: say so.
    AnswerLost,
    /// Not handled, and too old to answer (the platform's reply window has passed, or people
    /// have moved on): do not run it; tell the person it was dropped.
    Expired,
    /// Replayed too often already: give it up.
    GiveUp,
}

/// The rule: `max_age` is how long the platform lets firewatch answer a request.
pub fn triage(request: &Inbound, now: DateTime<Utc>, max_age: TimeDelta) -> Replay {
    if request.attempts >= MAX_ATTEMPTS {
        Replay::GiveUp
    } else if request.handled {
        Replay::AnswerLost
    } else if too_old(request.received, now, max_age) {
        Replay::Expired
    } else {
        Replay::Run
    }
}

/// Whether a request received at `received` can no longer be answered at `at`.
fn too_old(received: DateTime<Utc>, at: DateTime<Utc>, max_age: TimeDelta) -> bool {
    at - received > max_age
}

/// What a run does after its `failures`-th internal failure in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Run it again after this long.
    After(Duration),
    /// The next run would come too late to be answered: stop, and tell its author.
    TooLate,
}

/// How long a request waits after its `failures`-th failed run in a row: 1 s, 2 s, 4 s … at
/// most 30 s.
pub fn backoff(failures: u32) -> Duration {
    let doubled =
        Duration::from_secs(1).saturating_mul(1 << failures.clamp(1, 16).saturating_sub(1));
    doubled.min(LONGEST_WAIT)
}

/// The rule after a failed run of a request received at `received`, at `now`: run it again
/// after [`backoff`], unless that comes after `max_age` (how long the platform lets firewatch
/// answer it).
pub fn retry(
    failures: u32,
    received: DateTime<Utc>,
    now: DateTime<Utc>,
    max_age: TimeDelta,
) -> Retry {
    let wait = backoff(failures);
    let next = now + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX);
    if too_old(received, next, max_age) {
        Retry::TooLate
    } else {
        Retry::After(wait)
    }
}

/// What people are told about `request` (running `line`, sent by `author`) when `replay` is not
/// [`Replay::Run`].
pub fn notice(replay: Replay, line: &str, author: &str, request: &Inbound) -> Message {
    let at = request.received.format("%H:%M UTC");
    match replay {
        Replay::Run | Replay::AnswerLost => Message::notice(
            "♻️ firewatch restarted before it could post an answer",
            &format!(
                "It had handled {line} from {author} (at {at}); what that did is saved. \
                 /incident-status shows where things stand."
            ),
        ),
        Replay::Expired => Message::notice(
            "⌛ firewatch restarted and did not run a command",
            &format!(
                "{line} from {author} (at {at}) is too old now. Type it again if it is still needed."
            ),
        ),
        Replay::GiveUp => Message::notice(
            "⚠️ firewatch gave up on a command",
            &format!(
                "{line} from {author} (at {at}) failed {} times. /incident-status shows where \
                 things stand.",
                request.attempts
            ),
        ),
    }
}

/// What people are told about a request (running `line`, sent by `author` at `received`) whose
/// runs failed for an internal reason (the last one logged under `reference`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// It still fails; firewatch tries again until `until`.
    Retrying {
        /// When it stops trying.
        until: DateTime<Utc>,
    },
    /// It failed until it was too late to answer.
    NotDone,
    /// A run after the failure found it done: its change is saved, its answer was lost.
    AnswerLost,
}

/// The notice for `after` about `line` from `author`, received at `received`.
pub fn failure_notice(
    after: AfterFailure,
    line: &str,
    author: &str,
    received: DateTime<Utc>,
    reference: &str,
) -> Message {
    let at = received.format("%H:%M UTC");
    match after {
        AfterFailure::Retrying { until } => Message::notice(
            "⏳ firewatch has not done that yet",
            &format!(
                "{line} failed for a reason on our side (reference {reference}). firewatch \
                 keeps trying until {} and answers here; there is no need to send it again.",
                until.format("%H:%M UTC")
            ),
        ),
        AfterFailure::NotDone => Message::notice(
            "⚠️ firewatch could not do a command",
            &format!(
                "{line} from {author} (at {at}) failed for a reason on our side each time it \
                 was tried (reference {reference}), until it was too late to answer. \
                 /incident-status shows what is saved; send it again if it is still needed."
            ),
        ),
        AfterFailure::AnswerLost => Message::notice(
            "♻️ firewatch lost its answer to a command",
            &format!(
                "It had done {line} from {author} (at {at}); what that did is saved, but a \
                 failure on our side (reference {reference}) lost the answer. /incident-status \
                 shows where things stand."
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(minutes_old: i64, handled: bool, attempts: u32) -> (Inbound, DateTime<Utc>) {
        let now = DateTime::UNIX_EPOCH + TimeDelta::days(1);
        let inbound = Inbound {
            key: "slack:command:1".into(),
            payload: "{}".into(),
            received: now - TimeDelta::minutes(minutes_old),
            handled,
            attempts,
        };
        (inbound, now)
    }

    #[test]
    fn fresh_requests_run_handled_ones_are_reported_old_ones_expire_crashers_are_given_up() {
        let window = TimeDelta::minutes(30);
        let (r, now) = request(1, false, 0);
        assert_eq!(triage(&r, now, window), Replay::Run);
        let (r, now) = request(1, true, 0);
        assert_eq!(triage(&r, now, window), Replay::AnswerLost);
        let (r, now) = request(31, false, 0);
        assert_eq!(triage(&r, now, window), Replay::Expired);
        let (r, now) = request(120, true, 1);
        assert_eq!(triage(&r, now, window), Replay::AnswerLost);
        let (r, now) = request(1, false, MAX_ATTEMPTS);
        assert_eq!(triage(&r, now, window), Replay::GiveUp);
    }

    #[test]
    fn failed_runs_wait_longer_each_time_and_stop_when_the_next_would_be_too_late() {
        let waits: Vec<u64> = (1..=7).map(|n| backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(backoff(u32::MAX), LONGEST_WAIT);
        let window = TimeDelta::minutes(15);
        let received = DateTime::UNIX_EPOCH;
        let at = |seconds| received + TimeDelta::seconds(seconds);
        assert_eq!(
            retry(1, received, at(0), window),
            Retry::After(Duration::from_secs(1))
        );
        // 30 s before the window ends, a wait of 30 s still lands inside it; a second later not.
        assert_eq!(
            retry(9, received, at(870), window),
            Retry::After(LONGEST_WAIT)
        );
        assert_eq!(retry(9, received, at(871), window), Retry::TooLate);
    }
}
