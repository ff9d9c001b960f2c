//! The post-incident report, follow-ups and the team's response times.

use std::path::PathBuf;

use crate::helpers::{TestApp, assert_has, repo};

/// A scripted incident from detection to resolution, with every milestone.
async fn scripted_incident(t: &TestApp) {
    t.say("/incident-assess API returning 500s since the last deploy")
        .await; // 03:00
    t.advance_minutes(4);
    t.console("bob", "ops", "/incident-ack").await; // 03:04
    t.console("bob", "ops", "/incident-role comms @carol").await;
    t.advance_minutes(6);
    t.console(
        "bob",
        "ops",
        r#"/incident-update --users ~2,000 --impact "EU checkout down" errors started with deploy 42"#,
    )
    .await; // 03:10
    t.advance_minutes(2);
    t.console(
        "bob",
        "ops",
        "/incident-severity P0 checkout fails in every region",
    )
    .await; // 03:12
    t.advance_minutes(3);
    t.console(
        "bob",
        "ops",
        "/incident-update --status mitigating rolling back to revision 41",
    )
    .await; // 03:15
    t.console("bob", "ops", "/incident-role commander dave")
        .await;
    t.advance_minutes(5);
    t.say("/incident-note root cause: the new retry flag doubles every request")
        .await; // 03:20
    t.say("/incident-role scribe").await;
    t.advance_minutes(5);
    t.console(
        "bob",
        "ops",
        "/incident-update --status monitoring rollback done, error rate 0.1%",
    )
    .await; // 03:25
    t.say("/incident-note prevention: canary config flags before they reach every pod")
        .await;
    t.console("bob", "ops", "/incident-severity P1 contained to the EU")
        .await;
    t.say("/incident-note status page updated").await;
    t.say("/incident-followup alert on the 5xx rate per region")
        .await;
    t.say("/incident-followup load-test the retry flag in staging")
        .await;
    t.advance_minutes(20);
    t.console(
        "bob",
        "ops",
        "/incident-resolve retry flag doubled the request rate | rolled back to revision 41",
    )
    .await; // 03:45
    t.say("/incident-followup done 1").await;
    t.advance_minutes(15);
}

fn golden() -> PathBuf {
    repo().join("tests/api/golden/report.md")
}

#[tokio::test]
async fn the_report_of_a_scripted_incident_matches_the_golden_file() {
    let t = TestApp::spawn().await;
    scripted_incident(&t).await;
    let out = t.say("/incident-report").await;
    let path = t.dir.path().join("docs/incidents/incident-20261129.md");
    assert_has(
        &out,
        &[
            "📄 POST-INCIDENT REPORT - #1",
            "Status: Closed",
            "Report: incident-20261129.md",
            "Time to acknowledge: 4m",
            "Time to mitigate: 15m",
            "Time to resolve: 45m",
            "Action items: 1 open of 2",
            "📎 incident-20261129.md",
        ],
    );
    let written = std::fs::read_to_string(&path).expect("report written");
    assert!(
        out.contains(&written),
        "the report is posted with the message"
    );
    let server_folder = t.dir.path().display().to_string();
    assert!(
        !out.contains(&server_folder),
        "the message names the file, not where it is on the server: {out}"
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(golden(), &written).expect("golden file written");
    }
    let expected =
        std::fs::read_to_string(golden()).expect("golden file (UPDATE_GOLDEN=1 writes it)");
    assert_eq!(
        written, expected,
        "report differs from tests/api/golden/report.md; if the change is intended, \
         run UPDATE_GOLDEN=1 cargo test and review the diff"
    );
    let status = t.say("/incident-status #1").await;
    assert_has(&status, &["Closed", "closed; report incident-20261129.md"]);
    assert!(!status.contains(&server_folder), "{status}");
}

#[tokio::test]
async fn text_that_would_drive_a_terminal_is_escaped_in_the_report_file() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess checkout \u{202e}nwod si").await;
    t.say("/incident-note root cause: \u{2067}cache\u{2069} \u{200b}flag\u{feff}")
        .await;
    t.say("/incident-resolve bad flag | rolled back").await;
    let out = t.say("/incident-report").await;
    let written = std::fs::read_to_string(t.dir.path().join("docs/incidents/incident-20261129.md"))
        .expect("report written");
    assert!(
        !written.contains(['\u{202e}', '\u{2067}', '\u{200b}', '\u{feff}']),
        "{written:?}"
    );
    assert_has(
        &written,
        &[
            r"checkout \u{202e}nwod si",
            r"\u{2067}cache\u{2069} \u{200b}flag\u{feff}",
        ],
    );
    assert!(out.contains(&written), "the posted file is the written one");
}

#[tokio::test]
async fn markdown_people_typed_cannot_break_the_report_structure() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess **checkout** | down <script>x</script>")
        .await;
    t.say("/incident-followup fix the | table ## and [this](http://e)")
        .await;
    t.say("/incident-resolve `cache` | rolled back").await;
    t.say("/incident-report").await;
    let written = std::fs::read_to_string(t.dir.path().join("docs/incidents/incident-20261129.md"))
        .expect("report written");
    assert_has(
        &written,
        &[
            r"# Post-Incident Report: #1 — \*\*checkout\*\* \| down &lt;script&gt;x&lt;/script&gt;",
            r"- [ ] fix the \| table \#\# and \[this\](http://e) (alice)",
            "## Root Cause\n\n\\`cache\\`\n",
        ],
    );
    assert!(!written.contains("<script>"), "{written}");
    let headings = written.lines().filter(|l| l.starts_with('#')).count();
    assert_eq!(headings, 10, "only the template's headings: {written}");
}

#[tokio::test]
async fn the_report_is_refused_before_the_incident_is_resolved() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess API returning 500s").await;
    let version = t.version(1).await;
    let entries = t.timeline(1).await.len();
    let out = t.say("/incident-report").await;
    assert_has(
        &out,
        &[
            "⚠️ #1 cannot have its report yet",
            "The post-incident report is written once the incident is resolved.",
            "#1 is Investigating. Allowed now:",
            "Resolve it first: /incident-resolve #1 <root cause> | <resolution>.",
        ],
    );
    assert_eq!(
        out.matches("Investigating").count(),
        1,
        "the state once: {out}"
    );
    assert_eq!(t.version(1).await, version);
    assert_eq!(t.timeline(1).await.len(), entries);
    assert!(
        !t.dir.path().join("docs/incidents").exists(),
        "no file written"
    );
}

#[tokio::test]
async fn the_resolution_message_shows_the_response_times() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess API returning 500s").await;
    t.advance_minutes(7);
    t.say("/incident-update --status monitoring fix deployed")
        .await;
    t.advance_minutes(13);
    let resolved = t.say("/incident-resolve bad flag | rolled back").await;
    assert_has(
        &resolved,
        &[
            "✅ INCIDENT RESOLVED",
            "Time to acknowledge: 7m",
            "Time to mitigate: 7m",
            "Time to resolve: 20m",
            "▸ Write the report: /incident-report #1",
        ],
    );
}

#[tokio::test]
async fn follow_ups_are_numbered_ticked_and_shown_also_after_closing() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess API returning 500s").await;
    assert_has(
        &t.say("/incident-followup add a 5xx alert").await,
        &[
            "📌 ACTION ITEM 1 on #1",
            "add a 5xx alert",
            "/incident-followup #1 done 1 ticks it off.",
        ],
    );
    assert_has(
        &t.say("/incident-followup done 2").await,
        &[
            "There is no action item 2 on #1",
            "Its action items are 1 to 1",
        ],
    );
    t.say("/incident-resolve bad flag | rolled back").await;
    assert_has(
        &t.say("/incident-followup done 1").await,
        &["☑️ ACTION ITEM 1 on #1 DONE"],
    );
    assert_has(
        &t.say("/incident-followup done 1").await,
        &["Action item 1 is already done"],
    );
    let closed = t.say("/incident-report").await;
    assert_has(&closed, &["- [x] add a 5xx alert (alice)"]);
    // After closing, the incident is named with #ID.
    let added = t.say("/incident-followup #1 document the flag").await;
    assert_has(&added, &["📌 ACTION ITEM 2 on #1"]);
    let status = t.say("/incident-status #1").await;
    assert_has(
        &status,
        &[
            "Action Items:",
            "1. [x] add a 5xx alert — alice",
            "2. [ ] document the flag — alice",
        ],
    );
    // Writing the report again brings it up to date, at the same path, without a state change.
    let version = t.version(1).await;
    let again = t.say("/incident-report #1").await;
    assert_has(
        &again,
        &[
            "📄 POST-INCIDENT REPORT - #1 (written again)",
            "- [ ] document the flag (alice)",
            "Action items: 1 open of 2",
        ],
    );
    assert_eq!(t.version(1).await, version);
    let files: Vec<_> = std::fs::read_dir(t.dir.path().join("docs/incidents"))
        .unwrap()
        .collect();
    assert_eq!(files.len(), 1);
}

#[tokio::test]
async fn reports_of_one_day_get_numbered_file_names_in_the_order_the_incidents_opened() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess API returning 500s").await;
    t.console("bob", "other", "/incident-assess search is slow")
        .await;
    t.console("bob", "other", "/incident-resolve cache | flushed")
        .await;
    let out = t.console("bob", "other", "/incident-report").await;
    assert!(out.contains("Report: incident-20261129-2.md"), "{out}");
    t.say("/incident-resolve bad flag | rolled back").await;
    t.say("/incident-report").await;
    let dir = t.dir.path().join("docs/incidents");
    let first = std::fs::read_to_string(dir.join("incident-20261129.md")).unwrap();
    assert!(
        first.starts_with("# Post-Incident Report: #1 — "),
        "{first}"
    );
    let second = std::fs::read_to_string(dir.join("incident-20261129-2.md")).unwrap();
    assert!(
        second.starts_with("# Post-Incident Report: #2 — "),
        "#2 reported first still gets the -2 name: {second}"
    );
}
