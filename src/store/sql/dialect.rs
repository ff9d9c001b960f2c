//! What SQLite and Postgres do differently, and nothing else: how a write transaction begins,
//! which rows a transaction locks, how a process's lease is judged (requests, approvals and
//! outbox posts a process that is gone left) and its heartbeat written, the order votes arrived
//! in, what a new connection runs first, and the migrations. Every other statement of the store is
//! written once, with `$N` parameters (sqlx's SQLite driver binds them as Postgres does).

use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, Executor};

use crate::store::{Error, Result};

static SQLITE: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("./migrations/postgres");

/// The SQL a store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

/// A row a write transaction locks before it reads what it changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Row {
    /// An incident: every change to one incident locks it first.
    Incident,
    /// An incident, unless another transaction holds it (a due timer, left to whoever does).
    IncidentUnlessHeld,
    /// An approval request: votes on it and its closing go one at a time.
    Approval,
}

/// The process named by the SQL `$process` has a current lease: it renewed its `processes` row
/// within 30 seconds (the database's clock, so replicas' clocks need not agree).
macro_rules! leased {
    ($process:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM processes p WHERE p.id = ",
            $process,
            " AND p.heartbeat_at > now() - interval '30 seconds')"
        )
    };
}

/// ` AND` the process named by the SQL `$process` has no current lease ([`leased!`]), or never
/// had one.
macro_rules! unleased {
    ($process:literal) => {
        concat!(" AND NOT ", leased!($process))
    };
}

/// ` AND` outbox post `o` is the first waiting post of its lane.
macro_rules! head_of_lane {
    () => {
        " AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.lane = o.lane AND e.id < o.id)"
    };
}

/// ` AND` outbox post `o` is held by no live process other than $1 (Postgres).
macro_rules! free_post {
    () => {
        concat!(
            " AND (o.claimed_by IS NULL OR o.claimed_by = $1 OR NOT ",
            leased!("o.claimed_by"),
            ")"
        )
    };
}

impl Dialect {
    /// How a write transaction begins. SQLite's `IMMEDIATE` takes the database's one write lock
    /// at once, so what the transaction reads is what its writes replace; Postgres locks rows
    /// instead ([`Dialect::lock`]).
    pub(super) fn begin(self) -> &'static str {
        match self {
            Self::Sqlite => "BEGIN IMMEDIATE",
            Self::Postgres => "BEGIN",
        }
    }

    /// Whether `error` is the fault of one write's own data (a value the database refuses, a
    /// constraint), which other writes committed beside it need not share — unlike a lost
    /// connection, a timeout or a busy database, which every one of them would meet.
    pub(super) fn own_fault(self, error: &Error) -> bool {
        let Error::Query(sqlx::Error::Database(e)) = error else {
            return false;
        };
        let Some(code) = e.code() else {
            return false;
        };
        match self {
            // The primary result code: TOOBIG, CONSTRAINT, MISMATCH, RANGE.
            Self::Sqlite => matches!(code.parse::<i32>().map(|c| c & 0xff), Ok(18 | 19 | 20 | 25)),
            // SQLSTATE classes 22 (data exception) and 23 (integrity constraint violation).
            Self::Postgres => code.starts_with("22") || code.starts_with("23"),
        }
    }

    /// The heartbeat of process $1, a small write that tells whether the store takes writes
    /// ([`super::health`]). Postgres: the renewal of the process's lease, by the database's
    /// clock (`dialect::unleased!` judges it by the same clock). SQLite, whose lease is the file's
    /// lock: the one row of `heartbeat`.
    pub(super) fn heartbeat(self) -> &'static str {
        match self {
            Self::Sqlite => {
                "INSERT INTO heartbeat (id, process, at) \
                 VALUES (1, $1, CAST(strftime('%s', 'now') AS INTEGER)) \
                 ON CONFLICT (id) DO UPDATE SET process = excluded.process, at = excluded.at"
            }
            Self::Postgres => {
                "INSERT INTO processes (id) VALUES ($1) \
                 ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()"
            }
        }
    }

    /// What each new connection runs first. SQLite: a WAL journal, and `synchronous = FULL` so
    /// the WAL is synced at every commit: a committed change survives a crash and a power cut.
    /// (A SQLite URL carries no such options; sqlx's defaults already turn foreign keys on and
    /// wait up to 5 s for another process's write lock.)
    pub(super) fn first_statements(self) -> Option<&'static str> {
        match self {
            Self::Sqlite => Some("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"),
            Self::Postgres => None,
        }
    }

    /// The schema's migrations: each database has its own folder (applied databases keep
    /// their checksums).
    pub(super) fn migrator(self) -> &'static Migrator {
        match self {
            Self::Sqlite => &SQLITE,
            Self::Postgres => &POSTGRES,
        }
    }

    /// Locks `row` number `id` until the transaction ends; whether it did (`false` when there is
    /// no such row, or another transaction holds an [`Row::IncidentUnlessHeld`]). Postgres takes
    /// a row lock (`FOR NO KEY UPDATE` for an incident, so other transactions' timeline inserts
    /// do not wait for it). SQLite has nothing to lock: the write transaction holds the whole
    /// database from its [`Dialect::begin`].
    pub(super) async fn lock(self, tx: &mut AnyConnection, row: Row, id: i64) -> Result<bool> {
        let sql = match (self, row) {
            (Self::Sqlite, _) => return Ok(true),
            (Self::Postgres, Row::Incident) => {
                "SELECT id FROM incidents WHERE id = $1 FOR NO KEY UPDATE"
            }
            (Self::Postgres, Row::IncidentUnlessHeld) => {
                "SELECT id FROM incidents WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED"
            }
            (Self::Postgres, Row::Approval) => "SELECT id FROM approvals WHERE id = $1 FOR UPDATE",
        };
        Ok(tx
            .fetch_optional(sqlx::query(sql).bind(id))
            .await?
            .is_some())
    }

    /// Takes the alert transactions' turn until the transaction ends (the row of the storm
    /// incident's group, [`super::alerts::STORM`]): of two notifications, of any groups, in any
    /// processes, the second reads what the first wrote. SQLite's write transaction holds the
    /// whole database already.
    pub(super) async fn take_alert_turn(self, tx: &mut AnyConnection) -> Result<()> {
        if self == Self::Postgres {
            sqlx::query("SELECT group_key FROM alert_groups WHERE group_key = $1 FOR UPDATE")
                .bind(super::alerts::STORM)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    }

    /// Takes over the inbox requests that no live process holds ($1: this process, $2: the key
    /// prefix): each one's owner becomes $1 and its attempts grow by one; returns them (in no
    /// order) with the attempts before. On SQLite one serving process holds the file's lock, so
    /// any other owner is gone; on Postgres, an owner without a current lease, and rows another
    /// process is taking over at this moment are skipped, so each goes to one process.
    pub(super) fn take_over(self) -> &'static str {
        macro_rules! take_over {
            ($orphans:expr) => {
                concat!(
                    "UPDATE processed_requests SET attempts = attempts + 1, owner = $1 \
                     WHERE request_key IN (SELECT request_key FROM processed_requests r \
                     WHERE delivered_at IS NULL AND payload IS NOT NULL \
                     AND substr(request_key, 1, length($2)) = $2 AND owner IS DISTINCT FROM $1",
                    $orphans,
                    ") RETURNING request_key, seen_at, payload, \
                     CASE WHEN done_at IS NULL THEN 0 ELSE 1 END AS handled, \
                     attempts - 1 AS attempts"
                )
            };
        }
        match self {
            Self::Sqlite => take_over!(""),
            Self::Postgres => take_over!(concat!(unleased!("r.owner"), " FOR UPDATE SKIP LOCKED")),
        }
    }

    /// Whether approval request $1's runner is gone (1) or not (0): not $2 (this process), and
    /// on Postgres without a current lease (another replica may be running it right now).
    pub(super) fn runner_gone(self) -> &'static str {
        macro_rules! runner_gone {
            ($unleased:expr) => {
                concat!(
                    "SELECT CASE WHEN a.runner IS DISTINCT FROM $2",
                    $unleased,
                    " THEN 1 ELSE 0 END FROM approvals a WHERE a.id = $1"
                )
            };
        }
        match self {
            Self::Sqlite => runner_gone!(""),
            Self::Postgres => runner_gone!(unleased!("a.runner")),
        }
    }

    /// Claims outbox posts for process $1 at $2 (Unix ms), at most $3: [`Dialect::posts_due`]'s
    /// posts, oldest first, each now held by $1; returns them. Postgres skips rows another
    /// process is claiming at this moment, so each goes to one process.
    pub(super) fn claim_posts(self) -> &'static str {
        macro_rules! claim {
            ($free:expr, $lock:literal) => {
                concat!(
                    "UPDATE outbox SET claimed_by = $1 WHERE id IN (SELECT o.id FROM outbox o \
                     WHERE o.next_at <= $2",
                    head_of_lane!(),
                    $free,
                    " ORDER BY o.id LIMIT $3",
                    $lock,
                    ") RETURNING id, kind, destination, lane, payload, summary, incident_id, \
                     stored_at, give_up_at, attempts, last_error"
                )
            };
        }
        match self {
            Self::Sqlite => claim!("", ""),
            Self::Postgres => claim!(free_post!(), " FOR UPDATE SKIP LOCKED"),
        }
    }

    /// The outbox posts process $1 may claim at $2 (Unix ms): the first waiting post of its
    /// lane, due, and held by nobody, by $1 itself (its sender runs one pass at a time, so a post
    /// it still holds is one whose outcome it could not record), or by a process that is gone.
    /// On SQLite that is any post: one serving process holds the file's lock. On Postgres, a
    /// post another replica with a current lease holds is left to it.
    pub(super) fn posts_due(self) -> &'static str {
        macro_rules! due {
            ($free:expr) => {
                concat!(
                    "SELECT o.id FROM outbox o WHERE o.next_at <= $2",
                    head_of_lane!(),
                    $free,
                    " LIMIT 1"
                )
            };
        }
        match self {
            Self::Sqlite => due!(""),
            Self::Postgres => due!(free_post!()),
        }
    }

    /// Who approved request $1, in the order their votes arrived: SQLite keeps that order in
    /// the table's `rowid`, Postgres in its `seq` column.
    pub(super) fn approvers(self) -> &'static str {
        macro_rules! approvers {
            ($arrival:literal) => {
                concat!(
                    "SELECT voter_platform, voter_id, voter_name FROM approval_votes \
                     WHERE approval_id = $1 AND vote = 'approve' ORDER BY at, ",
                    $arrival
                )
            };
        }
        match self {
            Self::Sqlite => approvers!("rowid"),
            Self::Postgres => approvers!("seq"),
        }
    }
}
