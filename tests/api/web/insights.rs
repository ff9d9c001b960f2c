//! `/insights` and `/insights.csv` over incidents worked through the console on both backends.

use super::{app, get, get_as_alice, serve};
use crate::helpers::{Backend, assert_has, on_both_backends};

async fn insights_show_response_times_and_misses_per_week_and_severity(backend: Backend) {
    let t = app(backend).await;
    // #1: acknowledged in 3 minutes, mitigating at 13, resolved at 33.
    t.say("/incident-assess checkout down --sev P0").await;
    t.advance_minutes(3);
    t.say("/incident-ack").await;
    t.advance_minutes(10);
    t.say("/incident-update --status mitigating scaled up")
        .await;
    t.advance_minutes(20);
    t.say("/incident-resolve bad deploy | rolled back").await;
    // #2: escalated, acknowledged after 30 minutes (the P0 target is 5), resolved then.
    t.console("bob", "b", "/incident-assess search down --sev P0")
        .await;
    t.advance_minutes(30);
    // The response target's timer fires: firewatch escalates (a missed target either way).
    t.tick().await;
    t.console("bob", "b", "/incident-ack").await;
    t.console("bob", "b", "/incident-resolve disk full | cleaned up")
        .await;
    let addr = serve(&t).await;
    let csv = get_as_alice(addr, "/insights.csv?weeks=2").await;
    assert_eq!(csv.status, 200, "{}", csv.body);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(
        csv.body,
        "week,severity,opened,ack_median_min,ack_p90_min,mitigate_median_min,mitigate_p90_min,\
         resolve_median_min,resolve_p90_min,target_misses,top_services\n\
         2026-11-23,P0,2,3.0,30.0,13.0,13.0,30.0,33.0,1,freightliner (2)\n"
    );
    let page = get_as_alice(addr, "/insights?weeks=2").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_has(
        &page.body,
        &[
            "<svg class=\"chart\"",
            "Incidents opened per week by severity: 2 in 2 weeks",
            "week of 2026-11-23: 2 P0",
            "<td>2026-11-23</td>",
            "<td>3m</td><td>30m</td><td>13m</td><td>13m</td><td>30m</td><td>33m</td>",
            "<td class=\"overdue\">1</td>",
            "freightliner (2)",
            "href=\"/insights.csv?weeks=2\"",
        ],
    );
    assert_eq!(get(addr, "/insights", &[]).await.status, 401);
    assert_eq!(get(addr, "/insights.csv", &[]).await.status, 401);
    let bad = get_as_alice(addr, "/insights?weeks=500").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.starts_with("weeks:"), "{}", bad.body);
    t.advance_minutes(8 * 24 * 60);
    let empty = get_as_alice(addr, "/insights?weeks=1").await;
    assert!(
        empty.body.contains("No incidents opened in these weeks."),
        "{}",
        empty.body
    );
}

on_both_backends!(insights_show_response_times_and_misses_per_week_and_severity);
