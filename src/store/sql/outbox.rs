//! The outbox: posts stored in one transaction each batch, claimed lane head by lane head
//! ([`super::dialect::Dialect::claim_posts`]), put back after a failed try, and removed once
//! delivered or given up (with the incident's timeline entry, in one transaction).

use chrono::{DateTime, Utc};

use super::SqlStore;
use super::incidents::append;
use crate::incident::IncidentId;
use crate::store::decode::{claimed_post, millis};
use crate::store::{ClaimedPost, Error, Post, Result, Undelivered};

pub(super) async fn store(store: &SqlStore, posts: &[Post]) -> Result<()> {
    if posts.is_empty() {
        return Ok(());
    }
    let mut tx = store.writes.begin_with(store.dialect.begin()).await?;
    for post in posts {
        sqlx::query(
            "INSERT INTO outbox (kind, destination, lane, payload, summary, incident_id, \
             stored_at, give_up_at, next_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7)",
        )
        .bind(&post.kind)
        .bind(&post.destination)
        .bind(&post.lane)
        .bind(&post.payload)
        .bind(&post.summary)
        .bind(post.incident.map(IncidentId::get))
        .bind(millis(post.stored))
        .bind(millis(post.give_up_at))
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn due(store: &SqlStore, now: DateTime<Utc>) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(store.dialect.posts_due())
        .bind(&*store.process)
        .bind(millis(now))
        .fetch_optional(&store.reads)
        .await?;
    Ok(found.is_some())
}

pub(super) async fn claim(
    store: &SqlStore,
    now: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<ClaimedPost>> {
    let mut claimed = sqlx::query(store.dialect.claim_posts())
        .bind(&*store.process)
        .bind(millis(now))
        .bind(i64::from(limit))
        .fetch_all(&store.writes)
        .await?
        .iter()
        .map(claimed_post)
        .collect::<Result<Vec<_>>>()?;
    claimed.sort_by_key(|c| c.id);
    Ok(claimed)
}

pub(super) async fn retry(
    store: &SqlStore,
    id: i64,
    next: DateTime<Utc>,
    error: &str,
) -> Result<()> {
    sqlx::query(
        "UPDATE outbox SET claimed_by = NULL, next_at = $1, attempts = attempts + 1, \
         last_error = $2 WHERE id = $3 AND claimed_by = $4",
    )
    .bind(millis(next))
    .bind(error)
    .bind(id)
    .bind(&*store.process)
    .execute(&store.writes)
    .await?;
    Ok(())
}

pub(super) async fn remove(
    store: &SqlStore,
    id: i64,
    undelivered: Option<Undelivered<'_>>,
) -> Result<()> {
    let mut tx = store.writes.begin_with(store.dialect.begin()).await?;
    let removed: Option<Option<i64>> = sqlx::query_scalar(
        "DELETE FROM outbox WHERE id = $1 AND claimed_by = $2 RETURNING incident_id",
    )
    .bind(id)
    .bind(&*store.process)
    .fetch_optional(&mut *tx)
    .await?;
    if let (Some(Some(incident)), Some(undelivered)) = (removed, undelivered) {
        let incident = IncidentId::new(incident)
            .ok_or_else(|| Error::Corrupt(format!("outbox post {id}: incident {incident}")))?;
        append(
            &mut tx,
            incident,
            std::slice::from_ref(undelivered.entry),
            undelivered.by,
            undelivered.at,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
