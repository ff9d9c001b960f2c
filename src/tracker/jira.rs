//! Jira issues through REST API v2, which Jira Cloud and Data Center both serve with plain-text
//! descriptions: `POST /rest/api/2/issue`, `GET /rest/api/2/issue/{key}?fields=status`,
//! `GET`/`POST /rest/api/2/issue/{key}/transitions`, `PUT /rest/api/2/issue/{key}/assignee`.
//! Jira Cloud is called with basic auth (`email:api_token`) and assigns by `accountId`; Data
//! Center with a personal access token (`Authorization: Bearer`) and assigns by user `name`.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Failed, Issues, TIMEOUT, call};
use crate::config::{PersonSettings, Secret, Settings, Tracker};
use crate::delivery::Sent;

/// The outbox kind of Jira issue posts.
pub const KIND: &str = "jira";

/// How firewatch signs in to Jira.
enum Auth {
    /// Jira Cloud: the account's email and an API token.
    Cloud { email: String, token: Secret },
    /// Jira Data Center: a personal access token.
    DataCenter(Secret),
}

/// Jira's REST API for the action items of incidents.
pub struct Jira {
    http: reqwest::Client,
    url: String,
    auth: Auth,
    issue_type: String,
    done: String,
    settings: Settings,
}

impl Jira {
    /// The Jira side of `settings` when `[followups] tracker = "jira"` and credentials are set
    /// (check-config refuses the one without the other).
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn from_settings(settings: &Settings) -> Result<Option<Self>, reqwest::Error> {
        let jira = &settings.jira;
        if settings.followups.tracker != Tracker::Jira {
            return Ok(None);
        }
        let auth = match (&jira.email, &jira.api_token, &jira.token) {
            (Some(email), Some(token), _) => Auth::Cloud {
                email: email.clone(),
                token: token.clone(),
            },
            (_, _, Some(token)) => Auth::DataCenter(token.clone()),
            _ => return Ok(None),
        };
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("firewatch/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Some(Self {
            http,
            url: jira.url.trim_end_matches('/').to_owned(),
            auth,
            issue_type: jira.issue_type.clone(),
            done: jira.done_transition.clone(),
            settings: settings.clone(),
        }))
    }

    /// One call to Jira: the JSON answer of a 2xx (`null` for a 204), else what went wrong.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, Failed> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header("Accept", "application/json");
        request = match &self.auth {
            Auth::Cloud { email, token } => request.basic_auth(email, Some(token.expose())),
            Auth::DataCenter(token) => request.bearer_auth(token.expose()),
        };
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        call(request, "Jira", message).await
    }
}

/// Jira's error answer (`errorMessages`, `errors` by field) as one line.
fn message(json: &Value) -> String {
    let mut all: Vec<String> = json["errorMessages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_owned))
        .collect();
    if let Some(errors) = json["errors"].as_object() {
        all.extend(
            errors
                .iter()
                .map(|(field, m)| format!("{field}: {}", m.as_str().unwrap_or_default())),
        );
    }
    all.join("; ")
}

/// What a failed call about `project` means: a 400, 401, 403 and 404 say what is wrong with the
/// credentials' access or the request; 429 and 5xx are tried again.
fn sent(failed: Failed, project: &str) -> Sent {
    let Some(status) = failed.status else {
        return Sent::retry(failed.reason);
    };
    let jira = if failed.reason.is_empty() {
        String::new()
    } else {
        format!(" (Jira: {})", failed.reason)
    };
    let reason = match status {
        400 => format!("Jira would not take the issue in project {project}{jira}"),
        401 => format!(
            "Jira refused the credentials for project {project}: the email and API token (Cloud) \
             or the personal access token (Data Center) are wrong, expired or revoked{jira}"
        ),
        403 => format!(
            "the account may not do this in project {project}: it needs the Browse projects, \
             Create, Transition and Assign issues permissions{jira}"
        ),
        404 => format!(
            "Jira finds no project {project} (or issue) the account can see: check the key and \
             the account's access{jira}"
        ),
        _ => format!("Jira answered {status} for project {project}{jira}"),
    };
    Sent::from_status(status, failed.wait, reason)
}

#[async_trait]
impl Issues for Jira {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn name(&self) -> &'static str {
        "Jira"
    }

    fn place(&self, service: &str) -> Option<String> {
        self.settings.jira_project(service).map(str::to_owned)
    }

    fn person_key(&self) -> &'static str {
        "jira"
    }

    fn account(&self, person: &PersonSettings) -> Option<String> {
        person.jira.clone()
    }

    async fn create(
        &self,
        project: &str,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<(String, String), Sent> {
        // Jira labels cannot hold spaces.
        let labels: Vec<String> = labels.iter().map(|l| l.replace(' ', "-")).collect();
        let body = json!({
            "fields": {
                "project": { "key": project },
                "summary": title,
                "description": body,
                "issuetype": { "name": self.issue_type },
                "labels": labels,
            }
        });
        let issue = self
            .call(Method::POST, "/rest/api/2/issue", Some(&body))
            .await
            .map_err(|f| sent(f, project))?;
        let key = issue["key"]
            .as_str()
            .ok_or_else(|| Sent::retry("Jira's answer names no issue key".into()))?;
        Ok((key.to_owned(), format!("{}/browse/{key}", self.url)))
    }

    async fn close(&self, project: &str, key: &str) -> Sent {
        let path = format!("/rest/api/2/issue/{key}/transitions");
        let available = match self.call(Method::GET, &path, None).await {
            Ok(answer) => answer,
            Err(failed) => return sent(failed, project),
        };
        let transitions = available["transitions"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let done = transitions.iter().find(|t| {
            t["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(&self.done))
        });
        let Some(id) = done.and_then(|t| t["id"].as_str()) else {
            let names: Vec<&str> = transitions
                .iter()
                .filter_map(|t| t["name"].as_str())
                .collect();
            return Sent::Refused(format!(
                "{key} has no transition named '{}' from its status (it has: {}); set \
                 [jira] done_transition",
                self.done,
                names.join(", ")
            ));
        };
        let body = json!({ "transition": { "id": id } });
        match self.call(Method::POST, &path, Some(&body)).await {
            Ok(_) => Sent::Delivered,
            Err(failed) => sent(failed, project),
        }
    }

    async fn assign(&self, project: &str, key: &str, account: &str) -> Sent {
        let path = format!("/rest/api/2/issue/{key}/assignee");
        let body = match self.auth {
            Auth::Cloud { .. } => json!({ "accountId": account }),
            Auth::DataCenter(_) => json!({ "name": account }),
        };
        match self.call(Method::PUT, &path, Some(&body)).await {
            Ok(_) => Sent::Delivered,
            Err(failed) => sent(failed, project),
        }
    }

    async fn closed(&self, key: &str) -> Option<bool> {
        let path = format!("/rest/api/2/issue/{key}?fields=status,assignee");
        match self.call(Method::GET, &path, None).await {
            Ok(issue) => {
                Some(issue["fields"]["status"]["statusCategory"]["key"].as_str() == Some("done"))
            }
            Err(e) => {
                tracing::warn!(issue = %key, error = %e.reason, "cannot read an issue's state");
                None
            }
        }
    }
}
