//! A fake Jira REST API v2 on 127.0.0.1: keeps issues, records every call (method, path and
//! query, `Authorization`, the JSON body) and answers with the shapes of Jira's documentation
//! (`POST /rest/api/2/issue` → 201 `{id, key, self}`, transitions `To Do`, `In Progress`,
//! `Done`, 204 for a transition or an assignee); can answer an HTTP error for a while.

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
    /// `POST /rest/api/2/issue`, with the query when there is one.
    pub line: String,
    /// The `Authorization` header.
    pub auth: String,
    /// The JSON body (`null` when none).
    pub body: Value,
}

#[derive(Default)]
struct Inner {
    calls: Mutex<Vec<Call>>,
    issues: Mutex<BTreeMap<String, Value>>,
    failing: Mutex<(usize, u16)>,
    /// The `Authorization` header it takes.
    auth: Mutex<String>,
}

#[derive(Clone)]
pub struct FakeJira {
    /// `http://127.0.0.1:PORT`, the `jira.url`.
    pub url: String,
    inner: Arc<Inner>,
}

const TRANSITIONS: [(&str, &str, &str); 3] = [
    ("11", "To Do", "new"),
    ("21", "In Progress", "indeterminate"),
    ("31", "Done", "done"),
];

impl FakeJira {
    /// A fake that takes `auth` as the `Authorization` header.
    pub async fn start(auth: &str) -> Self {
        let inner = Arc::new(Inner::default());
        *inner.auth.lock().unwrap() = auth.to_owned();
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

    pub fn calls(&self) -> Vec<Call> {
        self.inner.calls.lock().unwrap().clone()
    }

    pub fn lines(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.line).collect()
    }

    pub fn issue(&self, key: &str) -> Option<Value> {
        self.inner.issues.lock().unwrap().get(key).cloned()
    }

    /// Moves issue `key` to Done, as someone would in Jira.
    pub fn resolve(&self, key: &str) {
        let mut issues = self.inner.issues.lock().unwrap();
        issues.get_mut(key).unwrap()["fields"]["status"] = status("Done", "done");
    }
}

fn status(name: &str, category: &str) -> Value {
    json!({"name": name, "statusCategory": {"key": category}})
}

fn error(status: u16, messages: &[&str]) -> Response {
    let body = json!({"errorMessages": messages, "errors": {}});
    let code = StatusCode::from_u16(status).unwrap();
    (
        code,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn ok(code: StatusCode, body: &Value) -> Response {
    (
        code,
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
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let line = match uri.query() {
        Some(q) => format!("{method} {}?{q}", uri.path()),
        None => format!("{method} {}", uri.path()),
    };
    inner.calls.lock().unwrap().push(Call {
        line,
        auth: auth.clone(),
        body: json.clone(),
    });
    {
        let mut failing = inner.failing.lock().unwrap();
        if failing.0 > 0 {
            failing.0 -= 1;
            return match failing.1 {
                401 => (StatusCode::UNAUTHORIZED, "").into_response(),
                404 => error(404, &["No project could be found with key 'OPS'."]),
                code => error(code, &["Internal server error"]),
            };
        }
    }
    if auth != *inner.auth.lock().unwrap() {
        return (StatusCode::UNAUTHORIZED, "").into_response();
    }
    let path = uri.path().trim_start_matches("/rest/api/2/issue");
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut issues = inner.issues.lock().unwrap();
    match (method.as_str(), parts.as_slice()) {
        ("POST", [""]) => {
            let fields = &json["fields"];
            let (Some(project), Some(summary)) = (
                fields["project"]["key"].as_str(),
                fields["summary"].as_str(),
            ) else {
                return error(400, &["project and summary are required"]);
            };
            let n = issues.len() + 1;
            let key = format!("{project}-{n}");
            issues.insert(
                key.clone(),
                json!({
                    "key": key,
                    "fields": {
                        "summary": summary,
                        "description": fields["description"],
                        "labels": fields["labels"],
                        "issuetype": fields["issuetype"],
                        "status": status("To Do", "new"),
                        "assignee": null,
                    }
                }),
            );
            ok(
                StatusCode::CREATED,
                &json!({"id": (10_000 + n).to_string(), "key": key, "self": format!("http://jira/rest/api/2/issue/{}", 10_000 + n)}),
            )
        }
        (verb, [key, rest @ ..]) => {
            let Some(issue) = issues.get_mut(*key) else {
                return error(
                    404,
                    &["Issue does not exist or you do not have permission to see it."],
                );
            };
            match (verb, rest) {
                ("GET", []) => ok(StatusCode::OK, issue),
                ("GET", ["transitions"]) => {
                    let all: Vec<Value> = TRANSITIONS
                        .iter()
                        .map(|(id, name, category)| json!({"id": id, "name": name, "to": status(name, category)}))
                        .collect();
                    ok(
                        StatusCode::OK,
                        &json!({"expand": "transitions", "transitions": all}),
                    )
                }
                ("POST", ["transitions"]) => {
                    let id = json["transition"]["id"].as_str().unwrap_or_default();
                    let Some((_, name, category)) = TRANSITIONS.iter().find(|(t, ..)| *t == id)
                    else {
                        return error(400, &["Transition id is not valid for this issue."]);
                    };
                    issue["fields"]["status"] = status(name, category);
                    StatusCode::NO_CONTENT.into_response()
                }
                ("PUT", ["assignee"]) => {
                    issue["fields"]["assignee"] = json.clone();
                    StatusCode::NO_CONTENT.into_response()
                }
                _ => error(404, &["Not found"]),
            }
        }
        _ => error(404, &["Not found"]),
    }
}
