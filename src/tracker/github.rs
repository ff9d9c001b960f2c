//! GitHub issues through the REST API (`POST /repos/{owner}/{repo}/issues`, `PATCH` and `GET
//! /repos/{owner}/{repo}/issues/{number}`, `POST …/issues/{number}/assignees`), with the
//! headers GitHub asks for (`Authorization: Bearer`, `Accept: application/vnd.github+json`,
//! `X-GitHub-Api-Version: 2022-11-28`, a `User-Agent`).

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Failed, Issues, TIMEOUT, call};
use crate::config::{PersonSettings, Secret, Settings, Tracker};
use crate::delivery::Sent;

/// The outbox kind of GitHub issue posts.
pub const KIND: &str = "github";
/// The REST API version the calls are written for.
const API_VERSION: &str = "2022-11-28";

/// GitHub's REST API for the action items of incidents.
pub struct Github {
    http: reqwest::Client,
    api_url: String,
    token: Secret,
    settings: Settings,
}

impl Github {
    /// The GitHub side of `settings` when `[followups] tracker = "github"` and a token is set
    /// (check-config refuses the one without the other).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>, reqwest::Error> {
        if settings.followups.tracker != Tracker::Github {
            return Ok(None);
        }
        Self::new(settings)
    }

    /// A client of `[github]`, when a token is set.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(settings: &Settings) -> Result<Option<Self>, reqwest::Error> {
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
            settings: settings.clone(),
        }))
    }

    /// One call to GitHub: the JSON answer of a 2xx, else what went wrong.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failed> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.api_url))
            .bearer_auth(self.token.expose())
            .header("Accept", "application/vnd.github+json")
            .header("X-GitHub-Api-Version", API_VERSION);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        call(request, "GitHub", |json| {
            json["message"].as_str().unwrap_or_default().to_owned()
        })
        .await
    }
}

/// The issue number of `key` (`owner/name#N`).
fn number(key: &str) -> &str {
    key.rsplit_once('#').map_or("", |(_, n)| n)
}

/// What a failed call about `repo` means: a 401, 403, 404 and 422 say what is wrong with the
/// token's access or the request; 429 and 5xx are tried again.
pub(crate) fn sent(failed: Failed, repo: &str) -> Sent {
    let Some(status) = failed.status else {
        return Sent::retry(failed.reason);
    };
    let github = if failed.reason.is_empty() {
        String::new()
    } else {
        format!(" (GitHub: {})", failed.reason)
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
            "GitHub finds no repository {repo} the token can see: check the name and that the \
             token is granted it{github}"
        ),
        410 => format!("issues are turned off in {repo}{github}"),
        422 => format!(
            "GitHub would not take the issue in {repo}: a label or field it refuses{github}"
        ),
        _ => format!("GitHub answered {status} for {repo}{github}"),
    };
    Sent::from_status(status, failed.wait, reason)
}

#[async_trait]
impl Issues for Github {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn name(&self) -> &'static str {
        "GitHub"
    }

    fn place(&self, service: &str) -> Option<String> {
        self.settings.github_repo(service).map(str::to_owned)
    }

    fn person_key(&self) -> &'static str {
        "github"
    }

    fn account(&self, person: &PersonSettings) -> Option<String> {
        person.github.clone()
    }

    async fn create(
        &self,
        repo: &str,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<(String, String), Sent> {
        let body = json!({ "title": title, "body": body, "labels": labels });
        let path = format!("/repos/{repo}/issues");
        let issue = self
            .call(Method::POST, &path, Some(&body))
            .await
            .map_err(|f| sent(f, repo))?;
        let number = issue["number"]
            .as_u64()
            .ok_or_else(|| Sent::retry("GitHub's answer names no issue number".into()))?;
        let page = issue["html_url"].as_str().unwrap_or_default().to_owned();
        Ok((format!("{repo}#{number}"), page))
    }

    async fn close(&self, repo: &str, key: &str) -> Sent {
        let path = format!("/repos/{repo}/issues/{}", number(key));
        let body = json!({ "state": "closed", "state_reason": "completed" });
        match self.call(Method::PATCH, &path, Some(&body)).await {
            Ok(_) => Sent::Delivered,
            Err(failed) => sent(failed, repo),
        }
    }

    async fn assign(&self, repo: &str, key: &str, login: &str) -> Sent {
        let path = format!("/repos/{repo}/issues/{}/assignees", number(key));
        let body = json!({ "assignees": [login] });
        match self.call(Method::POST, &path, Some(&body)).await {
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
                        "GitHub did not assign {key} to {login}: they cannot be assigned in \
                         {repo} (not a collaborator, or no such login)"
                    ))
                }
            }
            Err(failed) => sent(failed, repo),
        }
    }

    async fn closed(&self, key: &str) -> Option<bool> {
        let (repo, number) = key.split_once('#')?;
        let path = format!("/repos/{repo}/issues/{number}");
        match self.call(Method::GET, &path, None).await {
            Ok(issue) => Some(issue["state"].as_str() == Some("closed")),
            Err(e) => {
                tracing::warn!(issue = %key, error = %e.reason, "cannot read an issue's state");
                None
            }
        }
    }
}
