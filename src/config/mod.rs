//! `bot.toml`: built-in defaults, then the file, then `FIREWATCH__SECTION__KEY` environment
//! variables. Unknown keys and bad values are errors that name the key.
//!
//! Owns reading and checking settings; it does not open stores, load templates or reach
//! anything outside.

mod alerts;
mod approvals;
mod files;
mod jobs;
mod ops;
mod paging;
mod people;
mod secret;
mod sections;
mod severity;
mod store_url;
mod tracker;
mod web;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use alerts::{AlertSettings, DEFAULT_MAX_BODY, MAX_MAX_BODY};
pub use approvals::{ApprovalRule, ApprovalSettings, SeverityRule};
pub use jobs::{JobKind, JobSettings, MAX_JOB_NAME, VerificationSettings, secret_ref};
pub use ops::{
    ActionSettings, AssessSettings, DiagnoseSettings, PrometheusSettings, ScaleSettings,
};
pub use paging::{OpsgenieSettings, PagerDutySettings};
pub use people::PersonSettings;
pub use secret::{Secret, StoreUrl, without_password};
pub use sections::{
    DiscordMode, DiscordSettings, HelmSettings, IncidentSettings, KubernetesSettings, LogFormat,
    LogSettings, MessageSettings, OutboxSettings, ReportSettings, RoleSettings, SchedulerSettings,
    ServerSettings, ServiceSettings, SlackSettings, StoreSettings,
};
pub use severity::{ClassifyRule, LevelSettings, SeverityTable, runbook_rules};
pub use store_url::{check_url, is_postgres, sqlite_path};
pub use tracker::{
    FollowupSettings, GITHUB_API, GithubSettings, JiraSettings, ReportMode, Tracker,
};
pub use web::{WebSettings, WebUser};

use crate::interval::Interval;

/// Everything in `bot.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `[store]`
    pub store: StoreSettings,
    /// `[messages]`
    pub messages: MessageSettings,
    /// `[incidents]`
    pub incidents: IncidentSettings,
    /// `[scheduler]`
    pub scheduler: SchedulerSettings,
    /// `[outbox]`
    pub outbox: OutboxSettings,
    /// `[reports]`
    pub reports: ReportSettings,
    /// `[[services]]`
    pub services: Vec<ServiceSettings>,
    /// `[severity.p0]` … `[severity.p3]`
    pub severity: SeverityTable,
    /// `[[classify]]`: replaces the default rules when present.
    pub classify: Vec<ClassifyRule>,
    /// `[roles.NAME]`: merged with the runbook's roles.
    pub roles: BTreeMap<String, RoleSettings>,
    /// `[people.NAME]`: one person's accounts on each platform.
    pub people: BTreeMap<String, PersonSettings>,
    /// `[server]`
    pub server: ServerSettings,
    /// `[slack]`
    pub slack: SlackSettings,
    /// `[discord]`
    pub discord: DiscordSettings,
    /// `[kubernetes]`
    pub kubernetes: KubernetesSettings,
    /// `[helm]`
    pub helm: HelmSettings,
    /// `[assess]`
    pub assess: AssessSettings,
    /// `[scale]`
    pub scale: ScaleSettings,
    /// `[[actions]]`: runbook toggles.
    pub actions: Vec<ActionSettings>,
    /// `[prometheus]`
    pub prometheus: PrometheusSettings,
    /// `[diagnose]`
    pub diagnose: DiagnoseSettings,
    /// `[approvals]`: who must agree before a production change runs.
    pub approvals: ApprovalSettings,
    /// `[[jobs]]`: verification Jobs (smoke and load tests).
    pub jobs: Vec<JobSettings>,
    /// `[verification]`: how jobs are watched and judged.
    pub verification: VerificationSettings,
    /// `[alerts]`: Alertmanager and Grafana notifications that open incidents.
    pub alerts: AlertSettings,
    /// `[log]`
    pub log: LogSettings,
    /// `[github]`: the GitHub REST API action items are filed with.
    pub github: GithubSettings,
    /// `[followups]`: where action items are filed.
    pub followups: FollowupSettings,
    /// `[jira]`: the Jira REST API action items are filed with.
    pub jira: JiraSettings,
    /// `[web]`: the web pages and the status page.
    pub web: WebSettings,
    /// `[pagerduty]`: paging through PagerDuty.
    pub pagerduty: PagerDutySettings,
    /// `[opsgenie]`: paging through Opsgenie.
    pub opsgenie: OpsgenieSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            store: StoreSettings::default(),
            messages: MessageSettings::default(),
            incidents: IncidentSettings::default(),
            scheduler: SchedulerSettings::default(),
            outbox: OutboxSettings::default(),
            reports: ReportSettings::default(),
            services: Vec::new(),
            severity: SeverityTable::default(),
            classify: runbook_rules(),
            roles: sections::runbook_roles(),
            people: BTreeMap::new(),
            server: ServerSettings::default(),
            slack: SlackSettings::default(),
            discord: DiscordSettings::default(),
            kubernetes: KubernetesSettings::default(),
            helm: HelmSettings::default(),
            assess: AssessSettings::default(),
            scale: ScaleSettings::default(),
            actions: Vec::new(),
            prometheus: PrometheusSettings::default(),
            diagnose: DiagnoseSettings::default(),
            approvals: ApprovalSettings::default(),
            jobs: Vec::new(),
            verification: VerificationSettings::default(),
            alerts: AlertSettings::default(),
            log: LogSettings::default(),
            github: GithubSettings::default(),
            followups: FollowupSettings::default(),
            jira: JiraSettings::default(),
            web: WebSettings::default(),
            pagerduty: PagerDutySettings::default(),
            opsgenie: OpsgenieSettings::default(),
        }
    }
}

/// Why the settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file does not exist.
    #[error("config file {} not found (copy bot.toml.example to start)", .0.display())]
    NotFound(PathBuf),
    /// The file is not valid TOML, or the sources could not be merged.
    #[error("{}: {message}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the config crate said, on one line, without the file's lines (they may hold a
        /// secret) or its name (shown once, before it).
        message: String,
    },
    /// A key has a bad value, is unknown, or contradicts another key.
    #[error("{}: {key}: {message}", origin(.path, .variable.as_deref()))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The `FIREWATCH__…` environment variable the value came from, when one set the key.
        variable: Option<String>,
        /// The key, like `severity.p1.update_every`.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// Crate-wide result for config loading.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Settings {
    /// Loads `path` over the defaults, then `FIREWATCH__…` environment overrides, and checks it.
    ///
    /// # Errors
    /// [`Error`] naming the file and the key at fault.
    pub fn load(path: &Path) -> Result<Self> {
        Self::load_with_env(path, std::env::vars())
    }

    /// [`Settings::load`] with the environment given explicitly (for tests).
    ///
    /// # Errors
    /// As [`Settings::load`].
    pub fn load_with_env(
        path: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::NotFound(path.to_owned()));
        }
        let read = |source: config::ConfigError| Error::Read {
            path: path.to_owned(),
            message: read_message(&source.to_string()),
        };
        let defaults = config::Config::try_from(&Settings::default()).map_err(read)?;
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("FIREWATCH__"))
            .collect();
        let variables: Vec<String> = env.keys().cloned().collect();
        let variable = |key: &str| variable_of(&variables, key);
        let merged = config::Config::builder()
            .add_source(defaults)
            .add_source(config::File::from(path).format(config::FileFormat::Toml))
            .add_source(
                config::Environment::with_prefix("FIREWATCH")
                    .prefix_separator("__")
                    .separator("__")
                    .source(Some(env)),
            )
            .build()
            .map_err(read)?;
        let mut settings: Settings = serde_path_to_error::deserialize(merged).map_err(|e| {
            let (key, message) = describe(e.path().to_string(), e.inner().to_string());
            Error::Invalid {
                path: path.to_owned(),
                variable: variable(&key),
                key,
                message,
            }
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let invalid = |(key, message): (String, String)| Error::Invalid {
            path: path.to_owned(),
            variable: variable(&key),
            key,
            message,
        };
        settings.read_secret_files(base).map_err(invalid)?;
        settings.check().map_err(invalid)?;
        settings.resolve_paths(base);
        Ok(settings)
    }

    /// The service `--service` falls back to.
    pub fn default_service(&self) -> Option<&ServiceSettings> {
        match &self.incidents.default_service {
            Some(name) => self.services.iter().find(|s| &s.name == name),
            None => self.services.first(),
        }
    }

    /// Checks what serde cannot: references between keys.
    fn check(&self) -> std::result::Result<(), (String, String)> {
        if self.services.is_empty() {
            return Err((
                "services".into(),
                "at least one [[services]] entry is needed".into(),
            ));
        }
        let mut names = BTreeSet::new();
        for (i, service) in self.services.iter().enumerate() {
            if !is_service_name(&service.name) {
                return Err((
                    format!("services[{i}].name"),
                    format!(
                        "'{}' is not a service name (letters, digits, '-', '_')",
                        service.name
                    ),
                ));
            }
            if !names.insert(service.name.as_str()) {
                return Err((
                    format!("services[{i}].name"),
                    format!("service '{}' is defined twice", service.name),
                ));
            }
            self.check_roles(&format!("services[{i}].owners"), &service.owners)?;
            // These go into API paths, PromQL and helm's argv: Kubernetes names only.
            let names = [
                ("namespace", Some(&service.namespace)),
                ("deployment", service.deployment.as_ref()),
                ("helm_release", service.helm_release.as_ref()),
            ];
            for (key, value) in names {
                if let Some(value) = value.filter(|v| !is_kubernetes_name(v)) {
                    return Err((
                        format!("services[{i}].{key}"),
                        format!(
                            "'{value}' is not a Kubernetes name (lowercase letters, digits and '-', \
                             starting and ending with a letter or digit, at most 63 characters)"
                        ),
                    ));
                }
            }
        }
        if let Some(name) = &self.incidents.default_service
            && self.default_service().is_none()
        {
            return Err((
                "incidents.default_service".into(),
                format!("'{name}' is not in [[services]] (known: {})", join(&names)),
            ));
        }
        for (key, level) in self.severity.levels() {
            self.check_roles(&format!("severity.{key}.roles"), &level.roles)?;
            within(
                &format!("severity.{key}.respond_within"),
                level.respond_within,
                MINUTE,
                MONTH,
            )?;
            within(
                &format!("severity.{key}.update_every"),
                level.update_every,
                MINUTE,
                MONTH,
            )?;
        }
        self.check_roles(
            "incidents.escalation_roles",
            &self.incidents.escalation_roles,
        )?;
        self.check_chat_ids()?;
        self.check_people()?;
        within("scheduler.tick", self.scheduler.tick, SECOND, HOUR)?;
        within(
            "outbox.give_up_after",
            self.outbox.give_up_after,
            MINUTE,
            Interval::from_secs(86_400),
        )?;
        within(
            "outbox.send_timeout",
            self.outbox.send_timeout,
            SECOND,
            MINUTE,
        )?;
        within("kubernetes.timeout", self.kubernetes.timeout, SECOND, HOUR)?;
        within("helm.timeout", self.helm.timeout, SECOND, HOUR)?;
        let ten_minutes = Interval::from_secs(600);
        for (key, value, max) in [
            (
                "server.shutdown_grace",
                self.server.shutdown_grace,
                ten_minutes,
            ),
            (
                "server.header_timeout",
                self.server.header_timeout,
                ten_minutes,
            ),
            ("server.body_timeout", self.server.body_timeout, ten_minutes),
            ("server.idle_timeout", self.server.idle_timeout, HOUR),
        ] {
            within(key, value, SECOND, max)?;
        }
        if !(1..=65_536).contains(&self.server.max_connections) {
            return Err((
                "server.max_connections".into(),
                format!(
                    "{} is out of range (1 to 65536)",
                    self.server.max_connections
                ),
            ));
        }
        self.check_ops()?;
        self.check_approvals()?;
        self.check_jobs()?;
        self.check_alerts()?;
        self.check_tracker()?;
        self.check_web()?;
        self.check_paging()?;
        check_url(&self.store.url).map_err(|reason| ("store.url".to_owned(), reason))?;
        self.server.listen.parse::<SocketAddr>().map_err(|_| {
            (
                "server.listen".to_owned(),
                format!(
                    "'{}' is not an address (write it like 0.0.0.0:8080)",
                    self.server.listen
                ),
            )
        })?;
        Ok(())
    }

    /// Makes relative paths relative to the config file's folder, not the working directory.
    fn resolve_paths(&mut self, base: &Path) {
        let resolve = |p: &Path| {
            if p.is_relative() {
                base.join(p)
            } else {
                p.to_owned()
            }
        };
        if let Some(dir) = &self.messages.dir {
            self.messages.dir = Some(resolve(dir));
        }
        self.reports.dir = resolve(&self.reports.dir);
        self.diagnose.profile_dir = resolve(&self.diagnose.profile_dir);
        if let Some(kubeconfig) = &self.kubernetes.kubeconfig {
            self.kubernetes.kubeconfig = Some(resolve(kubeconfig));
        }
        if let Ok(path) = sqlite_path(&self.store.url)
            && path.is_relative()
        {
            self.store.url = StoreUrl::new(format!("sqlite://{}", resolve(path).display()));
        }
    }

    /// Role members are mentioned verbatim (`<@U…>`, `<@&…>`), so they must be ids, not names.
    fn check_chat_ids(&self) -> std::result::Result<(), (String, String)> {
        let slack_id = |id: &str| people::is_slack_id(id, &['U', 'W', 'S']);
        let snowflake = people::is_snowflake;
        for (name, role) in &self.roles {
            if let Some(bad) = role.slack.iter().find(|id| !slack_id(id)) {
                return Err((
                    format!("roles.{name}.slack"),
                    format!("'{bad}' is not a Slack user (U…/W…) or user-group (S…) id"),
                ));
            }
            let discord = role.discord_users.iter().chain(&role.discord_roles);
            if let Some(bad) = discord.clone().find(|id| !snowflake(id)) {
                return Err((
                    format!("roles.{name}"),
                    format!("'{bad}' is not a Discord id (a number like 112233445566778899)"),
                ));
            }
        }
        for (key, value) in [
            ("discord.application_id", &self.discord.application_id),
            ("discord.status_channel_id", &self.discord.status_channel_id),
        ] {
            if let Some(id) = value.as_deref().filter(|id| !snowflake(id)) {
                return Err((key.into(), format!("'{id}' is not a Discord id")));
            }
        }
        Ok(())
    }

    fn check_roles(
        &self,
        key: &str,
        roles: &[String],
    ) -> std::result::Result<(), (String, String)> {
        match roles.iter().find(|r| !self.roles.contains_key(*r)) {
            None => Ok(()),
            Some(role) => Err((
                key.into(),
                format!(
                    "unknown role '{role}' (known: {}; add [roles.{role}] to define it)",
                    join(&self.roles.keys().map(String::as_str).collect())
                ),
            )),
        }
    }
}

const SECOND: Interval = Interval::from_secs(1);
const MINUTE: Interval = Interval::from_secs(60);
const HOUR: Interval = Interval::from_secs(3_600);
const MONTH: Interval = Interval::from_secs(30 * 86_400);

/// Refuses `value` outside `min..=max`, naming `key`.
fn within(
    key: &str,
    value: Interval,
    min: Interval,
    max: Interval,
) -> std::result::Result<(), (String, String)> {
    if value < min || value > max {
        return Err((
            key.to_owned(),
            format!("{value} is out of range ({min} to {max})"),
        ));
    }
    Ok(())
}

fn join(names: &BTreeSet<&str>) -> String {
    names.iter().copied().collect::<Vec<_>>().join(", ")
}

/// An RFC 1123 label, as namespaces, Deployments and Helm releases are named.
fn is_kubernetes_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn is_service_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A list of strings, also accepted as one comma-separated string (as environment variables
/// give it): `"a, b"` is `["a", "b"]`.
///
/// # Errors
/// When the value is neither a list of strings nor a string.
pub fn string_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<String>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of names, or a comma-separated string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Vec<String>, E> {
            Ok(names(v))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<String>()? {
                out.push(item);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(Visitor)
}

/// The names in comma-separated `text`, trimmed, empty ones left out.
fn names(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// [`string_list`] for a list that may be unset: none, and text without a name (an
/// environment variable set to ""), are `None`; an empty list is an empty list.
///
/// # Errors
/// When the value is neither a list of strings nor a string.
pub fn optional_string_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<Vec<String>>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Option<Vec<String>>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of names, or a comma-separated string")
        }
        fn visit_none<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: serde::Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> std::result::Result<Self::Value, D::Error> {
            optional_string_list(deserializer)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
            let names = names(v);
            Ok((!names.is_empty()).then_some(names))
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            seq: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            string_list(serde::de::value::SeqAccessDeserializer::new(seq)).map(Some)
        }
    }
    deserializer.deserialize_any(Visitor)
}

/// Where a bad value came from: the environment variable that set it, else the file.
fn origin(path: &Path, variable: Option<&str>) -> String {
    match variable {
        Some(name) => format!("{name} (environment variable)"),
        None => path.display().to_string(),
    }
}

/// The `FIREWATCH__…` variable among `variables` that sets `key` (`severity.p0.respond_within`
/// is `FIREWATCH__SEVERITY__P0__RESPOND_WITHIN`, in any case).
fn variable_of(variables: &[String], key: &str) -> Option<String> {
    let wanted = format!("FIREWATCH__{}", key.replace('.', "__"));
    variables
        .iter()
        .find(|v| v.eq_ignore_ascii_case(&wanted))
        .cloned()
}

/// The config crate's message for a file it could not read, on one line: without the quoted
/// source lines and without the trailing ` in FILE` the config crate adds (the file is named
/// once, before it).
fn read_message(message: &str) -> String {
    let one_line = without_excerpt(message);
    match one_line.rfind(": in ") {
        Some(at) if !one_line[at + 5..].contains(": ") => one_line[..at].to_owned(),
        _ => one_line,
    }
}

/// A TOML parse error without the quoted source lines: the line at fault may hold a secret.
/// `TOML parse error at line 3, column 13\n  |\n3 | token = "…\n  |  ^\ninvalid string` becomes
/// `TOML parse error at line 3, column 13: invalid string`.
fn without_excerpt(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with('|')
                && !l
                    .split_once(" |")
                    .is_some_and(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
        })
        .collect::<Vec<_>>()
        .join(": ")
}

/// Turns serde's path and the config crate's message into a key and a plain message.
fn describe(path: String, message: String) -> (String, String) {
    // The config crate appends " for key `…`" (and sometimes " in FILE"); the key is shown anyway.
    let message = match message.find(" for key `") {
        Some(at) => message[..at].to_owned(),
        None => message,
    };
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((_, expected)) = rest.split_once('`')
    {
        let expected = expected.trim_start_matches(", ").replace('`', "");
        return (path, format!("unknown key ({expected})"));
    }
    if let Some(field) = message
        .strip_prefix("missing configuration field \"")
        .and_then(|rest| rest.strip_suffix('"'))
    {
        let field = field
            .replace("]", "].")
            .replace("].[", "][")
            .replace("..", ".");
        return (field.trim_end_matches('.').to_owned(), "missing".into());
    }
    let key = if path.is_empty() || path == "." {
        "(top level)".into()
    } else {
        path
    };
    (key, message)
}

#[cfg(test)]
pub(crate) mod tests;
