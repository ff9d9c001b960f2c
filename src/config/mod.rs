//! `bot.toml`: built-in defaults, then the file, then `FIREWATCH__SECTION__KEY` environment
//! variables. Unknown keys and bad values are errors that name the key.
//!
//! Owns reading and checking settings; it does not open stores, load templates or reach
//! anything outside.

mod secret;
mod sections;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use secret::Secret;
pub use sections::{
    DiscordMode, DiscordSettings, HelmSettings, IncidentSettings, KubernetesSettings, LogSettings,
    MessageSettings, RoleSettings, ServerSettings, ServiceSettings, SeverityTable, SlackSettings,
    StoreSettings,
};

use crate::incident::severity::Rule;

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
    /// `[[services]]`
    pub services: Vec<ServiceSettings>,
    /// `[severity.p0]` … `[severity.p3]`
    pub severity: SeverityTable,
    /// `[[classify]]`: replaces the default rules when present.
    pub classify: Vec<Rule>,
    /// `[roles.NAME]`: merged with the runbook's roles.
    pub roles: BTreeMap<String, RoleSettings>,
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
    /// `[log]`
    pub log: LogSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            store: StoreSettings::default(),
            messages: MessageSettings::default(),
            incidents: IncidentSettings::default(),
            services: Vec::new(),
            severity: SeverityTable::default(),
            classify: Rule::runbook_defaults(),
            roles: sections::runbook_roles(),
            server: ServerSettings::default(),
            slack: SlackSettings::default(),
            discord: DiscordSettings::default(),
            kubernetes: KubernetesSettings::default(),
            helm: HelmSettings::default(),
            log: LogSettings::default(),
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
    #[error("{}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the config crate said.
        #[source]
        source: config::ConfigError,
    },
    /// A key has a bad value, is unknown, or contradicts another key.
    #[error("{}: {key}: {message}", .path.display())]
    Invalid {
        /// The file (environment overrides count as part of it).
        path: PathBuf,
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
        let read = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        let defaults = config::Config::try_from(&Settings::default()).map_err(read)?;
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("FIREWATCH__"))
            .collect();
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
        let settings: Settings = serde_path_to_error::deserialize(merged).map_err(|e| {
            let (key, message) = describe(e.path().to_string(), e.inner().to_string());
            Error::Invalid {
                path: path.to_owned(),
                key,
                message,
            }
        })?;
        settings.check().map_err(|(key, message)| Error::Invalid {
            path: path.to_owned(),
            key,
            message,
        })?;
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
        }
        if let Some(name) = &self.incidents.default_service
            && self.default_service().is_none()
        {
            return Err((
                "incidents.default_service".into(),
                format!("'{name}' is not in [[services]] (known: {})", join(&names)),
            ));
        }
        for (key, level) in ["p0", "p1", "p2", "p3"].iter().zip(self.severity.levels()) {
            self.check_roles(&format!("severity.{key}.roles"), &level.roles)?;
            if level.update_every.as_secs() < 60 {
                return Err((
                    format!("severity.{key}.update_every"),
                    format!(
                        "{} is too short; updates every minute at most",
                        level.update_every
                    ),
                ));
            }
        }
        let url = &self.store.url;
        if url.trim().is_empty() {
            return Err(("store.url".into(), "must not be empty".into()));
        }
        if let Some((scheme, _)) = url.split_once("://")
            && scheme != "sqlite"
        {
            return Err((
                "store.url".into(),
                format!("'{scheme}://' is not supported; use sqlite://PATH or a file path"),
            ));
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

fn join(names: &BTreeSet<&str>) -> String {
    names.iter().copied().collect::<Vec<_>>().join(", ")
}

fn is_service_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
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
mod tests;
