//! The report in the service's repository (`[reports] github = "pr" | "commit"`): after
//! `/incident-report` writes the local file, a post of kind [`KIND`] is stored in the outbox,
//! and the [`ReportCourier`] commits the file through GitHub's REST API — to a branch
//! `incident-<id>-report` made from the default branch, with a pull request titled
//! "Post-incident report: #ID summary" (labelled like follow-ups), or straight to the default
//! branch. Writing the report again updates the same branch and pull request. The file's
//! current blob sha is sent with the update, so an edit made meanwhile is never overwritten: a
//! 409 is reported. The pull request's (or commit's) link goes on the timeline and into the
//! incident's channel.

use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::github::{Github, sent};
use crate::clock::Clock;
use crate::config::{ReportMode, Settings};
use crate::delivery::{Courier, Sender, Sent};
use crate::engine::outbox::LateOutbox;
use crate::incident::{Incident, IncidentId, TimelineEvent};
use crate::message::Message;
use crate::store::{Post, Store, Updated};

/// The outbox kind of report commits.
pub const KIND: &str = "github_report";

/// One report to commit, as the outbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Publish {
    repo: String,
    incident: IncidentId,
    pr: bool,
    path: String,
    content: String,
    title: String,
    body: String,
    labels: Vec<String>,
}

/// The engine's way to publish reports: stores the posts that commit them.
pub struct Reports {
    sender: Arc<Sender>,
    settings: Settings,
}

impl Reports {
    /// Publishing as `settings` say (`None` with `[reports] github = "off"`), through `sender`.
    pub fn from_settings(settings: &Settings, sender: Arc<Sender>) -> Option<Self> {
        (settings.reports.github != ReportMode::Off && settings.github.token.is_some()).then(|| {
            Self {
                sender,
                settings: settings.clone(),
            }
        })
    }

    /// Stores the post that commits `text`, the report of `incident` written as file `name`.
    pub async fn publish(&self, incident: &Incident, name: &str, text: &str) {
        let Some(repo) = self.settings.github_repo(&incident.service) else {
            return;
        };
        let folder = self.settings.reports.repo_path.trim_end_matches('/');
        let id = incident.id;
        let mut labels = self.settings.github.labels.clone();
        labels.push(incident.severity.as_str().to_owned());
        let publish = Publish {
            repo: repo.to_owned(),
            incident: id,
            pr: self.settings.reports.github == ReportMode::Pr,
            path: format!("{folder}/{name}"),
            content: text.to_owned(),
            title: format!("Post-incident report: {id} {}", incident.summary),
            body: incident.summary.clone(),
            labels,
        };
        let summary = format!("commit the report of {id} to {repo}");
        let post = self
            .sender
            .post(KIND, &id.get().to_string(), &publish, &summary, Some(id));
        self.sender.send(vec![post]).await;
    }
}

/// Commits reports to GitHub and records where.
pub struct ReportCourier {
    github: Github,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    channels: LateOutbox,
}

impl ReportCourier {
    /// A courier committing with `github`, recording in `store` at `clock`'s time and posting
    /// the link to incidents' channels through `channels`.
    pub fn new(
        github: Github,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        channels: LateOutbox,
    ) -> Self {
        Self {
            github,
            store,
            clock,
            channels,
        }
    }

    async fn get(&self, path: &str, repo: &str) -> Result<Option<Value>, Sent> {
        match self.github.call(Method::GET, path, None).await {
            Ok(found) => Ok(Some(found)),
            Err(failed) if failed.status == Some(404) => Ok(None),
            Err(failed) => Err(sent(failed, repo)),
        }
    }

    async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: &Value,
        repo: &str,
    ) -> Result<Value, Sent> {
        self.github
            .call(method, path, Some(body))
            .await
            .map_err(|failed| match failed.status {
                Some(409) => Sent::Refused(format!(
                    "the report in {repo} was changed meanwhile (GitHub answered 409 Conflict): \
                     nothing was overwritten; write the report again to update it"
                )),
                _ => sent(failed, repo),
            })
    }

    /// Commits the report and opens (or finds) its pull request: the link to show.
    async fn publish(&self, p: &Publish) -> Result<String, Sent> {
        let repo = &p.repo;
        let about = self
            .get(&format!("/repos/{repo}"), repo)
            .await?
            .ok_or_else(|| sent_404(repo))?;
        let default = about["default_branch"]
            .as_str()
            .unwrap_or("main")
            .to_owned();
        let branch = if p.pr {
            let branch = format!("incident-{}-report", p.incident.get());
            let heads = format!("/repos/{repo}/git/ref/heads/");
            if self.get(&format!("{heads}{branch}"), repo).await?.is_none() {
                let base = self
                    .get(&format!("{heads}{default}"), repo)
                    .await?
                    .ok_or_else(|| sent_404(repo))?;
                let sha = base["object"]["sha"].as_str().unwrap_or_default();
                let body = json!({ "ref": format!("refs/heads/{branch}"), "sha": sha });
                self.send_json(
                    Method::POST,
                    &format!("/repos/{repo}/git/refs"),
                    &body,
                    repo,
                )
                .await?;
            }
            branch
        } else {
            default.clone()
        };
        let contents = format!("/repos/{repo}/contents/{}", p.path);
        let current = self
            .get(&format!("{contents}?ref={branch}"), repo)
            .await?
            .and_then(|file| file["sha"].as_str().map(str::to_owned));
        let mut body = json!({
            "message": p.title,
            "content": base64::engine::general_purpose::STANDARD.encode(&p.content),
            "branch": branch,
        });
        if let Some(sha) = current {
            body["sha"] = json!(sha);
        }
        let committed = self.send_json(Method::PUT, &contents, &body, repo).await?;
        if !p.pr {
            return Ok(committed["commit"]["html_url"]
                .as_str()
                .unwrap_or_default()
                .to_owned());
        }
        let owner = repo.split('/').next().unwrap_or_default();
        let open = self
            .get(
                &format!("/repos/{repo}/pulls?head={owner}:{branch}&state=open"),
                repo,
            )
            .await?
            .unwrap_or(Value::Null);
        if let Some(pull) = open.as_array().and_then(|all| all.first()) {
            return Ok(pull["html_url"].as_str().unwrap_or_default().to_owned());
        }
        let body = json!({ "title": p.title, "head": branch, "base": default, "body": p.body });
        let pull = self
            .send_json(Method::POST, &format!("/repos/{repo}/pulls"), &body, repo)
            .await?;
        let number = pull["number"].as_u64().unwrap_or_default();
        let labels = json!({ "labels": p.labels });
        // The pull request exists: a label GitHub refuses does not undo it.
        if let Err(e) = self
            .send_json(
                Method::POST,
                &format!("/repos/{repo}/issues/{number}/labels"),
                &labels,
                repo,
            )
            .await
        {
            tracing::warn!(repo = %repo, outcome = ?e, "could not label the report's pull request");
        }
        Ok(pull["html_url"].as_str().unwrap_or_default().to_owned())
    }

    /// Records the link on the timeline and posts it into the incident's channel.
    async fn record(&self, incident: IncidentId, url: String) -> Sent {
        let entry = TimelineEvent::ReportPublished { url: url.clone() };
        let after = match super::note(&*self.store, self.clock.now(), incident, entry).await {
            Ok(Updated::Changed { after, .. }) => after,
            Ok(Updated::Refused(_)) => return Sent::Delivered,
            Err(e) => {
                return Sent::retry(format!("the report was committed but not recorded: {e}"));
            }
        };
        let message = Message::notice(
            format!("📄 REPORT OF {incident} IN GITHUB"),
            &format!("The post-incident report is up for review: {url}"),
        )
        .about(incident);
        (self.channels)
            .post(&after.channel, &message, "the report's link")
            .await;
        Sent::Delivered
    }
}

fn sent_404(repo: &str) -> Sent {
    Sent::Refused(format!(
        "GitHub finds no repository {repo} (or its default branch) the token can see: check the \
         name and that the token is granted it"
    ))
}

#[async_trait]
impl Courier for ReportCourier {
    async fn send(&self, post: &Post) -> Sent {
        let publish: Publish = match serde_json::from_str(&post.payload) {
            Ok(p) => p,
            Err(e) => return Sent::Refused(format!("not a report post: {e}")),
        };
        match self.publish(&publish).await {
            Ok(url) => self.record(publish.incident, url).await,
            Err(sent) => sent,
        }
    }

    /// A report GitHub refused for good (a conflict, a repository the token cannot see) is told
    /// in the incident's channel, besides the timeline.
    async fn given_up(&self, post: &Post, why: &str) {
        let Ok(publish) = serde_json::from_str::<Publish>(&post.payload) else {
            return;
        };
        let Ok(Some(incident)) = self.store.incident(publish.incident).await else {
            return;
        };
        let message = Message::notice(
            format!("⚠️ THE REPORT OF {} DID NOT REACH GITHUB", incident.id),
            &format!(
                "{why}.\nThe local file is written. Once that is mended, /incident-report {} \
                 commits it again.",
                incident.id
            ),
        )
        .about(incident.id);
        (self.channels)
            .post(
                &incident.channel,
                &message,
                "that the report did not reach GitHub",
            )
            .await;
    }
}
