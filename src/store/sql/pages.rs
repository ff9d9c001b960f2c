//! Each incident's page per pager: one row, replaced as the page moves
//! (`INSERT … ON CONFLICT … DO UPDATE`, which SQLite and Postgres both speak). A page is
//! recorded as triggering after its event is queued, when its pager may have taken it already:
//! triggering replaces only a failed page.

use sqlx::Row;

use super::SqlStore;
use crate::incident::IncidentId;
use crate::incident::page::{Page, PageState, Pager};
use crate::store::decode::{millis, time};
use crate::store::{Error, Result};

pub(super) async fn record(store: &SqlStore, page: &Page) -> Result<()> {
    sqlx::query(
        "INSERT INTO pages (incident_id, pager, state, target, detail, at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (incident_id, pager) DO UPDATE SET state = excluded.state, \
         target = excluded.target, detail = excluded.detail, at = excluded.at \
         WHERE excluded.state <> 'triggering' OR pages.state = 'failed'",
    )
    .bind(page.incident.get())
    .bind(page.pager.key())
    .bind(page.state.as_str())
    .bind(&page.target)
    .bind(page.detail.as_deref())
    .bind(millis(page.at))
    .execute(&store.writes)
    .await?;
    Ok(())
}

pub(super) async fn of(store: &SqlStore, id: IncidentId) -> Result<Vec<Page>> {
    let rows = sqlx::query(
        "SELECT pager, state, target, detail, at FROM pages WHERE incident_id = $1 \
         ORDER BY pager",
    )
    .bind(id.get())
    .fetch_all(&store.reads)
    .await?;
    let mut pages = rows
        .iter()
        .map(|row| {
            let pager: String = row.try_get("pager")?;
            let state: String = row.try_get("state")?;
            Ok(Page {
                incident: id,
                pager: Pager::parse(&pager)
                    .ok_or_else(|| Error::Corrupt(format!("page of {id}: pager '{pager}'")))?,
                state: PageState::parse(&state)
                    .ok_or_else(|| Error::Corrupt(format!("page of {id}: state '{state}'")))?,
                target: row.try_get("target")?,
                detail: row.try_get("detail")?,
                at: time(row.try_get("at")?)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    pages.sort_by_key(|p| p.pager);
    Ok(pages)
}
