//! batch/v1 Jobs in the fake API server: create (and `dryRun=All`), get, delete (recording the
//! propagation policy), each Job's pod and events scripted per test: succeed or fail with a log,
//! never finish, fail to pull its image, be refused a pod by a quota (FailedCreate), or have
//! its create refused outright.

use std::collections::BTreeMap;

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::kube::status;

/// What a Job does once created, chosen by its `[[jobs]]` name (label `firewatch.dev/job`).
#[derive(Debug, Clone)]
pub enum Script {
    /// Runs for `polls` reads of the Job, then exits 0 with `log`.
    Succeed { log: String, polls: u32 },
    /// Runs for `polls` reads, then exits `exit` with `log`.
    Fail { log: String, exit: i32, polls: u32 },
    /// Runs for ever, writing `log`.
    Hang { log: String },
    /// Its pod cannot pull the image (ImagePullBackOff).
    ImagePull,
    /// The Job controller is refused a pod (ResourceQuota): a FailedCreate event, no pod.
    Quota,
    /// Its pod cannot be scheduled (PodScheduled False, Unschedulable).
    Unschedulable,
    /// The API server refuses to create the Job (and its dry run) with this status.
    RefuseCreate(u16),
}

/// A created Job's progress.
struct Run {
    script: Script,
    reads: u32,
}

#[derive(Default)]
pub struct JobsFake {
    scripts: BTreeMap<String, Script>,
    runs: BTreeMap<String, Run>,
    /// Every Job body created for real (not dry runs), in order.
    pub created: Vec<Value>,
    /// `(name, body)` of every DELETE.
    pub deleted: Vec<(String, String)>,
}

impl JobsFake {
    pub fn script(&mut self, job: &str, script: Script) {
        self.scripts.insert(job.to_owned(), script);
    }

    /// Changes what the created Job `name` does from now on.
    pub fn rescript(&mut self, name: &str, script: Script) {
        if let Some(run) = self.runs.get_mut(name) {
            run.script = script;
            run.reads = 0;
        }
    }
}

/// The collections a Job's pod and events go to.
pub struct Cluster<'a> {
    pub objects: &'a mut BTreeMap<String, Vec<Value>>,
    pub logs: &'a mut BTreeMap<String, String>,
}

/// Answers a batch/v1 request; `None` when the path is not about Jobs.
pub fn handle(
    fake: &mut JobsFake,
    cluster: Cluster<'_>,
    method: &Method,
    path: &str,
    dry_run: bool,
    body: &[u8],
) -> Option<Response> {
    let rest = path.strip_prefix("/apis/batch/v1/namespaces/")?;
    let (ns, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("jobs")?;
    let collection = format!("/apis/batch/v1/namespaces/{ns}/jobs");
    let name = rest.trim_start_matches('/');
    Some(match (method.clone(), name.is_empty()) {
        (Method::POST, true) => create(fake, cluster, &collection, ns, dry_run, body),
        (Method::GET, false) => read(fake, cluster, &collection, ns, name),
        (Method::DELETE, false) => delete(fake, cluster, &collection, ns, name, body),
        (Method::GET, true) => {
            let items = cluster
                .objects
                .get(&collection)
                .cloned()
                .unwrap_or_default();
            axum::Json(json!({"kind": "JobList", "apiVersion": "batch/v1",
                              "metadata": {"resourceVersion": "100"}, "items": items}))
            .into_response()
        }
        _ => status(405, "method not allowed by the fake"),
    })
}

fn create(
    fake: &mut JobsFake,
    cluster: Cluster<'_>,
    collection: &str,
    ns: &str,
    dry_run: bool,
    body: &[u8],
) -> Response {
    let Ok(mut job) = serde_json::from_slice::<Value>(body) else {
        return status(400, "the Job is not JSON");
    };
    let Some(name) = job["metadata"]["name"].as_str().map(str::to_owned) else {
        return status(422, "metadata.name missing");
    };
    let script = job["metadata"]["labels"]["firewatch.dev/job"]
        .as_str()
        .and_then(|j| fake.scripts.get(j))
        .cloned()
        .unwrap_or(Script::Succeed {
            log: String::new(),
            polls: 0,
        });
    if let Script::RefuseCreate(code) = script {
        return status(
            code,
            &format!("jobs.batch \"{name}\" is forbidden: exceeded quota: count/jobs.batch"),
        );
    }
    let items = cluster.objects.entry(collection.to_owned()).or_default();
    if items.iter().any(|o| o["metadata"]["name"] == name) {
        return status(409, &format!("jobs.batch \"{name}\" already exists"));
    }
    job["metadata"]["namespace"] = json!(ns);
    job["metadata"]["uid"] = json!(format!("uid-{name}"));
    job["metadata"]["resourceVersion"] = json!("1");
    job["metadata"]["creationTimestamp"] = json!("2026-11-29T03:00:00Z");
    job["status"] = json!({});
    if dry_run {
        return (axum::http::StatusCode::CREATED, axum::Json(job)).into_response();
    }
    items.push(job.clone());
    fake.created.push(job.clone());
    fake.runs.insert(name.clone(), Run { script, reads: 0 });
    (axum::http::StatusCode::CREATED, axum::Json(job)).into_response()
}

fn pods_of(ns: &str) -> String {
    format!("/api/v1/namespaces/{ns}/pods")
}

fn pod(name: &str, ns: &str, job: &str, phase: &str, state: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"),
                     "resourceVersion": "2", "creationTimestamp": "2026-11-29T03:00:01Z",
                     "labels": {"job-name": job, "batch.kubernetes.io/job-name": job}},
        "status": {"phase": phase,
                   "containerStatuses": [{"name": "job", "ready": phase == "Running",
                                          "restartCount": 0, "image": "x", "imageID": "",
                                          "state": state}]},
    })
}

fn put(objects: &mut BTreeMap<String, Vec<Value>>, collection: &str, object: Value) {
    let items = objects.entry(collection.to_owned()).or_default();
    items.retain(|o| o["metadata"]["name"] != object["metadata"]["name"]);
    items.push(object);
}

fn read(
    fake: &mut JobsFake,
    cluster: Cluster<'_>,
    collection: &str,
    ns: &str,
    name: &str,
) -> Response {
    let Some(run) = fake.runs.get_mut(name) else {
        return status(404, &format!("jobs.batch \"{name}\" not found"));
    };
    run.reads += 1;
    let pod_name = format!("{name}-x7k2p");
    let running = json!({"running": {"startedAt": "2026-11-29T03:00:02Z"}});
    let (job_status, pod_object, log) = match &run.script {
        Script::Succeed { log, polls } | Script::Fail { log, polls, .. } if run.reads <= *polls => {
            (
                json!({"active": 1}),
                Some(pod(&pod_name, ns, name, "Running", running)),
                Some(log.clone()),
            )
        }
        Script::Succeed { log, .. } => (
            json!({"succeeded": 1, "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True"},
                {"type": "Complete", "status": "True"}]}),
            Some(pod(
                &pod_name,
                ns,
                name,
                "Succeeded",
                json!({"terminated": {"exitCode": 0, "reason": "Completed"}}),
            )),
            Some(log.clone()),
        ),
        Script::Fail { log, exit, .. } => (
            json!({"failed": 1, "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit"},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit"}]}),
            Some(pod(
                &pod_name,
                ns,
                name,
                "Failed",
                json!({"terminated": {"exitCode": exit, "reason": "Error"}}),
            )),
            Some(log.clone()),
        ),
        Script::Hang { log } => (
            json!({"active": 1}),
            Some(pod(&pod_name, ns, name, "Running", running)),
            Some(log.clone()),
        ),
        Script::ImagePull => (
            json!({"active": 1}),
            Some(pod(
                &pod_name,
                ns,
                name,
                "Pending",
                json!({"waiting": {
                "reason": "ImagePullBackOff",
                "message": "Back-off pulling image \"registry.example.com/smoke:missing\""}}),
            )),
            None,
        ),
        Script::Unschedulable => {
            let mut p = pod(&pod_name, ns, name, "Pending", json!({}));
            p["status"]["containerStatuses"] = json!([]);
            p["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "False",
                "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu."}]);
            (json!({"active": 1}), Some(p), None)
        }
        Script::Quota => {
            let event = json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": format!("{name}.1"), "namespace": ns},
                "type": "Warning", "reason": "FailedCreate",
                "involvedObject": {"kind": "Job", "name": name, "namespace": ns},
                "message": format!("Error creating: pods \"{pod_name}\" is forbidden: exceeded quota: compute, requested: cpu=2, used: cpu=8, limited: cpu=8"),
                "lastTimestamp": "2026-11-29T03:00:01Z",
            });
            put(
                cluster.objects,
                &format!("/api/v1/namespaces/{ns}/events"),
                event,
            );
            (json!({"active": 0}), None, None)
        }
        Script::RefuseCreate(_) => (json!({}), None, None),
    };
    if let Some(p) = pod_object {
        put(cluster.objects, &pods_of(ns), p);
    }
    if let Some(log) = log {
        cluster.logs.insert(pod_name, log);
    }
    let Some(job) = cluster
        .objects
        .get_mut(collection)
        .and_then(|items| items.iter_mut().find(|o| o["metadata"]["name"] == name))
    else {
        return status(404, &format!("jobs.batch \"{name}\" not found"));
    };
    job["status"] = job_status;
    axum::Json(job.clone()).into_response()
}

fn delete(
    fake: &mut JobsFake,
    cluster: Cluster<'_>,
    collection: &str,
    ns: &str,
    name: &str,
    body: &[u8],
) -> Response {
    fake.deleted
        .push((name.to_owned(), String::from_utf8_lossy(body).into_owned()));
    let items = cluster.objects.entry(collection.to_owned()).or_default();
    let before = items.len();
    items.retain(|o| o["metadata"]["name"] != name);
    if items.len() == before {
        return status(404, &format!("jobs.batch \"{name}\" not found"));
    }
    fake.runs.remove(name);
    // Propagation Background: the garbage collector removes the Job's pods.
    if let Some(pods) = cluster.objects.get_mut(&pods_of(ns)) {
        pods.retain(|p| p["metadata"]["labels"]["job-name"] != name);
    }
    axum::Json(json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                      "status": "Success", "details": {"name": name, "group": "batch", "kind": "jobs"}}))
    .into_response()
}
