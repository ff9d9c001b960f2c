//! Where the engine tells the pagers (PagerDuty, Opsgenie) what became of an incident: the
//! [`Pages`] trait [`crate::paging`] implements, and the news pagers send back (an
//! acknowledgement or a resolution there, an escalation) run as changes to the incident. The
//! engine knows incidents and page lines only, never a pager's API.
//!
//! # Guarantees
//! - Every change the engine commits (an opening, by command or by alert; an acknowledgement,
//!   also by acting; a raise into a paged severity; a resolution) is shown to the pagers after
//!   its commit, and the message about it says what was paged ("📟 PagerDuty: triggering
//!   (freightliner)"): queued, not yet taken, so it never claims a call that did not happen.
//! - News from a pager about a page firewatch made acknowledges the incident once (a second
//!   acknowledgement, here or there, only adds its timeline entry), and is not sent back to
//!   the pager it came from.

use async_trait::async_trait;

use super::{
    Answer, Caller, Engine, Error, Failure, Reply, Result, error_reference, refuse, to_channel,
};
use crate::command::{Mention, PageTarget};
use crate::error_chain;
use crate::incident::lifecycle::{Event, Step};
use crate::incident::page::{self, Page, PageState, Pager};
use crate::incident::{Incident, IncidentId, TimelineEvent};
use crate::message::{Block, Message};
use crate::store;
use crate::store::Updated;

/// Sends pages for incidents: stores the events a change calls for in the outbox.
#[async_trait]
pub trait Pages: Send + Sync {
    /// Stores the page events the change of an incident from `before` (`None`: just opened)
    /// to `after` calls for, for every page but `from` (the pager and page key whose news made
    /// the change); returns a line for each event it queued (`📟 PagerDuty: triggering
    /// (freightliner)`). Failures are logged here: the change is committed, its message must
    /// go out.
    async fn follow(
        &self,
        before: Option<&Incident>,
        after: &Incident,
        from: Option<(Pager, &str)>,
    ) -> Vec<String>;

    /// Pages more people on active `incident`: the `role`'s own PagerDuty service (a page of
    /// its own), the role's Opsgenie teams or the `person`'s (`[people.NAME]`) Opsgenie user
    /// as responders added to its alert or on a new one, and otherwise the incident's own
    /// PagerDuty page where it has none yet; `note` says why. Returns a line for each page
    /// event queued, or page already calling.
    async fn page_more(
        &self,
        incident: &Incident,
        role: Option<&str>,
        person: Option<&str>,
        note: &str,
    ) -> Vec<String>;

    /// Queues what a crash between a change's commit and its page events left unqueued, at
    /// most once a minute unless `force`: the pages of active incidents at a paged severity
    /// with no page through a configured pager, and the acknowledgement or resolution a page
    /// is owed. Changes made within the last minute are left to the change still queuing.
    /// Returns how many page events it queued.
    async fn catch_up(&self, force: bool) -> usize;
}

/// News from a pager about one of firewatch's pages, parsed at its webhook.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PageNews {
    /// The pager.
    pub pager: Pager,
    /// The pager's id for this delivery (PagerDuty's event id, Opsgenie's alert id and
    /// action), for the inbox.
    pub id: String,
    /// The incident the page is for (from its dedup key or alias).
    pub incident: IncidentId,
    /// The page's key (its dedup key or alias): the incident's own page or a role's.
    #[serde(default)]
    pub key: String,
    /// What happened.
    pub what: NewsKind,
    /// Who did it there, as the pager names them.
    pub by: String,
    /// Who is paged now (after an escalation or a reassignment).
    #[serde(default)]
    pub now_paged: Vec<String>,
}

impl PageNews {
    /// The key of the page it is about (news stored without one is about the incident's own).
    pub fn page_key(&self) -> String {
        if self.key.is_empty() {
            crate::incident::page::page_key(self.incident)
        } else {
            self.key.clone()
        }
    }
}

/// What a pager says happened to a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NewsKind {
    /// Someone acknowledged it there.
    Acknowledged,
    /// Someone resolved (closed) it there.
    Resolved,
    /// It escalated to the next level.
    Escalated,
    /// Someone reassigned it.
    Reassigned,
}

impl Engine {
    /// Pages through `pages` from now on (unset: nothing is paged).
    pub fn page_through(&mut self, pages: std::sync::Arc<dyn Pages>) {
        self.pages = Some(pages);
    }

    /// Pages what a crash left unpaged ([`Pages::catch_up`]) now; how many page events were
    /// queued. The scheduler does it once a minute.
    pub async fn catch_up_pages(&self) -> usize {
        match &self.pages {
            Some(pages) => pages.catch_up(true).await,
            None => 0,
        }
    }

    /// The scheduler's look for pages a crash left unqueued, at most once a minute.
    pub(super) async fn catch_up_pages_due(&self) {
        if let Some(pages) = &self.pages {
            pages.catch_up(false).await;
        }
    }

    /// Shows a committed change to the pagers (every page but `from`) and adds what was paged
    /// to `message`.
    pub(super) async fn follow_pages(
        &self,
        before: Option<&Incident>,
        after: &Incident,
        from: Option<(Pager, &str)>,
        message: &mut Message,
    ) {
        let Some(pages) = &self.pages else { return };
        let lines = pages.follow(before, after, from).await;
        if !lines.is_empty() {
            message.blocks.push(Block::Text(String::new()));
            message.blocks.extend(lines.into_iter().map(Block::Text));
        }
    }

    /// Adds where incident `id`'s pages stand to `message` (`/incident-status`).
    pub(super) async fn show_pages(&self, id: IncidentId, message: &mut Message) -> Result<()> {
        let pages = self.store.pages_of(id).await?;
        if !pages.is_empty() {
            message.blocks.push(Block::Text(String::new()));
            message
                .blocks
                .extend(pages.iter().map(|p| Block::Text(p.line())));
        }
        Ok(())
    }

    /// Takes news from a pager once ([`Engine::page_news`]): the messages for the channel,
    /// [`Answer::Replayed`] when an earlier run took it, or [`Answer::Failed`] for an internal
    /// failure (logged), after which running it again is safe.
    pub async fn take_page_news(&self, caller: &Caller, news: &PageNews) -> Answer {
        match self.page_news(caller, news).await {
            Ok(replies) => {
                self.mirror(&replies);
                Answer::Final(replies)
            }
            Err(Error::Store(store::Error::Replayed(key))) => {
                tracing::info!(request = %key, "a pager's news was already taken; no effect");
                Answer::Replayed
            }
            Err(e) => {
                let reference = error_reference();
                tracing::error!(error = %error_chain(&e), reference = %reference, "a pager's news failed");
                Answer::Failed(Failure { reference })
            }
        }
    }

    /// Runs news from a pager about incident `news.incident`'s page, from `caller` (the pager's
    /// receiver, `caller.request` its inbox key): an acknowledgement acknowledges the incident
    /// if nobody had (and tells the other pagers); every kind goes on the timeline and into
    /// the channel. News of an incident firewatch does not know changes nothing.
    ///
    /// # Errors
    /// Store failures; [`crate::store::Error::Replayed`] for news taken before.
    pub async fn page_news(&self, caller: &Caller, news: &PageNews) -> Result<Vec<Reply>> {
        let Some(incident) = self.store.incident(news.incident).await? else {
            tracing::info!(incident = %news.incident, pager = %news.pager, "news of a page for no known incident; ignored");
            return Ok(Vec::new());
        };
        let now = self.clock.now();
        let pager = news.pager;
        let id = incident.id;
        let key = news.page_key();
        let known = self.store.pages_of(id).await?;
        let page = known.into_iter().find(|p| p.pager == pager && p.key == key);
        let role = page::role_of(id, &key);
        if role.is_some() && page.is_none() {
            tracing::info!(incident = %id, %pager, page = %key, "news of a page firewatch did not make; ignored");
            return Ok(Vec::new());
        }
        // A role's page is named: its news is about the role, not the whole incident.
        let of = role.map(|r| format!(" ({r}'s page)")).unwrap_or_default();
        let (what, step, state) = match news.what {
            NewsKind::Acknowledged => (
                format!("acknowledged in {pager} by {}{of}", news.by),
                Step::Acknowledge,
                Some(PageState::Acknowledged),
            ),
            NewsKind::Resolved => (
                format!("resolved in {pager} by {}{of}", news.by),
                Step::Read,
                Some(PageState::Resolved),
            ),
            NewsKind::Escalated => (escalated("escalated", news, &of), Step::Read, None),
            NewsKind::Reassigned => (escalated("reassigned", news, &of), Step::Read, None),
        };
        let entry = TimelineEvent::Paged {
            pager: pager.to_string(),
            what: what.clone(),
        };
        let decide = |current: &Incident| {
            // An acknowledgement takes the incident only while it is active (and only when
            // nobody has: the state machine's rule for any responder step).
            let step = match step {
                Step::Acknowledge if current.status.is_active() => Step::Acknowledge,
                _ => Step::Read,
            };
            let event = Event::Record {
                step,
                entries: vec![entry.clone()],
                raise: None,
            };
            crate::incident::lifecycle::apply(current, event, &caller.actor, now, &self.policy)
        };
        let updated = self
            .store
            .update(id, &caller.actor, now, caller.request.as_deref(), &decide)
            .await?;
        let Updated::Changed { before, after } = updated else {
            return Ok(Vec::new());
        };
        if let (Some(state), Some(page)) = (state, page) {
            let page = Page {
                state,
                detail: Some(format!("by {}", news.by)),
                at: now,
                ..page
            };
            self.store.record_page(&page).await?;
        }
        let headline = match (news.what, role) {
            (NewsKind::Acknowledged, _) => format!("📟 {id} ACKNOWLEDGED IN {}", upper(pager)),
            (NewsKind::Resolved, None) => format!("📟 {id} RESOLVED IN {}", upper(pager)),
            (what, Some(role)) => format!(
                "📟 {id}: {} PAGE {} IN {}",
                role.to_uppercase(),
                upper_kind(what),
                upper(pager)
            ),
            (what, None) => format!("📟 {id} PAGE {}", upper_kind(what)),
        };
        let mut body = crate::message::capitalise(&what);
        body.push('.');
        // The incident's own page resolved there: the incident may be over.
        if news.what == NewsKind::Resolved && role.is_none() && after.status.is_active() {
            body.push_str(&format!(
                " Resolving it here needs its root cause: /incident-resolve {id} <root cause> | \
                 <resolution>"
            ));
        }
        let mut message = Message::notice(headline, &body).about(id);
        self.metrics.incident_changed(&before, &after, now);
        self.follow_pages(Some(&before), &after, Some((pager, &key)), &mut message)
            .await;
        Ok(vec![to_channel(&after.channel, message)])
    }
}

impl Engine {
    /// `/incident-page ROLE|@person [message]`: mentions them in the incident's channel, pages
    /// them through the pagers ([`Pages::page_more`]) and puts it on the timeline. It takes
    /// nothing: paging someone does not acknowledge the incident.
    pub(super) async fn page_people(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        target: PageTarget,
        message: Option<String>,
    ) -> Result<Vec<Reply>> {
        let incident = self.target(caller, explicit).await?;
        let id = incident.id;
        if !incident.status.is_active() {
            return Err(refuse(
                format!("{id} is {}", incident.status),
                "Only an active incident pages people.",
            ));
        }
        let platform = caller.actor.platform;
        let people = self.approvals.people();
        let person = |mention: &Mention| super::roles::resolve(people, platform, mention);
        let (who, role, known) = match target {
            PageTarget::Name(name) if self.approvals.is_role(&name) => {
                (name.clone(), Some(name), None)
            }
            PageTarget::Name(name) => {
                let actor = person(&Mention::Name(name.clone())).map_err(|_| {
                    refuse(
                        "Who is that?",
                        format!("'{name}' is neither a role ([roles.{name}]) nor a person ([people.{name}]), nor a mention (@bob)"),
                    )
                })?;
                let known = people.who(&actor).map(str::to_owned);
                (actor.name, None, known)
            }
            PageTarget::Person(mention) => {
                let actor = person(&mention).map_err(|why| refuse("Who is that?", why))?;
                let known = people.who(&actor).map(str::to_owned);
                (actor.name, None, known)
            }
        };
        let by = &caller.actor;
        let note = message
            .clone()
            .unwrap_or_else(|| format!("{id}: {}", incident.summary));
        let mut what = format!("{who} paged by {by}");
        if let Some(message) = &message {
            what.push_str(&format!(": {message}"));
        }
        let entry = TimelineEvent::Paged {
            pager: "firewatch".into(),
            what: what.clone(),
        };
        let now = self.clock.now();
        self.store
            .append(id, by, now, caller.request.as_deref(), &[entry])
            .await?;
        let lines = match &self.pages {
            Some(pages) => {
                pages
                    .page_more(&incident, role.as_deref(), known.as_deref(), &note)
                    .await
            }
            None => Vec::new(),
        };
        let mut body = format!("{} pages {who}", by);
        match &message {
            Some(message) => body.push_str(&format!(": {message}")),
            None => body.push('.'),
        }
        if lines.is_empty() {
            body.push_str("\nNo pager pages them: this message is their page.");
        }
        let mut notice =
            Message::notice(format!("📟 {id}: PAGING {}", who.to_uppercase()), &body).about(id);
        if !lines.is_empty() {
            notice.blocks.push(Block::Text(String::new()));
            notice.blocks.extend(lines.into_iter().map(Block::Text));
        }
        if let Some(role) = role {
            notice.paged_roles = vec![role];
        }
        Ok(vec![to_channel(&incident.channel, notice)])
    }
}

fn escalated(verb: &str, news: &PageNews, of: &str) -> String {
    match news.now_paged.as_slice() {
        [] => format!("{verb} in {} by {}{of}", news.pager, news.by),
        paged => format!(
            "{verb} in {} by {}{of}; now paged: {}",
            news.pager,
            news.by,
            paged.join(", ")
        ),
    }
}

fn upper(pager: Pager) -> String {
    pager.to_string().to_uppercase()
}

fn upper_kind(kind: NewsKind) -> &'static str {
    match kind {
        NewsKind::Escalated => "ESCALATED",
        NewsKind::Reassigned => "REASSIGNED",
        NewsKind::Acknowledged => "ACKNOWLEDGED",
        NewsKind::Resolved => "RESOLVED",
    }
}
