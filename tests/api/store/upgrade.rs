//! A database made by an earlier schema keeps what it holds through the migrations that
//! reshape tables: the database is brought to the schema before the migration, given rows,
//! then opened by the store, which migrates the rest.

use std::path::Path;

use firewatch::incident::IncidentId;
use firewatch::incident::page::{Action, PageState, Pager};
use firewatch::store::{SqlStore, Store};
use sqlx::migrate::Migrator;

use crate::helpers::{Backend, on_both_backends, repo};
use crate::support::pg::PgSchema;

on_both_backends!(pages_made_before_page_keys_keep_their_state_and_what_was_asked);

/// Copies the `folder` migrations numbered below `version` into `into`.
fn migrations_before(folder: &str, version: u32, into: &Path) {
    for entry in std::fs::read_dir(repo().join("migrations").join(folder)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let number = name.split('_').next().and_then(|n| n.parse::<u32>().ok());
        if number.is_some_and(|n| n < version) {
            std::fs::copy(&path, into.join(&name)).unwrap();
        }
    }
}

/// Incidents 1 (open), 2 (acknowledged) and 3 (resolved), each paged through PagerDuty, and
/// 3 through Opsgenie too, as the schema before page keys stored them.
const ROWS: [&str; 2] = [
    "INSERT INTO incidents (id, summary, service, severity, severity_reason, status, platform, \
     channel_id, opened_by_platform, opened_by_id, opened_by_name, opened_at, version, escalated, \
     acknowledged_at, resolved_at) VALUES \
     (1, 'checkout down', 'freightliner', 'P1', 'set', 'investigating', 'console', 'ops', \
      'console', 'alice', 'alice', 1000, 1, 0, NULL, NULL), \
     (2, 'orders slow', 'freightliner', 'P1', 'set', 'investigating', 'console', 'ops', \
      'console', 'alice', 'alice', 2000, 2, 0, 2500, NULL), \
     (3, 'billing errors', 'freightliner', 'P0', 'set', 'resolved', 'console', 'ops', \
      'console', 'alice', 'alice', 3000, 3, 0, 3500, 3900)",
    "INSERT INTO pages (incident_id, pager, state, target, detail, at) VALUES \
     (1, 'pagerduty', 'triggered', 'freightliner', NULL, 1100), \
     (2, 'pagerduty', 'acknowledged', 'freightliner', NULL, 2600), \
     (3, 'pagerduty', 'resolved', 'freightliner', NULL, 4000), \
     (3, 'opsgenie', 'triggered', 'sre', 'acknowledge failed: 422', 3600)",
];

async fn pages_made_before_page_keys_keep_their_state_and_what_was_asked(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("migrations");
    std::fs::create_dir(&old).unwrap();
    let folder = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    migrations_before(folder, 17, &old);
    let migrator = Migrator::new(old.as_path()).await.unwrap();
    let mut pg = None;
    let url = match backend {
        Backend::Sqlite => {
            let file = dir.path().join("firewatch.db");
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&file)
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            migrator.run(&pool).await.unwrap();
            for sql in ROWS {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            pool.close().await;
            format!("sqlite://{}", file.display())
        }
        Backend::Postgres => {
            let schema = PgSchema::create().await;
            let pool = schema.pool().await;
            migrator.run(&pool).await.unwrap();
            for sql in ROWS {
                sqlx::query(sql).execute(&pool).await.unwrap();
            }
            pool.close().await;
            let url = schema.url.clone();
            pg = Some(schema);
            url
        }
    };

    let store = SqlStore::connect(&url).await.unwrap();
    let pages = |id: i64| {
        let store = &store;
        async move { store.pages_of(IncidentId::new(id).unwrap()).await.unwrap() }
    };
    let seen = |id: i64, pages: Vec<firewatch::incident::page::Page>| {
        pages
            .into_iter()
            .map(|p| {
                assert_eq!(p.incident.get(), id);
                (p.pager, p.key, p.state, p.asked, p.target, p.detail)
            })
            .collect::<Vec<_>>()
    };
    let key = |id: i64| format!("firewatch-{id}");
    assert_eq!(
        seen(1, pages(1).await),
        [(
            Pager::PagerDuty,
            key(1),
            PageState::Triggered,
            Action::Trigger,
            "freightliner".to_owned(),
            None
        )]
    );
    assert_eq!(
        seen(2, pages(2).await),
        [(
            Pager::PagerDuty,
            key(2),
            PageState::Acknowledged,
            Action::Acknowledge,
            "freightliner".to_owned(),
            None
        )]
    );
    assert_eq!(
        seen(3, pages(3).await),
        [
            (
                Pager::PagerDuty,
                key(3),
                PageState::Resolved,
                Action::Resolve,
                "freightliner".to_owned(),
                None
            ),
            (
                Pager::Opsgenie,
                key(3),
                PageState::Triggered,
                Action::Resolve,
                "sre".to_owned(),
                Some("acknowledge failed: 422".to_owned())
            ),
        ]
    );
    // Everything their incidents did was queued before the upgrade: nothing is owed.
    let later = chrono::Utc::now();
    assert!(
        store
            .owed_pages(later, &Pager::ALL, 100)
            .await
            .unwrap()
            .is_empty()
    );
    drop(store);
    drop(pg);
}
