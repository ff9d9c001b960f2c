//! Paging through PagerDuty (Events API v2) and Opsgenie (Alert API): what a change to an
//! incident sends ([`Paging`], the engine's [`Pages`]), the couriers that send it from the
//! outbox ([`pagerduty`], [`opsgenie`]), and the webhooks that bring news back ([`news`]).
//!
//! An incident has its own page through each pager (`firewatch-12`, paging its service's
//! PagerDuty service and its roles' Opsgenie teams). Through PagerDuty, a role with a service
//! of its own (`[roles.NAME] pagerduty_routing_key`) gets a page of its own
//! (`firewatch-12-dba`): when the incident at a paged severity pages that role (its
//! severity's roles, the service's owners) and on `/incident-page ROLE`. Every page is
//! resolved with its incident, and acknowledged with it unless made after its acknowledgement
//! (it then calls until someone takes it in the pager); a page resolved in its pager is left
//! alone.
//!
//! Page events are posts in the store's outbox ([`crate::delivery`]), of kind `pagerduty` or
//! `opsgenie`, one lane per incident and pager (`pagerduty:firewatch-12`): stored before they
//! are sent, retried with backoff on 429, 5xx and network errors (also across restarts), sent
//! in order per incident, by one replica. A refusal (PagerDuty's 400, Opsgenie's failed
//! request) ends the page: it is put on the incident's timeline with the pager's message, and
//! said once in the incident's channel. Where each page stands, and the last event queued for
//! it, is kept in the store ([`crate::incident::page::Page`]) for `/incident-status`.
//!
//! # Caveats
//! A page event is queued right after the change that calls for it is committed. A process
//! that dies in between (milliseconds) leaves that change unpaged until the scheduler's next
//! look ([`Pages::catch_up`], every minute, in any replica): an active incident at a paged
//! severity with no page of its own through a pager gets it then (and its roles' pages, when
//! it has no page at all there), acknowledged too if the incident was; and a page whose
//! incident was acknowledged or resolved more than a minute ago with no such event queued for
//! it ([`crate::incident::page::owed`]) is sent it then. Pagers dedupe on the page key, so an
//! event sent twice (an answer lost in a timeout, a catch-up racing the change) calls nobody
//! twice. A role given a service of its own, or added to a severity, pages only incidents
//! paged from then on.

pub mod news;
pub mod opsgenie;
pub mod pagerduty;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::clock::Clock;
use crate::config::Settings;
use crate::delivery::Sender;
use crate::engine::Pages;
use crate::engine::outbox::LateOutbox;
use crate::error_chain;
use crate::incident::page::{self, Action, Page, PageState, Pager};
use crate::incident::{Incident, IncidentId, Severity, TimelineEvent};
use crate::message::Message;
use crate::store::{Post, Store};
use opsgenie::Responder;

/// The [`Pages`] firewatch runs: PagerDuty and Opsgenie as configured.
pub struct Paging {
    sender: Arc<Sender>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    plan: Plan,
    /// When [`Pages::catch_up`] looks next (`None`: at its first call).
    next_catch_up: std::sync::Mutex<Option<std::time::Instant>>,
}

/// How often the scheduler looks for incidents whose page events were never queued.
const CATCH_UP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// The most pages owed an event one look reads.
const CATCH_UP_PAGES: u32 = 500;

/// A page event queued: for which page, asking what.
struct Queued {
    pager: Pager,
    key: String,
    target: String,
    action: Action,
}

/// What the settings page, and who.
#[derive(Debug, Clone)]
pub struct Plan {
    /// PagerDuty's paged severities, when it is configured (for incidents or roles).
    pagerduty: Option<Vec<Severity>>,
    /// Whether incidents get pages of their own through PagerDuty (a routing key for
    /// services), besides their roles'.
    service_pages: bool,
    /// Opsgenie's paged severities, when it is configured.
    opsgenie: Option<Vec<Severity>>,
    settings: Settings,
}

impl Plan {
    /// What `settings` page: PagerDuty with a routing key (a service's or a role's),
    /// Opsgenie with an API key.
    pub fn new(settings: &Settings) -> Self {
        Self {
            pagerduty: settings
                .uses_pagerduty()
                .then(|| settings.pagerduty.paged()),
            service_pages: settings.pages_pagerduty(),
            opsgenie: settings
                .opsgenie
                .api_key
                .is_some()
                .then(|| settings.opsgenie.paged()),
            settings: settings.clone(),
        }
    }

    /// Whether anything is paged at all.
    pub fn any(&self) -> bool {
        self.pagerduty.is_some() || self.opsgenie.is_some()
    }

    fn paged(&self, pager: Pager) -> Option<&[Severity]> {
        match pager {
            Pager::PagerDuty => self.pagerduty.as_deref(),
            Pager::Opsgenie => self.opsgenie.as_deref(),
        }
    }

    /// The roles an incident of `severity` on `service` pages: the severity's, then the
    /// service's owners, each once.
    fn roles(&self, severity: Severity, service: &str) -> Vec<String> {
        let settings = &self.settings;
        let level = settings.severity.levels().into_iter().nth(severity.index());
        let owners = settings
            .services
            .iter()
            .find(|s| s.name == service)
            .map(|s| s.owners.clone())
            .unwrap_or_default();
        let mut roles: Vec<String> = Vec::new();
        let level_roles = level.map(|(_, l)| l.roles.clone()).unwrap_or_default();
        for role in level_roles.into_iter().chain(owners) {
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        roles
    }

    /// The pages an incident may have through `pager`, as the roles they are for: its own
    /// (`None`; through PagerDuty, when services have routing keys) and, through PagerDuty,
    /// each role's with a service of its own.
    fn pages(&self, pager: Pager) -> Vec<Option<String>> {
        match pager {
            Pager::Opsgenie => vec![None],
            Pager::PagerDuty => {
                let own = self.service_pages.then_some(None);
                let roles = self.settings.pagerduty_roles().map(|r| Some(r.to_owned()));
                own.into_iter().chain(roles).collect()
            }
        }
    }

    /// Whether `incident`, as it stands, calls for its page (with `role`, that role's) through
    /// a pager paging severities `paged`: at a paged severity that (for a role) pages the
    /// role, as one of the severity's roles or the service's owners.
    fn calls_for(&self, paged: &[Severity], role: Option<&str>, incident: &Incident) -> bool {
        paged.contains(&incident.severity)
            && role.is_none_or(|role| {
                self.roles(incident.severity, &incident.service)
                    .iter()
                    .any(|r| r == role)
            })
    }

    /// The Opsgenie username of person `name` (`[people.NAME] opsgenie_user`).
    fn opsgenie_user(&self, name: &str) -> Option<String> {
        self.settings.people.get(name)?.opsgenie_user.clone()
    }

    /// The Opsgenie teams of `roles`, each once.
    fn teams(&self, roles: &[String]) -> Vec<String> {
        let mut teams: Vec<String> = Vec::new();
        for role in roles {
            if let Some(settings) = self.settings.roles.get(role) {
                for team in &settings.opsgenie_teams {
                    if !teams.contains(team) {
                        teams.push(team.clone());
                    }
                }
            }
        }
        teams
    }
}

impl Paging {
    /// Pages as `plan` says, through `sender`'s outbox.
    pub fn new(
        sender: Arc<Sender>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        plan: Plan,
    ) -> Self {
        Self {
            sender,
            store,
            clock,
            plan,
            next_catch_up: std::sync::Mutex::new(None),
        }
    }

    /// The post for `action` on `incident`'s page through `pager` (with `role`, that role's
    /// own PagerDuty page), telling `brief` when it triggers, and who it pages.
    fn post(
        &self,
        pager: Pager,
        action: Action,
        incident: &Incident,
        role: Option<&str>,
        brief: &Brief,
    ) -> (Post, String) {
        // One lane per incident and pager: every page of the incident, in order.
        let key = page::page_key(incident.id);
        let settings = &self.plan.settings;
        let (post, target) = match pager {
            Pager::PagerDuty => {
                let order = pagerduty::order(action, incident, role, brief, settings);
                let summary = format!("{pager} {}: {}", verb(action), order.key());
                let target = order.target().to_owned();
                let post = self
                    .sender
                    .post(pager.key(), &key, &order, &summary, Some(incident.id));
                (post, target)
            }
            Pager::Opsgenie => {
                let roles = self.plan.roles(incident.severity, &incident.service);
                let mut responders: Vec<Responder> = self
                    .plan
                    .teams(&roles)
                    .into_iter()
                    .map(Responder::Team)
                    .collect();
                for one in &brief.more {
                    if !responders.contains(one) {
                        responders.push(one.clone());
                    }
                }
                let order = opsgenie::order(action, incident, &responders, brief, settings);
                let summary = format!("{pager} {}: {}", verb(action), key);
                let target = order.target.clone();
                let post = self
                    .sender
                    .post(pager.key(), &key, &order, &summary, Some(incident.id));
                (post, target)
            }
        };
        (post, target)
    }

    /// What a trigger of `incident` tells beyond it: `why` someone paged, the evidence on its
    /// timeline, and its web page.
    async fn brief(&self, incident: &Incident, why: Option<&str>) -> Brief {
        let evidence = match self.store.timeline(incident.id).await {
            Ok(timeline) => timeline
                .into_iter()
                .filter_map(|entry| match entry.event {
                    TimelineEvent::Evidence { findings, .. } => Some(findings),
                    _ => None,
                })
                .flatten()
                .take(EVIDENCE_LINES)
                .map(|line| cut(&line, 300))
                .collect(),
            Err(e) => {
                tracing::warn!(incident = %incident.id, error = %error_chain(&e), "cannot read the evidence for a page");
                Vec::new()
            }
        };
        Brief {
            why: why.map(str::to_owned),
            evidence,
            link: self
                .plan
                .settings
                .web_url(&format!("/incidents/{}", incident.id.get())),
            more: Vec::new(),
        }
    }
}

/// What a page event carries beyond the incident: for a trigger, why someone paged, what the
/// cluster showed, where to read the incident, and whom else Opsgenie pages.
#[derive(Debug, Clone, Default)]
pub struct Brief {
    /// What the person paging said (`/incident-page dba <why>`).
    pub why: Option<String>,
    /// The evidence gathered, a finding a line (at most [`EVIDENCE_LINES`]).
    pub evidence: Vec<String>,
    /// The incident's web page (`web.public_url`).
    pub link: Option<String>,
    /// Opsgenie responders besides its roles' teams (`/incident-page @alice`).
    pub more: Vec<Responder>,
}

/// The most findings of evidence a trigger carries.
pub const EVIDENCE_LINES: usize = 20;

/// The action as the log and the channel say it.
pub fn verb(action: Action) -> &'static str {
    match action {
        Action::Trigger => "trigger",
        Action::Acknowledge => "acknowledge",
        Action::Resolve => "resolve",
    }
}

fn pending(action: Action) -> &'static str {
    match action {
        Action::Trigger => "triggering",
        Action::Acknowledge => "acknowledging",
        Action::Resolve => "resolving",
    }
}

#[async_trait]
impl Pages for Paging {
    async fn follow(
        &self,
        before: Option<&Incident>,
        after: &Incident,
        from: Option<(Pager, &str)>,
    ) -> Vec<String> {
        let known = match self.store.pages_of(after.id).await {
            Ok(pages) => pages,
            Err(e) => {
                tracing::error!(incident = %after.id, error = %error_chain(&e), "cannot read the incident's pages; paging as if it had none");
                Vec::new()
            }
        };
        self.queue(before, after, &known, |pager, key| {
            from != Some((pager, key))
        })
        .await
    }

    async fn page_more(
        &self,
        incident: &Incident,
        role: Option<&str>,
        person: Option<&str>,
        note: &str,
    ) -> Vec<String> {
        let known = self.store.pages_of(incident.id).await.unwrap_or_else(|e| {
            tracing::error!(incident = %incident.id, error = %error_chain(&e), "cannot read the incident's pages");
            Vec::new()
        });
        let standing = |pager: Pager, key: &str| {
            known
                .iter()
                .find(|p| p.pager == pager && p.key == key && p.stands())
        };
        let main_key = page::page_key(incident.id);
        let mut posts = Vec::new();
        let mut lines = Vec::new();
        let mut queued = Vec::new();
        let brief = self.brief(incident, Some(note)).await;
        // A trigger queued: its post, and its line for the channel.
        let mut trigger = |pager: Pager, role: Option<&str>, brief: &Brief| {
            let (post, target) = self.post(pager, Action::Trigger, incident, role, brief);
            let line = format!("📟 {pager}: triggering ({target})");
            let key =
                role.map_or_else(|| main_key.clone(), |r| page::role_page_key(incident.id, r));
            queued.push(Queued {
                pager,
                key,
                target,
                action: Action::Trigger,
            });
            (post, line)
        };
        if self.plan.pagerduty.is_some() {
            let own_service = role.filter(|r| self.plan.settings.role_routing_key(r).is_some());
            match own_service {
                // The role's own PagerDuty service: its page, unless one is calling already
                // (PagerDuty would only add to it). One resolved there may be paged anew.
                Some(role) => {
                    let key = page::role_page_key(incident.id, role);
                    match standing(Pager::PagerDuty, &key)
                        .filter(|p| p.state != PageState::Resolved)
                    {
                        Some(page) => lines.push(format!(
                            "📟 PagerDuty: {role} already paged ({})",
                            page.state.as_str()
                        )),
                        None => {
                            let (post, line) = trigger(Pager::PagerDuty, Some(role), &brief);
                            posts.push(post);
                            lines.push(line);
                        }
                    }
                }
                None if self.plan.service_pages
                    && standing(Pager::PagerDuty, &main_key).is_none() =>
                {
                    let (post, line) = trigger(Pager::PagerDuty, None, &brief);
                    posts.push(post);
                    lines.push(line);
                }
                None => {}
            }
        }
        if self.plan.opsgenie.is_some() {
            let mut responders: Vec<Responder> = self
                .plan
                .teams(&role.map(|r| vec![r.to_owned()]).unwrap_or_default())
                .into_iter()
                .map(Responder::Team)
                .collect();
            if let Some(user) = person.and_then(|p| self.plan.opsgenie_user(p)) {
                responders.push(Responder::User(user));
            }
            match standing(Pager::Opsgenie, &main_key) {
                None => {
                    let more = Brief {
                        more: responders,
                        ..brief.clone()
                    };
                    let (post, line) = trigger(Pager::Opsgenie, None, &more);
                    posts.push(post);
                    lines.push(line);
                }
                Some(page) => {
                    for responder in responders {
                        let name = responder.name().to_owned();
                        let target = if page.target.split(", ").any(|t| t == name) {
                            page.target.clone()
                        } else {
                            format!("{}, {name}", page.target)
                        };
                        let order = opsgenie::add_responder(&responder, note, target);
                        let summary = format!("Opsgenie add responder {name}: {main_key}");
                        let post = self.sender.post(
                            Pager::Opsgenie.key(),
                            &main_key,
                            &order,
                            &summary,
                            Some(incident.id),
                        );
                        lines.push(format!("📟 Opsgenie: paging {name}"));
                        posts.push(post);
                    }
                }
            }
        }
        let at = self.clock.now();
        self.sender.send(posts).await;
        self.queued(incident, queued, at).await;
        lines
    }

    async fn catch_up(&self, force: bool) -> usize {
        {
            let mut next = self
                .next_catch_up
                .lock()
                .expect("never poisoned: no panics inside");
            let now = std::time::Instant::now();
            if !force && next.is_some_and(|at| now < at) {
                return 0;
            }
            *next = Some(now + CATCH_UP_EVERY);
        }
        let settled = self.clock.now() - chrono::TimeDelta::minutes(1);
        self.catch_up_triggers(settled).await + self.catch_up_owed(settled).await
    }
}

impl Paging {
    /// Triggers the pages that active incidents opened before `settled` call for and were
    /// never queued (the change that called for them was committed, the process died): their
    /// own page where they have none, and their roles' where they have no page at all through
    /// that pager. Returns how many events it queued.
    async fn catch_up_triggers(&self, settled: DateTime<Utc>) -> usize {
        let active = match self.store.active_incidents().await {
            Ok(active) => active,
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "cannot look for incidents left unpaged");
                return 0;
            }
        };
        let mut queued = 0;
        for incident in active.iter().filter(|i| i.opened.at < settled) {
            let known = match self.store.pages_of(incident.id).await {
                Ok(known) => known,
                Err(_) => continue,
            };
            // Its own page where it has none (a failed one stays failed); its roles' only where
            // it has no page at all there — the trigger that made them was lost —, so that a
            // role given a service, or added to a severity, does not page open incidents.
            let own = page::page_key(incident.id);
            let lines = self
                .queue(None, incident, &known, |pager, key| {
                    let none_there = !known.iter().any(|p| p.pager == pager);
                    let this = known.iter().any(|p| p.pager == pager && p.key == key);
                    !this && (key == own || none_there)
                })
                .await;
            if !lines.is_empty() {
                tracing::warn!(incident = %incident.id, "paging an incident whose page was never queued");
                queued += lines.len();
            }
        }
        queued
    }

    /// Sends each page what its incident's acknowledgement or resolution before `settled`
    /// still owes it ([`page::owed`]): the change was committed, its event never queued.
    /// Returns how many events it queued.
    async fn catch_up_owed(&self, settled: DateTime<Utc>) -> usize {
        let pagers: Vec<Pager> = Pager::ALL
            .into_iter()
            .filter(|p| self.plan.paged(*p).is_some())
            .collect();
        let owed = self.store.owed_pages(settled, &pagers, CATCH_UP_PAGES);
        let pages = match owed.await {
            Ok(pages) => pages,
            Err(e) => {
                tracing::warn!(error = %error_chain(&e), "cannot look for pages owed an event");
                return 0;
            }
        };
        let mut queued = 0;
        for pages in pages.chunk_by(|a, b| a.incident == b.incident) {
            let id = pages[0].incident;
            let incident = match self.store.incident(id).await {
                Ok(Some(incident)) => incident,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(incident = %id, error = %error_chain(&e), "cannot read the incident of a page");
                    continue;
                }
            };
            let mut posts = Vec::new();
            let mut events = Vec::new();
            for page in pages {
                let Some(action) = page::owed(&incident, page, settled) else {
                    continue;
                };
                let role = page::role_of(id, &page.key);
                let (post, target) =
                    self.post(page.pager, action, &incident, role, &Brief::default());
                posts.push(post);
                events.push(Queued {
                    pager: page.pager,
                    key: page.key.clone(),
                    target,
                    action,
                });
            }
            if posts.is_empty() {
                continue;
            }
            tracing::warn!(incident = %id, events = posts.len(), "sending page events a crash left unqueued");
            queued += posts.len();
            let at = self.clock.now();
            self.sender.send(posts).await;
            self.queued(&incident, events, at).await;
        }
        queued
    }

    /// Queues what the change from `before` to `after` asks of the incident's pages that
    /// `admit` lets through (by pager and key), its `known` pages considered; a line per event.
    ///
    /// A page the incident calls for now and did not before ([`Plan::calls_for`]) is
    /// triggered where none stands; every page it has follows its acknowledgement and
    /// resolution — but one resolved in its pager, which is over there, and a role's page
    /// triggered by the change that acknowledges, which is to wake the role.
    async fn queue(
        &self,
        before: Option<&Incident>,
        after: &Incident,
        known: &[Page],
        admit: impl Fn(Pager, &str) -> bool,
    ) -> Vec<String> {
        let mut posts = Vec::new();
        let mut lines = Vec::new();
        let mut queued = Vec::new();
        // What a trigger tells, read once and only when something triggers.
        let mut brief: Option<Brief> = None;
        let nothing = Brief::default();
        for pager in Pager::ALL {
            let Some(paged) = self.plan.paged(pager) else {
                continue;
            };
            // The pages the incident may have there, then any other it has, which only follow.
            let mut pages: Vec<(Option<String>, bool)> = self
                .plan
                .pages(pager)
                .into_iter()
                .map(|role| (role, true))
                .collect();
            for page in known.iter().filter(|p| p.pager == pager) {
                let role = page::role_of(after.id, &page.key).map(str::to_owned);
                if !pages.iter().any(|(r, _)| *r == role) {
                    pages.push((role, false));
                }
            }
            for (role, may_call) in pages {
                let key = match &role {
                    Some(role) => page::role_page_key(after.id, role),
                    None => page::page_key(after.id),
                };
                if !admit(pager, &key) {
                    continue;
                }
                let page = known.iter().find(|p| p.pager == pager && p.key == key);
                let stands = page.is_some_and(Page::stands);
                let over = page.is_some_and(|p| p.state == PageState::Resolved);
                let calls =
                    |i: &Incident| may_call && self.plan.calls_for(paged, role.as_deref(), i);
                let mut actions = page::actions(before, after, calls, stands);
                actions.retain(|a| *a == Action::Trigger || !over);
                // A role is paged to wake it: an acknowledgement made by the change that
                // triggers it (the raise that added it) took the incident, not the role's page.
                // Caught up (no `before`), pages follow the incident as they would have.
                if role.is_some() && before.is_some() && actions.contains(&Action::Trigger) {
                    actions.retain(|a| *a != Action::Acknowledge);
                }
                for action in actions {
                    if action == Action::Trigger && brief.is_none() {
                        brief = Some(self.brief(after, None).await);
                    }
                    let told = brief
                        .as_ref()
                        .filter(|_| action == Action::Trigger)
                        .unwrap_or(&nothing);
                    let (post, target) = self.post(pager, action, after, role.as_deref(), told);
                    lines.push(format!("📟 {pager}: {} ({target})", pending(action)));
                    queued.push(Queued {
                        pager,
                        key: key.clone(),
                        target,
                        action,
                    });
                    posts.push(post);
                }
            }
        }
        if !posts.is_empty() {
            tracing::info!(incident = %after.id, pages = posts.len(), "page events queued");
        }
        let at = self.clock.now();
        self.sender.send(posts).await;
        self.queued(after, queued, at).await;
        lines
    }

    /// Records the page events queued at `at` for `incident`: a page triggered is triggering
    /// (unless its pager took it already, or refused it), and each page was asked its last
    /// event — or, triggered after the incident's acknowledgement, that ([`page::asked_by`]).
    async fn queued(&self, incident: &Incident, queued: Vec<Queued>, at: DateTime<Utc>) {
        let id = incident.id;
        let mut recorded: Vec<(Pager, &str)> = Vec::new();
        for first in &queued {
            let page = (first.pager, first.key.as_str());
            if recorded.contains(&page) {
                continue;
            }
            recorded.push(page);
            let mut last = queued
                .iter()
                .filter(|e| (e.pager, e.key.as_str()) == page)
                .map(|e| e.action)
                .max()
                .unwrap_or(first.action);
            // A page's events are queued in order: a trigger comes first.
            if first.action == Action::Trigger {
                last = last.max(page::asked_by(
                    first.action,
                    incident.acknowledged.is_some(),
                ));
                let triggering = Page {
                    asked: last,
                    ..Page::new(
                        id,
                        first.pager,
                        &first.key,
                        PageState::Triggering,
                        &first.target,
                        at,
                    )
                };
                if let Err(e) = self.store.record_page(&triggering).await {
                    tracing::error!(incident = %id, error = %error_chain(&e), "cannot record a page triggered");
                }
            }
            let asked = self.store.ask_page(id, first.pager, &first.key, last);
            if let Err(e) = asked.await {
                tracing::error!(incident = %id, error = %error_chain(&e), "cannot record a page event queued");
            }
        }
    }
}

/// The page a courier's event is for: through what, its key, who it pages in words, and how
/// far along its incident's course the event takes it ([`page::asked_by`]).
#[derive(Debug, Clone, Copy)]
struct PageOf<'a> {
    pager: Pager,
    key: &'a str,
    target: &'a str,
    asked: Action,
}

/// What couriers share: the store (page states, follow-up posts) and the channels a failed
/// page is told in.
#[derive(Clone)]
pub struct Notices {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    outbox: LateOutbox,
}

impl Notices {
    /// Notices over `store`, timed by `clock`, telling failed pages in their incident's channel
    /// through `outbox`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, outbox: LateOutbox) -> Self {
        Self {
            store,
            clock,
            outbox,
        }
    }

    /// Records that incident `id`'s page `of` is now `state`.
    async fn record(&self, post: &Post, of: PageOf<'_>, state: PageState, detail: Option<String>) {
        let Some(id) = post.incident else { return };
        let PageOf {
            pager,
            key,
            target,
            asked,
        } = of;
        // Should the pager take it before the queuing code records the page (or a crash keep
        // that from happening), a new page is stored as far along as its event took it.
        let page = Page {
            detail,
            asked,
            ..Page::new(id, pager, key, state, target, self.clock.now())
        };
        if let Err(e) = self.store.record_page(&page).await {
            tracing::error!(incident = %id, error = %error_chain(&e), "cannot record a page's state");
        }
        if state == PageState::Triggered {
            self.note(id, pager, format!("triggered ({target})")).await;
        }
    }

    /// A page event was given up (`why`): a trigger's page is failed (an acknowledgement's or
    /// a resolution's keeps its state, with why), and the incident's channel hears it once
    /// (the timeline has it from the outbox). `adds` names the team an Opsgenie request was
    /// adding to a live page, which stays as it is.
    async fn failed(
        &self,
        post: &Post,
        of: PageOf<'_>,
        action: Action,
        why: &str,
        adds: Option<&str>,
    ) {
        let Some(id) = post.incident else { return };
        let PageOf {
            pager, key, target, ..
        } = of;
        let (headline, body) = match (adds, action) {
            (Some(team), _) => (
                format!("📟 {pager} DID NOT PAGE {} — {id}", team.to_uppercase()),
                format!(
                    "{pager} did not add {team} to {id}'s page: {why}\nPage {team} another way."
                ),
            ),
            (None, Action::Trigger) => {
                self.record(post, of, PageState::Failed, Some(why.to_owned()))
                    .await;
                let nobody = match page::role_of(id, key) {
                    Some(role) => format!(
                        "{role} was not called through {pager} for {id}: page them another way."
                    ),
                    None => format!(
                        "Nobody was called through {pager} for {id}: page the on-call people \
                         another way."
                    ),
                };
                (
                    format!("📟 {pager} PAGE FAILED — {id}"),
                    format!(
                        "📟 {pager}: failed ({target}) — the trigger was not taken: {why}\n\
                         {nobody}"
                    ),
                )
            }
            (None, _) => {
                let known = self.store.pages_of(id).await.unwrap_or_default();
                if let Some(page) = known.into_iter().find(|p| p.pager == pager && p.key == key) {
                    let detail = format!("{} failed: {why}", verb(action));
                    self.record(post, of, page.state, Some(detail)).await;
                }
                (
                    format!("📟 {pager} {} FAILED — {id}", verb(action).to_uppercase()),
                    format!(
                        "{pager} did not take the {}: {why}\n{pager} may still be calling \
                         people for {id}: {} it there.",
                        verb(action),
                        verb(action)
                    ),
                )
            }
        };
        let incident = match self.store.incident(id).await {
            Ok(Some(incident)) => incident,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(incident = %id, error = %error_chain(&e), "cannot read the incident of a failed page");
                return;
            }
        };
        let message = Message::notice(headline, &body).about(id);
        (self.outbox)
            .post(&incident.channel, &message, "that a page failed")
            .await;
    }

    /// Stores a follow-up of `post` (the same lane, right behind it): Opsgenie's request
    /// check. Returns whether it was stored.
    async fn follow_up(&self, post: &Post, payload: &impl Serialize, summary: &str) -> bool {
        let next = Post {
            payload: serde_json::to_string(payload).expect("a page order serialises to JSON"),
            summary: summary.to_owned(),
            stored: self.clock.now(),
            ..post.clone()
        };
        match self.store.store_posts(std::slice::from_ref(&next)).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %error_chain(&e), "cannot store a page's follow-up");
                false
            }
        }
    }

    /// Appends a note about a page to its incident's timeline (by firewatch).
    async fn note(&self, id: IncidentId, pager: Pager, what: String) {
        let entry = TimelineEvent::Paged {
            pager: pager.to_string(),
            what,
        };
        let by = crate::incident::Actor {
            platform: crate::incident::Platform::Console,
            id: crate::incident::timers::BOT_NAME.into(),
            name: crate::incident::timers::BOT_NAME.into(),
        };
        if let Err(e) = self
            .store
            .append(id, &by, self.clock.now(), None, &[entry])
            .await
        {
            tracing::warn!(incident = %id, error = %error_chain(&e), "cannot note a page on the timeline");
        }
    }
}

/// `text` in at most `limit` characters (pagers cut or refuse longer fields).
fn cut(text: &str, limit: usize) -> String {
    crate::message::shorten(text, limit)
}

/// An HTTP client for a pager.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!("firewatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("a TLS client builds (the same configuration as the chat clients)")
}

/// A response's `Retry-After` in seconds, if given.
fn retry_after(response: &reqwest::Response) -> Option<std::time::Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(std::time::Duration::from_secs)
}

/// `request` with `body` as its JSON body.
fn with_json(
    request: reqwest::RequestBuilder,
    body: &serde_json::Value,
) -> reqwest::RequestBuilder {
    request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
}

/// A response's JSON body, or the type's default when it has none or it is not that JSON.
async fn read_json<T: serde::de::DeserializeOwned + Default>(response: reqwest::Response) -> T {
    match response.bytes().await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
        Err(_) => T::default(),
    }
}
