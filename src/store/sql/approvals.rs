//! The approval ledger: requests, one vote per person, and the atomic claim that makes an
//! approved change run once, in one process or several. Each write is one transaction that
//! locks the request first (so votes on one request are counted one after another, and the vote
//! that completes it is seen by exactly one transaction), or one statement (the claim).

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Executor};

use super::SqlStore;
use super::dialect::{Dialect, Row};
use super::incidents::append;
use crate::approval::{Ballot, NewRequest, Request, State, Vote, Voted};
use crate::incident::{IncidentId, TimelineEvent};
use crate::store::decode::{millis, request, voter};
use crate::store::{Close, Error, RequestEntries, Result};

/// Stores a new `pending` request and its timeline entries (by the requester).
pub(super) async fn create(
    tx: &mut AnyConnection,
    new: &NewRequest,
    entries: RequestEntries<'_>,
) -> Result<Request> {
    let action = serde_json::to_string(&new.change)
        .map_err(|e| Error::Corrupt(format!("approval change: {e}")))?;
    let by = &new.requested_by;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO approvals (incident_id, action, preview, reason, requested_by_platform, \
         requested_by_id, requested_by_name, requested_at, expires_at, required, state, \
         updated_at, command, service, severity, channel_platform, channel_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', $8, $11, $12, $13, $14, $15) \
         RETURNING id",
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
    .bind(&new.command)
    .bind(&new.service)
    .bind(new.severity.as_str())
    .bind(new.channel.platform.as_str())
    .bind(&new.channel.id)
    .fetch_one(&mut *tx)
    .await?;
    append(tx, new.incident, &entries(id), by, new.requested_at).await?;
    Ok(Request {
        id,
        new: new.clone(),
        state: State::Pending,
        result: None,
        approvers: Vec::new(),
    })
}

pub(super) async fn one(store: &SqlStore, id: i64) -> Result<Option<Request>> {
    let mut conn = store.reads.acquire().await?;
    load(&mut conn, store.dialect, id).await
}

pub(super) async fn of_incident(
    store: &SqlStore,
    incident: IncidentId,
    state: State,
) -> Result<Vec<Request>> {
    let ids = sqlx::query_scalar(
        "SELECT id FROM approvals WHERE incident_id = $1 AND state = $2 ORDER BY id",
    )
    .bind(incident.get())
    .bind(state.as_str())
    .fetch_all(&store.reads)
    .await?;
    load_all(store, ids).await
}

pub(super) async fn in_state(
    store: &SqlStore,
    state: State,
    expired_by: Option<DateTime<Utc>>,
    limit: u32,
) -> Result<Vec<Request>> {
    // A range scan of approvals_pending (state, expires_at).
    let ids = sqlx::query_scalar(
        "SELECT id FROM approvals WHERE state = $1 AND expires_at <= $2 \
         ORDER BY expires_at, id LIMIT $3",
    )
    .bind(state.as_str())
    .bind(expired_by.map_or(i64::MAX, millis))
    .bind(i64::from(limit))
    .fetch_all(&store.reads)
    .await?;
    load_all(store, ids).await
}

async fn load_all(store: &SqlStore, ids: Vec<i64>) -> Result<Vec<Request>> {
    let mut conn = store.reads.acquire().await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.extend(load(&mut conn, store.dialect, id).await?);
    }
    Ok(out)
}

/// Records `ballot` on request `id` and what it completes; the caller commits whatever it
/// returns (a vote on a closed request, or a second one by the same person, still marks its
/// chat request done).
pub(super) async fn vote(
    tx: &mut AnyConnection,
    dialect: Dialect,
    id: i64,
    ballot: &Ballot<'_>,
    at: DateTime<Utc>,
) -> Result<Voted> {
    let &Ballot {
        voter,
        person,
        vote,
        reason,
    } = ballot;
    dialect.lock(tx, Row::Approval, id).await?;
    let before = load(tx, dialect, id)
        .await?
        .ok_or_else(|| Error::Corrupt(format!("no approval request R{id}")))?;
    if before.state != State::Pending || before.new.expires_at <= at {
        return Ok(Voted::Closed(before));
    }
    // Either key may conflict: the same account (the primary key), or another account of the
    // same person (approval_votes_by_person).
    let inserted = sqlx::query(
        "INSERT INTO approval_votes (approval_id, voter_platform, voter_id, voter_name, vote, \
         reason, at, person) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(voter.platform.as_str())
    .bind(&voter.id)
    .bind(&voter.name)
    .bind(vote.as_str())
    .bind(reason)
    .bind(millis(at))
    .bind(person)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(Voted::Duplicate(before));
    }
    let incident = before.new.incident;
    let outcome = match vote {
        Vote::Deny => {
            set_state(tx, id, State::Pending, State::Denied, reason, at).await?;
            let entry = TimelineEvent::ApprovalDenied {
                request: id,
                reason: reason.map(str::to_owned),
            };
            append(tx, incident, &[entry], voter, at).await?;
            Voted::Denied(load(tx, dialect, id).await?.unwrap_or(before))
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
            append(tx, incident, &[entry], voter, at).await?;
            let complete = approvals >= required
                && set_state(tx, id, State::Pending, State::Approved, None, at).await?;
            Voted::Approved {
                request: load(tx, dialect, id).await?.unwrap_or(before),
                complete,
            }
        }
    };
    Ok(outcome)
}

pub(super) async fn claim(
    store: &SqlStore,
    id: i64,
    runner: &str,
    at: DateTime<Utc>,
) -> Result<Option<Request>> {
    // The claim is this one statement: of any number of callers, one sees a row. It counts
    // once committed (a row returned before a commit that failed would run the change while
    // the request stays approved).
    let mut tx = store.write(None, at).await?;
    let claimed: Option<i64> = sqlx::query_scalar(
        "UPDATE approvals SET state = 'running', runner = $1, started_at = $2, updated_at = $2 \
         WHERE id = $3 AND state = 'approved' RETURNING id",
    )
    .bind(runner)
    .bind(millis(at))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    match claimed {
        Some(id) => one(store, id).await,
        None => Ok(None),
    }
}

/// Moves request `id` as `close` says; `None` (nothing written) when it is not in `close.from`,
/// or, for recovery, its runner is not gone.
pub(super) async fn close(
    tx: &mut AnyConnection,
    dialect: Dialect,
    id: i64,
    close: Close<'_>,
    at: DateTime<Utc>,
) -> Result<Option<Request>> {
    dialect.lock(tx, Row::Approval, id).await?;
    let Some(before) = load(tx, dialect, id).await? else {
        return Ok(None);
    };
    let runner_gone = match close.not_runner {
        Some(me) => {
            let gone: i64 = sqlx::query_scalar(dialect.runner_gone())
                .bind(id)
                .bind(me)
                .fetch_one(&mut *tx)
                .await?;
            gone == 1
        }
        None => true,
    };
    if !close.from.contains(&before.state) || !runner_gone {
        return Ok(None);
    }
    set_state(tx, id, before.state, close.to, close.result, at).await?;
    load(tx, dialect, id).await
}

/// Moves `id` from `from` to `to`; whether it was in `from`.
async fn set_state(
    tx: &mut AnyConnection,
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
         finished_at = CASE WHEN $4 THEN $3 ELSE finished_at END \
         WHERE id = $5 AND state = $6",
    )
    .bind(to.as_str())
    .bind(result)
    .bind(millis(at))
    .bind(finished)
    .bind(id)
    .bind(from.as_str())
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Request `id` with who approved it, read on `conn` (inside a transaction: as it writes it).
async fn load(conn: &mut AnyConnection, dialect: Dialect, id: i64) -> Result<Option<Request>> {
    let query = sqlx::query("SELECT * FROM approvals WHERE id = $1").bind(id);
    let Some(row) = conn.fetch_optional(query).await? else {
        return Ok(None);
    };
    let approvers = sqlx::query(dialect.approvers())
        .bind(id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(voter)
        .collect::<Result<_>>()?;
    Ok(Some(request(&row, approvers)?))
}
