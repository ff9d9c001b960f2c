//! PagerDuty out: the Events API v2 events an incident's course sends, from the outbox.

use firewatch::app::serve;
use firewatch::clock::Clock;

use super::*;
use crate::helpers::{Backend, assert_has, on_both_backends};
use crate::support::pg::PgSchema;

on_both_backends!(a_p1_incident_triggers_acknowledges_and_resolves_one_pagerduty_page);

async fn a_p1_incident_triggers_acknowledges_and_resolves_one_pagerduty_page(backend: Backend) {
    let fake = FakePagerDuty::start().await;
    let t = TestApp::spawn_on_with(backend, pagerduty_env(&fake, &[])).await;
    let said = t
        .say("/incident-assess checkout returns 502 --sev P1")
        .await;
    // Queued, not yet taken: the alert says so.
    assert_has(&said, &["📟 PagerDuty: triggering (freightliner)"]);
    assert!(fake.events().is_empty(), "sent from the outbox, not inline");
    t.app.posts.deliver_due().await;

    let trigger = &fake.events()[0];
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["routing_key"], ROUTING_KEY);
    assert_eq!(trigger["dedup_key"], "firewatch-1");
    assert_eq!(trigger["payload"]["severity"], "error");
    assert_eq!(trigger["payload"]["source"], "freightliner");
    assert_eq!(trigger["payload"]["component"], "freightliner");
    assert_eq!(
        trigger["payload"]["summary"],
        "#1 P1 on freightliner: checkout returns 502"
    );
    let details = &trigger["payload"]["custom_details"];
    assert_eq!(details["description"], "checkout returns 502");
    assert_eq!(details["channel"], "console channel ops");
    assert!(
        !t.app
            .store
            .pages_of(firewatch::incident::IncidentId::new(1).unwrap())
            .await
            .unwrap()
            .is_empty()
    );
    let status = t.say("/incident-status").await;
    assert_has(&status, &["📟 PagerDuty: triggered (freightliner)"]);

    let acked = t.say("/incident-ack").await;
    assert_has(&acked, &["📟 PagerDuty: acknowledging (freightliner)"]);
    t.app.posts.deliver_due().await;
    t.say("/incident-resolve bad deploy | rolled back").await;
    t.app.posts.deliver_due().await;

    assert_eq!(fake.actions(), ["trigger", "acknowledge", "resolve"]);
    for event in fake.events() {
        assert_eq!(event["dedup_key"], "firewatch-1");
        assert_eq!(event["routing_key"], ROUTING_KEY);
    }
    // An acknowledgement and a resolution are the key and the action, nothing more.
    for event in &fake.events()[1..] {
        let mut keys: Vec<&str> = event
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["dedup_key", "event_action", "routing_key"],
            "{event}"
        );
    }
    let status = t.say("/incident-status #1").await;
    assert_has(&status, &["📟 PagerDuty: resolved (freightliner)"]);
    assert_has(
        &page_entries(&t, 1).await.join("\n"),
        &["📟 PagerDuty: triggered (freightliner)"],
    );
}

#[tokio::test]
async fn severities_map_to_pagerduty_severities_and_only_paged_ones_page() {
    let fake = FakePagerDuty::start().await;
    let t = TestApp::spawn_with(pagerduty_env(&fake, &[])).await;
    t.say("/incident-assess checkout down --sev P0").await;
    let quiet = t.say("/incident-assess typo in a label --sev P3").await;
    assert!(!quiet.contains("📟"), "{quiet}");
    t.app.posts.deliver_due().await;
    assert_eq!(fake.events().len(), 1);
    assert_eq!(fake.events()[0]["payload"]["severity"], "critical");

    // Raised into a paged severity: paged then, once. Raising it also took it (an implicit
    // acknowledgement), which follows the trigger.
    t.say("/incident-severity #2 P1 users cannot pay").await;
    t.app.posts.deliver_due().await;
    t.say("/incident-severity #2 P0 all regions").await;
    t.app.posts.deliver_due().await;
    let events = fake.events();
    assert_eq!(fake.actions(), ["trigger", "trigger", "acknowledge"]);
    assert_eq!(events[1]["dedup_key"], "firewatch-2");
    assert_eq!(events[1]["payload"]["severity"], "error");
    assert_eq!(events[2]["dedup_key"], "firewatch-2");
}

#[tokio::test]
async fn a_page_is_retried_after_429_and_500_until_pagerduty_takes_it() {
    let fake = FakePagerDuty::start().await;
    let t = TestApp::spawn_with(pagerduty_env(&fake, &[])).await;
    fake.fail(&[Failure::RateLimited(5), Failure::Status(500)]);
    t.say("/incident-assess checkout down --sev P0").await;
    t.app.posts.deliver_due().await;
    assert_eq!(fake.events().len(), 1);
    // PagerDuty asked for 5 s: nothing before.
    later(&t, 4).await;
    assert_eq!(fake.events().len(), 1);
    later(&t, 1).await;
    assert_eq!(fake.events().len(), 2, "the 500");
    later(&t, 2).await;
    assert_eq!(fake.events().len(), 3);
    later(&t, 60).await;
    assert_eq!(fake.actions(), ["trigger", "trigger", "trigger"]);
    let status = t.say("/incident-status #1").await;
    assert_has(&status, &["📟 PagerDuty: triggered (freightliner)"]);
}

#[tokio::test]
async fn a_page_waiting_in_the_outbox_is_sent_after_a_restart() {
    let fake = FakePagerDuty::start().await;
    let t = TestApp::spawn_with(pagerduty_env(&fake, &[])).await;
    fake.fail(&[Failure::Status(503)]);
    t.say("/incident-assess checkout down --sev P1").await;
    t.app.posts.deliver_due().await;
    assert_eq!(fake.events().len(), 1);
    let t = t.restart().await;
    later(&t, 2).await;
    assert_eq!(fake.actions(), ["trigger", "trigger"]);
    later(&t, 60).await;
    assert_eq!(fake.events().len(), 2, "taken once, not sent again");
}

#[tokio::test]
async fn a_refused_page_is_told_once_in_the_channel_and_on_the_timeline() {
    let fake = FakePagerDuty::start().await;
    let t = TestApp::spawn_with(pagerduty_env(&fake, &[])).await;
    let channel = t.record_posts();
    fake.fail(&[Failure::Invalid("Invalid routing key")]);
    t.say("/incident-assess checkout down --sev P1").await;
    t.app.posts.deliver_due().await;
    later(&t, 120).await;
    assert_eq!(fake.events().len(), 1, "a 400 is not tried again");
    let told: Vec<String> = channel.take_text();
    assert_eq!(told.len(), 1, "{told:#?}");
    assert_has(
        &told[0],
        &[
            "PAGE FAILED",
            "Event object is invalid",
            "Invalid routing key",
            "Nobody was called",
        ],
    );
    assert_has(
        &page_entries(&t, 1).await.join("\n"),
        &["PagerDuty answered 400: Event object is invalid (Invalid routing key)"],
    );
    let status = t.say("/incident-status #1").await;
    assert_has(
        &status,
        &["📟 PagerDuty: failed (freightliner)", "Invalid routing key"],
    );
    // An acknowledgement does not follow a page that never was.
    t.say("/incident-ack #1").await;
    later(&t, 5).await;
    assert_eq!(fake.events().len(), 1);
}

#[tokio::test]
async fn two_replicas_on_postgres_send_a_page_once() {
    let fake = FakePagerDuty::start().await;
    let pg = PgSchema::create().await;
    let mut env = pagerduty_env(&fake, &[]);
    env.push(("FIREWATCH__STORE__URL".into(), pg.url.clone()));
    let a = TestApp::spawn_with(env.clone()).await;
    let b = TestApp::spawn_with(env).await;
    a.say("/incident-assess checkout down --sev P0").await;
    for _ in 0..3 {
        tokio::join!(a.app.posts.deliver_due(), b.app.posts.deliver_due());
    }
    assert_eq!(fake.actions(), ["trigger"]);
    // The acknowledgement, typed on the other replica, follows the same page key.
    b.say("/incident-ack #1").await;
    tokio::join!(a.app.posts.deliver_due(), b.app.posts.deliver_due());
    assert_eq!(fake.actions(), ["trigger", "acknowledge"]);
    let _ = a.clock.now();
}

#[tokio::test]
async fn serve_sends_pages_on_its_own_and_its_webhooks_are_off_without_secrets() {
    let fake = FakePagerDuty::start().await;
    let slack = crate::fake_slack::FakeSlack::start().await;
    let mut env = crate::slack::slack_env(&slack, &[]);
    env.extend(pagerduty_env(&fake, &[]));
    let t = TestApp::spawn_with(env).await;
    let running = serve::start(&t.app, "127.0.0.1:0").await.unwrap();
    let (status, _) = crate::slack::send_command(
        running.addr,
        &slack,
        "alice",
        "C0INC",
        "/incident-assess checkout down --sev P0",
        "p.1",
    )
    .await;
    assert_eq!(status, 200);
    let calls = fake.wait_events(1).await;
    assert_eq!(calls[0].body["dedup_key"], "firewatch-1");
    let link = &calls[0].body["links"][0]["href"];
    assert_eq!(link, "https://slack.com/app_redirect?channel=C0INC");
    // No webhook secret or token: the routes back are off.
    for path in ["/pagerduty/webhooks", "/opsgenie/webhooks"] {
        let response = reqwest::Client::new()
            .post(format!("http://{}{path}", running.addr))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
    }
    running.stop().await.unwrap();
}

#[tokio::test]
async fn an_incident_opened_by_a_critical_alert_pages_and_its_message_says_so() {
    let fake = FakePagerDuty::start().await;
    let env = pagerduty_env(&fake, &[]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let alerting = crate::alerts::Alerting::on(Backend::Sqlite, &env).await;
    let firing = crate::alerts::alert("HighErrorRate", "a1", "critical", 0, None);
    let replies = alerting
        .send(&crate::alerts::notification("HighErrorRate", &[firing]))
        .await;
    let said: Vec<String> = replies
        .iter()
        .map(|r| format!("{}\n{:?}", r.message.headline, r.message.blocks))
        .collect();
    assert_eq!(said.len(), 1, "{said:#?}");
    assert_has(&said[0], &["🚨", "📟 PagerDuty: triggering (freightliner)"]);
    alerting.t.app.posts.deliver_due().await;
    assert_eq!(fake.actions(), ["trigger"]);
    assert_eq!(fake.events()[0]["payload"]["severity"], "critical");
}

#[tokio::test]
async fn an_incident_whose_page_was_never_queued_is_paged_by_the_catch_up() {
    // A process that committed the incident and died before queuing its page: here, one that
    // did not page at all, beside one that does, on one Postgres schema.
    let fake = FakePagerDuty::start().await;
    let pg = PgSchema::create().await;
    let store = vec![("FIREWATCH__STORE__URL".to_owned(), pg.url.clone())];
    let unpaged = TestApp::spawn_with(store.clone()).await;
    let mut env = pagerduty_env(&fake, &[]);
    env.extend(store);
    let paging = TestApp::spawn_with(env).await;
    unpaged.say("/incident-assess checkout down --sev P1").await;
    unpaged.say("/incident-ack #1").await;
    // Left to the change that is still queuing it for a minute.
    assert_eq!(paging.app.engine.catch_up_pages().await, 0);
    paging.clock.advance(chrono::TimeDelta::minutes(2));
    assert_eq!(paging.app.engine.catch_up_pages().await, 2);
    paging.app.posts.deliver_due().await;
    assert_eq!(fake.actions(), ["trigger", "acknowledge"]);
    assert_eq!(fake.events()[0]["dedup_key"], "firewatch-1");
    assert_eq!(paging.app.engine.catch_up_pages().await, 0, "once");
    let status = paging.say("/incident-status #1").await;
    assert_has(&status, &["📟 PagerDuty: acknowledged (freightliner)"]);
}

#[tokio::test]
async fn an_acknowledgement_and_a_resolution_left_unqueued_are_sent_by_the_catch_up() {
    // Another process acknowledged and resolved the incident and died before queuing either
    // event: here, one that does not page at all, on the paging process's Postgres schema.
    let fake = FakePagerDuty::start().await;
    let pg = PgSchema::create().await;
    let store = vec![("FIREWATCH__STORE__URL".to_owned(), pg.url.clone())];
    let mut env = pagerduty_env(&fake, &[]);
    env.extend(store.clone());
    let paging = TestApp::spawn_with(env).await;
    let unpaged = TestApp::spawn_with(store).await;
    paging.say("/incident-assess checkout down --sev P1").await;
    paging.app.posts.deliver_due().await;
    assert_eq!(fake.actions(), ["trigger"]);

    unpaged.say("/incident-ack #1").await;
    assert_eq!(
        paging.app.engine.catch_up_pages().await,
        0,
        "left to the change still queuing for a minute"
    );
    paging.clock.advance(chrono::TimeDelta::minutes(2));
    assert_eq!(paging.app.engine.catch_up_pages().await, 1);
    paging.app.posts.deliver_due().await;
    assert_eq!(fake.actions(), ["trigger", "acknowledge"]);
    assert_eq!(paging.app.engine.catch_up_pages().await, 0, "once");

    // A resolution PagerDuty refuses is told, and not sent again and again.
    unpaged
        .say("/incident-resolve #1 bad deploy | rolled back")
        .await;
    paging.clock.advance(chrono::TimeDelta::minutes(2));
    fake.fail(&[Failure::Invalid("Invalid routing key")]);
    assert_eq!(paging.app.engine.catch_up_pages().await, 1);
    paging.app.posts.deliver_due().await;
    assert_eq!(fake.actions(), ["trigger", "acknowledge", "resolve"]);
    paging.clock.advance(chrono::TimeDelta::minutes(2));
    assert_eq!(paging.app.engine.catch_up_pages().await, 0);
    let status = paging.say("/incident-status #1").await;
    assert_has(
        &status,
        &["📟 PagerDuty: acknowledged (freightliner) — resolve failed"],
    );
}

#[tokio::test]
async fn a_trigger_carries_the_evidence_and_the_incidents_web_page() {
    let fake = FakePagerDuty::start().await;
    let opsgenie = FakeOpsgenie::start().await;
    let env = [
        ("FIREWATCH__PAGERDUTY__EVENTS_URL", fake.events_url.as_str()),
        ("FIREWATCH__PAGERDUTY__ROUTING_KEY", ROUTING_KEY),
        ("FIREWATCH__OPSGENIE__API_URL", opsgenie.url.as_str()),
        ("FIREWATCH__OPSGENIE__API_KEY", API_KEY),
        ("FIREWATCH__WEB__ENABLED", "true"),
        (
            "FIREWATCH__WEB__PUBLIC_URL",
            "https://firewatch.example.com/",
        ),
    ];
    let c = crate::helpers::ClusterApp::spawn(&env).await;
    crate::support::objects::broken(&c.kube);
    c.t.say("/incident-assess checkout down for everyone --sev P1")
        .await;
    c.t.app.posts.deliver_due().await;
    let page = "https://firewatch.example.com/incidents/1";

    let trigger = &fake.events()[0];
    let details = &trigger["payload"]["custom_details"];
    assert_eq!(details["incident page"], page);
    let evidence: Vec<&str> = details["evidence"]
        .as_array()
        .expect("the evidence, a finding each")
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        evidence.iter().any(|f| f.contains("0/3")),
        "the readiness finding: {evidence:#?}"
    );
    assert_eq!(trigger["links"][0]["href"], page);
    assert!(details.get("why paged").is_none(), "no nulls: {details}");

    let alert = opsgenie
        .calls()
        .into_iter()
        .find(|c| c.method == "POST /v2/alerts")
        .expect("an alert");
    let description = alert.body["description"].as_str().unwrap();
    assert_has(
        description,
        &["checkout down for everyone", "Evidence:\n- ", "0/3", page],
    );
    assert_eq!(alert.body["details"]["incident page"], page);
}
