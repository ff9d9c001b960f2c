//! The web pages' reads ([`WebReads`]) for both databases: each query is bounded by a limit or
//! a window, and filtered and ordered on columns migration 0016 indexes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, Row};

use super::SqlStore;
use crate::incident::{Incident, IncidentId, TimelineEvent};
use crate::store::decode::{entry, incident, millis, time};
use crate::store::web::{Filter, MAX_PAGE, Page, PublicUpdate, Response, SEARCH_SPAN, WebReads};
use crate::store::{Error, Result};

/// The incident columns the history shows (its timers are not needed there).
const COLUMNS: &str = "SELECT i.*, NULL AS next_update_due, NULL AS ack_due FROM incidents i";

/// A `LIKE` pattern matching `text` anywhere, with `\` escaping `%`, `_` and itself.
fn contains(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The `WHERE` clause and its values for `filter` (numbered from `$1`).
fn conditions(filter: &Filter, searched_from: Option<i64>) -> (String, Vec<Value>) {
    let mut clauses: Vec<String> = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    let mut add = |clause: &str, value: Value| {
        values.push(value);
        clauses.push(clause.replace('?', &format!("${}", values.len())));
    };
    if let Some(service) = &filter.service {
        add("i.service = ?", Value::Text(service.clone()));
    }
    if let Some(severity) = filter.severity {
        add("i.severity = ?", Value::Text(severity.to_string()));
    }
    if let Some(status) = filter.status {
        add("i.status = ?", Value::Text(status.as_str().to_owned()));
    }
    if let Some(from) = filter.from {
        add("i.opened_at >= ?", Value::Int(millis(from)));
    }
    if let Some(to) = filter.to {
        add("i.opened_at < ?", Value::Int(millis(to)));
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.trim().is_empty()) {
        add(
            "LOWER(i.summary) LIKE ? ESCAPE '\\'",
            Value::Text(contains(text.trim())),
        );
    }
    if let Some(before) = filter.before {
        add("i.id < ?", Value::Int(before.get()));
    }
    if let Some(from) = searched_from {
        add("i.id >= ?", Value::Int(from));
    }
    let clause = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    (clause, values)
}

/// A value bound to a numbered parameter.
enum Value {
    Int(i64),
    Text(String),
}

async fn incidents_page(pool: &AnyPool, filter: &Filter) -> Result<Page> {
    let searching = filter.text.as_deref().is_some_and(|t| !t.trim().is_empty());
    let searched_from = if searching {
        let below = match filter.before {
            Some(before) => before.get(),
            None => {
                let (max,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM incidents")
                    .fetch_one(pool)
                    .await?;
                max.unwrap_or(0) + 1
            }
        };
        Some((below - SEARCH_SPAN).max(1))
    } else {
        None
    };
    let (clause, values) = conditions(filter, searched_from);
    let limit = filter.limit.clamp(1, MAX_PAGE);
    let sql = format!("{COLUMNS}{clause} ORDER BY i.id DESC LIMIT {limit}");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in values {
        query = match value {
            Value::Int(n) => query.bind(n),
            Value::Text(t) => query.bind(t),
        };
    }
    let incidents = query
        .fetch_all(pool)
        .await?
        .iter()
        .map(incident)
        .collect::<Result<_>>()?;
    Ok(Page {
        incidents,
        searched_from,
    })
}

async fn last_updates(
    pool: &AnyPool,
    ids: &[IncidentId],
) -> Result<Vec<(IncidentId, DateTime<Utc>)>> {
    let mut found = Vec::with_capacity(ids.len());
    for id in ids {
        let row = sqlx::query(
            "SELECT MAX(at) AS at FROM timeline WHERE incident_id = $1 AND kind = 'updated'",
        )
        .bind(id.get())
        .fetch_one(pool)
        .await?;
        if let Some(at) = row.try_get::<Option<i64>, _>("at")? {
            found.push((*id, time(at)?));
        }
    }
    Ok(found)
}

async fn public_updates(
    pool: &AnyPool,
    since: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<PublicUpdate>> {
    sqlx::query(
        "SELECT * FROM timeline WHERE kind = 'public_update' AND at >= $1 \
         ORDER BY at DESC, seq DESC LIMIT $2",
    )
    .bind(millis(since))
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await?
    .iter()
    .map(|row| {
        let incident = IncidentId::new(row.try_get("incident_id")?)
            .ok_or_else(|| Error::Corrupt("a timeline entry without its incident".into()))?;
        let entry = entry(row)?;
        match entry.event {
            TimelineEvent::PublicUpdate { text, resolved } => Ok(PublicUpdate {
                seq: entry.seq,
                incident,
                at: entry.at,
                text,
                resolved,
            }),
            other => Err(Error::Corrupt(format!(
                "a public_update entry holds {}",
                other.kind()
            ))),
        }
    })
    .collect()
}

async fn incidents_since(
    pool: &AnyPool,
    since: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<Incident>> {
    let since = millis(since);
    let sql = format!(
        "{COLUMNS} WHERE i.opened_at >= $1 OR i.resolved_at >= $2 \
         OR i.status IN ('investigating', 'mitigating', 'monitoring') \
         ORDER BY i.id DESC LIMIT $3"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(since)
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await?
        .iter()
        .map(incident)
        .collect()
}

/// Response times: the first mitigation and an escalation are kept on the incident's row by
/// the timeline (migration 0016), so this reads the incidents of the window by `opened_at` only.
const RESPONSES: &str = "SELECT service, severity, opened_at, acknowledged_at, resolved_at, \
     mitigated_at, escalated FROM incidents WHERE opened_at >= $1 AND opened_at < $2";

async fn responses(
    pool: &AnyPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Response>> {
    sqlx::query(RESPONSES)
        .bind(millis(from))
        .bind(millis(to))
        .fetch_all(pool)
        .await?
        .iter()
        .map(|row| {
            let severity: String = row.try_get("severity")?;
            let optional = |column: &str| -> Result<Option<DateTime<Utc>>> {
                row.try_get::<Option<i64>, _>(column)?.map(time).transpose()
            };
            Ok(Response {
                service: row.try_get("service")?,
                severity: crate::incident::Severity::parse(&severity).map_err(Error::Corrupt)?,
                opened: time(row.try_get("opened_at")?)?,
                acknowledged: optional("acknowledged_at")?,
                mitigated: optional("mitigated_at")?,
                resolved: optional("resolved_at")?,
                target_missed: row.try_get::<i64, _>("escalated")? > 0,
            })
        })
        .collect()
}

#[async_trait]
impl WebReads for SqlStore {
    async fn incidents_page(&self, filter: &Filter) -> Result<Page> {
        incidents_page(&self.reads, filter).await
    }

    async fn last_updates(&self, ids: &[IncidentId]) -> Result<Vec<(IncidentId, DateTime<Utc>)>> {
        last_updates(&self.reads, ids).await
    }

    async fn public_updates(&self, since: DateTime<Utc>, limit: u32) -> Result<Vec<PublicUpdate>> {
        public_updates(&self.reads, since, limit).await
    }

    async fn incidents_since(&self, since: DateTime<Utc>, limit: u32) -> Result<Vec<Incident>> {
        incidents_since(&self.reads, since, limit).await
    }

    async fn responses(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Response>> {
        responses(&self.reads, from, to).await
    }
}
