use chrono::TimeZone;

use super::*;

fn at(minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 3, minute, second)
        .unwrap()
}

/// A post stored at 03:00:00, given up at 03:30:00, tried `attempts` times before.
fn claimed(attempts: u32) -> ClaimedPost {
    ClaimedPost {
        id: 7,
        post: Post {
            kind: "slack".into(),
            destination: "C0INC".into(),
            lane: "slack:C0INC".into(),
            payload: "{}".into(),
            summary: "🚨 INCIDENT DETECTED - P1".into(),
            incident: IncidentId::new(1),
            stored: at(0, 0),
            give_up_at: at(30, 0),
        },
        attempts,
        last_error: None,
    }
}

fn retry(after: Option<u64>) -> Sent {
    Sent::Retry {
        after: after.map(Duration::from_secs),
        reason: "slack answered HTTP 500".into(),
    }
}

#[test]
fn failed_tries_wait_twice_as_long_each_time_up_to_a_minute() {
    let waits: Vec<u64> = (1..=9).map(|n| backoff(n).as_secs()).collect();
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
    assert_eq!(backoff(u32::MAX), LONGEST_WAIT);
}

#[test]
fn a_retry_comes_after_the_backoff_or_the_platforms_wait() {
    let now = at(1, 0);
    assert_eq!(
        next_step(&claimed(0), retry(None), now),
        Step::Retry {
            at: at(1, 1),
            reason: "slack answered HTTP 500".into()
        }
    );
    assert_eq!(
        next_step(&claimed(3), retry(None), now),
        Step::Retry {
            at: at(1, 8),
            reason: "slack answered HTTP 500".into()
        }
    );
    // A 429's Retry-After wins over the backoff; a wait of zero still waits a second.
    let Step::Retry { at: after_429, .. } = next_step(&claimed(3), retry(Some(20)), now) else {
        panic!("a 429 is retried");
    };
    assert_eq!(after_429, at(1, 20));
    let Step::Retry { at: no_wait, .. } = next_step(&claimed(0), retry(Some(0)), now) else {
        panic!("a 429 is retried");
    };
    assert_eq!(no_wait, at(1, 1));
}

#[test]
fn delivered_is_removed_and_a_refusal_is_given_up_at_once() {
    assert_eq!(
        next_step(&claimed(5), Sent::Delivered, at(10, 0)),
        Step::Remove
    );
    assert_eq!(
        next_step(
            &claimed(0),
            Sent::Refused("slack answered channel_not_found".into()),
            at(0, 1)
        ),
        Step::GiveUp("slack answered channel_not_found".into())
    );
}

#[test]
fn a_retry_that_would_come_after_the_give_up_time_gives_up_now() {
    // 03:29:30 + 1 min (the longest wait) is past 03:30.
    let step = next_step(&claimed(12), retry(None), at(29, 30));
    assert_eq!(
        step,
        Step::GiveUp("still failing after 30m and 13 tries: slack answered HTTP 500".into())
    );
    // Just in time for one more try.
    let step = next_step(&claimed(12), retry(None), at(29, 0));
    assert!(matches!(step, Step::Retry { .. }), "{step:?}");
}

#[test]
fn http_statuses_are_retried_or_refused_as_the_web_means_them() {
    let reason = || "x".to_owned();
    let wait = Some(Duration::from_secs(5));
    assert_eq!(
        Sent::from_status(429, wait, reason()),
        Sent::Retry {
            after: wait,
            reason: reason()
        }
    );
    for status in [500, 502, 503, 504, 408] {
        assert_eq!(
            Sent::from_status(status, None, reason()),
            Sent::retry(reason())
        );
    }
    for status in [400, 401, 403, 404, 410, 413] {
        assert_eq!(
            Sent::from_status(status, None, reason()),
            Sent::Refused(reason())
        );
    }
}
