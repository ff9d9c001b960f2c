//! What to do, after a restart, with a request the inbox still holds: run it, tell the channel
//! its answer was lost, or let it go, and what to tell people. The same rules and words for
//! every platform.

use chrono::{DateTime, TimeDelta, Utc};

use crate::message::Message;
use crate::store::Inbound;

/// Replays after which a request is given up (it may be what crashed firewatch).
pub const MAX_ATTEMPTS: u32 = 3;

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
    } else if now - request.received > max_age {
        Replay::Expired
    } else {
        Replay::Run
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
}
