//! `[[jobs]]` and `[verification]`: the verification Jobs `/incident-verify` (smoke tests) and
//! `/performance-test` (load tests) run in the cluster, and how their results are judged.
//! `bot.toml.example` documents each key. Result formats and tolerances are read by
//! `ops::jobs::Verification::new`, which names the key at fault.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{SECOND, Settings, is_kubernetes_name, within};
use crate::interval::Interval;

/// The longest `[[jobs]]` name (it becomes part of a Job name of at most 63 characters).
pub const MAX_JOB_NAME: usize = 24;
/// The longest timeout of one job.
const MAX_TIMEOUT: Interval = Interval::from_secs(6 * 3_600);

/// What a job is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// A smoke test run by `/incident-verify`: exit 0 passes.
    Smoke,
    /// A load test run by `/performance-test`: its log reports the figures.
    Load,
}

/// `[[jobs]]`: one verification Job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// Its name: lowercase letters, digits and '-', at most 24 characters.
    pub name: String,
    /// `smoke` or `load`.
    pub kind: JobKind,
    /// The container image (`ghcr.io/acme/smoke:1.4`).
    pub image: String,
    /// The container's command; the image's entrypoint when empty.
    #[serde(default)]
    pub command: Vec<String>,
    /// The container's arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables. `{namespace}`, `{deployment}` and `{service}` in a value become
    /// the incident's service's.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Environment variables read from Secrets in the Job's namespace: `VAR = "secret/key"`
    /// (a `secretKeyRef`: the value never passes through firewatch or its config).
    #[serde(default)]
    pub secret_env: BTreeMap<String, String>,
    /// How long it may run (its `activeDeadlineSeconds`).
    #[serde(default = "default_timeout")]
    pub timeout: Interval,
    /// The namespace it runs in; the service's when unset.
    #[serde(default)]
    pub namespace: Option<String>,
    /// The services it verifies; every service when empty.
    #[serde(default, deserialize_with = "super::string_list")]
    pub services: Vec<String>,
    /// Resource limits (`cpu = "500m"`, `memory = "256Mi"`); requests are set the same.
    #[serde(default)]
    pub limits: BTreeMap<String, String>,
    /// For `load`: how its log reports the figures (`k6` or `line`).
    #[serde(default)]
    pub result: Option<String>,
    /// For `load`: p95 may be at most this share above the baseline's;
    /// `verification.p95_tolerance` when unset.
    #[serde(default)]
    pub p95_tolerance: Option<f64>,
    /// For `load`: the error rate must stay below this; `verification.max_error_rate` when unset.
    #[serde(default)]
    pub max_error_rate: Option<f64>,
}

fn default_timeout() -> Interval {
    Interval::from_secs(300)
}

/// `[verification]`: how jobs are watched, and the default tolerances of load tests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerificationSettings {
    /// Milliseconds between two reads of a running Job's state.
    pub poll_ms: u64,
    /// Lines of a Job's log shown with its result.
    pub log_tail_lines: u32,
    /// `ttlSecondsAfterFinished` of every Job: the cluster removes a finished Job firewatch
    /// could not delete itself.
    pub ttl_after_finished: Interval,
    /// p95 latency may be at most this share above the baseline's (0.2 = 20 %).
    pub p95_tolerance: f64,
    /// The error rate of a load test must stay below this (0.01 = 1 %).
    pub max_error_rate: f64,
}

impl Default for VerificationSettings {
    fn default() -> Self {
        Self {
            poll_ms: 2_000,
            log_tail_lines: 20,
            ttl_after_finished: Interval::from_secs(3_600),
            p95_tolerance: 0.2,
            max_error_rate: 0.01,
        }
    }
}

impl Settings {
    /// Checks `[[jobs]]` and `[verification]`.
    pub(super) fn check_jobs(&self) -> Result<(), (String, String)> {
        let v = &self.verification;
        if !(10..=60_000).contains(&v.poll_ms) {
            return Err((
                "verification.poll_ms".into(),
                "must be between 10 and 60000".into(),
            ));
        }
        if !(1..=500).contains(&v.log_tail_lines) {
            return Err((
                "verification.log_tail_lines".into(),
                "must be between 1 and 500".into(),
            ));
        }
        within(
            "verification.ttl_after_finished",
            v.ttl_after_finished,
            SECOND,
            Interval::from_secs(7 * 86_400),
        )?;
        let services: BTreeSet<&str> = self.services.iter().map(|s| s.name.as_str()).collect();
        let mut names = BTreeSet::new();
        for (i, job) in self.jobs.iter().enumerate() {
            let key = |k: &str| format!("jobs[{i}].{k}");
            let name_ok = job.name.len() <= MAX_JOB_NAME && is_kubernetes_name(&job.name);
            if !name_ok {
                return Err((
                    key("name"),
                    format!(
                        "'{}' is not a job name (lowercase letters, digits and '-', at most \
                         {MAX_JOB_NAME} characters)",
                        job.name
                    ),
                ));
            }
            if !names.insert(job.name.as_str()) {
                return Err((key("name"), format!("job '{}' is defined twice", job.name)));
            }
            if job.image.trim().is_empty() || job.image.contains(char::is_whitespace) {
                return Err((
                    key("image"),
                    format!("'{}' is not a container image", job.image),
                ));
            }
            within(&key("timeout"), job.timeout, SECOND, MAX_TIMEOUT)?;
            if let Some(ns) = job.namespace.as_deref().filter(|n| !is_kubernetes_name(n)) {
                return Err((key("namespace"), format!("'{ns}' is not a namespace name")));
            }
            if let Some(unknown) = job.services.iter().find(|s| !services.contains(s.as_str())) {
                return Err((
                    key("services"),
                    format!("'{unknown}' is not in [[services]]"),
                ));
            }
            if let Some(bad) = job.env.keys().find(|k| !is_env_name(k)) {
                return Err((
                    key("env"),
                    format!("'{bad}' is not an environment variable name"),
                ));
            }
            for (variable, reference) in &job.secret_env {
                if !is_env_name(variable) {
                    return Err((
                        key("secret_env"),
                        format!("'{variable}' is not an environment variable name"),
                    ));
                }
                if secret_ref(reference).is_none() {
                    return Err((
                        format!("jobs[{i}].secret_env.{variable}"),
                        format!(
                            "'{reference}' is not SECRET/KEY (a Secret's name, '/', one of its keys)"
                        ),
                    ));
                }
                if job.env.contains_key(variable) {
                    return Err((
                        format!("jobs[{i}].secret_env.{variable}"),
                        format!("'{variable}' is also in env"),
                    ));
                }
            }
            for (resource, quantity) in &job.limits {
                if !matches!(resource.as_str(), "cpu" | "memory" | "ephemeral-storage") {
                    return Err((
                        key("limits"),
                        format!("'{resource}' is not a limit (cpu, memory, ephemeral-storage)"),
                    ));
                }
                if !is_quantity(quantity) {
                    return Err((
                        format!("jobs[{i}].limits.{resource}"),
                        format!("'{quantity}' is not a quantity (like 500m, 1, 256Mi)"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `secret/key` split in its Secret and key, when both are valid names.
pub fn secret_ref(reference: &str) -> Option<(&str, &str)> {
    let (secret, key) = reference.split_once('/')?;
    let key_ok = !key.is_empty()
        && key.len() <= 253
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
    let secret_ok =
        secret.len() <= 253 && !secret.is_empty() && secret.split('.').all(is_kubernetes_name);
    (key_ok && secret_ok).then_some((secret, key))
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A Kubernetes quantity, roughly: digits (with a point), then an optional suffix.
fn is_quantity(text: &str) -> bool {
    let number_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(number_end);
    !number.is_empty()
        && number.parse::<f64>().is_ok()
        && matches!(
            suffix,
            "" | "m" | "k" | "M" | "G" | "T" | "Ki" | "Mi" | "Gi" | "Ti"
        )
}

#[cfg(test)]
mod tests {
    use crate::config::tests::{WEB, invalid, load};

    const SMOKE: &str = "[[jobs]]\nname = \"smoke\"\nkind = \"smoke\"\nimage = \"curl:8\"\n";

    #[test]
    fn jobs_load_with_their_defaults() {
        let s = load(&format!(
            "{WEB}{SMOKE}[[jobs]]\nname = \"load\"\nkind = \"load\"\nimage = \"k6:1\"\nresult = \"k6\"\n\
             services = [\"web\"]\nlimits = {{ cpu = \"500m\", memory = \"256Mi\" }}\n\
             env = {{ TARGET = \"http://{{deployment}}.{{namespace}}\" }}\np95_tolerance = 0.3\n"
        ))
        .unwrap();
        assert_eq!(s.jobs.len(), 2);
        assert_eq!(s.jobs[0].timeout.as_secs(), 300);
        assert_eq!(s.jobs[1].result.as_deref(), Some("k6"));
        assert_eq!(s.jobs[1].p95_tolerance, Some(0.3));
        assert_eq!(s.verification.max_error_rate, 0.01);
        // Variable names keep their case.
        assert!(s.jobs[1].env.contains_key("TARGET"), "{:?}", s.jobs[1].env);
    }

    #[test]
    fn bad_jobs_name_their_key() {
        let cases = [
            (
                "[[jobs]]\nname = \"Smoke\"\nkind = \"smoke\"\nimage = \"x\"",
                "jobs[0].name",
            ),
            (
                "[[jobs]]\nname = \"a-name-much-longer-than-allowed\"\nkind = \"smoke\"\nimage = \"x\"",
                "jobs[0].name",
            ),
            (&format!("{SMOKE}{SMOKE}"), "jobs[1].name"),
            (
                "[[jobs]]\nname = \"s\"\nkind = \"smoke\"\nimage = \"a b\"",
                "jobs[0].image",
            ),
            (
                "[[jobs]]\nname = \"s\"\nkind = \"fuzz\"\nimage = \"x\"",
                "jobs[0].kind",
            ),
            (
                "[[jobs]]\nname = \"s\"\nkind = \"smoke\"\nimage = \"x\"\ntimeout = \"7h\"",
                "jobs[0].timeout",
            ),
            (
                "[[jobs]]\nname = \"s\"\nkind = \"smoke\"\nimage = \"x\"\nservices = [\"nope\"]",
                "jobs[0].services",
            ),
            (
                "[[jobs]]\nname = \"s\"\nkind = \"smoke\"\nimage = \"x\"\nnamespace = \"No\"",
                "jobs[0].namespace",
            ),
            (
                "[[jobs]]\nname = \"s\"\nkind = \"smoke\"\nimage = \"x\"\nenv = { \"1X\" = \"y\" }",
                "jobs[0].env",
            ),
            (
                "[[jobs]]\nname = \"s\"\nkind = \"smoke\"\nimage = \"x\"\nsecret_env = { T = \"no-key\" }",
                "jobs[0].secret_env.T",
            ),
            (
                "[[jobs]]\nname = \"s\"\nkind = \"smoke\"\nimage = \"x\"\nsecret_env = { T = \"s/k\" }\nenv = { T = \"v\" }",
                "jobs[0].secret_env.T",
            ),
            (
                "[[jobs]]\nname = \"s\"\nkind = \"smoke\"\nimage = \"x\"\nlimits = { gpu = \"1\" }",
                "jobs[0].limits",
            ),
            (
                "[[jobs]]\nname = \"s\"\nkind = \"smoke\"\nimage = \"x\"\nlimits = { cpu = \"lots\" }",
                "jobs[0].limits.cpu",
            ),
            ("[verification]\npoll_ms = 1", "verification.poll_ms"),
        ];
        for (extra, key) in cases {
            let (got, message) = invalid(&format!("{WEB}{extra}"));
            assert_eq!(got, key, "{extra}: {message}");
            assert!(!message.is_empty());
        }
    }
}
