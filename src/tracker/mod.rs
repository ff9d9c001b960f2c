//! Action items filed in the team's tracker: with `[followups] tracker = "github"` or
//! `"jira"`, each `/incident-followup` item becomes an issue, ticking it off closes the issue,
//! and `/incident-followup N @person` assigns it.
//!
//! Filing goes through the store's outbox ([`crate::delivery`]): the engine stores a post of
//! the tracker's kind (`github`, `jira`) in the incident's lane (`github:<id>`, so an item's
//! close never overtakes its create), and the [`TrackerCourier`] sends it, retried through a
//! tracker outage and across restarts. A created issue's key and page are recorded on the
//! incident's timeline ([`crate::incident::TimelineEvent::FollowupFiled`]); until then the
//! item reads "not yet filed". A post the tracker refuses (a 401, 403, 404, 400/422) is given
//! up and put on the timeline with why, naming the repository or project and what the
//! credentials lack; the incident's channel is told once.
//!
//! When the report is written, each filed item's state is read from the tracker, so an issue
//! closed there is ticked in the report. The two trackers differ only in their REST calls
//! ([`Issues`]: [`github::Github`], [`jira::Jira`]); everything else is here, once. The report
//! as a pull request is in [`report`].

pub mod github;
pub mod jira;
pub mod report;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::command::Mention;
use crate::config::{PersonSettings, Settings, Tracker as Which};
use crate::delivery::{Courier, Sender, Sent};
use crate::engine::outbox::LateOutbox;
use crate::incident::lifecycle::Outcome;
use crate::incident::timers::BOT_NAME;
use crate::incident::{Actor, Incident, IncidentId, Platform, TimelineEvent};
use crate::message::Message;
use crate::store::{Post, Store, Updated};

pub use github::Github;
pub use jira::Jira;

/// How long one call to a tracker may take.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

/// One tracker's REST calls.
#[async_trait]
pub trait Issues: Send + Sync {
    /// The outbox kind of its posts (`github`, `jira`).
    fn kind(&self) -> &'static str;
    /// Its name in messages (`GitHub`).
    fn name(&self) -> &'static str;
    /// Where the items of `service` are filed: a repository (`owner/name`) or a project key.
    fn place(&self, service: &str) -> Option<String>;
    /// The `[people.NAME]` key that holds a person's account in this tracker.
    fn person_key(&self) -> &'static str;
    /// A person's account in this tracker, from their `[people.NAME]`.
    fn account(&self, person: &PersonSettings) -> Option<String>;
    /// Files an issue in `place`: its key (`acme/web#12`, `OPS-42`) and web page.
    async fn create(
        &self,
        place: &str,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<(String, String), Sent>;
    /// Closes issue `key` of `place` as done.
    async fn close(&self, place: &str, key: &str) -> Sent;
    /// Assigns issue `key` of `place` to `account`.
    async fn assign(&self, place: &str, key: &str, account: &str) -> Sent;
    /// Whether issue `key` is closed (done) now; `None` when it cannot be read.
    async fn closed(&self, key: &str) -> Option<bool>;
}

/// The tracker `settings` file action items in (`[followups] tracker`), if any.
///
/// # Errors
/// When its HTTP client cannot be built.
pub fn from_settings(settings: &Settings) -> Result<Option<Arc<dyn Issues>>, reqwest::Error> {
    Ok(match settings.followups.tracker {
        Which::None => None,
        Which::Github => Github::from_settings(settings)?.map(|g| Arc::new(g) as _),
        Which::Jira => Jira::from_settings(settings)?.map(|j| Arc::new(j) as _),
    })
}

/// One change to an action item's issue, as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
    /// Files item `n` as a new issue.
    Create {
        place: String,
        incident: IncidentId,
        n: u32,
        title: String,
        body: String,
        labels: Vec<String>,
    },
    /// Closes item `n`'s issue as done.
    Close {
        place: String,
        incident: IncidentId,
        n: u32,
    },
    /// Assigns item `n`'s issue to `account`.
    Assign {
        place: String,
        incident: IncidentId,
        n: u32,
        account: String,
    },
}

/// The engine's way to a tracker: stores the posts that file, close and assign issues.
pub struct Tracker {
    issues: Arc<dyn Issues>,
    sender: Arc<Sender>,
    settings: Arc<Settings>,
    labels: Vec<String>,
}

impl Tracker {
    /// Files with `issues` through `sender`'s outbox, as `settings` say.
    pub fn new(issues: Arc<dyn Issues>, sender: Arc<Sender>, settings: &Settings) -> Self {
        let labels = match settings.followups.tracker {
            Which::Jira => settings.jira.labels.clone(),
            _ => settings.github.labels.clone(),
        };
        Self {
            issues,
            sender,
            settings: Arc::new(settings.clone()),
            labels,
        }
    }

    /// The tracker's name in messages.
    pub fn name(&self) -> &'static str {
        self.issues.name()
    }

    /// The `[people.NAME]` key of a person's account in this tracker.
    pub fn person_key(&self) -> &'static str {
        self.issues.person_key()
    }

    /// Stores the post that files item `n` (`text`) of `incident` as an issue.
    pub async fn file(&self, incident: &Incident, n: u32, text: &str) {
        let Some(place) = self.issues.place(&incident.service) else {
            return;
        };
        let mut labels = self.labels.clone();
        labels.push(incident.severity.as_str().to_owned());
        let body = format!(
            "Follow-up action from incident {id}: {summary}\n\n\
             - Severity: {severity}\n- Service: {service}\n- Channel: {platform} {channel}\n\n\
             Filed by firewatch. `/incident-followup {id} done {n}` closes this issue.",
            id = incident.id,
            summary = incident.summary,
            severity = incident.severity.as_str(),
            service = incident.service,
            platform = incident.channel.platform.as_str(),
            channel = incident.channel.id,
        );
        let summary = format!("file action item {n} of {} in {place}", incident.id);
        let op = Op::Create {
            place,
            incident: incident.id,
            n,
            title: text.to_owned(),
            body,
            labels,
        };
        self.send(incident.id, &op, &summary).await;
    }

    /// Stores the post that closes item `n`'s issue of `incident` (filed or still to be: the
    /// create goes first in the incident's lane).
    pub async fn close(&self, incident: &Incident, n: u32) {
        let Some(place) = self.issues.place(&incident.service) else {
            return;
        };
        let summary = format!("close action item {n} of {} in {place}", incident.id);
        let op = Op::Close {
            place,
            incident: incident.id,
            n,
        };
        self.send(incident.id, &op, &summary).await;
    }

    /// Stores the post that assigns item `n`'s issue of `incident` to `account`.
    pub async fn assign(&self, incident: &Incident, n: u32, account: &str) {
        let Some(place) = self.issues.place(&incident.service) else {
            return;
        };
        let summary = format!("assign action item {n} of {} to {account}", incident.id);
        let op = Op::Assign {
            place,
            incident: incident.id,
            n,
            account: account.to_owned(),
        };
        self.send(incident.id, &op, &summary).await;
    }

    /// The tracker account of the person `mention` names (typed on `platform`), from their
    /// `[people.NAME]`, found by name or by one of their accounts.
    pub fn account(&self, mention: &Mention, platform: Platform) -> Option<String> {
        let people = &self.settings.people;
        let person = match mention {
            Mention::Name(name) => people
                .iter()
                .find(|(person, _)| person.eq_ignore_ascii_case(name))
                .or_else(|| {
                    people
                        .iter()
                        .find(|(_, p)| p.console.iter().any(|c| c == name))
                }),
            Mention::Account { id, .. } => people.iter().find(|(_, p)| {
                p.accounts()
                    .any(|(on, account)| on == platform.as_str() && account == id)
            }),
        };
        person.and_then(|(_, p)| self.issues.account(p))
    }

    /// Whether issue `key` is closed in the tracker now; `None` when it cannot be read.
    pub async fn closed(&self, key: &str) -> Option<bool> {
        self.issues.closed(key).await
    }

    /// Stores `op` about incident `id` in its lane (`github:<id>`).
    async fn send(&self, id: IncidentId, op: &Op, summary: &str) {
        let kind = self.issues.kind();
        let post = self
            .sender
            .post(kind, &id.get().to_string(), op, summary, Some(id));
        self.sender.send(vec![post]).await;
    }
}

/// Sends the outbox's posts of one tracker, and records a created issue on its incident's
/// timeline.
pub struct TrackerCourier {
    issues: Arc<dyn Issues>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Where an incident's channel is told that the tracker did not take an item.
    channels: LateOutbox,
    /// The incidents whose channel was told of a failure since their last post went through:
    /// a channel hears of an outage once, not at every retry.
    told: Mutex<HashSet<IncidentId>>,
}

impl TrackerCourier {
    /// A courier calling `issues` that records created issues in `store`, at `clock`'s time,
    /// and tells incidents' channels through `channels` when the tracker does not take an item.
    pub fn new(
        issues: Arc<dyn Issues>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        channels: LateOutbox,
    ) -> Self {
        Self {
            issues,
            store,
            clock,
            channels,
            told: Mutex::new(HashSet::new()),
        }
    }

    /// Tells `incident`'s channel, once until a post of it goes through, that `what` was not
    /// done and why (`sent`).
    async fn tell(&self, incident: IncidentId, what: &str, sent: &Sent) {
        let name = self.issues.name();
        let (why, then) = match sent {
            Sent::Delivered => {
                self.told.lock().expect("not poisoned").remove(&incident);
                return;
            }
            Sent::Retry { reason, .. } => (
                reason,
                format!(
                    "It is kept in firewatch and done by a retry from the outbox when {name} \
                     takes it."
                ),
            ),
            Sent::Refused(reason) => (
                reason,
                "It is not retried: the item stays in firewatch. Fix the credentials or the \
                 place, then write the report (it files what is not yet filed)."
                    .to_owned(),
            ),
        };
        if !self.told.lock().expect("not poisoned").insert(incident) {
            return;
        }
        let Ok(Some(found)) = self.store.incident(incident).await else {
            return;
        };
        let message = Message::notice(
            format!("⚠️ {name} did not take this: {what}"),
            &format!("{why}.\n{then}"),
        )
        .about(incident);
        let what = "that the tracker did not take an item";
        self.channels.post(&found.channel, &message, what).await;
    }

    /// The key recorded for item `n` of `incident`, if it was filed.
    async fn key(&self, incident: IncidentId, n: u32) -> Result<Option<String>, Sent> {
        let timeline = self
            .store
            .timeline(incident)
            .await
            .map_err(|e| Sent::retry(format!("cannot read the timeline: {e}")))?;
        Ok(timeline.iter().rev().find_map(|e| match &e.event {
            TimelineEvent::FollowupFiled { n: m, key, .. } if *m == n => Some(key.clone()),
            _ => None,
        }))
    }

    /// Records that item `n` of `incident` is filed as `key` at `url`.
    async fn record(&self, incident: IncidentId, n: u32, key: String, url: String) -> Sent {
        let entry = TimelineEvent::FollowupFiled { n, key, url };
        match note(&*self.store, self.clock.now(), incident, entry).await {
            Ok(Updated::Changed { .. } | Updated::Refused(_)) => Sent::Delivered,
            Err(e) => Sent::retry(format!("the issue was filed but not recorded: {e}")),
        }
    }

    /// Makes the change `op` says in the tracker once.
    async fn apply(&self, op: &Op) -> Sent {
        let (incident, n) = match op {
            Op::Create { incident, n, .. }
            | Op::Close { incident, n, .. }
            | Op::Assign { incident, n, .. } => (*incident, *n),
        };
        let key = match self.key(incident, n).await {
            Ok(key) => key,
            Err(sent) => return sent,
        };
        match (op, key) {
            // Filed by an earlier try whose answer came after it was given up for lost.
            (Op::Create { .. }, Some(_)) => Sent::Delivered,
            (
                Op::Create {
                    place,
                    title,
                    body,
                    labels,
                    ..
                },
                None,
            ) => match self.issues.create(place, title, body, labels).await {
                Ok((key, url)) => self.record(incident, n, key, url).await,
                Err(sent) => sent,
            },
            (Op::Close { .. }, None) => Sent::Refused(format!(
                "action item {n} of {incident} was never filed, so there is no issue to close"
            )),
            (Op::Close { place, .. }, Some(key)) => self.issues.close(place, &key).await,
            (Op::Assign { .. }, None) => Sent::Refused(format!(
                "action item {n} of {incident} was never filed, so there is no issue to assign"
            )),
            (Op::Assign { place, account, .. }, Some(key)) => {
                self.issues.assign(place, &key, account).await
            }
        }
    }
}

#[async_trait]
impl Courier for TrackerCourier {
    async fn send(&self, post: &Post) -> Sent {
        let op: Op = match serde_json::from_str(&post.payload) {
            Ok(op) => op,
            Err(e) => return Sent::Refused(format!("not a tracker post: {e}")),
        };
        let (incident, what) = match &op {
            Op::Create { incident, n, .. } => (*incident, format!("filing action item {n}")),
            Op::Close { incident, n, .. } => {
                (*incident, format!("closing action item {n}'s issue"))
            }
            Op::Assign {
                incident,
                n,
                account,
                ..
            } => (*incident, format!("assigning action item {n} to {account}")),
        };
        let sent = self.apply(&op).await;
        self.tell(incident, &what, &sent).await;
        sent
    }
}

/// Why a call to a tracker failed.
#[derive(Debug)]
pub(crate) struct Failed {
    /// The HTTP status, when the tracker answered.
    pub status: Option<u16>,
    /// The tracker's own message, or what went wrong on the way.
    pub reason: String,
    /// The tracker's `Retry-After`.
    pub wait: Option<Duration>,
}

/// A reqwest error without its URL.
pub(crate) fn without_url(e: &reqwest::Error) -> String {
    let mut e = e.to_string();
    if let Some(at) = e.find(" for url (") {
        e.truncate(at);
    }
    e
}

/// Puts `entry` on `incident`'s timeline as firewatch, at `at`: what a tracker's answer adds
/// (an issue's key, a report's link).
async fn note(
    store: &dyn Store,
    at: chrono::DateTime<chrono::Utc>,
    incident: IncidentId,
    entry: TimelineEvent,
) -> crate::store::Result<Updated> {
    let decide = |before: &Incident| {
        Ok(Outcome {
            incident: before.clone(),
            entries: vec![entry.clone()],
        })
    };
    let bot = Actor {
        platform: Platform::Console,
        id: BOT_NAME.into(),
        name: BOT_NAME.into(),
    };
    store.update(incident, &bot, at, None, &decide).await
}

/// Sends `request` and reads its answer: the JSON of a 2xx (`null` when empty), else what went
/// wrong, with the tracker's message found by `message`.
pub(crate) async fn call(
    request: reqwest::RequestBuilder,
    name: &str,
    message: fn(&serde_json::Value) -> String,
) -> Result<serde_json::Value, Failed> {
    let response = request.send().await.map_err(|e| Failed {
        status: None,
        reason: format!("{name} did not answer: {}", without_url(&e)),
        wait: None,
    })?;
    let status = response.status();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let wait = header("retry-after")
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs);
    // GitHub's primary rate limit answers 403 with no requests remaining.
    let limited = status.as_u16() == 403 && header("x-ratelimit-remaining").as_deref() == Some("0");
    let text = response.text().await.unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    if status.is_success() {
        return Ok(json);
    }
    Err(Failed {
        status: Some(if limited { 429 } else { status.as_u16() }),
        reason: message(&json),
        wait,
    })
}
