//! The sections of `bot.toml`, with the runbook's defaults. `bot.toml.example` documents each key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Secret, StoreUrl};
use crate::interval::Interval;

/// `[store]`: where incidents are kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// `sqlite://PATH` or a plain file path (the file is created if missing), or
    /// `postgres://…` for several replicas on one database. Shown everywhere without its
    /// password.
    pub url: StoreUrl,
    /// A file holding the URL (a Kubernetes Secret mount), instead of `url`.
    pub url_file: Option<PathBuf>,
}

/// The store URL when none is configured.
pub const DEFAULT_STORE_URL: &str = "sqlite://firewatch.db";

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            url: StoreUrl::new(DEFAULT_STORE_URL),
            url_file: None,
        }
    }
}

/// `[messages]`: the message templates.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessageSettings {
    /// A folder holding every `*.hbs` template; unset uses the copies built into the binary.
    pub dir: Option<PathBuf>,
}

/// `[incidents]`: defaults for new incidents.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IncidentSettings {
    /// The service an incident affects when `--service` is not given; the first one when unset.
    pub default_service: Option<String>,
    /// The severity when no classification rule matches (`P0` … `P3`).
    pub default_severity: String,
    /// Roles paged, on top of the severity's roles and the service's owners, when nobody
    /// acknowledges an incident within its response target. In the environment, a
    /// comma-separated list.
    #[serde(deserialize_with = "super::string_list")]
    pub escalation_roles: Vec<String>,
}

impl Default for IncidentSettings {
    fn default() -> Self {
        Self {
            default_service: None,
            default_severity: "P2".into(),
            escalation_roles: vec!["cloud-architect".into()],
        }
    }
}

/// `[scheduler]`: the timers (response targets, update reminders).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerSettings {
    /// How often due timers are looked for (1s to 1h).
    pub tick: Interval,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self {
            tick: Interval::from_secs(15),
        }
    }
}

/// `[outbox]`: posts to Slack and Discord channels, kept in the store until the platform takes
/// them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxSettings {
    /// How long a post is retried (5xx answers, timeouts, lost connections, 429s) before it is
    /// given up, logged and put on its incident's timeline (1m to 1d). Answers only the caller
    /// sees are bound to the platform's own, shorter limit (Discord's 15-minute token).
    pub give_up_after: Interval,
    /// How long one try may wait for the platform's answer before it counts as failed (1s to 1m).
    pub send_timeout: Interval,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        Self {
            give_up_after: Interval::from_secs(30 * 60),
            send_timeout: Interval::from_secs(10),
        }
    }
}

/// `[reports]`: post-incident reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSettings {
    /// The folder reports are written to (created if missing).
    pub dir: PathBuf,
    /// Whether the report is also committed to the service's GitHub repository: `off`, `pr`
    /// (a branch and a pull request) or `commit` (straight to the default branch).
    pub github: super::ReportMode,
    /// The folder in the repository the report goes to, under the local file's name.
    pub repo_path: String,
}

impl Default for ReportSettings {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("docs/incidents"),
            github: super::ReportMode::Off,
            repo_path: "docs/incidents".to_owned(),
        }
    }
}

/// `[[services]]`: one entry of the service catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    /// The name used in `--service` and messages.
    pub name: String,
    /// Kubernetes namespace.
    pub namespace: String,
    /// Deployment name; defaults to the service name.
    #[serde(default)]
    pub deployment: Option<String>,
    /// Helm release name; defaults to the service name.
    #[serde(default)]
    pub helm_release: Option<String>,
    /// URLs `/incident-verify` probes.
    #[serde(default)]
    pub health_urls: Vec<String>,
    /// Roles that own the service; paged with the severity's roles.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Where incidents from this service's alerts are opened (as `alerts.channel`, which
    /// applies when unset).
    #[serde(default)]
    pub alerts_channel: Option<String>,
    /// The GitHub repository (`owner/name`) this service's action items are filed in
    /// (`[github] repo` applies when unset).
    #[serde(default)]
    pub github_repo: Option<String>,
    /// The Jira project key this service's action items are filed in (`[jira] project`
    /// applies when unset).
    #[serde(default)]
    pub jira_project: Option<String>,
    /// The PagerDuty routing key this service's pages go to, instead of
    /// `pagerduty.routing_key`.
    #[serde(default)]
    pub pagerduty_routing_key: Option<Secret>,
}

/// `[roles.NAME]`: who a role is on each platform.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoleSettings {
    /// What the role does, for help texts.
    pub description: String,
    /// Slack user ids (`U…`) and user-group ids (`S…`) to mention.
    pub slack: Vec<String>,
    /// Discord user ids to mention.
    pub discord_users: Vec<String>,
    /// Discord role ids to mention.
    pub discord_roles: Vec<String>,
    /// Terminal (`firewatch console`) user names: a console user is matched by the name it runs
    /// as (`--user`), for approvals.
    pub console: Vec<String>,
    /// People (`[people.NAME]`) in the role: all their accounts are members, on every platform.
    pub people: Vec<String>,
    /// Opsgenie teams paged as responders when the role is paged.
    pub opsgenie_teams: Vec<String>,
    /// The routing key of the role's own PagerDuty service: when the role is paged, it gets
    /// a page of its own there (`FIREWATCH__ROLES__NAME__PAGERDUTY_ROUTING_KEY`).
    pub pagerduty_routing_key: Option<Secret>,
    /// A file holding `pagerduty_routing_key`.
    pub pagerduty_routing_key_file: Option<PathBuf>,
}

/// The roles of the runbook, with empty platform mappings.
pub fn runbook_roles() -> BTreeMap<String, RoleSettings> {
    [
        (
            "devops-troubleshooter",
            "first responder for production incidents",
        ),
        ("performance-engineer", "latency, capacity and load"),
        ("security-auditor", "breaches, access and data exposure"),
        ("golang-pro", "the service's code"),
        ("cloud-architect", "infrastructure and cloud resources"),
        ("deployment-engineer", "releases, Helm and rollbacks"),
        ("test-automator", "smoke and load tests"),
        ("api-documenter", "API docs and status-page wording"),
    ]
    .into_iter()
    .map(|(name, description)| {
        (
            name.to_owned(),
            RoleSettings {
                description: description.into(),
                ..RoleSettings::default()
            },
        )
    })
    .collect()
}

/// `[server]`: the HTTP server of `firewatch serve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to listen on.
    pub listen: String,
    /// On SIGTERM or Ctrl-C, how long commands in flight may take to finish (1s to 10m). Keep
    /// it below the pod's `terminationGracePeriodSeconds`.
    pub shutdown_grace: Interval,
    /// How long a client has to send a request's headers, from the connection's start or the
    /// request's first byte (1s to 10m); a connection that takes longer is closed.
    pub header_timeout: Interval,
    /// How long a client has to send a request's whole body once its headers are in (1s to
    /// 10m); a body that takes longer is answered 408 and its connection closed.
    pub body_timeout: Interval,
    /// How long a kept-alive connection may wait for its next request (1s to 1h).
    pub idle_timeout: Interval,
    /// How many connections are served at once (1 to 65 536); more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:8080".into(),
            shutdown_grace: Interval::from_secs(20),
            header_timeout: Interval::from_secs(10),
            body_timeout: Interval::from_secs(10),
            idle_timeout: Interval::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// `[slack]`: the Slack app firewatch answers as (`firewatch serve`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlackSettings {
    /// Web API base URL.
    pub api_url: String,
    /// Bot token (`xoxb-…`); set it with `FIREWATCH__SLACK__BOT_TOKEN`.
    pub bot_token: Option<Secret>,
    /// Signing secret; set it with `FIREWATCH__SLACK__SIGNING_SECRET`.
    pub signing_secret: Option<Secret>,
    /// App-level token (`xapp-…`) for Socket Mode.
    pub app_token: Option<Secret>,
    /// A file holding the bot token (a Kubernetes Secret mount), instead of `bot_token`.
    pub bot_token_file: Option<PathBuf>,
    /// A file holding the signing secret, instead of `signing_secret`.
    pub signing_secret_file: Option<PathBuf>,
    /// A file holding the app-level token, instead of `app_token`.
    pub app_token_file: Option<PathBuf>,
    /// Channel that also receives the 🚨 of every `/incident-assess` (incidents from alerts open
    /// in `[alerts]` channel).
    pub alerts_channel: Option<String>,
    /// Open a dedicated channel per incident.
    pub create_incident_channels: bool,
    /// The workspaces (team ids, `T…`) whose commands and button presses are taken; a request
    /// from another workspace is refused before it is stored. Empty: any workspace the app is
    /// installed in (`check-config` and `serve` warn).
    #[serde(deserialize_with = "super::string_list")]
    pub team_ids: Vec<String>,
}

impl Default for SlackSettings {
    fn default() -> Self {
        Self {
            api_url: "https://slack.com/api/".into(),
            bot_token: None,
            signing_secret: None,
            app_token: None,
            bot_token_file: None,
            signing_secret_file: None,
            app_token_file: None,
            alerts_channel: None,
            create_incident_channels: false,
            team_ids: Vec::new(),
        }
    }
}

/// How the Discord adapter receives commands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DiscordMode {
    /// Interactions over HTTP (`POST /discord/interactions`).
    #[default]
    Http,
    /// The gateway websocket, for teams without a public URL.
    Gateway,
}

impl<'de> Deserialize<'de> for DiscordMode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match String::deserialize(deserializer)?.as_str() {
            "http" => Ok(DiscordMode::Http),
            "gateway" => Ok(DiscordMode::Gateway),
            other => Err(serde::de::Error::custom(format!(
                "'{other}' is not a mode (http or gateway)"
            ))),
        }
    }
}

/// `[discord]`: read and checked now; used once the Discord adapter is built.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordSettings {
    /// REST base URL.
    pub api_url: String,
    /// Application id.
    pub application_id: Option<String>,
    /// The application's Ed25519 public key (hex).
    pub public_key: Option<String>,
    /// Bot token; set it with `FIREWATCH__DISCORD__BOT_TOKEN`.
    pub bot_token: Option<Secret>,
    /// A file holding the bot token (a Kubernetes Secret mount), instead of `bot_token`.
    pub bot_token_file: Option<PathBuf>,
    /// Channel that mirrors every status message.
    pub status_channel_id: Option<String>,
    /// `http` or `gateway`.
    pub mode: DiscordMode,
    /// The servers (guild ids) whose interactions are taken; one from another server, or from
    /// a direct message, is refused before it is stored. Empty: any server the application is
    /// in, and direct messages (`check-config` and `serve` warn).
    #[serde(deserialize_with = "super::string_list")]
    pub guild_ids: Vec<String>,
}

impl Default for DiscordSettings {
    fn default() -> Self {
        Self {
            api_url: "https://discord.com".into(),
            application_id: None,
            public_key: None,
            bot_token: None,
            bot_token_file: None,
            status_channel_id: None,
            mode: DiscordMode::Http,
            guild_ids: Vec::new(),
        }
    }
}

/// `[kubernetes]`: read and checked now; used once cluster operations are built.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesSettings {
    /// kubeconfig path; `KUBECONFIG` or in-cluster config when unset.
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context; the current one when unset.
    pub context: Option<String>,
    /// Timeout of every API call.
    pub timeout: Interval,
}

impl Default for KubernetesSettings {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            context: None,
            timeout: Interval::from_secs(10),
        }
    }
}

/// `[helm]`: read and checked now; used once rollbacks are built.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HelmSettings {
    /// The helm CLI.
    pub binary: PathBuf,
    /// `--timeout` for `helm rollback --wait`.
    pub timeout: Interval,
}

impl Default for HelmSettings {
    fn default() -> Self {
        Self {
            binary: "helm".into(),
            timeout: Interval::from_secs(300),
        }
    }
}

/// `[log]`: diagnostics on stderr.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// A `tracing` filter (`info`, `firewatch=debug`); `RUST_LOG` wins when set.
    pub level: String,
    /// `text` (for people) or `json` (one JSON object per line, for log collectors).
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines, coloured only when stderr is a terminal and `NO_COLOR` is unset.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields`, `target`, `spans`.
    Json,
}

impl<'de> Deserialize<'de> for LogFormat {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match String::deserialize(deserializer)?.as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(serde::de::Error::custom(format!(
                "'{other}' is not a log format (text or json)"
            ))),
        }
    }
}
