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
    /// Per repository: branches (name → head sha), files ((branch, path) → (blob sha, text)),
    /// open pull requests (branch → number).
    git: Mutex<BTreeMap<String, Git>>,
    /// The next contents PUT finds the file changed by someone else.
    edited_meanwhile: Mutex<bool>,
    /// A counter for shas.
    next_sha: Mutex<u64>,
}

#[derive(Default, Clone)]
pub struct Git {
    pub branches: BTreeMap<String, String>,
    pub files: BTreeMap<(String, String), (String, String)>,
    pub pulls: BTreeMap<String, (u64, String)>,
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

    /// The repository's branches, files and pull requests.
    pub fn git(&self, repo: &str) -> Git {
        self.inner
            .git
            .lock()
            .unwrap()
            .get(repo)
            .cloned()
            .unwrap_or_default()
    }

    /// The next contents PUT finds the file edited by someone else since it was read.
    pub fn edit_meanwhile(&self) {
        *self.inner.edited_meanwhile.lock().unwrap() = true;
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
    if let ["repos", owner, name, rest @ ..] = parts.as_slice()
        && rest.first() != Some(&"issues")
    {
        let query = uri.query().unwrap_or_default().to_owned();
        return git(
            &inner,
            &format!("{owner}/{name}"),
            &method,
            rest,
            &query,
            &json,
        );
    }
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
        ("POST", [number, "labels"]) => {
            let Some(issue) = number.parse().ok().and_then(|n: u64| issues.get_mut(&n)) else {
                return error(404, "Not Found");
            };
            issue["labels"] = json!(
                json["labels"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|l| json!({"name": l}))
                    .collect::<Vec<_>>()
            );
            ok(StatusCode::OK, &issue["labels"])
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

/// The repository, refs, contents and pulls endpoints.
fn git(
    inner: &Inner,
    repo: &str,
    method: &Method,
    rest: &[&str],
    query: &str,
    json: &Value,
) -> Response {
    let sha = || {
        let mut next = inner.next_sha.lock().unwrap();
        *next += 1;
        format!("{:040x}", *next)
    };
    let mut all = inner.git.lock().unwrap();
    let git = all.entry(repo.to_owned()).or_insert_with(|| {
        let mut g = Git::default();
        g.branches.insert("main".into(), "0".repeat(40));
        g
    });
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_owned()
    };
    match (method.as_str(), rest) {
        ("GET", []) => ok(
            StatusCode::OK,
            &json!({"full_name": repo, "default_branch": "main"}),
        ),
        ("GET", ["git", "ref", "heads", branch @ ..]) => {
            let branch = branch.join("/");
            match git.branches.get(&branch) {
                Some(head) => ok(
                    StatusCode::OK,
                    &json!({"ref": format!("refs/heads/{branch}"), "object": {"type": "commit", "sha": head}}),
                ),
                None => error(404, "Not Found"),
            }
        }
        ("POST", ["git", "refs"]) => {
            let name = json["ref"].as_str().unwrap_or_default();
            let Some(branch) = name.strip_prefix("refs/heads/") else {
                return error(422, "Reference name is invalid");
            };
            if git.branches.contains_key(branch) {
                return error(422, "Reference already exists");
            }
            let head = json["sha"].as_str().unwrap_or_default().to_owned();
            git.branches.insert(branch.to_owned(), head.clone());
            ok(
                StatusCode::CREATED,
                &json!({"ref": name, "object": {"type": "commit", "sha": head}}),
            )
        }
        ("GET", ["contents", path @ ..]) => {
            let key = (param("ref"), path.join("/"));
            match git.files.get(&key) {
                Some((blob, _)) => ok(
                    StatusCode::OK,
                    &json!({"type": "file", "path": key.1, "sha": blob}),
                ),
                None => error(404, "Not Found"),
            }
        }
        ("PUT", ["contents", path @ ..]) => {
            let branch = json["branch"].as_str().unwrap_or("main").to_owned();
            if !git.branches.contains_key(&branch) {
                return error(404, "Branch not found");
            }
            let key = (branch.clone(), path.join("/"));
            if std::mem::take(&mut *inner.edited_meanwhile.lock().unwrap())
                && let Some(file) = git.files.get_mut(&key)
            {
                file.0 = sha();
            }
            let sent = json["sha"].as_str();
            match (git.files.get(&key), sent) {
                (Some(_), None) => {
                    return error(422, "Invalid request. \"sha\" wasn't supplied.");
                }
                (Some((blob, _)), Some(sent)) if blob != sent => {
                    return error(409, &format!("{} does not match {sent}", key.1));
                }
                _ => {}
            }
            use base64::Engine as _;
            let text = base64::engine::general_purpose::STANDARD
                .decode(json["content"].as_str().unwrap_or_default())
                .map(|b| String::from_utf8(b).unwrap())
                .unwrap_or_default();
            let blob = sha();
            let commit = sha();
            let created = git
                .files
                .insert(key.clone(), (blob.clone(), text))
                .is_none();
            git.branches.insert(branch, commit.clone());
            let code = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            ok(
                code,
                &json!({
                    "content": {"path": key.1, "sha": blob},
                    "commit": {"sha": commit, "html_url": format!("https://github.example/{repo}/commit/{commit}")},
                }),
            )
        }
        ("GET", ["pulls"]) => {
            let head = param("head");
            let branch = head.split_once(':').map_or("", |(_, b)| b);
            let open: Vec<Value> = git
                .pulls
                .get(branch)
                .map(|(number, url)| json!({"number": number, "html_url": url, "state": "open"}))
                .into_iter()
                .collect();
            ok(StatusCode::OK, &json!(open))
        }
        ("POST", ["pulls"]) => {
            let head = json["head"].as_str().unwrap_or_default().to_owned();
            if !git.branches.contains_key(&head) || json["title"].as_str().is_none() {
                return error(422, "Validation Failed");
            }
            if git.pulls.contains_key(&head) {
                return error(422, "A pull request already exists");
            }
            let mut issues = inner.issues.lock().unwrap();
            let issues = issues.entry(repo.to_owned()).or_default();
            let number = issues.keys().last().map_or(1, |n| n + 1);
            let url = format!("https://github.example/{repo}/pull/{number}");
            let pull = json!({
                "number": number,
                "html_url": url,
                "state": "open",
                "title": json["title"],
                "body": json["body"],
                "base": json["base"],
                "head": head,
                "labels": [],
            });
            issues.insert(number, pull.clone());
            git.pulls.insert(head, (number, url));
            ok(StatusCode::CREATED, &pull)
        }
        _ => error(404, "Not Found"),
    }
}
