//! A fake Kubernetes API server on 127.0.0.1: the paths and JSON shapes kube-rs uses (lists,
//! gets, pods/log, deployments/scale with merge patch and `dryRun=All`, batch/v1 Jobs scripted
//! per test in [`super::jobs`]), with switches that make a path answer 403/404/500 or hang
//! until released.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use super::jobs::{self, JobsFake, Script};

/// A request the fake answered.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: String,
}

/// What a faulty path does.
#[derive(Clone)]
pub enum Fault {
    /// Answers with this HTTP status and a Kubernetes Status body.
    Status(u16),
    /// Waits until the semaphore gets permits (`add_permits`), then answers normally.
    Hang(Arc<Semaphore>),
}

#[derive(Default)]
struct Inner {
    /// Collection path (`/api/v1/namespaces/ns/pods`) → objects.
    objects: BTreeMap<String, Vec<Value>>,
    /// Pod name → log text.
    logs: BTreeMap<String, String>,
    /// Path substring → fault.
    faults: Vec<(String, Fault)>,
    seen: Vec<Seen>,
    /// PromQL substring → value of `/api/v1/query`.
    prometheus: Vec<(String, String)>,
    /// batch/v1 Jobs.
    jobs: JobsFake,
}

/// The fake API server.
#[derive(Clone)]
pub struct FakeKube {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeKube {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake kube");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, inner }
    }

    /// A kubeconfig in `dir` pointing at this server.
    pub fn kubeconfig(&self, dir: &Path) -> PathBuf {
        kubeconfig_at(dir, &self.url)
    }

    /// Adds an object under its collection path.
    pub fn put(&self, collection: &str, object: Value) {
        let mut inner = self.inner.lock().unwrap();
        let items = inner.objects.entry(collection.to_owned()).or_default();
        let name = object["metadata"]["name"].clone();
        items.retain(|o| o["metadata"]["name"] != name);
        items.push(object);
    }

    pub fn get(&self, collection: &str, name: &str) -> Option<Value> {
        let inner = self.inner.lock().unwrap();
        inner
            .objects
            .get(collection)?
            .iter()
            .find(|o| o["metadata"]["name"] == name)
            .cloned()
    }

    pub fn set_log(&self, pod: &str, text: &str) {
        self.inner
            .lock()
            .unwrap()
            .logs
            .insert(pod.into(), text.into());
    }

    /// Every path containing `part` fails with `fault` from now on.
    pub fn fail(&self, part: &str, fault: Fault) {
        self.inner.lock().unwrap().faults.push((part.into(), fault));
    }

    /// `/api/v1/query` answers `value` for queries containing `part`.
    pub fn set_metric(&self, part: &str, value: &str) {
        self.inner
            .lock()
            .unwrap()
            .prometheus
            .push((part.into(), value.into()));
    }

    /// What Jobs of `[[jobs]]` entry `job` do once created.
    pub fn script_job(&self, job: &str, script: Script) {
        self.inner.lock().unwrap().jobs.script(job, script);
    }

    /// Changes what the created Job `name` does from now on.
    pub fn rescript_job(&self, name: &str, script: Script) {
        self.inner.lock().unwrap().jobs.rescript(name, script);
    }

    /// Every Job created for real (not dry runs), as posted.
    pub fn jobs_created(&self) -> Vec<Value> {
        self.inner.lock().unwrap().jobs.created.clone()
    }

    /// `(name, body)` of every Job DELETE.
    pub fn jobs_deleted(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().jobs.deleted.clone()
    }

    /// The names of the Jobs in the cluster now.
    pub fn jobs_present(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap();
        inner
            .objects
            .iter()
            .filter(|(path, _)| path.starts_with("/apis/batch/v1/"))
            .flat_map(|(_, items)| items.iter())
            .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
            .collect()
    }

    pub fn heal(&self) {
        self.inner.lock().unwrap().faults.clear();
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().seen.clone()
    }
}

pub fn status(code: u16, message: &str) -> Response {
    let reason = match code {
        403 => "Forbidden",
        404 => "NotFound",
        409 => "AlreadyExists",
        _ => "InternalError",
    };
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    });
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(body)).into_response()
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| decode(v))
    })
}

/// Percent-decoding of a query value (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => out.push(b),
                    Err(_) => out.extend_from_slice(&bytes[i..i + 3]),
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn matches_labels(object: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (k, v) = term.split_once('=').unwrap_or((term, ""));
        object["metadata"]["labels"][k].as_str() == Some(v)
    })
}

/// A field selector of `path.to.field=value` terms (`type=Warning`,
/// `involvedObject.name=NAME`).
fn matches_fields(object: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (path, value) = term.split_once('=').unwrap_or((term, ""));
        let found = path.split('.').fold(object, |o, key| &o[key]);
        found.as_str() == Some(value)
    })
}

/// JSON merge patch, with the strategic-merge rule for lists of named items (containers, env):
/// items merge by `name`.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (Value::Array(t), Value::Array(p)) if p.iter().all(|i| i.get("name").is_some()) => {
            for item in p {
                match t.iter_mut().find(|x| x.get("name") == item.get("name")) {
                    Some(existing) => merge(existing, item),
                    None => t.push(item.clone()),
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn scale_of(deployment: &Value) -> Value {
    let replicas = deployment["spec"]["replicas"].clone();
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": deployment["metadata"]["name"],
            "namespace": deployment["metadata"]["namespace"],
            "resourceVersion": deployment["metadata"]["resourceVersion"],
        },
        "spec": { "replicas": replicas },
        "status": { "replicas": deployment["status"]["replicas"], "selector": "app=x" },
    })
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    let fault = {
        let mut state = inner.lock().unwrap();
        state.seen.push(Seen {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        state
            .faults
            .iter()
            .find(|(part, _)| path.contains(part.as_str()))
            .map(|(_, f)| f.clone())
    };
    match fault {
        Some(Fault::Status(code)) => return status(code, &format!("injected {code} on {path}")),
        Some(Fault::Hang(gate)) => drop(gate.acquire().await),
        None => {}
    }
    let mut state = inner.lock().unwrap();
    if path.starts_with("/apis/batch/v1/") {
        let dry_run = query_param(&query, "dryRun").as_deref() == Some("All");
        let Inner {
            jobs,
            objects,
            logs,
            ..
        } = &mut *state;
        let cluster = jobs::Cluster { objects, logs };
        if let Some(response) = jobs::handle(jobs, cluster, &method, &path, dry_run, &body) {
            return response;
        }
    }
    if path == "/health" || path == "/ready" {
        return "ok".into_response();
    }
    if path == "/api/v1/query" {
        let promql = query_param(&query, "query").unwrap_or_default();
        let result: Vec<Value> = state
            .prometheus
            .iter()
            .filter(|(part, _)| promql.contains(part.as_str()))
            .map(|(_, v)| json!({ "metric": {}, "value": [1_764_385_200.0, v] }))
            .take(1)
            .collect();
        return axum::Json(json!({
            "status": "success",
            "data": { "resultType": "vector", "result": result },
        }))
        .into_response();
    }
    if path.ends_with("/proxy/debug/pprof/profile") {
        return b"\x1f\x8b\x08 fake pprof profile".to_vec().into_response();
    }
    if let Some(pod_path) = path.strip_suffix("/log") {
        let pod = pod_path.rsplit('/').next().unwrap_or_default();
        return match state.logs.get(pod) {
            Some(text) => text.clone().into_response(),
            None => status(404, &format!("pods \"{pod}\" not found")),
        };
    }
    if let Some(deploy_path) = path.strip_suffix("/scale") {
        let (collection, name) = deploy_path.rsplit_once('/').unwrap_or_default();
        let Some(items) = state.objects.get_mut(collection) else {
            return status(404, "no such collection");
        };
        let Some(deployment) = items.iter_mut().find(|o| o["metadata"]["name"] == name) else {
            return status(404, &format!("deployments.apps \"{name}\" not found"));
        };
        if method == Method::PATCH {
            let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let Some(replicas) = patch["spec"]["replicas"].as_i64() else {
                return status(422, "spec.replicas missing");
            };
            let mut changed = deployment.clone();
            changed["spec"]["replicas"] = json!(replicas);
            if query_param(&query, "dryRun").as_deref() != Some("All") {
                *deployment = changed.clone();
            }
            return axum::Json(scale_of(&changed)).into_response();
        }
        return axum::Json(scale_of(deployment)).into_response();
    }
    if method == Method::PATCH {
        let Some((collection, name)) = path.rsplit_once('/') else {
            return status(404, "no such object");
        };
        let Some(object) = state
            .objects
            .get_mut(collection)
            .and_then(|items| items.iter_mut().find(|o| o["metadata"]["name"] == name))
        else {
            return status(404, &format!("{path} not found"));
        };
        let Ok(patch) = serde_json::from_slice::<Value>(&body) else {
            return status(400, "the patch is not JSON");
        };
        let mut changed = object.clone();
        merge(&mut changed, &patch);
        if query_param(&query, "dryRun").as_deref() != Some("All") {
            *object = changed.clone();
        }
        return axum::Json(changed).into_response();
    }
    if method != Method::GET {
        return status(405, "method not allowed by the fake");
    }
    if let Some(items) = state.objects.get(&path) {
        let labels = query_param(&query, "labelSelector").unwrap_or_default();
        let fields = query_param(&query, "fieldSelector").unwrap_or_default();
        let items: Vec<Value> = items
            .iter()
            .filter(|o| matches_labels(o, &labels))
            .filter(|o| matches_fields(o, &fields))
            .cloned()
            .collect();
        return axum::Json(json!({
            "kind": "List", "apiVersion": "v1",
            "metadata": { "resourceVersion": "100" },
            "items": items,
        }))
        .into_response();
    }
    if let Some((collection, name)) = path.rsplit_once('/')
        && let Some(found) = state
            .objects
            .get(collection)
            .and_then(|items| items.iter().find(|o| o["metadata"]["name"] == name))
    {
        return axum::Json(found.clone()).into_response();
    }
    status(404, &format!("{path} not found"))
}

/// Writes `dir/kubeconfig` for a cluster at `server`; returns its path.
pub fn kubeconfig_at(dir: &Path, server: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {server}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n    namespace: default\ncurrent-context: fake\nusers:\n- name: fake\n  user:\n    token: fake-token\n"
    );
    std::fs::write(&path, text).expect("write kubeconfig");
    path
}
