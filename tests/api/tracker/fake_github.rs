//! A fake GitHub REST API on 127.0.0.1: keeps issues per repository, records every call
//! (method, path, the headers GitHub asks for, the JSON body) and answers with the shapes of
//! GitHub's documentation (`POST /repos/{owner}/{repo}/issues` → 201 with `number`,
//! `html_url`, `state`); can answer an HTTP error for a while.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One call as the fake saw it.
#[derive(Debug, Clone)]
pub struct Call {
    /// `POST /repos/acme/web/issues`.
    pub line: String,
    /// The `Authorization` header.
    pub auth: String,
    /// The `Accept` header.
    pub accept: String,
    /// The `X-GitHub-Api-Version` header.
    pub version: String,
    /// Whether a `User-Agent` was sent.
    pub agent: bool,
    /// The JSON body (`null` when none).
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    calls: Mutex<Vec<Call>>,
    /// Per repository, its issues by number: (title, state, state_reason, labels).
    issues: Mutex<BTreeMap<String, BTreeMap<u64, Value>>>,
    /// Every call answers this status (with GitHub's error body), this many times.
    failing: Mutex<(usize, u16)>,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeGithub {
    /// `http://127.0.0.1:PORT`, the `github.api_url`.
    pub url: String,
    inner: Arc<Inner>,
}

impl FakeGithub {
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = Router::new().fallback(any).with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, inner }
    }

    /// The next `times` calls answer `status`.
    pub fn fail(&self, times: usize, status: u16) {
        *self.inner.failing.lock().unwrap() = (times, status);
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }

    /// Every call so far as `METHOD /path`.
    pub fn lines(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.line).collect()
    }

    /// Issue `number` of `repo`, as GitHub would show it.
    pub fn issue(&self, repo: &str, number: u64) -> Option<Value> {
        let issues = self.inner.issues.lock().unwrap();
        issues.get(repo).and_then(|i| i.get(&number)).cloned()
    }

    /// Closes issue `number` of `repo`, as someone would on GitHub.
    pub fn close(&self, repo: &str, number: u64) {
        let mut issues = self.inner.issues.lock().unwrap();
        let issue = issues.get_mut(repo).unwrap().get_mut(&number).unwrap();
        issue["state"] = json!("closed");
        issue["state_reason"] = json!("completed");
    }
}

fn error(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap();
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.to_string(),
    });
    (
        code,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn any(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = uri.path().to_owned();
    inner.calls.lock().unwrap().push(Call {
        line: format!("{method} {path}"),
        auth: header("authorization"),
        accept: header("accept"),
        version: header("x-github-api-version"),
        agent: !header("user-agent").is_empty(),
        body: json.clone(),
    });
    {
        let mut failing = inner.failing.lock().unwrap();
        if failing.0 > 0 {
            failing.0 -= 1;
            let message = match failing.1 {
                401 => "Bad credentials",
                403 => "Resource not accessible by personal access token",
                404 => "Not Found",
                422 => "Validation Failed",
                _ => "Server Error",
            };
            return error(failing.1, message);
        }
    }
    if header("authorization") != "Bearer ghp-test-token" {
        return error(401, "Bad credentials");
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["repos", owner, name, "issues", rest @ ..] = parts.as_slice() else {
        return error(404, "Not Found");
    };
    let repo = format!("{owner}/{name}");
    let mut all = inner.issues.lock().unwrap();
    let issues = all.entry(repo.clone()).or_default();
    match (method.as_str(), rest) {
        ("POST", []) => {
            let Some(title) = json["title"].as_str() else {
                return error(422, "Validation Failed");
            };
            let number = issues.keys().last().map_or(1, |n| n + 1);
            let issue = json!({
                "id": 1_000 + number,
                "number": number,
                "title": title,
                "body": json["body"],
                "labels": json["labels"].as_array().cloned().unwrap_or_default()
                    .into_iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
                "state": "open",
                "state_reason": null,
                "assignees": [],
                "html_url": format!("https://github.example/{repo}/issues/{number}"),
                "url": format!("https://api.github.example/repos/{repo}/issues/{number}"),
            });
            issues.insert(number, issue.clone());
            ok(StatusCode::CREATED, &issue)
        }
        ("POST", [number, "assignees"]) => {
            let Some(issue) = number.parse().ok().and_then(|n: u64| issues.get_mut(&n)) else {
                return error(404, "Not Found");
            };
            // GitHub silently leaves out logins that cannot be assigned (here: not `*-gh`).
            let mut assignees = issue["assignees"].as_array().cloned().unwrap_or_default();
            for login in json["assignees"].as_array().cloned().unwrap_or_default() {
                if login.as_str().is_some_and(|l| l.ends_with("-gh")) {
                    assignees.push(json!({"login": login}));
                }
            }
            issue["assignees"] = json!(assignees);
            ok(StatusCode::CREATED, issue)
        }
        (verb, [number]) => {
            let Some(issue) = number.parse().ok().and_then(|n: u64| issues.get_mut(&n)) else {
                return error(404, "Not Found");
            };
            if verb == "PATCH" {
                for key in ["state", "state_reason", "title", "body"] {
                    if !json[key].is_null() {
                        issue[key] = json[key].clone();
                    }
                }
            } else if verb != "GET" {
                return error(404, "Not Found");
            }
            ok(StatusCode::OK, issue)
        }
        _ => error(404, "Not Found"),
    }
}
