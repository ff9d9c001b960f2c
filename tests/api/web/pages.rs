//! The internal pages: what `/` shows of active incidents, `/incidents`' filters and paging on
//! both backends, `/incidents/ID` in full, and hostile text shown as text everywhere.

use firewatch::incident::Severity;

use super::{app, get_as_alice, seed, serve};
use crate::helpers::{Backend, assert_has, on_both_backends};

/// Incident numbers in the order a history page lists them.
fn listed(body: &str) -> Vec<i64> {
    body.match_indices("href=\"/incidents/")
        .map(|(i, m)| {
            body[i + m.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn the_active_page_shows_severity_commander_and_an_overdue_update_in_red() {
    let t = app(Backend::Sqlite).await;
    t.say("/incident-assess checkout down for EU users --sev P1")
        .await;
    t.say("/incident-ack").await;
    t.console(
        "bob",
        "other",
        "/incident-assess typo on the pricing page --sev P3",
    )
    .await;
    t.say("/incident-resolve #2 typo | fixed").await;
    t.advance_minutes(90);
    let addr = serve(&t).await;
    let page = get_as_alice(addr, "/").await;
    assert_eq!(page.status, 200);
    assert_has(
        &page.body,
        &[
            "checkout down for EU users",
            "class=\"sev sev-P1\"",
            "alice",
            "Investigating",
            "1h 30m",
            "class=\"overdue\"",
            "(overdue)",
        ],
    );
    // Resolved incidents are history, not active.
    assert!(
        !page.body.contains("typo on the pricing page"),
        "{}",
        page.body
    );
    let css = super::get(addr, "/static/style.css", &[]).await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    let p1 = &t.app.settings.severity.p1.colour;
    assert!(
        css.body.contains(&format!(".sev-P1 {{ background: {p1};")),
        "{}",
        css.body
    );
}

#[tokio::test]
async fn hostile_text_is_shown_as_text_on_every_internal_page() {
    let t = app(Backend::Sqlite).await;
    t.say("/incident-assess <script>alert(1)</script> checkout \"down\" --sev P1")
        .await;
    t.say("/incident-note <img src=x onerror=alert(2)> seen in logs")
        .await;
    t.say("/incident-followup [click](javascript:alert(3)) <b>bold</b>")
        .await;
    t.say("/incident-update --public \"<iframe src=//evil>\" rolled back")
        .await;
    t.say("/incident-resolve <svg onload=alert(4)> | reverted")
        .await;
    t.say("/incident-report").await;
    let addr = serve(&t).await;
    for path in [
        "/",
        "/incidents",
        "/incidents/1",
        "/incidents?q=%3Cscript%3E",
    ] {
        let page = get_as_alice(addr, path).await;
        assert_eq!(page.status, 200, "{path}");
        for hostile in [
            "<script",
            "<img",
            "<iframe",
            "<svg",
            "<b>",
            "href=\"javascript:",
        ] {
            assert!(
                !page.body.contains(hostile),
                "{path} holds {hostile}:\n{}",
                page.body
            );
        }
    }
    let page = get_as_alice(addr, "/incidents/1").await;
    assert_has(
        &page.body,
        &[
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "&lt;img src=x onerror=alert(2)&gt;",
            "&lt;svg onload=alert(4)&gt;",
        ],
    );
}

#[tokio::test]
async fn the_incident_page_shows_roles_timeline_changes_verdicts_action_items_and_the_report() {
    let t = app(Backend::Sqlite).await;
    t.say("/incident-assess checkout is slow --sev P2").await;
    t.say("/incident-ack").await;
    t.console("bob", "ops", "/incident-role comms").await;
    t.say("/incident-update --status mitigating --users ~40% scaled up")
        .await;
    t.say("/incident-followup add a latency alert").await;
    t.say("/incident-followup done 1").await;
    t.say("/incident-resolve cache stampede | warmed the cache")
        .await;
    let addr = serve(&t).await;
    let page = get_as_alice(addr, "/incidents/1").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_has(
        &page.body,
        &[
            "<h1>#1 checkout is slow</h1>",
            "Roles",
            "incident commander: alice",
            "comms lead: bob",
            "Timeline",
            "status Investigating → Mitigating",
            "update: scaled up",
            "Changes and approvals",
            "No changes were asked for.",
            "Verification",
            "Action items",
            "1. add a latency alert<span class=\"muted\"> (alice)</span> <strong class=\"ok\">done</strong>",
            "Report",
            "A draft",
            "<h2>Summary</h2>",
            "cache stampede",
        ],
    );
    let missing = get_as_alice(addr, "/incidents/99").await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("#99"), "{}", missing.body);
    assert_eq!(get_as_alice(addr, "/incidents/abc").await.status, 400);
}

#[tokio::test]
async fn bad_filters_are_refused_naming_the_field() {
    let t = app(Backend::Sqlite).await;
    let addr = serve(&t).await;
    for (query, field) in [
        ("severity=P9", "severity"),
        ("status=sleeping", "status"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("before=x", "before"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
    ] {
        let answer = get_as_alice(addr, &format!("/incidents?{query}")).await;
        assert_eq!(answer.status, 400, "{query}");
        assert!(answer.body.starts_with(field), "{query}: {}", answer.body);
    }
}

async fn history_filters_and_pages(backend: Backend) {
    let t = app(backend).await;
    let day = 24 * 60;
    seed(&t, "freightliner", Severity::P1, "Checkout latency", 0).await;
    seed(&t, "payments", Severity::P0, "payments down", day).await;
    seed(
        &t,
        "freightliner",
        Severity::P3,
        "typo on the docs",
        2 * day,
    )
    .await;
    seed(
        &t,
        "payments",
        Severity::P2,
        "refund errors at 100% rate",
        10 * day,
    )
    .await;
    seed(
        &t,
        "freightliner",
        Severity::P2,
        "checkout errors for 5_000 users",
        11 * day,
    )
    .await;
    t.say("/incident-resolve #2 a bad deploy | rolled back")
        .await;
    let addr = serve(&t).await;
    let cases: [(&str, &[i64]); 10] = [
        ("", &[5, 4, 3, 2, 1]),
        ("service=payments", &[4, 2]),
        ("severity=P2", &[5, 4]),
        ("status=resolved", &[2]),
        ("status=investigating&service=freightliner", &[5, 3, 1]),
        ("from=2026-11-30&to=2026-12-01", &[3, 2]),
        ("q=CHECKOUT", &[5, 1]),
        ("q=100%25", &[4]),
        ("q=5_0", &[5]),
        ("service=payments&severity=P3", &[]),
    ];
    for (query, expected) in cases {
        let page = get_as_alice(addr, &format!("/incidents?{query}")).await;
        assert_eq!(page.status, 200, "{query}: {}", page.body);
        assert_eq!(listed(&page.body), expected, "{query}");
    }
    // Pages of two, newest first, each page's link carrying the filters.
    let first = get_as_alice(addr, "/incidents?limit=2&severity=&q=").await;
    assert_eq!(listed(&first.body), [5, 4]);
    assert!(
        first
            .body
            .contains("href=\"/incidents?limit=2&amp;before=4\""),
        "{}",
        first.body
    );
    let second = get_as_alice(addr, "/incidents?limit=2&before=4").await;
    assert_eq!(listed(&second.body), [3, 2]);
    let third = get_as_alice(addr, "/incidents?limit=2&before=2").await;
    assert_eq!(listed(&third.body), [1]);
    assert!(!third.body.contains("rel=\"next\""), "{}", third.body);
    let filtered = get_as_alice(addr, "/incidents?limit=1&service=freightliner").await;
    assert!(
        filtered
            .body
            .contains("href=\"/incidents?service=freightliner&amp;limit=1&amp;before=5\""),
        "{}",
        filtered.body
    );
}

on_both_backends!(history_filters_and_pages);

/// A text search reads a bounded span of incidents a page, says where it stopped, and the next
/// page goes on below it until the match is found.
async fn a_search_reads_a_bounded_span_a_page_and_goes_on_below_it(backend: Backend) {
    let t = app(backend).await;
    seed(
        &t,
        "freightliner",
        Severity::P2,
        "the needle in the haystack",
        0,
    )
    .await;
    // 20 010 more incidents after it, in one statement.
    let store = firewatch::store::SqlStore::connect(&t.app.settings.store.url)
        .await
        .unwrap();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 20011) \
         INSERT INTO incidents (id, summary, service, severity, severity_reason, status, \
         platform, channel_id, opened_by_platform, opened_by_id, opened_by_name, opened_at) \
         SELECT i, 'hay ' || i, 'freightliner', 'P3', 'seeded', 'closed', 'console', 'c', \
         'console', 'seed', 'seed', $1 FROM n",
    )
    .bind(crate::helpers::test_start().timestamp_millis())
    .execute(store.pool())
    .await
    .unwrap();
    let addr = serve(&t).await;
    let first = get_as_alice(addr, "/incidents?q=needle").await;
    assert_eq!(listed(&first.body), Vec::<i64>::new());
    assert_has(
        &first.body,
        &[
            "No incidents match.",
            "Searched incidents from #12",
            "href=\"/incidents?q=needle&amp;before=12\" rel=\"next\"",
        ],
    );
    let second = get_as_alice(addr, "/incidents?q=needle&before=12").await;
    assert_eq!(listed(&second.body), [1]);
    assert!(!second.body.contains("rel=\"next\""), "{}", second.body);
}

on_both_backends!(a_search_reads_a_bounded_span_a_page_and_goes_on_below_it);
