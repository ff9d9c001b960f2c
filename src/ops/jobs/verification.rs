//! The verification Jobs of the config (`[[jobs]]`, `[verification]`) as domain values: what
//! each Job runs and for which services, how its result is judged, how a run is watched, and
//! the [`JobSpec`] of one run for one incident. [`Verification::new`] builds and checks them once
//! from the settings (result formats and tolerances), naming the key and the value at fault.
//!
//! Nothing here reads the config after that, nor touches the cluster or the store.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{
    INCIDENT_LABEL, JOB_LABEL, JobSpec, MANAGED_BY, PURPOSE_LABEL, Purpose, ResultFormat,
    Tolerance, Waiting, job_name,
};
use crate::catalog::Service;
use crate::config::{JobKind, JobSettings, Settings, secret_ref};
use crate::interval::Interval;

/// Lines of a load test's log read to find its figures.
const LOAD_LOG_LINES: u32 = 2_000;

/// A value of `[[jobs]]` or `[verification]` the domain cannot take.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {message}")]
pub struct Invalid {
    /// The key, like `jobs[1].result`.
    pub key: String,
    /// What is wrong, naming the bad value.
    pub message: String,
}

/// How a job's run is judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Judged {
    /// A smoke test: exit 0 passes.
    Smoke,
    /// A load test: its log reports figures in `format`, compared with the baseline within
    /// `tolerance`.
    Load {
        /// How the log reports the figures.
        format: ResultFormat,
        /// How far a run may be from the baseline.
        tolerance: Tolerance,
    },
}

/// One `[[jobs]]` entry: a verification Job the team keeps as a container image.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// Its name: lowercase letters, digits and '-'.
    pub name: String,
    /// How its run is judged.
    pub judged: Judged,
    /// The container image.
    pub image: String,
    /// The container's command; the image's entrypoint when empty.
    pub command: Vec<String>,
    /// The container's arguments.
    pub args: Vec<String>,
    /// Environment variables; `{namespace}`, `{deployment}` and `{service}` in a value become
    /// the incident's service's.
    pub env: BTreeMap<String, String>,
    /// Environment variables from Secrets in the Job's namespace: variable, Secret, key.
    pub secret_env: Vec<(String, String, String)>,
    /// How long it may run.
    pub timeout: Interval,
    /// The namespace it runs in; the service's when `None`.
    pub namespace: Option<String>,
    /// The services it verifies; every service when empty.
    pub services: Vec<String>,
    /// Resource limits (requests are set the same).
    pub limits: Vec<(String, String)>,
}

impl Definition {
    /// Whether it verifies `service`.
    pub fn covers(&self, service: &str) -> bool {
        self.services.is_empty() || self.services.iter().any(|s| s == service)
    }
}

/// The verification Jobs, and how their runs are watched.
#[derive(Debug, Clone)]
pub struct Verification {
    jobs: Vec<Definition>,
    /// Between two reads of a running Job's state.
    poll: Duration,
    /// Lines of a smoke test's log shown with its result.
    pub log_tail_lines: u32,
    /// `ttlSecondsAfterFinished` of every Job: the cluster removes a finished Job firewatch
    /// could not delete itself.
    pub ttl_after_finished: Interval,
}

impl Default for Verification {
    /// No jobs, the default `[verification]`.
    fn default() -> Self {
        Self::new(&Settings::default()).expect("the default settings have no jobs to refuse")
    }
}

impl Verification {
    /// The jobs of `[[jobs]]`, watched and judged as `[verification]` says.
    ///
    /// # Errors
    /// [`Invalid`] naming the first bad result format or tolerance (the config checks the rest).
    pub fn new(settings: &Settings) -> Result<Self, Invalid> {
        let v = &settings.verification;
        let defaults = Tolerance {
            p95: tolerance("verification.p95_tolerance", v.p95_tolerance, 100.0)?,
            max_error_rate: tolerance("verification.max_error_rate", v.max_error_rate, 1.0)?,
        };
        let jobs = settings
            .jobs
            .iter()
            .enumerate()
            .map(|(i, job)| definition(i, job, defaults))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            jobs,
            poll: Duration::from_millis(v.poll_ms),
            log_tail_lines: v.log_tail_lines,
            ttl_after_finished: v.ttl_after_finished,
        })
    }

    /// The smoke tests that verify `service`, in config order.
    pub fn smoke_tests(&self, service: &str) -> Vec<&Definition> {
        self.of(service, false)
    }

    /// The load tests that verify `service`, in config order.
    pub fn load_tests(&self, service: &str) -> Vec<&Definition> {
        self.of(service, true)
    }

    fn of(&self, service: &str, load: bool) -> Vec<&Definition> {
        self.jobs
            .iter()
            .filter(|j| matches!(j.judged, Judged::Load { .. }) == load && j.covers(service))
            .collect()
    }

    /// The job named `name`.
    pub fn named(&self, name: &str) -> Option<&Definition> {
        self.jobs.iter().find(|j| j.name == name)
    }

    /// How a run for `purpose` is waited for: a load test's log is read further back, for its
    /// figures.
    pub fn waiting(&self, purpose: Purpose) -> Waiting {
        Waiting {
            poll: self.poll,
            tail_lines: match purpose {
                Purpose::Smoke => self.log_tail_lines,
                Purpose::Baseline | Purpose::Compare => LOAD_LOG_LINES,
            },
        }
    }

    /// The `n`th run of `job` for incident `incident` on `service`, exactly as it is created:
    /// placeholders filled, the `FIREWATCH_*` variables the job does not set itself, labels.
    pub fn spec(
        &self,
        job: &Definition,
        incident: i64,
        service: &Service,
        purpose: Purpose,
        n: u32,
    ) -> JobSpec {
        let id = incident.to_string();
        let fill = |v: &str| {
            v.replace("{namespace}", &service.namespace)
                .replace("{deployment}", &service.deployment)
                .replace("{service}", &service.name)
        };
        let mut env: Vec<(String, String)> =
            job.env.iter().map(|(k, v)| (k.clone(), fill(v))).collect();
        for (k, v) in [
            ("FIREWATCH_INCIDENT", id.clone()),
            ("FIREWATCH_SERVICE", service.name.clone()),
            ("FIREWATCH_NAMESPACE", service.namespace.clone()),
            ("FIREWATCH_DEPLOYMENT", service.deployment.clone()),
        ] {
            if !job.env.contains_key(k) {
                env.push((k.to_owned(), v));
            }
        }
        JobSpec {
            job: job.name.clone(),
            name: job_name(incident, &job.name, n),
            namespace: job
                .namespace
                .clone()
                .unwrap_or_else(|| service.namespace.clone()),
            image: job.image.clone(),
            command: job.command.iter().map(|c| fill(c)).collect(),
            args: job.args.iter().map(|a| fill(a)).collect(),
            env,
            secret_env: job.secret_env.clone(),
            limits: job.limits.clone(),
            timeout_secs: job.timeout.as_secs(),
            ttl_secs: u32::try_from(self.ttl_after_finished.as_secs()).unwrap_or(u32::MAX),
            labels: vec![
                (MANAGED_BY.0.into(), MANAGED_BY.1.into()),
                (INCIDENT_LABEL.into(), id),
                (JOB_LABEL.into(), job.name.clone()),
                (PURPOSE_LABEL.into(), purpose.as_str().into()),
            ],
        }
    }
}

/// `jobs[i]` as a domain value, with `defaults` for the tolerances it leaves unset.
fn definition(i: usize, job: &JobSettings, defaults: Tolerance) -> Result<Definition, Invalid> {
    let key = |k: &str| format!("jobs[{i}].{k}");
    let judged = match job.kind {
        JobKind::Smoke => {
            if job.result.is_some() {
                return Err(invalid(
                    key("result"),
                    "only load jobs report figures (a smoke job passes with exit 0)",
                ));
            }
            if job.p95_tolerance.is_some() || job.max_error_rate.is_some() {
                return Err(invalid(
                    key("kind"),
                    "tolerances are for load jobs, not smoke jobs",
                ));
            }
            Judged::Smoke
        }
        JobKind::Load => Judged::Load {
            format: result_format(&key("result"), job.result.as_deref())?,
            tolerance: Tolerance {
                p95: match job.p95_tolerance {
                    Some(t) => tolerance(&key("p95_tolerance"), t, 100.0)?,
                    None => defaults.p95,
                },
                max_error_rate: match job.max_error_rate {
                    Some(t) => tolerance(&key("max_error_rate"), t, 1.0)?,
                    None => defaults.max_error_rate,
                },
            },
        },
    };
    Ok(Definition {
        name: job.name.clone(),
        judged,
        image: job.image.clone(),
        command: job.command.clone(),
        args: job.args.clone(),
        env: job.env.clone(),
        secret_env: job
            .secret_env
            .iter()
            .filter_map(|(var, reference)| {
                let (secret, key) = secret_ref(reference)?;
                Some((var.clone(), secret.to_owned(), key.to_owned()))
            })
            .collect(),
        timeout: job.timeout,
        namespace: job.namespace.clone(),
        services: job.services.clone(),
        limits: job
            .limits
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    })
}

/// A load job's `result`: `k6` or `line`.
fn result_format(key: &str, text: Option<&str>) -> Result<ResultFormat, Invalid> {
    match text {
        None => Err(invalid(
            key.to_owned(),
            "a load job says how it reports its figures: \"k6\" or \"line\"",
        )),
        Some(text) => ResultFormat::parse(text).ok_or_else(|| {
            invalid(
                key.to_owned(),
                format!("'{text}' is not a result format (k6 or line)"),
            )
        }),
    }
}

/// A tolerance: more than 0 and at most `max`.
fn tolerance(key: &str, value: f64, max: f64) -> Result<f64, Invalid> {
    if !value.is_finite() || value <= 0.0 || value > max {
        return Err(invalid(
            key.to_owned(),
            format!("{value} is not a tolerance: it must be more than 0 and at most {max}"),
        ));
    }
    Ok(value)
}

fn invalid(key: String, message: impl Into<String>) -> Invalid {
    Invalid {
        key,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests;
