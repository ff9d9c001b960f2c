//! The approval ledger on Postgres: requests, one vote per person, and the atomic claim that
//! makes an approved change run once across replicas. Each write is one transaction that locks
//! the request's row first (`FOR UPDATE`), so votes on one request are counted one after another,
//! or one statement (`UPDATE … WHERE state = 'approved' RETURNING`).

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::rows::{append, millis, platform, time};
use super::{LEASE_SECONDS, inbox};
use crate::approval::{NewRequest, Request, State, Vote, Voted};
use crate::incident::{Actor, IncidentId, Severity, TimelineEvent};
use crate::store::{Close, Error, RequestEntries, Result};

pub(super) async fn append_entries(
    pool: &PgPool,
    id: IncidentId,
    actor: &Actor,
    at: DateTime<Utc>,
    request: Option<&str>,
    entries: &[TimelineEvent],
) -> Result<()> {
    let mut tx = pool.begin().await?;
    inbox::mark_done(&mut tx, request, at).await?;
    append(&mut tx, id, entries, actor, at).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn create(
    pool: &PgPool,
    new: &NewRequest,
    entries: RequestEntries<'_>,
    request: Option<&str>,
) -> Result<Request> {
    let mut tx = pool.begin().await?;
    inbox::mark_done(&mut tx, request, new.requested_at).await?;
    let action = serde_json::to_string(&new.change)
        .map_err(|e| Error::Corrupt(format!("approval change: {e}")))?;
    let by = &new.requested_by;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO approvals (incident_id, action, preview, reason, requested_by_platform, \
         requested_by_id, requested_by_name, requested_at, expires_at, required, state, updated_at, \
         command, service, severity) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $11, $12, $13, $14) RETURNING id",
    )
    .bind(new.incident.get())
    .bind(action)
    .bind(format!("{}\n{}", new.what, new.preview))
    .bind(&new.reason)
    .bind(by.platform.as_str())
    .bind(&by.id)
    .bind(&by.name)
    .bind(millis(new.requested_at))
    .bind(millis(new.expires_at))
    .bind(i64::from(new.required))
    .bind(millis(new.requested_at))
    .bind(&new.command)
    .bind(&new.service)
    .bind(new.severity.as_str())
    .fetch_one(&mut *tx)
    .await?;
    append(&mut tx, new.incident, &entries(id), by, new.requested_at).await?;
    tx.commit().await?;
    Ok(Request {
        id,
        new: new.clone(),
        state: State::Pending,
        result: None,
        approvers: Vec::new(),
    })
}

pub(super) async fn one(pool: &PgPool, id: i64) -> Result<Option<Request>> {
    let mut conn = pool.acquire().await?;
    let row = sqlx::query("SELECT * FROM approvals WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(row) => {
            let approvers = approvers(&mut conn, id).await?;
            Ok(Some(request(&row, approvers)?))
        }
        None => Ok(None),
    }
}

pub(super) async fn of_incident(
    pool: &PgPool,
    incident: IncidentId,
    state: State,
) -> Result<Vec<Request>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM approvals WHERE incident_id = $1 AND state = $2 ORDER BY id",
    )
    .bind(incident.get())
    .bind(state.as_str())
    .fetch_all(pool)
    .await?;
    load_all(pool, ids).await
}

pub(super) async fn in_state(
    pool: &PgPool,
    state: State,
    expired_by: Option<DateTime<Utc>>,
    limit: u32,
) -> Result<Vec<Request>> {
    // A range scan of approvals_pending (state, expires_at).
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM approvals WHERE state = $1 AND expires_at <= $2 ORDER BY expires_at, id LIMIT $3",
    )
    .bind(state.as_str())
    .bind(expired_by.map_or(i64::MAX, millis))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?;
    load_all(pool, ids).await
}

async fn load_all(pool: &PgPool, ids: Vec<i64>) -> Result<Vec<Request>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(r) = one(pool, id).await? {
            out.push(r);
        }
    }
    Ok(out)
}

pub(super) async fn vote(
    pool: &PgPool,
    id: i64,
    voter: &Actor,
    vote: Vote,
    reason: Option<&str>,
    at: DateTime<Utc>,
    request_key: Option<&str>,
) -> Result<Voted> {
    let mut tx = pool.begin().await?;
    inbox::mark_done(&mut tx, request_key, at).await?;
    lock(&mut tx, id).await?;
    let before = load_in(&mut tx, id)
        .await?
        .ok_or_else(|| Error::Corrupt(format!("no approval request R{id}")))?;
    if before.state != State::Pending || before.new.expires_at <= at {
        tx.commit().await?;
        return Ok(Voted::Closed(before));
    }
    let inserted = sqlx::query(
        "INSERT INTO approval_votes (approval_id, voter_platform, voter_id, voter_name, vote, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(voter.platform.as_str())
    .bind(&voter.id)
    .bind(&voter.name)
    .bind(vote.as_str())
    .bind(reason)
    .bind(millis(at))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        tx.commit().await?;
        return Ok(Voted::Duplicate(before));
    }
    let incident = before.new.incident;
    let outcome = match vote {
        Vote::Deny => {
            set_state(&mut tx, id, State::Pending, State::Denied, reason, at).await?;
            let entry = TimelineEvent::ApprovalDenied {
                request: id,
                reason: reason.map(str::to_owned),
            };
            append(&mut tx, incident, &[entry], voter, at).await?;
            Voted::Denied(load_in(&mut tx, id).await?.unwrap_or(before))
        }
        Vote::Approve => {
            let count: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM approval_votes WHERE approval_id = $1 AND vote = 'approve'",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            let approvals = u32::try_from(count).unwrap_or(u32::MAX);
            let required = before.new.required;
            let entry = TimelineEvent::ApprovalGiven {
                request: id,
                approvals,
                required,
            };
            append(&mut tx, incident, &[entry], voter, at).await?;
            let complete = approvals >= required
                && set_state(&mut tx, id, State::Pending, State::Approved, None, at).await?;
            Voted::Approved {
                request: load_in(&mut tx, id).await?.unwrap_or(before),
                complete,
            }
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

pub(super) async fn claim(
    pool: &PgPool,
    id: i64,
    runner: &str,
    at: DateTime<Utc>,
) -> Result<Option<Request>> {
    // The claim is this one statement: of any number of callers, one sees a row.
    let claimed: Option<i64> = sqlx::query_scalar(
        "UPDATE approvals SET state = 'running', runner = $1, started_at = $2, updated_at = $3 \
         WHERE id = $4 AND state = 'approved' RETURNING id",
    )
    .bind(runner)
    .bind(millis(at))
    .bind(millis(at))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    match claimed {
        Some(id) => one(pool, id).await,
        None => Ok(None),
    }
}

pub(super) async fn close(
    pool: &PgPool,
    id: i64,
    close: Close<'_>,
    entries: &[TimelineEvent],
    actor: &Actor,
    at: DateTime<Utc>,
) -> Result<Option<Request>> {
    let mut tx = pool.begin().await?;
    lock(&mut tx, id).await?;
    let Some(before) = load_in(&mut tx, id).await? else {
        tx.rollback().await?;
        return Ok(None);
    };
    // Recovery closes only a request whose runner is gone: not `me`, and without a current
    // lease (another replica may be running it right now).
    let runner_gone = match close.not_runner {
        Some(me) => {
            sqlx::query_scalar::<_, bool>(
                "SELECT runner IS DISTINCT FROM $2 AND NOT EXISTS ( \
                 SELECT 1 FROM processes p WHERE p.id = a.runner \
                 AND p.heartbeat_at > now() - make_interval(secs => $3)) \
             FROM approvals a WHERE a.id = $1",
            )
            .bind(id)
            .bind(me)
            .bind(f64::from(LEASE_SECONDS))
            .fetch_one(&mut *tx)
            .await?
        }
        None => true,
    };
    if !close.from.contains(&before.state) || !runner_gone {
        tx.rollback().await?;
        return Ok(None);
    }
    set_state(&mut tx, id, before.state, close.to, close.result, at).await?;
    append(&mut tx, before.new.incident, entries, actor, at).await?;
    let after = load_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(after)
}

/// Locks request `id` for the rest of the transaction: writers of one request go one by one.
async fn lock(tx: &mut Transaction<'_, Postgres>, id: i64) -> Result<()> {
    sqlx::query("SELECT id FROM approvals WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Moves `id` from `from` to `to`; whether it was in `from`.
async fn set_state(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    from: State,
    to: State,
    result: Option<&str>,
    at: DateTime<Utc>,
) -> Result<bool> {
    let finished = matches!(
        to,
        State::Succeeded | State::Failed | State::Denied | State::Expired | State::Cancelled
    );
    let done = sqlx::query(
        "UPDATE approvals SET state = $1, result = COALESCE($2, result), updated_at = $3, \
         finished_at = CASE WHEN $4 THEN $5 ELSE finished_at END \
         WHERE id = $6 AND state = $7",
    )
    .bind(to.as_str())
    .bind(result)
    .bind(millis(at))
    .bind(finished)
    .bind(millis(at))
    .bind(id)
    .bind(from.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn load_in(tx: &mut Transaction<'_, Postgres>, id: i64) -> Result<Option<Request>> {
    let row = sqlx::query("SELECT * FROM approvals WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    match row {
        Some(row) => {
            let approvers = approvers(tx, id).await?;
            Ok(Some(request(&row, approvers)?))
        }
        None => Ok(None),
    }
}

async fn approvers(conn: &mut sqlx::PgConnection, id: i64) -> Result<Vec<Actor>> {
    let rows = sqlx::query(
        "SELECT voter_platform, voter_id, voter_name FROM approval_votes \
         WHERE approval_id = $1 AND vote = 'approve' ORDER BY at, seq",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            let p: String = r.try_get("voter_platform")?;
            Ok(Actor {
                platform: platform(&p)?,
                id: r.try_get("voter_id")?,
                name: r.try_get("voter_name")?,
            })
        })
        .collect()
}

fn request(row: &PgRow, approvers: Vec<Actor>) -> Result<Request> {
    let id: i64 = row.try_get("id")?;
    let incident: i64 = row.try_get("incident_id")?;
    let action: String = row.try_get("action")?;
    let preview: String = row.try_get("preview")?;
    let (what, preview) = preview
        .split_once('\n')
        .map(|(w, p)| (w.to_owned(), p.to_owned()))
        .unwrap_or((preview.clone(), String::new()));
    let state: String = row.try_get("state")?;
    let severity: String = row.try_get("severity")?;
    let by_platform: String = row.try_get("requested_by_platform")?;
    let required: i64 = row.try_get("required")?;
    Ok(Request {
        id,
        new: NewRequest {
            incident: IncidentId::new(incident)
                .ok_or_else(|| Error::Corrupt(format!("incident id {incident}")))?,
            command: row.try_get("command")?,
            service: row.try_get("service")?,
            severity: Severity::parse(&severity).map_err(Error::Corrupt)?,
            change: serde_json::from_str(&action)
                .map_err(|e| Error::Corrupt(format!("approval R{id} change: {e}")))?,
            what,
            preview,
            reason: row.try_get("reason")?,
            requested_by: Actor {
                platform: platform(&by_platform)?,
                id: row.try_get("requested_by_id")?,
                name: row.try_get("requested_by_name")?,
            },
            requested_at: time(row.try_get("requested_at")?)?,
            expires_at: time(row.try_get("expires_at")?)?,
            required: u32::try_from(required).unwrap_or(0),
        },
        state: State::parse(&state)
            .ok_or_else(|| Error::Corrupt(format!("approval state '{state}'")))?,
        result: row.try_get("result")?,
        approvers,
    })
}
