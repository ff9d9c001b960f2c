//! Roles woken through PagerDuty services of their own (`[roles.NAME] pagerduty_routing_key`):
//! `/incident-page ROLE` and a severity that pages the role each start the role's own page
//! (`firewatch-<id>-<role>`, the role's routing key), which follows the incident's
//! acknowledgement and resolution; news of it comes back like news of the incident's page.

use firewatch::app::serve::{self, Running};

use super::inbound::{SECRET, pagerduty_event, post, sign, wait_entry};
use super::*;
use crate::fake_slack::FakeSlack;
use crate::helpers::{Backend, assert_has, on_both_backends};
use crate::slack::slack_env;
use crate::support::pg::PgSchema;

/// The database administrators' own PagerDuty service.
const DBA_KEY: &str = "DBAR0UT1NGKEY0123456789ABCDEFGHI";

fn dba_role() -> String {
    format!("[roles.dba]\ndescription = \"the databases\"\npagerduty_routing_key = \"{DBA_KEY}\"\n")
}

/// `firewatch serve` paging through `fake`, with dba one of P1's roles, taking PagerDuty's
/// webhooks.
async fn serving_dba_on_p1(fake: &FakePagerDuty) -> (TestApp, Running) {
    let slack = FakeSlack::start().await;
    let mut env = slack_env(&slack, &[]);
    env.extend(pagerduty_env(
        fake,
        &[
            (
                "FIREWATCH__SEVERITY__P1__ROLES",
                "devops-troubleshooter,dba",
            ),
            ("FIREWATCH__PAGERDUTY__WEBHOOK_SECRET", SECRET),
        ],
    ));
    let t = TestApp::spawn_with_toml(&dba_role(), env).await;
    let running = serve::start(&t.app, "127.0.0.1:0").await.unwrap();
    (t, running)
}

/// PagerDuty's signed webhook: event `id` of `event_type` on incident #1's dba page, by
/// `agent`; the status answered.
async fn pagerduty_says(running: &Running, id: &str, event_type: &str, agent: &str) -> u16 {
    let body = pagerduty_event(id, event_type, "firewatch-1-dba", agent);
    let signature = sign(&body, SECRET);
    let headers = [("X-PagerDuty-Signature", signature.as_str())];
    post(running.addr, "/pagerduty/webhooks", &headers, &body)
        .await
        .0
}

#[tokio::test]
async fn incident_page_wakes_a_role_through_its_own_pagerduty_service() {
    let fake = FakePagerDuty::start().await;
    let t = TestApp::spawn_with_toml(&dba_role(), pagerduty_env(&fake, &[])).await;
    let quiet = t
        .say("/incident-assess replica lag on orders --sev P2")
        .await;
    assert!(!quiet.contains("📟"), "P2 pages nobody: {quiet}");

    let paged = t.say("/incident-page dba locks piling up").await;
    assert_has(&paged, &["📟 PagerDuty: triggering (dba)"]);
    assert!(!paged.contains("(freightliner)"), "only the role: {paged}");
    t.app.posts.deliver_due().await;
    let events = fake.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["event_action"], "trigger");
    assert_eq!(events[0]["routing_key"], DBA_KEY);
    assert_eq!(events[0]["dedup_key"], "firewatch-1-dba");
    assert_eq!(events[0]["payload"]["custom_details"]["paged role"], "dba");
    assert_has(
        &t.say("/incident-status").await,
        &["📟 PagerDuty: triggered (dba)"],
    );

    // Paged again while the page calls: PagerDuty would only add to it.
    let again = t.say("/incident-page dba").await;
    assert_has(&again, &["📟 PagerDuty: dba already paged (triggered)"]);
    t.app.posts.deliver_due().await;
    assert_eq!(fake.events().len(), 1);

    // The role's page follows the incident.
    assert_has(
        &t.say("/incident-ack").await,
        &["📟 PagerDuty: acknowledging (dba)"],
    );
    t.app.posts.deliver_due().await;
    t.say("/incident-resolve vacuum stuck | killed it").await;
    t.app.posts.deliver_due().await;
    assert_eq!(fake.actions(), ["trigger", "acknowledge", "resolve"]);
    for event in fake.events() {
        assert_eq!(event["dedup_key"], "firewatch-1-dba");
        assert_eq!(event["routing_key"], DBA_KEY);
    }
    assert_has(
        &t.say("/incident-status #1").await,
        &["📟 PagerDuty: resolved (dba)"],
    );
    // Everything was queued as it happened: nothing is owed.
    t.clock.advance(chrono::TimeDelta::minutes(5));
    assert_eq!(t.app.engine.catch_up_pages().await, 0);
}

#[tokio::test]
async fn a_severity_paging_a_role_with_its_own_service_pages_it_beside_the_incident() {
    let fake = FakePagerDuty::start().await;
    let (t, running) = serving_dba_on_p1(&fake).await;
    let opened = t.say("/incident-assess orders time out --sev P1").await;
    assert_has(
        &opened,
        &[
            "📟 PagerDuty: triggering (freightliner)",
            "📟 PagerDuty: triggering (dba)",
        ],
    );
    t.app.posts.deliver_due().await;
    let triggers = fake.wait_events(2).await;
    assert_eq!(triggers.len(), 2);
    let keys: Vec<(String, String)> = fake
        .events()
        .iter()
        .map(|e| {
            let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
            (text(&e["dedup_key"]), text(&e["routing_key"]))
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("firewatch-1".to_owned(), ROUTING_KEY.to_owned()),
            ("firewatch-1-dba".to_owned(), DBA_KEY.to_owned()),
        ]
    );

    // The DBA acknowledges their page in PagerDuty: the incident is taken, and the incident's
    // own page stops escalating; the DBA's page is not told what it said.
    let said = pagerduty_says(&running, "01DBA1", "incident.acknowledged", "Dana Dba").await;
    assert_eq!(said, 200);
    wait_entry(&t, "acknowledged in PagerDuty by Dana Dba").await;
    t.app.posts.deliver_due().await;
    fake.wait_events(3).await;
    assert_eq!(fake.actions(), ["trigger", "trigger", "acknowledge"]);
    assert_eq!(fake.events()[2]["dedup_key"], "firewatch-1");
    let status = t.say("/incident-status #1").await;
    assert_has(
        &status,
        &[
            "📟 PagerDuty: acknowledged (freightliner)",
            "📟 PagerDuty: acknowledged (dba) — by Dana Dba",
        ],
    );

    // Resolving resolves both.
    t.say("/incident-resolve #1 slow query | index added").await;
    t.app.posts.deliver_due().await;
    fake.wait_events(5).await;
    let events = fake.events();
    let resolves: Vec<&str> = events[3..]
        .iter()
        .inspect(|e| assert_eq!(e["event_action"], "resolve"))
        .map(|e| e["dedup_key"].as_str().unwrap())
        .collect();
    assert_eq!(resolves, ["firewatch-1", "firewatch-1-dba"]);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_role_without_a_service_of_its_own_pages_through_the_incidents_page() {
    let fake = FakePagerDuty::start().await;
    let t = TestApp::spawn_with_toml(&dba_role(), pagerduty_env(&fake, &[])).await;
    t.say("/incident-assess replica lag on orders --sev P2")
        .await;
    let paged = t.say("/incident-page golang-pro").await;
    assert_has(&paged, &["📟 PagerDuty: triggering (freightliner)"]);
    t.app.posts.deliver_due().await;
    assert_eq!(fake.events()[0]["dedup_key"], "firewatch-1");
}

#[tokio::test]
async fn a_role_paged_after_the_incident_was_taken_is_called_until_taken_there() {
    let fake = FakePagerDuty::start().await;
    let t = TestApp::spawn_with_toml(&dba_role(), pagerduty_env(&fake, &[])).await;
    t.say("/incident-assess replica lag on orders --sev P2")
        .await;
    t.say("/incident-ack").await;
    t.say("/incident-page dba the primary is read-only").await;
    t.app.posts.deliver_due().await;
    // Its incident's acknowledgement came before it: nothing acknowledges it later.
    t.clock.advance(chrono::TimeDelta::minutes(5));
    assert_eq!(t.app.engine.catch_up_pages().await, 0);
    t.app.posts.deliver_due().await;
    assert_eq!(fake.actions(), ["trigger"]);
    assert_has(
        &t.say("/incident-status").await,
        &["📟 PagerDuty: triggered (dba)"],
    );
    // Resolving the incident still resolves it.
    t.say("/incident-resolve failover stuck | promoted the replica")
        .await;
    t.app.posts.deliver_due().await;
    assert_eq!(fake.actions(), ["trigger", "resolve"]);
}

on_both_backends!(a_raise_that_adds_a_role_wakes_it_and_roles_alone_need_no_service_key);

async fn a_raise_that_adds_a_role_wakes_it_and_roles_alone_need_no_service_key(backend: Backend) {
    // PagerDuty pages roles only: no key for incidents, and check-config takes that.
    let fake = FakePagerDuty::start().await;
    let env = vec![
        (
            "FIREWATCH__PAGERDUTY__EVENTS_URL".to_owned(),
            fake.events_url.clone(),
        ),
        (
            "FIREWATCH__PAGERDUTY__SEVERITIES".to_owned(),
            "P0,P1".to_owned(),
        ),
        (
            "FIREWATCH__SEVERITY__P0__ROLES".to_owned(),
            "devops-troubleshooter,dba".to_owned(),
        ),
    ];
    let t = TestApp::spawn_on_with_toml(backend, &dba_role(), env).await;
    let opened = t.say("/incident-assess orders slow --sev P1").await;
    assert!(!opened.contains("📟"), "no page for P1: {opened}");

    // Raised to P0, whose roles include dba: its page is triggered, and the raise's own
    // acknowledgement (raising takes the incident) does not stop it calling.
    let raised = t.say("/incident-severity P0 orders failing").await;
    assert_has(&raised, &["📟 PagerDuty: triggering (dba)"]);
    assert!(!raised.contains("acknowledging"), "{raised}");
    t.app.posts.deliver_due().await;
    assert_eq!(fake.actions(), ["trigger"]);
    assert_eq!(fake.events()[0]["dedup_key"], "firewatch-1-dba");
    t.clock.advance(chrono::TimeDelta::minutes(5));
    assert_eq!(t.app.engine.catch_up_pages().await, 0, "nothing owed");
    t.say("/incident-resolve lock contention | killed the batch job")
        .await;
    t.app.posts.deliver_due().await;
    assert_eq!(fake.actions(), ["trigger", "resolve"]);
}

#[tokio::test]
async fn a_role_page_resolved_in_pagerduty_is_left_alone_and_can_be_paged_anew() {
    let fake = FakePagerDuty::start().await;
    let (t, running) = serving_dba_on_p1(&fake).await;
    t.say("/incident-assess orders time out --sev P1").await;
    t.app.posts.deliver_due().await;
    fake.wait_events(2).await;

    // The DBA finds it is not the database and resolves their page.
    let said = pagerduty_says(&running, "01DBA2", "incident.resolved", "Dana Dba").await;
    assert_eq!(said, 200);
    wait_entry(&t, "resolved in PagerDuty by Dana Dba (dba's page)").await;
    let incident = t
        .app
        .store
        .incident(firewatch::incident::IncidentId::new(1).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        incident.status.is_active(),
        "a role's page is not the incident"
    );

    // The incident's acknowledgement goes to its own page only.
    t.say("/incident-ack #1").await;
    t.app.posts.deliver_due().await;
    fake.wait_events(3).await;
    assert_eq!(fake.events()[2]["dedup_key"], "firewatch-1");
    assert_has(
        &t.say("/incident-status #1").await,
        &["📟 PagerDuty: resolved (dba) — by Dana Dba"],
    );

    // It is the database after all.
    t.clock.advance(chrono::TimeDelta::minutes(1));
    let again = t.say("/incident-page #1 dba it is the database").await;
    assert_has(&again, &["📟 PagerDuty: triggering (dba)"]);
    t.app.posts.deliver_due().await;
    let events = fake.wait_events(4).await;
    assert_eq!(events.len(), 4);
    let trigger = &fake.events()[3];
    assert_eq!(
        (
            trigger["event_action"].as_str(),
            trigger["dedup_key"].as_str()
        ),
        (Some("trigger"), Some("firewatch-1-dba"))
    );
    assert_eq!(
        trigger["payload"]["custom_details"]["why paged"],
        "it is the database"
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn the_catch_up_triggers_each_page_never_queued_and_acknowledges_role_pages() {
    // Another process raised the incident into P1 (which acknowledges it) and died before
    // queuing the pages: here, one that does not page, on the paging process's schema.
    let fake = FakePagerDuty::start().await;
    let pg = PgSchema::create().await;
    let store = vec![("FIREWATCH__STORE__URL".to_owned(), pg.url.clone())];
    let mut env = pagerduty_env(&fake, &[]);
    env.extend(store.clone());
    let paging = TestApp::spawn_with_toml(&dba_role(), env).await;
    let unpaged =
        TestApp::spawn_with_toml("[roles.dba]\ndescription = \"the databases\"\n", store).await;
    paging.say("/incident-assess orders slow --sev P2").await;
    paging.say("/incident-page dba replica lag").await;
    paging.app.posts.deliver_due().await;
    assert_eq!(fake.actions(), ["trigger"]);

    unpaged
        .say("/incident-severity #1 P1 checkout failing")
        .await;
    paging.clock.advance(chrono::TimeDelta::minutes(2));
    assert_eq!(paging.app.engine.catch_up_pages().await, 3);
    paging.app.posts.deliver_due().await;
    let sent: Vec<(String, String)> = fake
        .events()
        .iter()
        .map(|e| {
            let text = |v: &serde_json::Value| v.as_str().unwrap().to_owned();
            (text(&e["event_action"]), text(&e["dedup_key"]))
        })
        .collect();
    let sent: Vec<(&str, &str)> = sent.iter().map(|(a, k)| (a.as_str(), k.as_str())).collect();
    assert_eq!(
        sent,
        [
            ("trigger", "firewatch-1-dba"),
            ("trigger", "firewatch-1"),
            ("acknowledge", "firewatch-1"),
            ("acknowledge", "firewatch-1-dba"),
        ]
    );
    assert_eq!(paging.app.engine.catch_up_pages().await, 0, "once");
}

#[tokio::test]
async fn the_catch_up_pages_the_roles_of_an_incident_it_pages_and_not_of_one_paged_before() {
    let fake = FakePagerDuty::start().await;
    let pg = PgSchema::create().await;
    let store = ("FIREWATCH__STORE__URL", pg.url.as_str());
    let roles = (
        "FIREWATCH__SEVERITY__P1__ROLES",
        "devops-troubleshooter,dba",
    );
    let keyless = "[roles.dba]\ndescription = \"the databases\"\n";
    let env = |extra: &[(&str, &str)]| {
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    };
    // #1 was paged before dba had a PagerDuty service; #2 by a process that died before
    // queuing any page (here, one that does not page).
    let before = TestApp::spawn_with_toml(keyless, pagerduty_env(&fake, &[roles, store])).await;
    let unpaged = TestApp::spawn_with_toml(keyless, env(&[roles, store])).await;
    let paging = TestApp::spawn_with_toml(&dba_role(), pagerduty_env(&fake, &[roles, store])).await;
    before.say("/incident-assess orders slow --sev P1").await;
    before.app.posts.deliver_due().await;
    unpaged.say("/incident-assess checkout down --sev P1").await;
    unpaged.say("/incident-ack #2").await;

    paging.clock.advance(chrono::TimeDelta::minutes(2));
    assert_eq!(paging.app.engine.catch_up_pages().await, 4);
    paging.app.posts.deliver_due().await;
    let sent: Vec<String> = fake
        .events()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["event_action"].as_str().unwrap(),
                e["dedup_key"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        sent,
        [
            "trigger firewatch-1",
            "trigger firewatch-2",
            "acknowledge firewatch-2",
            "trigger firewatch-2-dba",
            "acknowledge firewatch-2-dba",
        ]
    );
    assert_eq!(paging.app.engine.catch_up_pages().await, 0, "once");
}
