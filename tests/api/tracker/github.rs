//! `[followups] tracker = "github"`: action items become GitHub issues through the outbox, are
//! closed there, and the report ticks what was closed on GitHub.

use firewatch::clock::Clock;
use firewatch::incident::TimelineEvent;
use serde_json::json;

use super::fake_github::FakeGithub;
use crate::helpers::{Backend, TestApp, assert_has};

const REPO: &str = "acme/freightliner";

async fn spawn(backend: Backend) -> (TestApp, FakeGithub) {
    let github = FakeGithub::start().await;
    (TestApp::spawn_on_with(backend, env(&github)).await, github)
}

/// Action items filed in `github`'s REPO.
fn env(github: &FakeGithub) -> Vec<(String, String)> {
    vec![
        (
            "FIREWATCH__FOLLOWUPS__TRACKER".to_owned(),
            "github".to_owned(),
        ),
        ("FIREWATCH__GITHUB__API_URL".to_owned(), github.url.clone()),
        (
            "FIREWATCH__GITHUB__TOKEN".to_owned(),
            "ghp-test-token".to_owned(),
        ),
        ("FIREWATCH__GITHUB__REPO".to_owned(), REPO.to_owned()),
    ]
}

/// The issues recorded on incident #1's timeline: (item, key, url).
async fn filed(t: &TestApp) -> Vec<(u32, String, String)> {
    t.timeline(1)
        .await
        .into_iter()
        .filter_map(|e| match e.event {
            TimelineEvent::FollowupFiled { n, key, url } => Some((n, key, url)),
            _ => None,
        })
        .collect()
}

async fn files_closes_and_reads_back_on(backend: Backend) {
    let (t, github) = spawn(backend).await;
    t.say("/incident-assess API returning 500s since the last deploy")
        .await;
    t.say("/incident-followup alert on the 5xx rate").await;
    t.say("/incident-followup load-test the retry flag").await;
    assert_eq!(t.app.posts.deliver_due().await, 2);

    let calls = github.calls();
    assert_eq!(
        github.lines(),
        [
            "POST /repos/acme/freightliner/issues",
            "POST /repos/acme/freightliner/issues"
        ]
    );
    let create = &calls[0];
    assert_eq!(create.auth, "Bearer ghp-test-token");
    assert_eq!(create.accept, "application/vnd.github+json");
    assert_eq!(create.version, "2022-11-28");
    assert!(create.agent, "GitHub refuses calls without a User-Agent");
    assert_eq!(create.body["title"], "alert on the 5xx rate");
    let labels = create.body["labels"].as_array().unwrap();
    assert!(labels.contains(&json!("incident-followup")), "{labels:?}");
    assert!(
        labels
            .iter()
            .any(|l| l.as_str().is_some_and(|l| l.starts_with('P'))),
        "the severity is a label: {labels:?}"
    );
    let body = create.body["body"].as_str().unwrap();
    assert_has(
        body,
        &[
            "incident #1: API returning 500s since the last deploy",
            "Service: freightliner",
            "/incident-followup #1 done 1",
        ],
    );
    assert_eq!(
        filed(&t).await,
        [
            (
                1,
                format!("{REPO}#1"),
                format!("https://github.example/{REPO}/issues/1")
            ),
            (
                2,
                format!("{REPO}#2"),
                format!("https://github.example/{REPO}/issues/2")
            ),
        ]
    );

    assert_has(
        &t.say("/incident-status").await,
        &[
            "1. [ ] alert on the 5xx rate — alice — acme/freightliner#1 https://github.example/acme/freightliner/issues/1",
        ],
    );

    // Ticking an item off closes its issue as completed.
    t.say("/incident-followup done 1").await;
    assert_eq!(t.app.posts.deliver_due().await, 1);
    let close = github.calls().pop().unwrap();
    assert_eq!(close.line, "PATCH /repos/acme/freightliner/issues/1");
    assert_eq!(
        close.body,
        json!({"state": "closed", "state_reason": "completed"})
    );
    assert_eq!(github.issue(REPO, 1).unwrap()["state"], "closed");

    // Issue 2 is closed on GitHub: the report reads its state and ticks it.
    github.close(REPO, 2);
    t.say("/incident-resolve bad flag | rolled back").await;
    let report = t.say("/incident-report").await;
    assert_has(
        &report,
        &[
            "- [x] alert on the 5xx rate (alice) — [acme/freightliner\\#1](<https://github.example/acme/freightliner/issues/1>)",
            "- [x] load-test the retry flag (alice) — [acme/freightliner\\#2](<https://github.example/acme/freightliner/issues/2>)",
        ],
    );
    assert!(
        github
            .lines()
            .contains(&"GET /repos/acme/freightliner/issues/2".to_owned()),
        "{:?}",
        github.lines()
    );
}

#[tokio::test]
async fn action_items_are_filed_closed_and_read_back_on_sqlite() {
    files_closes_and_reads_back_on(Backend::Sqlite).await;
}

#[tokio::test]
async fn action_items_are_filed_closed_and_read_back_on_postgres() {
    files_closes_and_reads_back_on(Backend::Postgres).await;
}

#[tokio::test]
async fn an_item_github_cannot_take_now_is_filed_after_a_restart() {
    let (t, github) = spawn(Backend::Sqlite).await;
    t.say("/incident-assess API returning 500s").await;
    github.fail(1, 503);
    t.say("/incident-followup alert on the 5xx rate").await;
    // Ticked before it was ever filed: the close waits behind the create in the incident's lane.
    t.say("/incident-followup done 1").await;
    assert_eq!(t.app.posts.deliver_due().await, 0);
    assert!(filed(&t).await.is_empty());
    let status = t.say("/incident-resolve bad flag | rolled back").await;
    assert!(!status.is_empty());

    let t = t.restart().await;
    t.clock.advance(chrono::TimeDelta::seconds(2));
    assert_eq!(t.app.posts.deliver_due().await, 2);
    assert_eq!(
        github.lines(),
        [
            "POST /repos/acme/freightliner/issues",
            "POST /repos/acme/freightliner/issues",
            "PATCH /repos/acme/freightliner/issues/1",
        ]
    );
    assert_eq!(filed(&t).await.len(), 1);
    assert_eq!(github.issue(REPO, 1).unwrap()["state"], "closed");
}

#[tokio::test]
async fn an_item_a_crash_left_unfiled_is_filed_at_the_first_tick() {
    let (t, github) = spawn(Backend::Sqlite).await;
    t.say("/incident-assess API returning 500s").await;
    // The item committed, then the process stopped before it stored the post that files it.
    let id = firewatch::incident::IncidentId::new(1).unwrap();
    let incident = t.app.store.incident(id).await.unwrap().unwrap();
    let lost = TimelineEvent::FollowupAdded {
        text: "alert on the 5xx rate".into(),
    };
    let by = firewatch::incident::timers::bot(&incident);
    t.app
        .store
        .append(id, &by, t.clock.now(), None, &[lost])
        .await
        .unwrap();
    let t = t.restart().await;
    assert_eq!(
        t.app.posts.deliver_due().await,
        0,
        "nothing waits in the outbox"
    );
    t.tick().await;
    assert_eq!(t.app.posts.deliver_due().await, 1);
    assert_eq!(github.lines(), ["POST /repos/acme/freightliner/issues"]);
    assert_eq!(
        github.issue(REPO, 1).unwrap()["title"],
        "alert on the 5xx rate"
    );
    assert_eq!(filed(&t).await.len(), 1);
    // Once a process: later ticks look no more.
    t.tick().await;
    assert_eq!(t.app.posts.deliver_due().await, 0);
    assert_eq!(github.lines().len(), 1);
}

#[tokio::test]
async fn an_item_not_yet_filed_says_so_in_the_report() {
    let (t, github) = spawn(Backend::Sqlite).await;
    t.say("/incident-assess API returning 500s").await;
    github.fail(1, 502);
    t.say("/incident-followup alert on the 5xx rate").await;
    t.app.posts.deliver_due().await;
    t.say("/incident-resolve bad flag | rolled back").await;
    let report = t.say("/incident-report").await;
    assert_has(
        &report,
        &["- [ ] alert on the 5xx rate (alice) — not yet filed"],
    );
}

/// What the timeline of #1 says about posts given up.
async fn undelivered(t: &TestApp) -> Vec<String> {
    t.timeline(1)
        .await
        .into_iter()
        .filter_map(|e| match e.event {
            TimelineEvent::PostUndelivered { why, .. } => Some(why),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn refusals_name_the_repository_and_what_the_token_lacks() {
    let cases = [
        (
            401,
            "GitHub refused the token for acme/freightliner: it is invalid, expired or revoked (GitHub: Bad credentials)",
        ),
        (
            403,
            "the token may not write issues in acme/freightliner: it needs Issues: read and write on it",
        ),
        (
            404,
            "GitHub finds no repository acme/freightliner the token can see",
        ),
        (422, "GitHub would not take the issue in acme/freightliner"),
    ];
    for (status, expected) in cases {
        let (t, github) = spawn(Backend::Sqlite).await;
        t.say("/incident-assess API returning 500s").await;
        github.fail(1, status);
        t.say("/incident-followup alert on the 5xx rate").await;
        assert_eq!(t.app.posts.deliver_due().await, 0);
        let why = undelivered(&t).await;
        assert_eq!(why.len(), 1, "{status}: {why:?}");
        assert!(why[0].contains(expected), "{status}: {why:?}");
        assert!(!why[0].contains("ghp-test-token"));
        // Given up: not tried again.
        t.clock.advance(chrono::TimeDelta::minutes(5));
        t.app.posts.deliver_due().await;
        assert_eq!(github.lines().len(), 1, "{status}");
    }
}

#[tokio::test]
async fn the_channel_is_told_once_while_github_is_down() {
    let (t, github) = spawn(Backend::Sqlite).await;
    t.say("/incident-assess API returning 500s").await;
    let posted = t.record_posts();
    github.fail(3, 503);
    t.say("/incident-followup alert on the 5xx rate").await;
    for _ in 0..4 {
        t.app.posts.deliver_due().await;
        t.clock.advance(chrono::TimeDelta::seconds(10));
    }
    assert_eq!(filed(&t).await.len(), 1, "filed once GitHub answers");
    let told: Vec<String> = posted
        .take()
        .iter()
        .map(|m| m.plain_text())
        .filter(|m| m.contains("GitHub did not take"))
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_has(
        &told[0],
        &[
            "⚠️ GitHub did not take this: filing action item 1",
            "GitHub answered 503 for acme/freightliner",
            "It is kept in firewatch and done by a retry from the outbox",
        ],
    );
}

#[tokio::test]
async fn an_item_is_assigned_to_the_github_login_of_the_person_named() {
    let github = FakeGithub::start().await;
    let people = "[people.bob]\nconsole = \"bob\"\ngithub = \"bob-gh\"\n\n\
                  [people.carol]\nconsole = \"carol\"\ngithub = \"carol\"\n";
    let t = TestApp::spawn_with_toml(people, env(&github)).await;
    t.say("/incident-assess API returning 500s").await;
    t.say("/incident-followup alert on the 5xx rate").await;
    let assigned = t.say("/incident-followup 1 @bob").await;
    assert_has(
        &assigned,
        &[
            "ACTION ITEM 1 on #1 ASSIGNED",
            "assigned to bob-gh on GitHub",
        ],
    );
    assert_eq!(t.app.posts.deliver_due().await, 2);
    let call = github.calls().pop().unwrap();
    assert_eq!(
        call.line,
        "POST /repos/acme/freightliner/issues/1/assignees"
    );
    assert_eq!(call.body, json!({"assignees": ["bob-gh"]}));
    assert_eq!(
        github.issue(REPO, 1).unwrap()["assignees"],
        json!([{"login": "bob-gh"}])
    );

    // Someone GitHub cannot assign there: refused, on the timeline, not retried.
    t.say("/incident-followup 1 @carol").await;
    assert_eq!(t.app.posts.deliver_due().await, 0);
    let why = undelivered(&t).await;
    assert!(
        why.iter()
            .any(|w| w.contains("GitHub did not assign acme/freightliner#1 to carol")),
        "{why:?}"
    );

    // Nobody with a login, no item: said plainly, nothing stored.
    assert_has(
        &t.say("/incident-followup 1 @dave").await,
        &["dave has no GitHub account", "Add github = \"ACCOUNT\""],
    );
    assert_has(
        &t.say("/incident-followup 7 @bob").await,
        &["There is no action item 7 on #1"],
    );
    assert_eq!(t.app.posts.deliver_due().await, 0);

    // A role names whoever holds it on the incident.
    assert_has(
        &t.say("/incident-followup 1 @scribe").await,
        &["Nobody is scribe of #1", "/incident-role #1 scribe @person"],
    );
    t.console("bob", "ops", "/incident-role scribe").await;
    assert_has(
        &t.say("/incident-followup 1 @scribe").await,
        &["assigned to bob-gh on GitHub"],
    );
    assert_eq!(t.app.posts.deliver_due().await, 1);
    assert_eq!(
        github.calls().pop().unwrap().body,
        json!({"assignees": ["bob-gh"]})
    );
}

#[tokio::test]
async fn writing_the_report_files_items_github_refused_before() {
    let (t, github) = spawn(Backend::Sqlite).await;
    t.say("/incident-assess API returning 500s").await;
    github.fail(1, 401);
    t.say("/incident-followup alert on the 5xx rate").await;
    assert_eq!(t.app.posts.deliver_due().await, 0);
    assert!(filed(&t).await.is_empty());
    // The token is fixed; the report is written: the item is filed again.
    t.say("/incident-resolve bad flag | rolled back").await;
    assert_has(
        &t.say("/incident-report").await,
        &["- [ ] alert on the 5xx rate (alice) — not yet filed"],
    );
    assert_eq!(t.app.posts.deliver_due().await, 1);
    assert_eq!(filed(&t).await.len(), 1);
    assert_has(
        &t.say("/incident-report #1").await,
        &["- [ ] alert on the 5xx rate (alice) — [acme/freightliner\\#1]"],
    );
    // Filed once: writing the report again stores nothing more.
    assert_eq!(t.app.posts.deliver_due().await, 0);
    assert_eq!(
        github.lines(),
        [
            "POST /repos/acme/freightliner/issues",
            "POST /repos/acme/freightliner/issues",
            "GET /repos/acme/freightliner/issues/1",
        ]
    );
}
