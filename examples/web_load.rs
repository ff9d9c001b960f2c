//! Latency of the web pages over a large store: `/incidents` (with each filter), one incident,
//! `/insights` and `/status`, on a store holding 100 000 incidents and 1 000 000 timeline
//! entries. Figures are printed beside the target (p99 ≤ 100 ms each, BENCHMARKS.md), never
//! asserted.
//!
//! ```sh
//! cargo build --release --bin firewatch --example web_load
//! target/release/examples/web_load [--binary target/release/firewatch] [--store URL] \
//!     [--incidents 100000] [--requests 200]
//! ```
//!
//! The store (a temporary SQLite file, or `--store`: an empty Postgres schema) is filled with
//! SQL in a few transactions: one incident every 10 minutes up to now (two years for 100 000),
//! over five services and the four severities, the last 20 still active; each with ten timeline
//! entries (detection, acknowledgement, the move to Mitigating, updates, notes, every fifth a
//! public update, the resolution and the close). Then `firewatch serve` runs as a child process
//! with the web pages on (people named by `X-Forwarded-User`), and each page is requested
//! `--requests` times, one after another on one keep-alive connection.

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use common::{Connection, Figures, Server, firewatch_binary, flags, ms, number, serve, store_kind};
use firewatch::store::SqlStore;

struct Args {
    binary: Option<std::path::PathBuf>,
    store: Option<String>,
    incidents: i64,
    requests: usize,
}

fn args() -> Args {
    let mut args = Args {
        binary: None,
        store: None,
        incidents: 100_000,
        requests: 200,
    };
    for (flag, value) in flags() {
        match flag.as_str() {
            "--binary" => args.binary = Some(value.into()),
            "--store" => args.store = Some(value),
            "--incidents" => args.incidents = number(&flag, &value) as i64,
            "--requests" => args.requests = number(&flag, &value).max(1),
            other => panic!("unknown flag {other}"),
        }
    }
    args
}

/// The incidents: one every 10 minutes, ending now; the last 20 active.
const INCIDENTS: &str = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
     INSERT INTO incidents (id, summary, service, severity, severity_reason, status, platform, \
     channel_id, opened_by_platform, opened_by_id, opened_by_name, opened_at, \
     acknowledged_by_platform, acknowledged_by_id, acknowledged_by_name, acknowledged_at, \
     resolved_by_platform, resolved_by_id, resolved_by_name, resolved_at, root_cause, resolution, \
     closed_at) \
     SELECT i, \
     CASE WHEN i % 7 = 0 THEN 'checkout latency is up ' ELSE 'errors on the service ' END || i, \
     CASE i % 5 WHEN 0 THEN 'freightliner' WHEN 1 THEN 'payments' WHEN 2 THEN 'search' \
       WHEN 3 THEN 'checkout' ELSE 'accounts' END, \
     CASE i % 10 WHEN 0 THEN 'P0' WHEN 1 THEN 'P1' WHEN 2 THEN 'P1' WHEN 3 THEN 'P2' \
       WHEN 4 THEN 'P2' WHEN 5 THEN 'P2' ELSE 'P3' END, \
     'bench', \
     CASE WHEN i > $2 - 20 THEN 'investigating' ELSE 'closed' END, \
     'console', 'ops-' || i, 'console', 'alice', 'alice', $3 - ($4 - i) * 600000, \
     'console', 'bob', 'bob', $5 - ($6 - i) * 600000 + (i % 30 + 1) * 60000, \
     CASE WHEN i > $7 - 20 THEN NULL ELSE 'console' END, \
     CASE WHEN i > $8 - 20 THEN NULL ELSE 'bob' END, \
     CASE WHEN i > $9 - 20 THEN NULL ELSE 'bob' END, \
     CASE WHEN i > $10 - 20 THEN NULL ELSE $11 - ($12 - i) * 600000 + (i % 240 + 30) * 60000 END, \
     CASE WHEN i > $13 - 20 THEN NULL ELSE 'a bad deploy' END, \
     CASE WHEN i > $14 - 20 THEN NULL ELSE 'rolled back' END, \
     CASE WHEN i > $15 - 20 THEN NULL ELSE $16 - ($17 - i) * 600000 + 300 * 60000 END \
     FROM n";

/// Ten entries per incident, a minute apart.
const TIMELINE: &str = "WITH RECURSIVE k(j) AS (SELECT 0 UNION ALL SELECT j + 1 FROM k WHERE j < 9) \
     INSERT INTO timeline (incident_id, at, actor_platform, actor_id, actor_name, kind, detail) \
     SELECT i.id, i.opened_at + k.j * 60000, 'console', 'alice', 'alice', \
     CASE k.j WHEN 0 THEN 'detected' WHEN 1 THEN 'acknowledged' WHEN 2 THEN 'status_changed' \
       WHEN 3 THEN 'updated' WHEN 4 THEN 'note' WHEN 5 THEN 'updated' \
       WHEN 6 THEN CASE WHEN i.id % 5 = 0 THEN 'public_update' ELSE 'note' END \
       WHEN 7 THEN 'updated' WHEN 8 THEN 'resolved' ELSE 'closed' END, \
     CASE k.j \
       WHEN 0 THEN '{\"kind\":\"detected\",\"summary\":\"' || i.summary || '\",\"service\":\"' || i.service || '\",\"severity\":\"' || i.severity || '\",\"reason\":\"bench\",\"paged\":[]}' \
       WHEN 1 THEN '{\"kind\":\"acknowledged\",\"implicit\":false}' \
       WHEN 2 THEN '{\"kind\":\"status_changed\",\"from\":\"investigating\",\"to\":\"mitigating\"}' \
       WHEN 4 THEN '{\"kind\":\"note\",\"text\":\"p99 is back under 300 ms\"}' \
       WHEN 6 THEN CASE WHEN i.id % 5 = 0 \
         THEN '{\"kind\":\"public_update\",\"text\":\"Some customers see slow pages; a fix is rolling out.\",\"resolved\":false}' \
         ELSE '{\"kind\":\"note\",\"text\":\"the cache hit rate dropped\"}' END \
       WHEN 8 THEN '{\"kind\":\"resolved\",\"root_cause\":\"a bad deploy\",\"resolution\":\"rolled back\"}' \
       WHEN 9 THEN '{\"kind\":\"closed\",\"report\":\"incident.md\"}' \
       ELSE '{\"kind\":\"updated\",\"progress\":\"rolling back\",\"eta\":null}' END \
     FROM incidents i, k ORDER BY i.id, k.j";

async fn seed(url: &str, incidents: i64) {
    let started = Instant::now();
    let store = SqlStore::connect(url).await.expect("the store opens");
    let now = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let mut tx = store.pool().begin().await.unwrap();
    let mut query = sqlx::query(INCIDENTS).bind(incidents).bind(incidents);
    for _ in 0..5 {
        query = query.bind(now).bind(incidents);
    }
    for _ in 0..5 {
        query = query.bind(incidents);
    }
    query = query.bind(now).bind(incidents);
    query.execute(&mut *tx).await.expect("incidents seeded");
    sqlx::query(TIMELINE)
        .execute(&mut *tx)
        .await
        .expect("timeline seeded");
    tx.commit().await.unwrap();
    let analyze = if url.starts_with("postgres") {
        "ANALYZE"
    } else {
        "PRAGMA optimize"
    };
    sqlx::query(analyze).execute(store.pool()).await.unwrap();
    let (entries,): (i64,) = sqlx::query_as("SELECT count(*) FROM timeline")
        .fetch_one(store.pool())
        .await
        .unwrap();
    use firewatch::store::Store;
    store.close().await;
    println!(
        "seeded {incidents} incidents and {entries} timeline entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let args = args();
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(drive(args));
}

async fn drive(args: Args) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = args
        .store
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.path().join("web.db").display()));
    seed(&url, args.incidents).await;
    let slack = common::serve_on_a_thread(Router::new());
    let mut command = serve(&firewatch_binary(args.binary.clone()), &slack, &url);
    command
        .env("FIREWATCH__WEB__ENABLED", "true")
        .env("FIREWATCH__WEB__USER_HEADER", "X-Forwarded-User")
        .env("FIREWATCH__LOG__LEVEL", "warn");
    let server = Server::start(command).await;
    let week_ago = (chrono::Utc::now() - chrono::TimeDelta::days(30)).date_naive();
    let week_end = week_ago + chrono::TimeDelta::days(7);
    let middle = args.incidents / 2;
    let pages = [
        "/".to_owned(),
        "/incidents".to_owned(),
        "/incidents?service=payments".to_owned(),
        "/incidents?severity=P0&status=closed".to_owned(),
        "/incidents?q=LATENCY".to_owned(),
        format!("/incidents?from={week_ago}&to={week_end}"),
        format!("/incidents?before={middle}&limit=200"),
        "/incidents?service=search&severity=P0&q=latency&limit=200".to_owned(),
        "/incidents?q=no+such+words".to_owned(),
        format!("/incidents/{middle}"),
        "/insights".to_owned(),
        "/insights?weeks=52".to_owned(),
        "/insights.csv?weeks=104".to_owned(),
        "/status".to_owned(),
    ];
    println!(
        "{} store, {} requests per page, one at a time; target p99 ≤ 100 ms",
        store_kind(&url),
        args.requests
    );
    for page in &pages {
        let mut connection = Connection::open(server.addr).await.expect("connects");
        let request = format!(
            "GET {page} HTTP/1.1\r\nhost: {}\r\nx-forwarded-user: bench\r\n\r\n",
            server.addr
        );
        let mut answers = Vec::with_capacity(args.requests);
        let mut bytes = 0;
        for _ in 0..args.requests {
            let started = Instant::now();
            let answer = connection.exchange(request.as_bytes()).await;
            let took: Duration = started.elapsed();
            if let Ok(a) = &answer {
                bytes = a.body.len();
                if a.status != 200 {
                    eprintln!("{page}: {} {}", a.status, a.body);
                }
            }
            answers.push(answer.map(|a| (a.status == 200, took)));
        }
        let figures = Figures::of(answers);
        let verdict = if ms(figures.at(0.99)) <= 100.0 {
            "ok"
        } else {
            "OVER"
        };
        println!(
            "{page:<62} p50 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  {:>7} bytes  {} failed  {verdict}",
            ms(figures.at(0.5)),
            ms(figures.at(0.99)),
            ms(figures.at(1.0)),
            bytes,
            figures.failed
        );
    }
    drop(server);
}
