//! Verification Jobs: smoke tests and load tests the team keeps as container images, run as
//! Kubernetes Jobs next to the service (`[[jobs]]` in the config). This module owns the jobs the
//! config defines ([`Verification`]), what a Job run is ([`JobSpec`]), how its state is read
//! ([`JobState`]), how firewatch waits for it and cleans up ([`wait`]), and how a load test's
//! figures are read and compared ([`figures`]).
//!
//! Nothing here knows about chat or the store; the engine records and posts the [`Outcome`].

pub mod figures;
mod verification;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Cluster, Error};

pub use figures::{Comparison, Figures, ResultFormat, Tolerance};
pub use verification::{Definition, Invalid, Judged, Verification};

/// The label every Job and pod firewatch creates carries (`app.kubernetes.io/managed-by`).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "firewatch");
/// The label naming the incident a Job verifies.
pub const INCIDENT_LABEL: &str = "firewatch.dev/incident";
/// The label naming the `[[jobs]]` entry a Job runs.
pub const JOB_LABEL: &str = "firewatch.dev/job";
/// The label naming why the Job runs (`smoke`, `baseline`, `compare`).
pub const PURPOSE_LABEL: &str = "firewatch.dev/purpose";
/// The container's name in the Job's pod.
pub const CONTAINER: &str = "job";

/// How long a pod may stay unschedulable (a node being added) before its Job counts as not
/// started; half the Job's timeout when that is shorter.
const UNSCHEDULABLE_GRACE: Duration = Duration::from_secs(60);

/// Why a Job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// A smoke test of `/incident-verify`: exit 0 passes.
    Smoke,
    /// `/performance-test baseline`: its figures become the service's baseline.
    Baseline,
    /// `/performance-test`: its figures are compared with the baseline.
    Compare,
}

impl Purpose {
    /// `smoke`, `baseline`, `compare`.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Smoke => "smoke",
            Purpose::Baseline => "baseline",
            Purpose::Compare => "compare",
        }
    }

    /// `smoke test`, `load test (baseline)`, `load test`.
    pub fn describe(self) -> &'static str {
        match self {
            Purpose::Smoke => "smoke test",
            Purpose::Baseline => "load test (baseline)",
            Purpose::Compare => "load test",
        }
    }
}

/// One run of a `[[jobs]]` entry, exactly as it is created in the cluster. Stored as JSON with
/// an approval request until it runs, so what runs is what was previewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// The `[[jobs]]` entry's name.
    pub job: String,
    /// The Job's name in the cluster: `firewatch-<incident>-<job>-<n>`.
    pub name: String,
    /// The namespace it runs in.
    pub namespace: String,
    /// The container image.
    pub image: String,
    /// The container's command (the image's entrypoint when empty).
    pub command: Vec<String>,
    /// The container's arguments.
    pub args: Vec<String>,
    /// Environment variables.
    pub env: Vec<(String, String)>,
    /// Environment variables from Secrets: variable, Secret, key.
    #[serde(default)]
    pub secret_env: Vec<(String, String, String)>,
    /// Resource limits (`cpu`, `memory`); requests are set to the same.
    pub limits: Vec<(String, String)>,
    /// `activeDeadlineSeconds`: the Job's timeout.
    pub timeout_secs: u64,
    /// `ttlSecondsAfterFinished`: the cluster deletes it this long after it finished, should
    /// firewatch not have.
    pub ttl_secs: u32,
    /// The labels of the Job and its pod.
    pub labels: Vec<(String, String)>,
}

impl JobSpec {
    /// `api-smoke as firewatch-3-api-smoke-1 (ghcr.io/acme/smoke:1)`.
    pub fn describe(&self) -> String {
        format!("{} as {} ({})", self.job, self.name, self.image)
    }
}

/// The name of the `n`th run of job `job` for incident `incident`: `firewatch-3-api-smoke-1`,
/// a DNS-1123 label (lowercase letters, digits and '-', at most 63 characters): the job's part
/// is shortened when the whole would be longer.
pub fn job_name(incident: i64, job: &str, n: u32) -> String {
    let head = format!("firewatch-{incident}-");
    let tail = format!("-{n}");
    // Room for the longest run number, so a job's part is the same for every run.
    let room = 63usize.saturating_sub(head.len() + "-4294967295".len());
    let cleaned: String = job
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .take(room)
        .collect();
    let cleaned = cleaned.trim_matches('-');
    let cleaned = if cleaned.is_empty() { "job" } else { cleaned };
    format!("{head}{cleaned}{tail}")
}

/// The number `n` in a Job name of `incident` and `job` (`firewatch-3-api-smoke-2` → 2).
pub fn run_number(name: &str, incident: i64, job: &str) -> Option<u32> {
    let prefix = job_name(incident, job, 0);
    let prefix = prefix.strip_suffix('0')?;
    let rest = name.strip_prefix(prefix)?;
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// What the cluster says about a Job now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Created; its pod is not running yet (and nothing says it cannot start).
    Waiting,
    /// Its pod runs.
    Running {
        /// The pod.
        pod: String,
    },
    /// It finished and passed (exit 0).
    Succeeded {
        /// Its pod, when it is still there.
        pod: Option<String>,
    },
    /// It finished and failed.
    Failed {
        /// Its pod, when it is still there.
        pod: Option<String>,
        /// What the cluster says (`exit code 1`, `BackoffLimitExceeded: …`).
        reason: String,
    },
    /// It ran out of time (`activeDeadlineSeconds`): the cluster stopped it.
    DeadlineExceeded {
        /// Its pod, when it is still there.
        pod: Option<String>,
    },
    /// It cannot start: the image cannot be pulled, a quota or policy refused its pod, the pod
    /// cannot be scheduled.
    CannotStart {
        /// Its pod, if one was created.
        pod: Option<String>,
        /// Why (`ErrImagePull: …`, `FailedCreate: exceeded quota …`).
        reason: String,
    },
}

/// How a Job run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Exit 0.
    Passed,
    /// It ran and failed.
    Failed(String),
    /// It did not finish within its timeout.
    TimedOut,
    /// It never ran: why.
    NotStarted(String),
    /// firewatch lost track of it (the cluster could not be read, the Job vanished): why.
    Unknown(String),
}

impl Verdict {
    /// `passed`, `failed`, `timed out`, `could not start`, `unknown`.
    pub fn word(&self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed(_) => "failed",
            Verdict::TimedOut => "timed out",
            Verdict::NotStarted(_) => "could not start",
            Verdict::Unknown(_) => "unknown",
        }
    }

    /// `passed`, `failed: exit code 1`, `could not start: ErrImagePull: …`.
    pub fn describe(&self) -> String {
        match self {
            Verdict::Passed | Verdict::TimedOut => self.word().into(),
            Verdict::Failed(why) | Verdict::NotStarted(why) | Verdict::Unknown(why) => {
                format!("{}: {why}", self.word())
            }
        }
    }
}

/// What a finished run left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub verdict: Verdict,
    /// The end of its pod's log (empty when there is no pod or log).
    pub log: String,
    /// Why the Job could not be deleted afterwards; `None` when it was.
    pub cleanup_error: Option<String>,
}

/// How long to wait and how much log to read.
#[derive(Debug, Clone, Copy)]
pub struct Waiting {
    /// Between two reads of the Job's state.
    pub poll: Duration,
    /// Lines read from the end of the pod's log.
    pub tail_lines: u32,
}

/// Waits for the Job of `spec` (already created) to finish, at most its timeout and a little
/// grace, then reads the end of its pod's log and deletes it (propagation Background: its pod
/// goes too).
///
/// # Guarantees
/// Returns once the Job finished, cannot start, or ran out of time; the Job is deleted in every
/// case (a failed delete is reported in [`Outcome::cleanup_error`], and the Job's
/// `ttlSecondsAfterFinished` removes it later).
pub async fn wait(cluster: &dyn Cluster, spec: &JobSpec, waiting: Waiting) -> Outcome {
    let grace = (waiting.poll * 2).min(Duration::from_secs(30));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(spec.timeout_secs) + grace;
    let started = tokio::time::Instant::now();
    // A pod can be unschedulable for a while as a cluster autoscaler adds a node: it counts as
    // "could not start" once that lasted half the timeout (at most a minute).
    let unschedulable_grace = (Duration::from_secs(spec.timeout_secs) / 2).min(UNSCHEDULABLE_GRACE);
    let mut last_error: Option<Error>;
    let (verdict, pod) = loop {
        match cluster.job_state(spec).await {
            Ok(JobState::CannotStart { reason, .. })
                if reason.starts_with("Unschedulable")
                    && started.elapsed() < unschedulable_grace =>
            {
                last_error = None;
            }
            Ok(JobState::Succeeded { pod }) => break (Verdict::Passed, pod),
            Ok(JobState::Failed { pod, reason }) => break (Verdict::Failed(reason), pod),
            Ok(JobState::DeadlineExceeded { pod }) => break (Verdict::TimedOut, pod),
            Ok(JobState::CannotStart { pod, reason }) => break (Verdict::NotStarted(reason), pod),
            Ok(JobState::Waiting | JobState::Running { .. }) => last_error = None,
            Err(Error::NotFound(_)) => {
                break (
                    Verdict::Unknown("the Job was deleted before it finished".into()),
                    None,
                );
            }
            Err(e) => last_error = Some(e),
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            let verdict = match last_error.take() {
                Some(e) => Verdict::Unknown(format!("its state could not be read: {e}")),
                None => Verdict::TimedOut,
            };
            // The pod of a Job that ran out of time still has a log worth showing.
            let pod = match cluster.job_state(spec).await {
                Ok(JobState::Running { pod }) => Some(pod),
                _ => None,
            };
            break (verdict, pod);
        }
        tokio::time::sleep(waiting.poll.min(deadline - now)).await;
    };
    let log = match &pod {
        Some(pod) => match cluster.job_log(spec, pod, waiting.tail_lines).await {
            Ok(log) => log,
            Err(e) => format!("(the log of {pod} could not be read: {e})"),
        },
        None => String::new(),
    };
    let cleanup_error = cluster.delete_job(spec).await.err().map(|e| e.to_string());
    if let Some(e) = &cleanup_error {
        tracing::warn!(job = %spec.name, error = %e, "a verification Job was not deleted; its TTL removes it");
    }
    Outcome {
        verdict,
        log,
        cleanup_error,
    }
}

/// The last `n` non-empty lines of `log`.
pub fn tail(log: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.chars().take(300).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_dns_label(name: &str) -> bool {
        let b = name.as_bytes();
        (1..=63).contains(&b.len())
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    }

    #[test]
    fn job_names_are_unique_valid_dns_labels() {
        assert_eq!(job_name(3, "api-smoke", 1), "firewatch-3-api-smoke-1");
        let long = "a-very-long-job-name-that-goes-on-and-on-and-on-and-on-forever";
        let mut seen = std::collections::BTreeSet::new();
        for (incident, job) in [
            (1, "smoke"),
            (123_456_789, long),
            (7, "Load_Test"),
            (7, "--x--"),
            (i64::MAX, long),
        ] {
            for n in [1, 2, 99, u32::MAX] {
                let name = job_name(incident, job, n);
                assert!(is_dns_label(&name), "{name}");
                assert!(seen.insert(name.clone()), "{name} twice");
                assert_eq!(run_number(&name, incident, job), Some(n), "{name}");
            }
        }
        assert_eq!(run_number("firewatch-3-api-smoke-1", 3, "api"), None);
        assert_eq!(run_number("firewatch-4-api-smoke-1", 3, "api-smoke"), None);
        assert_eq!(run_number("firewatch-3-api-2-1", 3, "api"), None);
    }

    #[test]
    fn tails_keep_the_last_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), vec!["b", "c"]);
        assert!(tail("", 5).is_empty());
    }
}
