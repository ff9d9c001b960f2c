//! The report's Actions Taken list and the 📊 message's, on a real run of changes: who asked, who approved, and the
//! changes that did not happen shown as what they were.

use super::broken_with_incident_on;
use crate::helpers::{ClusterApp, assert_has};

/// The lines of the written report's Actions Taken section.
fn actions_taken(c: &ClusterApp) -> Vec<String> {
    let path = c.t.dir.path().join("docs/incidents/incident-20261129.md");
    let report = std::fs::read_to_string(path).expect("report written");
    report
        .lines()
        .skip_while(|l| *l != "## Actions Taken")
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .filter(|l| l.starts_with("- "))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn actions_taken_lists_updates_and_changes_with_who_asked_and_who_approved_in_time_order() {
    let c = broken_with_incident_on(ClusterApp::spawn(&[]).await).await;
    c.t.console("bob", "ops", "/incident-rollback").await;
    c.t.console("dave", "ops", "/incident-deny R1 wrong revision")
        .await;
    c.t.advance_minutes(2);
    c.t.console("bob", "ops", "/incident-rollback").await;
    let out = c.t.console("carol", "ops", "/incident-approve R2").await;
    assert!(out.contains("done"), "{out}");
    c.t.advance_minutes(3);
    let update =
        c.t.console(
            "bob",
            "ops",
            "/incident-update --status monitoring rolled back to revision 41",
        )
        .await;
    assert_has(
        &update,
        &[
            "📊 INCIDENT UPDATE - P0\n",
            "Actions Taken:\n• 03:00 Rollback freightliner to the previous revision (R1) denied by dave: wrong revision; nothing ran — bob\n• 03:02 Rollback freightliner to the previous revision done: ",
            "(asked by bob, approved by carol) — bob\nUsers affected: not recorded",
        ],
    );
    let again =
        c.t.console("bob", "ops", "/incident-update --users ~40% holding")
            .await;
    assert_has(
        &again,
        &[
            "Actions Taken: none since the last update\n",
            "Users affected: ~40%\n",
        ],
    );
    c.t.console("bob", "ops", "/incident-resolve bad deploy | rollback")
        .await;
    let out = c.t.console("bob", "ops", "/incident-report").await;
    assert!(out.contains("POST-INCIDENT REPORT"), "{out}");
    assert_eq!(
        actions_taken(&c),
        [
            "- **03:00** Rollback freightliner to the previous revision (R1) denied by dave: wrong revision; nothing ran — bob",
            "- **03:02** Rollback freightliner to the previous revision done: revision 42 (freightliner-1.4.2, app 1.4.2, deployed 2026-11-29 02:40 UTC, deployed) → rolled back to revision 41 (freightliner-1.4.1, app 1.4.1, deployed 2026-11-20 10:00 UTC, superseded) (asked by bob, approved by carol) — bob",
            "- **03:05** Update: rolled back to revision 41 — bob",
            "- **03:05** Update: holding — bob",
        ]
    );
}
