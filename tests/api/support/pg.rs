//! A fresh Postgres schema per test, on the machine's server (`127.0.0.1:5432`, database `test`,
//! trust auth; `FIREWATCH_TEST_POSTGRES` names another server). Dropped when the guard goes,
//! also when the test panics.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::postgres::PgPool;

/// The server the tests use, as a URL without a schema.
pub fn server_url() -> String {
    std::env::var("FIREWATCH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// One schema `fw_<random>`; `url` is a store URL that works in it.
pub struct PgSchema {
    pub name: String,
    pub url: String,
}

impl PgSchema {
    /// Creates a new schema on the test server.
    pub async fn create() -> Self {
        Self::create_on(&server_url()).await
    }

    /// Creates a new schema on the server `base` (a proxy, say); `url` goes through `base`.
    pub async fn create_on(base: &str) -> Self {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let name = format!(
            "fw_{:012x}",
            RandomState::new().hash_one((std::process::id(), n, std::time::SystemTime::now()))
                & 0xffff_ffff_ffff
        );
        let admin = PgPool::connect(&server_url()).await.unwrap_or_else(|e| {
            panic!(
                "Postgres is not reachable at {} ({e}); start it or set FIREWATCH_TEST_POSTGRES",
                server_url()
            )
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&admin)
            .await
            .expect("create schema");
        admin.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        // The application name marks the test's connections, so the drop can end them.
        let url = format!("{base}{separator}options[search_path]={name}&application_name={name}");
        Self { name, url }
    }

    /// A pool in the schema, for raw SQL checks.
    pub async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url).await.expect("schema pool")
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the async work on a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let admin = PgPool::connect(&server_url()).await?;
                // The test's runtime is blocked on this drop, so its pools cannot end their
                // connections (an open transaction would hold the schema's locks forever).
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                )
                .bind(&name)
                .execute(&admin)
                .await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE"
                )))
                .execute(&admin)
                .await?;
                admin.close().await;
                Ok::<_, sqlx::Error>(())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("note: schema {} was not dropped", self.name);
        }
    }
}
