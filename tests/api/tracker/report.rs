//! `[reports] github = "pr" | "commit"`: the report committed to the service's repository.

use firewatch::incident::TimelineEvent;
use serde_json::json;

use super::fake_github::FakeGithub;
use crate::helpers::{Backend, TestApp, assert_has};

const REPO: &str = "acme/freightliner";
const PATH: &str = "docs/incidents/incident-20261129.md";

async fn spawn(backend: Backend, mode: &str) -> (TestApp, FakeGithub) {
    let github = FakeGithub::start().await;
    let env = vec![
        ("FIREWATCH__REPORTS__GITHUB".to_owned(), mode.to_owned()),
        ("FIREWATCH__GITHUB__API_URL".to_owned(), github.url.clone()),
        (
            "FIREWATCH__GITHUB__TOKEN".to_owned(),
            "ghp-test-token".to_owned(),
        ),
        ("FIREWATCH__GITHUB__REPO".to_owned(), REPO.to_owned()),
    ];
    (TestApp::spawn_on_with(backend, env).await, github)
}

async fn resolved(t: &TestApp) {
    t.say("/incident-assess API returning 500s").await;
    t.say("/incident-resolve bad flag | rolled back").await;
}

async fn published(t: &TestApp) -> Vec<String> {
    t.timeline(1)
        .await
        .into_iter()
        .filter_map(|e| match e.event {
            TimelineEvent::ReportPublished { url } => Some(url),
            _ => None,
        })
        .collect()
}

async fn pr_flow_on(backend: Backend) {
    let (t, github) = spawn(backend, "pr").await;
    resolved(&t).await;
    let posted = t.record_posts();
    t.say("/incident-report").await;
    let local = t.dir.path().join(PATH);
    let text = std::fs::read_to_string(&local).expect("the local file is written first");
    assert_eq!(t.app.posts.deliver_due().await, 1);
    assert_eq!(
        github.lines(),
        [
            "GET /repos/acme/freightliner",
            "GET /repos/acme/freightliner/git/ref/heads/incident-1-report",
            "GET /repos/acme/freightliner/git/ref/heads/main",
            "POST /repos/acme/freightliner/git/refs",
            format!("GET /repos/acme/freightliner/contents/{PATH}").as_str(),
            format!("PUT /repos/acme/freightliner/contents/{PATH}").as_str(),
            "GET /repos/acme/freightliner/pulls",
            "POST /repos/acme/freightliner/pulls",
            "POST /repos/acme/freightliner/issues/1/labels",
        ]
    );
    let calls = github.calls();
    assert_eq!(
        calls[3].body,
        json!({"ref": "refs/heads/incident-1-report", "sha": "0".repeat(40)})
    );
    assert!(calls[5].body.get("sha").is_none(), "a new file has no sha");
    assert_eq!(calls[5].body["branch"], "incident-1-report");
    let pr = &calls[7].body;
    assert_eq!(pr["title"], "Post-incident report: #1 API returning 500s");
    assert_eq!(pr["base"], "main");
    assert_eq!(pr["head"], "incident-1-report");
    let git = github.git(REPO);
    let committed = &git.files[&("incident-1-report".to_owned(), PATH.to_owned())].1;
    assert_eq!(committed, &text);
    let url = format!("https://github.example/{REPO}/pull/1");
    assert_eq!(published(&t).await, std::slice::from_ref(&url));
    let told: Vec<String> = posted.take_text();
    assert!(told.iter().any(|m| m.contains(&url)), "{told:?}");
    assert_eq!(
        github.issue(REPO, 1).unwrap()["labels"],
        json!([{"name": "incident-followup"}, {"name": "P1"}])
    );

    // Written again: the same branch and pull request; the file's sha is sent.
    t.say("/incident-followup #1 document the flag").await;
    t.say("/incident-report #1").await;
    let before = github.lines().len();
    assert_eq!(t.app.posts.deliver_due().await, 1);
    let again: Vec<String> = github.lines()[before..].to_vec();
    assert_eq!(
        again,
        [
            "GET /repos/acme/freightliner",
            "GET /repos/acme/freightliner/git/ref/heads/incident-1-report",
            format!("GET /repos/acme/freightliner/contents/{PATH}").as_str(),
            format!("PUT /repos/acme/freightliner/contents/{PATH}").as_str(),
            "GET /repos/acme/freightliner/pulls",
        ]
    );
    let put = github.calls()[before + 3].clone();
    assert_eq!(
        put.body["sha"].as_str(),
        Some(
            git.files[&("incident-1-report".to_owned(), PATH.to_owned())]
                .0
                .as_str()
        )
    );
    let git = github.git(REPO);
    assert_has(
        &git.files[&("incident-1-report".to_owned(), PATH.to_owned())].1,
        &["document the flag"],
    );
    assert_eq!(published(&t).await, [url.clone(), url]);
}

#[tokio::test]
async fn the_report_becomes_a_pull_request_and_is_updated_in_place_on_sqlite() {
    pr_flow_on(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_report_becomes_a_pull_request_and_is_updated_in_place_on_postgres() {
    pr_flow_on(Backend::Postgres).await;
}

#[tokio::test]
async fn commit_mode_commits_to_the_default_branch() {
    let (t, github) = spawn(Backend::Sqlite, "commit").await;
    resolved(&t).await;
    t.say("/incident-report").await;
    assert_eq!(t.app.posts.deliver_due().await, 1);
    assert_eq!(
        github.lines(),
        [
            "GET /repos/acme/freightliner",
            format!("GET /repos/acme/freightliner/contents/{PATH}").as_str(),
            format!("PUT /repos/acme/freightliner/contents/{PATH}").as_str(),
        ]
    );
    assert_eq!(github.calls()[2].body["branch"], "main");
    assert!(
        github
            .git(REPO)
            .files
            .contains_key(&("main".to_owned(), PATH.to_owned()))
    );
    let urls = published(&t).await;
    assert_eq!(urls.len(), 1);
    assert!(
        urls[0].starts_with("https://github.example/acme/freightliner/commit/"),
        "{urls:?}"
    );
}

#[tokio::test]
async fn an_edit_made_meanwhile_is_never_overwritten() {
    let (t, github) = spawn(Backend::Sqlite, "commit").await;
    resolved(&t).await;
    t.say("/incident-report").await;
    t.app.posts.deliver_due().await;
    github.edit_meanwhile();
    let posted = t.record_posts();
    t.say("/incident-report #1").await;
    assert_eq!(t.app.posts.deliver_due().await, 0);
    let told: Vec<String> = posted.take_text();
    assert_eq!(told.len(), 1, "the channel hears it once: {told:?}");
    assert_has(
        &told[0],
        &[
            "THE REPORT OF #1 DID NOT REACH GITHUB",
            "changed meanwhile",
            "/incident-report #1 commits it again",
        ],
    );
    let why: Vec<String> = t
        .timeline(1)
        .await
        .into_iter()
        .filter_map(|e| match e.event {
            TimelineEvent::PostUndelivered { why, .. } => Some(why),
            _ => None,
        })
        .collect();
    assert_eq!(why.len(), 1, "{why:?}");
    assert_has(
        &why[0],
        &["changed meanwhile", "409", "nothing was overwritten"],
    );
}

#[tokio::test]
async fn the_local_file_is_written_whatever_github_answers() {
    let (t, github) = spawn(Backend::Sqlite, "pr").await;
    resolved(&t).await;
    github.fail(1, 404);
    let out = t.say("/incident-report").await;
    assert_has(&out, &["Report: incident-20261129.md"]);
    assert!(t.dir.path().join(PATH).exists());
    assert_eq!(t.app.posts.deliver_due().await, 0);
    assert!(published(&t).await.is_empty());
}
