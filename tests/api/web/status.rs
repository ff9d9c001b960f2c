//! The public status page: service states from active incidents' severities, public updates
//! only, a window of days, and the same in JSON and Atom.

use firewatch::incident::Severity;
use serde_json::Value;

use super::{app, get, seed, serve};
use crate::helpers::{Backend, assert_has, on_both_backends};

/// `t`'s catalog with more services (copies of the example's first, renamed).
fn add_services(t: &mut crate::helpers::TestApp, names: &[&str]) {
    let first = t.app.settings.services[0].clone();
    for name in names {
        let mut service = first.clone();
        service.name = (*name).to_owned();
        t.app.settings.services.push(service);
    }
}

async fn nothing_but_public_text_reaches_the_status_page(backend: Backend) {
    let t = app(backend).await;
    t.say("/incident-assess SECRET-SUMMARY checkout down --sev P1")
        .await;
    t.say("/incident-note SECRET-NOTE the key is in the env")
        .await;
    t.say("/incident-update --eta SECRET-ETA SECRET-PROGRESS")
        .await;
    t.advance_minutes(10);
    t.say("/incident-update --public \"Checkout is slower than usual & we are on it <fast>\" SECRET-PROGRESS-2")
        .await;
    t.advance_minutes(10);
    t.say("/incident-resolve --public \"Checkout works again\" SECRET-CAUSE | SECRET-FIX")
        .await;
    let addr = serve(&t).await;
    let page = get(addr, "/status", &[]).await;
    let json = get(addr, "/status.json", &[]).await;
    let atom = get(addr, "/status.atom", &[]).await;
    for (name, answer) in [("page", &page), ("json", &json), ("atom", &atom)] {
        assert_eq!(answer.status, 200, "{name}");
        for secret in ["SECRET", "alice", "checkout down", "console"] {
            assert!(
                !answer.body.contains(secret),
                "{name} shows {secret}:\n{}",
                answer.body
            );
        }
    }
    assert_has(
        &page.body,
        &[
            "Checkout is slower than usual &amp; we are on it &lt;fast&gt;",
            "Resolved: </strong>Checkout works again",
            "All systems operational",
            "Partial outage",
        ],
    );
    let status: Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(status["services"][0]["name"], "freightliner");
    assert_eq!(status["services"][0]["status"], "operational");
    let updates = &status["incidents"][0]["updates"];
    assert_eq!(updates[0]["text"], "Checkout works again");
    assert_eq!(updates[0]["resolved"], true);
    assert_eq!(
        updates[1]["text"],
        "Checkout is slower than usual & we are on it <fast>"
    );
    assert_eq!(status["incidents"][0]["impact"], "partial_outage");
    assert_eq!(
        atom.header("content-type"),
        Some("application/atom+xml; charset=utf-8")
    );
    assert_has(
        &atom.body,
        &[
            "<feed xmlns=\"http://www.w3.org/2005/Atom\">",
            "<title>freightliner: resolved</title>",
            "<content type=\"text\">Checkout is slower than usual &amp; we are on it &lt;fast&gt;</content>",
        ],
    );
    assert_eq!(atom.body.matches("<entry>").count(), 2);
}

#[tokio::test]
async fn the_atom_feed_links_to_the_public_address_when_it_is_set() {
    let t = super::app_with(
        Backend::Sqlite,
        &[("FIREWATCH__WEB__PUBLIC_URL", "https://status.example.com")],
    )
    .await;
    t.say("/incident-assess checkout down --sev P1").await;
    t.say("/incident-update --public \"Checkout is slow\" looking")
        .await;
    let addr = serve(&t).await;
    let atom = get(addr, "/status.atom", &[]).await.body;
    assert_has(
        &atom,
        &[
            "<link rel=\"self\" href=\"https://status.example.com/status.atom\"/>",
            "<link rel=\"alternate\" type=\"text/html\" href=\"https://status.example.com/status\"/>",
        ],
    );
    assert!(!atom.contains("href=\"/status"), "{atom}");
}

#[tokio::test]
async fn each_service_shows_the_worst_state_of_its_active_incidents() {
    let mut t = app(Backend::Sqlite).await;
    add_services(&mut t, &["payments", "search", "docs"]);
    seed(&t, "freightliner", Severity::P2, "slow", 0).await;
    seed(&t, "freightliner", Severity::P0, "down", 1).await;
    seed(&t, "payments", Severity::P1, "refunds fail", 2).await;
    seed(&t, "search", Severity::P3, "typo", 3).await;
    let addr = serve(&t).await;
    let status: Value = serde_json::from_str(&get(addr, "/status.json", &[]).await.body).unwrap();
    let states: Vec<(&str, &str)> = status["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        states,
        [
            ("freightliner", "major_outage"),
            ("payments", "partial_outage"),
            ("search", "degraded"),
            ("docs", "operational"),
        ]
    );
    let days = status["services"][0]["days"].as_array().unwrap();
    assert_eq!(days.len(), 14);
    assert_eq!(days[13]["status"], "major_outage");
    assert_eq!(days[12]["status"], "operational");
    // Active incidents without a public update say only that someone is on it.
    let page = get(addr, "/status", &[]).await.body;
    assert_has(
        &page,
        &[
            "Some systems are affected",
            "Major outage",
            "We are investigating.",
        ],
    );
    assert!(!page.contains("refunds fail"), "{page}");
}

#[tokio::test]
async fn the_status_page_shows_fourteen_days_of_history() {
    let t = app(Backend::Sqlite).await;
    t.say("/incident-assess old trouble --sev P2").await;
    t.say("/incident-resolve --public \"An old fix\" x | y")
        .await;
    t.advance_minutes(20 * 24 * 60);
    t.console("bob", "b", "/incident-assess newer trouble --sev P2")
        .await;
    t.console(
        "bob",
        "b",
        "/incident-resolve --public \"A recent fix\" x | y",
    )
    .await;
    t.advance_minutes(3 * 24 * 60);
    let addr = serve(&t).await;
    let page = get(addr, "/status", &[]).await.body;
    assert!(page.contains("A recent fix"), "{page}");
    assert!(!page.contains("An old fix"), "{page}");
    let status: Value = serde_json::from_str(&get(addr, "/status.json", &[]).await.body).unwrap();
    let days = status["services"][0]["days"].as_array().unwrap();
    assert_eq!(days[10]["status"], "degraded", "{days:?}");
    assert_eq!(days[13]["status"], "operational");
}

on_both_backends!(nothing_but_public_text_reaches_the_status_page);
