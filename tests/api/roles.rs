//! Incident roles through the terminal channel: who holds what shows in `/incident-status` and
//! 📊, a handover is on the timeline, and bad or pointless role changes change nothing.

use crate::helpers::{TestApp, assert_has};

#[tokio::test]
async fn status_and_updates_show_who_holds_each_role_from_when() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess API returning 500s").await; // 03:00, by alice
    t.advance_minutes(2);
    t.console("bob", "ops", "/incident-ack").await;
    t.advance_minutes(3);
    let handed = t.console("bob", "ops", "/incident-role comms carol").await;
    assert_has(
        &handed,
        &[
            "👤 carol IS COMMS LEAD OF #1",
            "carol is comms lead from 03:05 UTC (set by bob).",
        ],
    );
    t.console("erin", "ops", "/incident-role scribe").await;
    t.advance_minutes(5);
    let over = t
        .console("bob", "ops", "/incident-role commander dave")
        .await;
    assert_has(
        &over,
        &["dave is incident commander from 03:10 UTC, taking over from bob"],
    );
    let update = t
        .console("carol", "ops", "/incident-update rolling back")
        .await;
    assert_has(
        &update,
        &[
            "📊 INCIDENT UPDATE",
            "Incident commander: dave (since 03:10 UTC)",
            "Comms lead: carol (since 03:05 UTC)",
            "Scribe: erin (since 03:05 UTC)",
        ],
    );
    let status = t.say("/incident-status").await;
    assert_has(
        &status,
        &[
            "Incident commander: dave (since 03:10 UTC)",
            "Comms lead: carol (since 03:05 UTC)",
            "bob is incident commander — bob",
            "dave is incident commander (handed over from bob) — bob",
        ],
    );
}

#[tokio::test]
async fn a_bad_or_pointless_role_change_is_refused_and_changes_nothing() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess API returning 500s").await;
    t.say("/incident-role scribe").await;
    let before = t.timeline(1).await.len();
    let cases = [
        (
            "/incident-role boss",
            "'boss' is not a role (commander, comms or scribe)",
        ),
        ("/incident-role scribe", "alice already is scribe of #1"),
        (
            "/incident-role comms <@U0BOB>",
            "on the terminal name the user",
        ),
        (
            "/incident-role comms bob carol",
            "'bob carol' is not a person",
        ),
    ];
    for (line, said) in cases {
        assert_has(&t.say(line).await, &[said]);
    }
    assert_eq!(t.timeline(1).await.len(), before, "nothing was written");
    t.say("/incident-resolve flag | rolled back").await;
    t.say("/incident-report").await;
    assert_has(
        &t.say("/incident-role #1 comms bob").await,
        &["/incident-role is not possible now", "#1 is Closed"],
    );
}
