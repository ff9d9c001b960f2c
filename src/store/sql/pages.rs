//! Each incident's pages: one row per page (incident, pager, the pager's key for it), replaced
//! as the page moves (`INSERT … ON CONFLICT … DO UPDATE`, which SQLite and Postgres both
//! speak). A page is recorded as triggering after its event is queued, when its pager may have
//! taken it already: triggering replaces only a page that is not calling (failed, or resolved
//! in the pager while firewatch had not asked that). What firewatch last queued for a
//! page (`asked`) is written on its own ([`ask`]): recording a state leaves it.

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
        "incident_id, pager, page_key, state, asked, target, detail, at"
    };
}

pub(super) async fn record(store: &SqlStore, page: &Page) -> Result<()> {
    sqlx::query(
        "INSERT INTO pages (incident_id, pager, page_key, state, asked, target, detail, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (incident_id, pager, page_key) DO UPDATE SET state = excluded.state, \
         target = excluded.target, detail = excluded.detail, at = excluded.at \
         WHERE excluded.state <> 'triggering' OR pages.state = 'failed' \
         OR (pages.state = 'resolved' AND pages.asked <> 'resolve')",
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
    sqlx::query(
        "UPDATE pages SET asked = $1 WHERE incident_id = $2 AND pager = $3 AND page_key = $4",
    )
    .bind(asked.as_str())
    .bind(id.get())
    .bind(pager.key())
    .bind(key)
    .execute(&store.writes)
    .await?;
    Ok(())
}

pub(super) async fn of(store: &SqlStore, id: IncidentId) -> Result<Vec<Page>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM pages WHERE incident_id = $1 ORDER BY pager, page_key"
    ))
    .bind(id.get())
    .fetch_all(&store.reads)
    .await?;
    let mut pages = rows.iter().map(page).collect::<Result<Vec<_>>>()?;
    // PagerDuty first, each pager's own page before the roles'.
    pages.sort_by(|a, b| (a.pager, a.key.len(), &a.key).cmp(&(b.pager, b.key.len(), &b.key)));
    Ok(pages)
}

pub(super) async fn unsettled(store: &SqlStore, limit: u32) -> Result<Vec<Page>> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM pages WHERE asked <> 'resolve' AND state NOT IN ('failed', 'resolved') \
         ORDER BY incident_id, pager, page_key LIMIT $1"
    ))
    .bind(i64::from(limit))
    .fetch_all(&store.reads)
    .await?;
    rows.iter().map(page).collect()
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
