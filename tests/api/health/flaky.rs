//! A store whose `ping` fails or hangs on demand; everything else goes to SQLite.

use firewatch::store::{ClaimedPost, Post, Undelivered};

use super::*;

/// A SQLite store whose `ping` can be made to fail or hang.
pub struct Flaky {
    pub inner: SqlStore,
    /// 0 answers, 1 fails, 2 never answers.
    pub mode: AtomicU8,
}

#[async_trait]
impl Store for Flaky {
    async fn ping(&self) -> Result<()> {
        match self.mode.load(Ordering::SeqCst) {
            0 => self.inner.ping().await,
            1 => Err(firewatch::store::Error::Query(sqlx::Error::PoolClosed)),
            _ => std::future::pending().await,
        }
    }
    async fn open_incident(&self, draft: &Draft, request: Option<&str>) -> Result<Incident> {
        self.inner.open_incident(draft, request).await
    }
    async fn incident(&self, id: IncidentId) -> Result<Option<Incident>> {
        self.inner.incident(id).await
    }
    async fn incidents_in(&self, channel: &ChannelRef) -> Result<Vec<Incident>> {
        self.inner.incidents_in(channel).await
    }
    async fn active_incidents(&self) -> Result<Vec<Incident>> {
        self.inner.active_incidents().await
    }
    async fn timeline(&self, id: IncidentId) -> Result<Vec<TimelineEntry>> {
        self.inner.timeline(id).await
    }
    async fn opened_earlier_that_day(&self, incident: &Incident) -> Result<u32> {
        self.inner.opened_earlier_that_day(incident).await
    }
    async fn update(
        &self,
        id: IncidentId,
        actor: &Actor,
        at: DateTime<Utc>,
        request: Option<&str>,
        decide: Decide<'_>,
    ) -> Result<Updated> {
        self.inner.update(id, actor, at, request, decide).await
    }
    async fn fire_due(
        &self,
        now: DateTime<Utc>,
        limit: u32,
        on_due: OnDue<'_>,
    ) -> Result<Vec<Fired>> {
        self.inner.fire_due(now, limit, on_due).await
    }
    async fn accept_request(&self, request: &Inbound) -> Result<bool> {
        self.inner.accept_request(request).await
    }
    async fn handled_request(&self, key: &str, at: DateTime<Utc>) -> Result<()> {
        self.inner.handled_request(key, at).await
    }
    async fn complete_request(&self, key: &str, at: DateTime<Utc>) -> Result<()> {
        self.inner.complete_request(key, at).await
    }
    async fn pending_requests(&self, prefix: &str) -> Result<Vec<Inbound>> {
        self.inner.pending_requests(prefix).await
    }
    async fn prune_requests(&self, before: DateTime<Utc>) -> Result<u64> {
        self.inner.prune_requests(before).await
    }
    fn process(&self) -> &str {
        self.inner.process()
    }
    async fn card(&self, key: &str) -> Result<Option<String>> {
        self.inner.card(key).await
    }
    async fn keep_card(&self, key: &str, message: &str) -> Result<()> {
        self.inner.keep_card(key, message).await
    }
    async fn backlog_requests(&self, prefix: &str, limit: usize) -> Result<Vec<Inbound>> {
        self.inner.backlog_requests(prefix, limit).await
    }
    async fn baseline(&self, service: &str, job: &str) -> Result<Option<Baseline>> {
        self.inner.baseline(service, job).await
    }
    async fn store_baseline(
        &self,
        baseline: &Baseline,
        entries: &[TimelineEvent],
        actor: &Actor,
        request: Option<&str>,
    ) -> Result<()> {
        self.inner
            .store_baseline(baseline, entries, actor, request)
            .await
    }
    async fn append(
        &self,
        id: IncidentId,
        actor: &Actor,
        at: DateTime<Utc>,
        request: Option<&str>,
        entries: &[TimelineEvent],
    ) -> Result<()> {
        self.inner.append(id, actor, at, request, entries).await
    }
    async fn request_approval(
        &self,
        new: &NewRequest,
        entries: RequestEntries<'_>,
        request: Option<&str>,
    ) -> Result<Request> {
        self.inner.request_approval(new, entries, request).await
    }
    async fn approval(&self, id: i64) -> Result<Option<Request>> {
        self.inner.approval(id).await
    }
    async fn approvals_of(&self, incident: IncidentId, state: State) -> Result<Vec<Request>> {
        self.inner.approvals_of(incident, state).await
    }
    async fn approvals_in(
        &self,
        state: State,
        expired_by: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Request>> {
        self.inner.approvals_in(state, expired_by, limit).await
    }
    async fn vote(
        &self,
        id: i64,
        ballot: &Ballot<'_>,
        at: DateTime<Utc>,
        request: Option<&str>,
    ) -> Result<Voted> {
        self.inner.vote(id, ballot, at, request).await
    }
    async fn claim_approval(
        &self,
        id: i64,
        runner: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<Request>> {
        self.inner.claim_approval(id, runner, at).await
    }
    async fn close_approval(
        &self,
        id: i64,
        close: Close<'_>,
        entries: &[TimelineEvent],
        actor: &Actor,
        at: DateTime<Utc>,
    ) -> Result<Option<Request>> {
        self.inner
            .close_approval(id, close, entries, actor, at)
            .await
    }
    async fn store_posts(&self, posts: &[Post]) -> Result<()> {
        self.inner.store_posts(posts).await
    }
    async fn posts_due(&self, now: DateTime<Utc>) -> Result<bool> {
        self.inner.posts_due(now).await
    }
    async fn claim_posts(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<ClaimedPost>> {
        self.inner.claim_posts(now, limit).await
    }
    async fn retry_post(&self, id: i64, next: DateTime<Utc>, error: &str) -> Result<()> {
        self.inner.retry_post(id, next, error).await
    }
    async fn remove_post(&self, id: i64, undelivered: Option<Undelivered<'_>>) -> Result<()> {
        self.inner.remove_post(id, undelivered).await
    }
    async fn record_page(&self, page: &firewatch::incident::page::Page) -> Result<()> {
        self.inner.record_page(page).await
    }
    async fn ask_page(
        &self,
        id: IncidentId,
        pager: firewatch::incident::page::Pager,
        key: &str,
        asked: firewatch::incident::page::Action,
    ) -> Result<()> {
        self.inner.ask_page(id, pager, key, asked).await
    }
    async fn pages_of(&self, id: IncidentId) -> Result<Vec<firewatch::incident::page::Page>> {
        self.inner.pages_of(id).await
    }
    async fn owed_pages(
        &self,
        settled: DateTime<Utc>,
        pagers: &[firewatch::incident::page::Pager],
        limit: u32,
    ) -> Result<Vec<firewatch::incident::page::Page>> {
        self.inner.owed_pages(settled, pagers, limit).await
    }
    async fn alert_state(
        &self,
        group: &str,
        at: DateTime<Utc>,
    ) -> Result<firewatch::alerts::AlertState> {
        self.inner.alert_state(group, at).await
    }
    async fn take_alerts(
        &self,
        group: &str,
        actor: &Actor,
        at: DateTime<Utc>,
        every: chrono::TimeDelta,
        request: Option<&str>,
        decide: firewatch::store::AlertDecide<'_>,
    ) -> Result<firewatch::store::AlertsTaken> {
        self.inner
            .take_alerts(group, actor, at, every, request, decide)
            .await
    }
    async fn alerts_of(&self, id: IncidentId) -> Result<Vec<firewatch::alerts::Member>> {
        self.inner.alerts_of(id).await
    }
    async fn due_announcements(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<firewatch::store::Announcement>> {
        self.inner.due_announcements(now, limit).await
    }
    async fn close(&self) {
        self.inner.close().await;
    }
}
