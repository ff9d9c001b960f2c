//! What to do, after a restart, with a request the inbox still holds: run it, tell the channel
//! its answer was lost, or let it go. The same rules for every platform.

use chrono::{DateTime, TimeDelta, Utc};

use crate::command::{self, Command};
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

/// Whether the adapter must mark `line` handled once the engine has answered it, so that a
/// restart does not run it again. A command that may change something needs the mark: when it
/// ended in a refusal or an error it has no transaction of its own that records it ran, and it
/// may have acted outside the store. A command that only reads (`/incident-status`,
/// `/incident-help`), or one that does not parse, changes nothing: a restart runs it again, which
/// gives a fresh answer, so it needs no mark (one store write less for the most frequent command).
pub fn needs_handled_mark(line: &str) -> bool {
    command::parse(line)
        .is_ok_and(|call| !matches!(call.command, Command::Status | Command::Help { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_commands_that_may_change_something_are_marked_handled() {
        for line in [
            "/incident-assess checkout down",
            "/incident-note #3 looked at the logs",
            "/incident-rollback",
            "/incident-approve R2",
            "/incident-diagnose app",
        ] {
            assert!(needs_handled_mark(line), "{line}");
        }
        for line in [
            "/incident-status",
            "/incident-status #3",
            "/incident-help rollback",
            "/incident-nonsense",
            "/incident-scale many",
        ] {
            assert!(!needs_handled_mark(line), "{line}");
        }
    }

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
