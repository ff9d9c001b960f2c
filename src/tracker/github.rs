//! GitHub issues through the REST API (`POST /repos/{owner}/{repo}/issues`, `PATCH
//! /repos/{owner}/{repo}/issues/{number}`, `GET` of the same), with the headers GitHub asks
//! for (`Authorization: Bearer`, `Accept: application/vnd.github+json`,
//! `X-GitHub-Api-Version: 2022-11-28`, a `User-Agent`).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::Clock;
use crate::command::Mention;
use crate::config::{Secret, Settings, Tracker};
use crate::delivery::{Courier, Sender, Sent};
use crate::engine::outbox::Outbox;
use crate::incident::lifecycle::Outcome;
use crate::incident::timers::BOT_NAME;
use crate::incident::{Actor, Incident, IncidentId, Platform, TimelineEvent};
use crate::message::Message;
use crate::store::{Post, Store, Updated};

/// The outbox kind of GitHub issue posts.
pub const KIND: &str = "github";
/// How long one call to GitHub may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The REST API version the calls are written for.
const API_VERSION: &str = "2022-11-28";

/// One change to an action item's issue, as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
    /// Files item `n` as a new issue.
    Create {
        repo: String,
        incident: IncidentId,
        n: u32,
        title: String,
        body: String,
        labels: Vec<String>,
    },
    /// Closes item `n`'s issue as completed.
    Close {
        repo: String,
        incident: IncidentId,
        n: u32,
    },
    /// Assigns item `n`'s issue to `login`.
    Assign {
        repo: String,
        incident: IncidentId,
        n: u32,
        login: String,
    },
}

/// GitHub's REST API for the action items of incidents.
pub struct Github {
    http: reqwest::Client,
    api_url: String,
    token: Secret,
    labels: Vec<String>,
    settings: Arc<Settings>,
}

impl Github {
    /// The GitHub side of `settings` when `[followups] tracker = "github"` (the settings are
    /// checked: a token is set).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn from_settings(settings: Arc<Settings>) -> Result<Option<Self>, reqwest::Error> {
        if settings.followups.tracker != Tracker::Github {
            return Ok(None);
        }
        let Some(token) = settings.github.token.clone() else {
            return Ok(None);
        };
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("firewatch/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Some(Self {
            http,
            api_url: settings.github.api_url.trim_end_matches('/').to_owned(),
            token,
            labels: settings.github.labels.clone(),
            settings,
        }))
    }

    /// The repository `incident`'s items are filed in.
    pub fn repo(&self, incident: &Incident) -> Option<String> {
        self.settings
            .github_repo(&incident.service)
            .map(str::to_owned)
    }

    /// Stores (with `sender`) the post that files item `n` (`text`) of `incident` as an issue.
    pub async fn file(&self, sender: &Sender, incident: &Incident, n: u32, text: &str) {
        let Some(repo) = self.repo(incident) else {
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
        let op = Op::Create {
            repo: repo.clone(),
            incident: incident.id,
            n,
            title: text.to_owned(),
            body,
            labels,
        };
        let summary = format!("file action item {n} of {} in {repo}", incident.id);
        send(sender, incident.id, &op, &summary).await;
    }

    /// Stores (with `sender`) the post that closes item `n`'s issue of `incident` (filed or
    /// still to be: the create goes first in the incident's lane).
    pub async fn close(&self, sender: &Sender, incident: &Incident, n: u32) {
        let Some(repo) = self.repo(incident) else {
            return;
        };
        let op = Op::Close {
            repo: repo.clone(),
            incident: incident.id,
            n,
        };
        let summary = format!("close action item {n} of {} in {repo}", incident.id);
        send(sender, incident.id, &op, &summary).await;
    }

    /// Stores (with `sender`) the post that assigns item `n`'s issue of `incident` to `login`.
    pub async fn assign(&self, sender: &Sender, incident: &Incident, n: u32, login: &str) {
        let Some(repo) = self.repo(incident) else {
            return;
        };
        let op = Op::Assign {
            repo: repo.clone(),
            incident: incident.id,
            n,
            login: login.to_owned(),
        };
        let summary = format!("assign action item {n} of {} to {login}", incident.id);
        send(sender, incident.id, &op, &summary).await;
    }

    /// The GitHub login of the person `mention` names (typed on `platform`): the `github` of
    /// their `[people.NAME]`, found by name or by one of their accounts.
    pub fn login(&self, mention: &Mention, platform: Platform) -> Option<String> {
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
        person.and_then(|(_, p)| p.github.clone())
    }

    /// Whether the issue `key` (`owner/name#N`) is closed, as GitHub says now; `None` when it
    /// cannot be read.
    pub async fn closed(&self, key: &str) -> Option<bool> {
        let (repo, number) = key.split_once('#')?;
        let url = format!("{}/repos/{repo}/issues/{number}", self.api_url);
        match self.call(Method::GET, &url, None).await {
            Ok(issue) => Some(issue["state"].as_str() == Some("closed")),
            Err(e) => {
                tracing::warn!(issue = %key, error = %e.reason, "cannot read an issue's state");
                None
            }
        }
    }

    /// One call to GitHub: the JSON answer of a 2xx, else what went wrong.
    async fn call(&self, method: Method, url: &str, body: Option<&Value>) -> Result<Value, Failed> {
        let mut request = self
            .http
            .request(method, url)
            .bearer_auth(self.token.expose())
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.map_err(|e| Failed {
            status: None,
            reason: format!("GitHub did not answer: {}", without_url(&e)),
            wait: None,
        })?;
        let status = response.status();
        let wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs);
        let limited = status == StatusCode::FORBIDDEN
            && response
                .headers()
                .get("x-ratelimit-remaining")
                .is_some_and(|v| v.as_bytes() == b"0");
        let text = response.text().await.unwrap_or_default();
        let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(json);
        }
        let message = json["message"].as_str().unwrap_or("").to_owned();
        let status = if limited {
            StatusCode::TOO_MANY_REQUESTS
        } else {
            status
        };
        Err(Failed {
            status: Some(status.as_u16()),
            reason: message,
            wait,
        })
    }

    /// Files item `n` as an issue; its key and page.
    async fn create(&self, op: &Op) -> Result<(String, String), Failed> {
        let Op::Create {
            repo,
            title,
            body,
            labels,
            ..
        } = op
        else {
            unreachable!("create is called with a create")
        };
        let url = format!("{}/repos/{repo}/issues", self.api_url);
        let body = json!({ "title": title, "body": body, "labels": labels });
        let issue = self.call(Method::POST, &url, Some(&body)).await?;
        let number = issue["number"].as_u64().ok_or_else(|| Failed {
            status: None,
            reason: "GitHub's answer names no issue number".into(),
            wait: None,
        })?;
        let page = issue["html_url"].as_str().unwrap_or_default().to_owned();
        Ok((format!("{repo}#{number}"), page))
    }
}

/// Stores `op` about incident `id` in its lane, `github:<id>`.
async fn send(sender: &Sender, id: IncidentId, op: &Op, summary: &str) {
    let post = sender.post(KIND, &id.get().to_string(), op, summary, Some(id));
    sender.send(vec![post]).await;
}

/// Why a call to GitHub failed.
#[derive(Debug)]
struct Failed {
    /// The HTTP status, when GitHub answered.
    status: Option<u16>,
    /// GitHub's `message`, or what went wrong on the way.
    reason: String,
    /// GitHub's `Retry-After`.
    wait: Option<Duration>,
}

impl Failed {
    /// What this failure means for a post about `repo`: a 401, 403, 404 and 422 say what is
    /// wrong with the token's access or the request; 429 and 5xx are tried again.
    fn sent(self, repo: &str) -> Sent {
        let Some(status) = self.status else {
            return Sent::retry(self.reason);
        };
        let github = if self.reason.is_empty() {
            String::new()
        } else {
            format!(" (GitHub: {})", self.reason)
        };
        let reason = match status {
            401 => format!(
                "GitHub refused the token for {repo}: it is invalid, expired or revoked{github}"
            ),
            403 => format!(
                "the token may not write issues in {repo}: it needs Issues: read and write on \
                 it{github}"
            ),
            404 => format!(
                "GitHub finds no repository {repo} the token can see: check the name and that \
                 the token is granted it{github}"
            ),
            410 => format!("issues are turned off in {repo}{github}"),
            422 => format!(
                "GitHub would not take the issue in {repo}: a label or field it refuses{github}"
            ),
            _ => format!("GitHub answered {status} for {repo}{github}"),
        };
        Sent::from_status(status, self.wait, reason)
    }
}

/// A reqwest error without its URL.
fn without_url(e: &reqwest::Error) -> String {
    let mut e = e.to_string();
    if let Some(at) = e.find(" for url (") {
        e.truncate(at);
    }
    e
}

/// Sends the outbox's GitHub posts, and records a created issue on its incident's timeline.
pub struct GithubCourier {
    github: Arc<Github>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    /// Where an incident's channel is told that GitHub did not take an item.
    channels: OnceLock<Arc<dyn Outbox>>,
    /// The incidents whose channel was told of a failure since their last post went through:
    /// a channel hears of an outage once, not at every retry.
    told: Mutex<HashSet<IncidentId>>,
}

impl GithubCourier {
    /// A courier calling `github` that records created issues in `store`, at `clock`'s time.
    pub fn new(github: Arc<Github>, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            github,
            store,
            clock,
            channels: OnceLock::new(),
            told: Mutex::new(HashSet::new()),
        }
    }

    /// Tells incidents' channels through `channels` when GitHub does not take an item.
    pub fn tell_channels_with(&self, channels: Arc<dyn Outbox>) {
        let _ = self.channels.set(channels);
    }

    /// Tells `incident`'s channel, once until a post of it goes through, that `what` was not
    /// done and why (`sent`).
    async fn tell(&self, incident: IncidentId, what: &str, sent: &Sent) {
        let (why, then) = match sent {
            Sent::Delivered => {
                self.told.lock().expect("not poisoned").remove(&incident);
                return;
            }
            Sent::Retry { reason, .. } => (
                reason,
                "It is kept in firewatch and done by a retry from the outbox when GitHub takes it.",
            ),
            Sent::Refused(reason) => (
                reason,
                "It is not retried: the item stays in firewatch. Fix the token or the repository, \
                 then add the item again.",
            ),
        };
        if !self.told.lock().expect("not poisoned").insert(incident) {
            return;
        }
        let Some(channels) = self.channels.get() else {
            return;
        };
        let Ok(Some(found)) = self.store.incident(incident).await else {
            return;
        };
        let message = Message::notice(
            format!("⚠️ GitHub did not take this: {what}"),
            &format!("{why}.\n{then}"),
        )
        .about(incident);
        if let Err(e) = channels.post(&found.channel, &message).await {
            tracing::warn!(incident = %incident, error = %e, "cannot tell the channel that GitHub did not take an item");
        }
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
        let at = self.clock.now();
        match self.store.update(incident, &bot, at, None, &decide).await {
            Ok(Updated::Changed { .. } | Updated::Refused(_)) => Sent::Delivered,
            Err(e) => Sent::retry(format!("the issue was filed but not recorded: {e}")),
        }
    }
}

#[async_trait]
impl Courier for GithubCourier {
    async fn send(&self, post: &Post) -> Sent {
        let op: Op = match serde_json::from_str(&post.payload) {
            Ok(op) => op,
            Err(e) => return Sent::Refused(format!("not a GitHub post: {e}")),
        };
        let (incident, what) = match &op {
            Op::Create { incident, n, .. } => (*incident, format!("filing action item {n}")),
            Op::Close { incident, n, .. } => {
                (*incident, format!("closing action item {n}'s issue"))
            }
            Op::Assign {
                incident, n, login, ..
            } => (*incident, format!("assigning action item {n} to {login}")),
        };
        let sent = self.apply(&op).await;
        self.tell(incident, &what, &sent).await;
        sent
    }
}

impl GithubCourier {
    /// Makes the change `op` says on GitHub once.
    async fn apply(&self, op: &Op) -> Sent {
        match op {
            Op::Create {
                repo, incident, n, ..
            } => match self.key(*incident, *n).await {
                Err(sent) => sent,
                // Filed by an earlier try whose answer came after it was given up for lost.
                Ok(Some(_)) => Sent::Delivered,
                Ok(None) => match self.github.create(op).await {
                    Ok((key, url)) => self.record(*incident, *n, key, url).await,
                    Err(failed) => failed.sent(repo),
                },
            },
            Op::Close { repo, incident, n } => match self.key(*incident, *n).await {
                Err(sent) => sent,
                Ok(None) => Sent::Refused(format!(
                    "action item {n} of {incident} was never filed, so there is no issue to close"
                )),
                Ok(Some(key)) => {
                    let number = key.rsplit_once('#').map_or("", |(_, n)| n);
                    let url = format!("{}/repos/{repo}/issues/{number}", self.github.api_url);
                    let body = json!({ "state": "closed", "state_reason": "completed" });
                    match self.github.call(Method::PATCH, &url, Some(&body)).await {
                        Ok(_) => Sent::Delivered,
                        Err(failed) => failed.sent(repo),
                    }
                }
            },
            Op::Assign {
                repo,
                incident,
                n,
                login,
            } => match self.key(*incident, *n).await {
                Err(sent) => sent,
                Ok(None) => Sent::Refused(format!(
                    "action item {n} of {incident} was never filed, so there is no issue to assign"
                )),
                Ok(Some(key)) => {
                    let number = key.rsplit_once('#').map_or("", |(_, n)| n);
                    let url = format!(
                        "{}/repos/{repo}/issues/{number}/assignees",
                        self.github.api_url
                    );
                    let body = json!({ "assignees": [login] });
                    match self.github.call(Method::POST, &url, Some(&body)).await {
                        // GitHub leaves out, silently, whom it cannot assign.
                        Ok(issue) => {
                            let assigned = issue["assignees"].as_array().is_some_and(|all| {
                                all.iter().any(|a| {
                                    a["login"]
                                        .as_str()
                                        .is_some_and(|l| l.eq_ignore_ascii_case(login))
                                })
                            });
                            if assigned {
                                Sent::Delivered
                            } else {
                                Sent::Refused(format!(
                                    "GitHub did not assign {key} to {login}: they cannot be \
                                     assigned in {repo} (not a collaborator, or no such login)"
                                ))
                            }
                        }
                        Err(failed) => failed.sent(repo),
                    }
                }
            },
        }
    }
}
