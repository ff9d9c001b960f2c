//! `[followups] tracker = "jira"`: action items become Jira issues (REST API v2), done through
//! the configured transition, assigned by account id (Cloud) or name (Data Center).

use base64::Engine as _;
use firewatch::incident::TimelineEvent;
use serde_json::json;

use super::fake_jira::FakeJira;
use crate::helpers::{Backend, TestApp, assert_has};

const PEOPLE: &str = "[people.bob]\nconsole = \"bob\"\njira = \"5b10a2844c20165700ede21g\"\n";

fn cloud_auth() -> String {
    let basic = base64::engine::general_purpose::STANDARD.encode("ops@acme.com:jira-api-token");
    format!("Basic {basic}")
}

async fn spawn(backend: Backend, cloud: bool) -> (TestApp, FakeJira) {
    let auth = if cloud {
        cloud_auth()
    } else {
        "Bearer jira-pat".to_owned()
    };
    let jira = FakeJira::start(&auth).await;
    let mut env = vec![
        (
            "FIREWATCH__FOLLOWUPS__TRACKER".to_owned(),
            "jira".to_owned(),
        ),
        ("FIREWATCH__JIRA__URL".to_owned(), jira.url.clone()),
        ("FIREWATCH__JIRA__PROJECT".to_owned(), "OPS".to_owned()),
    ];
    if cloud {
        env.push((
            "FIREWATCH__JIRA__EMAIL".to_owned(),
            "ops@acme.com".to_owned(),
        ));
        env.push((
            "FIREWATCH__JIRA__API_TOKEN".to_owned(),
            "jira-api-token".to_owned(),
        ));
    } else {
        env.push(("FIREWATCH__JIRA__TOKEN".to_owned(), "jira-pat".to_owned()));
    }
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(crate::support::pg::PgSchema::create().await),
    };
    if let Some(pg) = &pg {
        env.push(("FIREWATCH__STORE__URL".into(), pg.url.clone()));
    }
    let mut t = TestApp::spawn_with_toml(PEOPLE, env).await;
    t.pg = pg;
    (t, jira)
}

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

async fn files_transitions_assigns_and_reads_back(backend: Backend, cloud: bool) {
    let (t, jira) = spawn(backend, cloud).await;
    t.say("/incident-assess API returning 500s since the last deploy")
        .await;
    t.say("/incident-followup alert on the 5xx rate").await;
    t.say("/incident-followup load-test the retry flag").await;
    assert_eq!(t.app.posts.deliver_due().await, 2);
    let create = &jira.calls()[0];
    assert_eq!(create.line, "POST /rest/api/2/issue");
    let auth = if cloud {
        cloud_auth()
    } else {
        "Bearer jira-pat".into()
    };
    assert_eq!(create.auth, auth);
    let fields = &create.body["fields"];
    assert_eq!(fields["project"], json!({"key": "OPS"}));
    assert_eq!(fields["summary"], "alert on the 5xx rate");
    assert_eq!(fields["issuetype"], json!({"name": "Task"}));
    assert!(
        fields["labels"]
            .as_array()
            .unwrap()
            .contains(&json!("incident-followup"))
    );
    assert_has(
        fields["description"].as_str().unwrap(),
        &["incident #1", "Service: freightliner"],
    );
    let url = format!("{}/browse/OPS-1", jira.url);
    assert_eq!(filed(&t).await[0], (1, "OPS-1".to_owned(), url.clone()));
    assert_has(&t.say("/incident-status").await, &[&format!("OPS-1 {url}")]);

    // Done through the "Done" transition, found by name.
    t.say("/incident-followup done 1").await;
    assert_eq!(t.app.posts.deliver_due().await, 1);
    let lines = jira.lines();
    assert_eq!(
        lines[lines.len() - 2..],
        [
            "GET /rest/api/2/issue/OPS-1/transitions",
            "POST /rest/api/2/issue/OPS-1/transitions"
        ]
    );
    assert_eq!(
        jira.calls().last().unwrap().body,
        json!({"transition": {"id": "31"}})
    );
    assert_eq!(
        jira.issue("OPS-1").unwrap()["fields"]["status"]["name"],
        "Done"
    );

    // Assigned by account id on Cloud, by name on Data Center.
    assert_has(
        &t.say("/incident-followup 2 @bob").await,
        &["assigned to 5b10a2844c20165700ede21g on Jira"],
    );
    assert_eq!(t.app.posts.deliver_due().await, 1);
    let assign = jira.calls().pop().unwrap();
    assert_eq!(assign.line, "PUT /rest/api/2/issue/OPS-2/assignee");
    let field = if cloud { "accountId" } else { "name" };
    assert_eq!(assign.body, json!({ field: "5b10a2844c20165700ede21g" }));

    // OPS-2 is done in Jira: the report reads it and ticks it.
    jira.resolve("OPS-2");
    t.say("/incident-resolve bad flag | rolled back").await;
    let report = t.say("/incident-report").await;
    assert_has(
        &report,
        &[
            "- [x] alert on the 5xx rate (alice) — [OPS-1]",
            "- [x] load-test the retry flag (alice) — [OPS-2]",
        ],
    );
    assert!(
        jira.lines()
            .contains(&"GET /rest/api/2/issue/OPS-2?fields=status,assignee".to_owned()),
        "{:?}",
        jira.lines()
    );
}

#[tokio::test]
async fn jira_cloud_items_are_filed_done_assigned_and_read_back_on_sqlite() {
    files_transitions_assigns_and_reads_back(Backend::Sqlite, true).await;
}

#[tokio::test]
async fn jira_data_center_items_are_filed_done_assigned_and_read_back_on_postgres() {
    files_transitions_assigns_and_reads_back(Backend::Postgres, false).await;
}

#[tokio::test]
async fn jira_outages_are_retried_after_a_restart_and_refusals_named() {
    let (t, jira) = spawn(Backend::Sqlite, true).await;
    t.say("/incident-assess API returning 500s").await;
    jira.fail(1, 503);
    t.say("/incident-followup alert on the 5xx rate").await;
    assert_eq!(t.app.posts.deliver_due().await, 0);
    let t = t.restart().await;
    t.clock.advance(chrono::TimeDelta::seconds(2));
    assert_eq!(t.app.posts.deliver_due().await, 1);
    assert_eq!(filed(&t).await.len(), 1);

    jira.fail(1, 401);
    t.say("/incident-followup second item").await;
    assert_eq!(t.app.posts.deliver_due().await, 0);
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
    assert_has(&why[0], &["Jira refused the credentials for project OPS"]);
    assert!(!why[0].contains("jira-api-token"));
}
