//! What one scheduler tick costs over a store with 10 000 pending timers.
//!
//! ```sh
//! cargo run --release --example tick_cost
//! ```
//!
//! Fills a temporary SQLite store with 10 000 active incidents, each with an update timer due in
//! the future, then times (1) ticks that find nothing due — the common case, one indexed query —
//! and (2) one tick that fires 100 due reminders (each claimed, recorded and committed in its own
//! transaction, then posted to a do-nothing outbox). Prints the query plan of the due query.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{TimeDelta, TimeZone, Utc};
use firewatch::app::startup;
use firewatch::clock::ManualClock;
use firewatch::config::{ServiceSettings, Settings};
use firewatch::engine::outbox::{self, Outbox};
use firewatch::incident::{ChannelRef, Platform};
use firewatch::message::Message;
use firewatch::scheduler;
use firewatch::store::SqlStore;

const INCIDENTS: i64 = 10_000;
const DUE: i64 = 100;

struct Discard;

#[async_trait]
impl Outbox for Discard {
    async fn post(&self, _: &ChannelRef, _: &Message) -> outbox::Result<()> {
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut settings = Settings::default();
    settings.store.url = firewatch::config::StoreUrl::new(format!(
        "sqlite://{}",
        dir.path().join("tick.db").display()
    ));
    settings.services = vec![ServiceSettings {
        name: "freightliner".into(),
        namespace: "freightliner-production".into(),
        deployment: None,
        helm_release: None,
        health_urls: Vec::new(),
        owners: Vec::new(),
        alerts_channel: None,
        github_repo: None,
        jira_project: None,
        pagerduty_routing_key: None,
    }];
    let start = Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let app = startup::build(
        settings.clone(),
        clock.clone(),
        firewatch::store::Access::Exclusive,
    )
    .await
    .expect("app starts");
    app.outbox.route(Platform::Console, Arc::new(Discard));

    // 10 000 acknowledged P3 incidents; incident i's update is due one hour and i seconds on.
    let store = SqlStore::connect(&settings.store.url).await.unwrap();
    let mut tx = store.pool().begin().await.unwrap();
    let t0 = start.timestamp_millis();
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
         INSERT INTO incidents (id, summary, service, severity, severity_reason, status, platform, \
         channel_id, opened_by_platform, opened_by_id, opened_by_name, opened_at, \
         acknowledged_by_platform, acknowledged_by_id, acknowledged_by_name, acknowledged_at) \
         SELECT i, 'load ' || i, 'freightliner', 'P3', 'bench', 'investigating', 'console', 'ops', \
         'console', 'alice', 'alice', ?, 'console', 'bob', 'bob', ? FROM n",
    )
    .bind(INCIDENTS)
    .bind(t0)
    .bind(t0)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO reminders (incident_id, kind, due_at, fire_at, fired) \
         SELECT id, 'update', ? + id * 1000, ? + id * 1000, 0 FROM incidents",
    )
    .bind(t0 + 3_600_000)
    .bind(t0 + 3_600_000)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (rows,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM reminders WHERE fire_at IS NOT NULL")
            .fetch_one(store.pool())
            .await
            .unwrap();
    let explain = format!("EXPLAIN QUERY PLAN {}", firewatch::store::DUE_TIMERS_QUERY);
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(explain))
        .bind(0_i64)
        .bind(256_i64)
        .fetch_all(store.pool())
        .await
        .unwrap();
    println!("pending timers: {rows}");
    for (_, _, _, detail) in &plan {
        println!("query plan: {detail}");
    }

    // (1) Nothing due.
    let runs = 1_000;
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let began = Instant::now();
        let fired = scheduler::tick(&app.engine).await;
        times.push(began.elapsed());
        assert_eq!(fired, 0);
    }
    times.sort();
    println!(
        "idle tick over {rows} pending timers ({runs} runs): median {:?}, p99 {:?}, max {:?}",
        times[runs / 2],
        times[runs * 99 / 100],
        times[runs - 1]
    );

    // (2) 100 due.
    clock.advance(TimeDelta::hours(1) + TimeDelta::seconds(DUE));
    let began = Instant::now();
    let fired = scheduler::tick(&app.engine).await;
    let took = began.elapsed();
    println!(
        "tick firing {fired} reminders: {took:?} ({:?} per timer, each its own durable transaction)",
        took / u32::try_from(fired.max(1)).unwrap_or(1)
    );
    let began = Instant::now();
    let again = scheduler::tick(&app.engine).await;
    println!("next tick: fired {again} in {:?}", began.elapsed());
}
