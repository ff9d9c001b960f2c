//! Each incident's pages: one row per page (incident, pager, the pager's key for it), replaced
//! as the page moves (`INSERT … ON CONFLICT … DO UPDATE`, which SQLite and Postgres both
//! speak). A page is recorded as triggering after its event is queued, when its pager may have
//! taken it already: triggering replaces only a page that is not calling (failed, or resolved
//! in the pager while firewatch had not asked that) and was recorded so before the trigger was
//! queued (a refusal of this very trigger stays); a page resolved there is never moved back to
//! acknowledged. What firewatch last queued for a page (`asked`) is stored with a new page and
//! then only moved forward ([`ask`]): recording a state leaves it.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::SqlStore;
use crate::incident::IncidentId;
use crate::incident::page::{Action, Page, PageState, Pager};
use crate::store::decode::{millis, time};
use crate::store::{Error, Result};

/// The columns [`page`] reads.
macro_rules! columns {
    () => {
        "p.incident_id, p.pager, p.page_key, p.state, p.asked, p.target, p.detail, p.at"
    };
}

pub(super) async fn record(store: &SqlStore, page: &Page) -> Result<()> {
    sqlx::query(
        "INSERT INTO pages (incident_id, pager, page_key, state, asked, target, detail, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (incident_id, pager, page_key) DO UPDATE SET state = excluded.state, \
         target = excluded.target, detail = excluded.detail, at = excluded.at \
         WHERE (excluded.state <> 'triggering' \
                OR ((pages.state = 'failed' \
                     OR (pages.state = 'resolved' AND pages.asked <> 'resolve')) \
                    AND pages.at < excluded.at)) \
         AND NOT (pages.state = 'resolved' AND excluded.state = 'acknowledged')",
    )
    .bind(page.incident.get())
    .bind(page.pager.key())
    .bind(&page.key)
    .bind(page.state.as_str())
    .bind(page.asked.as_str())
    .bind(&page.target)
    .bind(page.detail.as_deref())
    .bind(millis(page.at))
    .execute(&store.writes)
    .await?;
    Ok(())
}

pub(super) async fn ask(
    store: &SqlStore,
    id: IncidentId,
    pager: Pager,
    key: &str,
    asked: Action,
) -> Result<()> {
    // Only forward: two changes queued by two replicas may record theirs in either order.
    sqlx::query(
        "UPDATE pages SET asked = $1 WHERE incident_id = $2 AND pager = $3 AND page_key = $4 \
         AND CASE asked WHEN 'trigger' THEN 0 WHEN 'acknowledge' THEN 1 ELSE 2 END < $5",
    )
    .bind(asked.as_str())
    .bind(id.get())
    .bind(pager.key())
    .bind(key)
    .bind(rank(asked))
    .execute(&store.writes)
    .await?;
    Ok(())
}

pub(super) async fn of(store: &SqlStore, id: IncidentId) -> Result<Vec<Page>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM pages p WHERE p.incident_id = $1 ORDER BY p.pager, p.page_key"
    ))
    .bind(id.get())
    .fetch_all(&store.reads)
    .await?;
    let mut pages = rows.iter().map(page).collect::<Result<Vec<_>>>()?;
    // PagerDuty first, each pager's own page before the roles'.
    pages.sort_by(|a, b| (a.pager, a.key.len(), &a.key).cmp(&(b.pager, b.key.len(), &b.key)));
    Ok(pages)
}

pub(super) async fn owed(
    store: &SqlStore,
    settled: DateTime<Utc>,
    pagers: &[Pager],
    limit: u32,
) -> Result<Vec<Page>> {
    // One parameter per pager there is (a third pager needs a third).
    const _: () = assert!(Pager::ALL.len() == 2);
    let [pagerduty, opsgenie] = Pager::ALL.map(|p| if pagers.contains(&p) { p.key() } else { "" });
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM pages p JOIN incidents i ON i.id = p.incident_id \
         WHERE p.asked <> 'resolve' AND p.state NOT IN ('failed', 'resolved') \
         AND p.pager IN ($2, $3) \
         AND ((i.resolved_at IS NOT NULL AND i.resolved_at < $1) \
              OR (i.resolved_at IS NULL AND i.acknowledged_at IS NOT NULL \
                  AND i.acknowledged_at < $1 AND p.asked = 'trigger' \
                  AND p.state <> 'acknowledged')) \
         ORDER BY p.incident_id, p.pager, p.page_key LIMIT $4"
    ))
    .bind(millis(settled))
    .bind(pagerduty)
    .bind(opsgenie)
    .bind(i64::from(limit))
    .fetch_all(&store.reads)
    .await?;
    rows.iter().map(page).collect()
}

/// How far along an incident's course `asked` is, for comparing in SQL.
fn rank(asked: Action) -> i64 {
    match asked {
        Action::Trigger => 0,
        Action::Acknowledge => 1,
        Action::Resolve => 2,
    }
}

fn page(row: &AnyRow) -> Result<Page> {
    let id: i64 = row.try_get("incident_id")?;
    let id = IncidentId::new(id).ok_or_else(|| Error::Corrupt(format!("page of incident {id}")))?;
    let pager: String = row.try_get("pager")?;
    let state: String = row.try_get("state")?;
    let asked: String = row.try_get("asked")?;
    Ok(Page {
        incident: id,
        pager: Pager::parse(&pager)
            .ok_or_else(|| Error::Corrupt(format!("page of {id}: pager '{pager}'")))?,
        key: row.try_get("page_key")?,
        asked: Action::parse(&asked)
            .ok_or_else(|| Error::Corrupt(format!("page of {id}: asked '{asked}'")))?,
        state: PageState::parse(&state)
            .ok_or_else(|| Error::Corrupt(format!("page of {id}: state '{state}'")))?,
        target: row.try_get("target")?,
        detail: row.try_get("detail")?,
        at: time(row.try_get("at")?)?,
    })
}
