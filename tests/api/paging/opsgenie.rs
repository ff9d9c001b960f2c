//! Opsgenie out: an alert per paged incident, its acknowledgement and close by alias, and the
//! check of each accepted request's outcome.

use super::*;
use crate::helpers::assert_has;

fn opsgenie_env(fake: &FakeOpsgenie) -> Vec<(String, String)> {
    vec![
        ("FIREWATCH__OPSGENIE__API_URL".into(), fake.url.clone()),
        ("FIREWATCH__OPSGENIE__API_KEY".into(), API_KEY.into()),
    ]
}

/// The performance-engineer role (paged at P0 and P1) is Opsgenie's team `sre-core`.
/// The security-auditor role is the team `security`, paged with `/incident-page`.
const TEAMS: &str = "[roles.performance-engineer]\nopsgenie_teams = [\"sre-core\"]\n\n\
                     [roles.cloud-architect]\nopsgenie_teams = [\"platform\"]\n\n\
                     [people.jane]\nconsole = \"jane\"\nopsgenie_user = \"jane@example.com\"\n";

async fn spawn(fake: &FakeOpsgenie) -> TestApp {
    TestApp::spawn_with_toml(TEAMS, opsgenie_env(fake)).await
}

#[tokio::test]
async fn an_incident_opens_acknowledges_and_closes_one_opsgenie_alert() {
    let fake = FakeOpsgenie::start().await;
    let t = spawn(&fake).await;
    let said = t.say("/incident-assess checkout down --sev P0").await;
    assert_has(&said, &["📟 Opsgenie: triggering (sre-core)"]);
    fake.slow_processing(1);
    t.app.posts.deliver_due().await;
    let calls = fake.calls();
    assert_eq!(calls[0].method, "POST /v2/alerts");
    assert_eq!(
        calls[0].auth.as_deref(),
        Some(&*format!("GenieKey {API_KEY}"))
    );
    let alert = &calls[0].body;
    assert_eq!(alert["alias"], "firewatch-1");
    assert_eq!(alert["priority"], "P1");
    assert_eq!(alert["responders"][0]["type"], "team");
    assert_eq!(alert["responders"][0]["name"], "sre-core");
    assert_eq!(alert["message"], "#1 P0 on freightliner: checkout down");
    assert_eq!(alert["description"], "checkout down");
    // Accepted, not yet processed: still triggering, checked again with backoff.
    assert_eq!(fake.paths()[1], "GET /v2/alerts/requests/req-1");
    let status = t.say("/incident-status #1").await;
    assert_has(&status, &["📟 Opsgenie: triggering (sre-core)"]);
    later(&t, 1).await;
    let status = t.say("/incident-status #1").await;
    assert_has(&status, &["📟 Opsgenie: triggered (sre-core)"]);

    fake.slow_processing(0);
    t.say("/incident-ack").await;
    t.app.posts.deliver_due().await;
    t.say("/incident-resolve bad deploy | rolled back").await;
    t.app.posts.deliver_due().await;
    let paths = fake.paths();
    assert_eq!(
        paths[3..],
        [
            "POST /v2/alerts/firewatch-1/acknowledge?identifierType=alias",
            "GET /v2/alerts/requests/req-2",
            "POST /v2/alerts/firewatch-1/close?identifierType=alias",
            "GET /v2/alerts/requests/req-3",
        ]
    );
    let status = t.say("/incident-status #1").await;
    assert_has(&status, &["📟 Opsgenie: resolved (sre-core)"]);
}

#[tokio::test]
async fn an_opsgenie_request_that_fails_after_its_202_is_told_in_the_channel() {
    let fake = FakeOpsgenie::start().await;
    let t = spawn(&fake).await;
    let channel = t.record_posts();
    fake.fail_next("Team sre-core does not exist");
    t.say("/incident-assess checkout down --sev P1").await;
    t.app.posts.deliver_due().await;
    later(&t, 60).await;
    let told: Vec<String> = channel.take_text();
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_has(
        &told[0],
        &["Opsgenie PAGE FAILED", "Team sre-core does not exist"],
    );
    assert_eq!(fake.calls()[0].body["priority"], "P2");
    let status = t.say("/incident-status #1").await;
    assert_has(&status, &["📟 Opsgenie: failed (sre-core)"]);
}

#[tokio::test]
async fn incident_page_adds_a_roles_team_to_the_alert_or_opens_one_and_acknowledges_nothing() {
    let fake = FakeOpsgenie::start().await;
    let t = spawn(&fake).await;
    t.say("/incident-assess checkout down --sev P1").await;
    t.app.posts.deliver_due().await;
    let said = t
        .say("/incident-page cloud-architect nodes are draining")
        .await;
    assert_has(
        &said,
        &["PAGING CLOUD-ARCHITECT", "📟 Opsgenie: paging platform"],
    );
    t.app.posts.deliver_due().await;
    let add = fake
        .calls()
        .into_iter()
        .find(|c| c.method.contains("/responders"))
        .expect("a responder added");
    assert_eq!(
        add.method,
        "POST /v2/alerts/firewatch-1/responders?identifierType=alias"
    );
    assert_eq!(
        add.body["responder"],
        serde_json::json!({"type": "team", "name": "platform"})
    );
    assert_eq!(add.body["note"], "nodes are draining");
    assert_has(
        &page_entries(&t, 1).await.join("\n"),
        &["📟 firewatch: cloud-architect paged by alice: nodes are draining"],
    );
    let status = t.say("/incident-status #1").await;
    assert_has(&status, &["📟 Opsgenie: triggered (sre-core, platform)"]);
    let incident = t
        .app
        .store
        .incident(firewatch::incident::IncidentId::new(1).unwrap());
    assert!(incident.await.unwrap().unwrap().acknowledged.is_none());

    // An incident below the paged severities: /incident-page opens its alert.
    t.say("/incident-assess a report is slow --sev P3").await;
    t.app.posts.deliver_due().await;
    let before = fake.calls().len();
    let said = t.say("/incident-page #2 cloud-architect").await;
    assert_has(&said, &["📟 Opsgenie: triggering (platform)"]);
    t.app.posts.deliver_due().await;
    let created = &fake.calls()[before];
    assert_eq!(created.method, "POST /v2/alerts");
    assert_eq!(created.body["alias"], "firewatch-2");
    assert_eq!(created.body["priority"], "P4");

    t.say("/incident-resolve #2 slow query | index added").await;
    let refused = t.say("/incident-page #2 cloud-architect").await;
    assert_has(
        &refused,
        &["#2 is Resolved", "Only an active incident pages people."],
    );
}

#[tokio::test]
async fn a_team_opsgenie_could_not_add_is_told_and_the_page_stays_as_it_was() {
    let fake = FakeOpsgenie::start().await;
    let t = spawn(&fake).await;
    let channel = t.record_posts();
    t.say("/incident-assess checkout down --sev P1").await;
    t.app.posts.deliver_due().await;
    fake.fail_next("Team platform does not exist");
    t.say("/incident-page cloud-architect").await;
    t.app.posts.deliver_due().await;
    let told: Vec<String> = channel.take_text();
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_has(
        &told[0],
        &["DID NOT PAGE PLATFORM", "Team platform does not exist"],
    );
    let status = t.say("/incident-status #1").await;
    assert_has(&status, &["📟 Opsgenie: triggered (sre-core)"]);
}

#[tokio::test]
async fn incident_page_adds_a_person_by_their_opsgenie_user() {
    let fake = FakeOpsgenie::start().await;
    let t = spawn(&fake).await;
    t.say("/incident-assess checkout down --sev P1").await;
    t.app.posts.deliver_due().await;
    let said = t
        .say("/incident-page @jane you know the payment client")
        .await;
    assert_has(
        &said,
        &["PAGING JANE", "📟 Opsgenie: paging jane@example.com"],
    );
    t.app.posts.deliver_due().await;
    let add = fake
        .calls()
        .into_iter()
        .find(|c| c.method.contains("/responders"))
        .expect("a responder added");
    assert_eq!(
        add.body["responder"],
        serde_json::json!({"type": "user", "username": "jane@example.com"})
    );
    // Someone with no Opsgenie user is told in the channel only.
    let said = t.say("/incident-page @bob").await;
    assert_has(&said, &["PAGING BOB", "No pager pages them"]);
}
