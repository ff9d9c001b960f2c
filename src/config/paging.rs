//! `[pagerduty]` and `[opsgenie]`: paging through PagerDuty's Events API v2 and Opsgenie's
//! Alert API, and their webhooks back (`POST /pagerduty/webhooks`, `POST /opsgenie/webhooks`).
//! `bot.toml.example` documents each key. Per service, `[[services]] pagerduty_routing_key`;
//! per role, `[roles.NAME] opsgenie_teams` and `pagerduty_routing_key`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::files::secret_from_file;
use super::{Secret, Settings};
use crate::incident::Severity;

/// PagerDuty's Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Opsgenie's API (US); the EU one is `https://api.eu.opsgenie.com`.
pub const OPSGENIE_API_URL: &str = "https://api.opsgenie.com";
/// The header Opsgenie's outgoing webhook carries the shared token in, unless configured.
pub const OPSGENIE_WEBHOOK_HEADER: &str = "X-Firewatch-Token";

/// `[pagerduty]`: pages through the Events API v2, acknowledgements back through webhooks v3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PagerDutySettings {
    /// Where events go (`https://events.pagerduty.com/v2/enqueue`; plain http for tests).
    pub events_url: String,
    /// The integration key of the Events API v2 integration, for services without their own
    /// (`FIREWATCH__PAGERDUTY__ROUTING_KEY`).
    pub routing_key: Option<Secret>,
    /// A file holding `routing_key`.
    pub routing_key_file: Option<PathBuf>,
    /// The severities that page (default P0 and P1).
    #[serde(deserialize_with = "severity_list")]
    pub severities: Option<Vec<Severity>>,
    /// The webhook subscription's signing secret (`FIREWATCH__PAGERDUTY__WEBHOOK_SECRET`);
    /// unset, `POST /pagerduty/webhooks` is off (404).
    pub webhook_secret: Option<Secret>,
    /// A file holding `webhook_secret`.
    pub webhook_secret_file: Option<PathBuf>,
}

impl Default for PagerDutySettings {
    fn default() -> Self {
        Self {
            events_url: PAGERDUTY_EVENTS_URL.into(),
            routing_key: None,
            routing_key_file: None,
            severities: None,
            webhook_secret: None,
            webhook_secret_file: None,
        }
    }
}

/// `[opsgenie]`: alerts through the Alert API, acknowledgements back through its webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpsgenieSettings {
    /// The API's base URL: `https://api.opsgenie.com`, or `https://api.eu.opsgenie.com`.
    pub api_url: String,
    /// An API integration's key, sent as `Authorization: GenieKey …`
    /// (`FIREWATCH__OPSGENIE__API_KEY`); unset, nothing is paged through Opsgenie.
    pub api_key: Option<Secret>,
    /// A file holding `api_key`.
    pub api_key_file: Option<PathBuf>,
    /// The severities that page (default P0 and P1).
    #[serde(deserialize_with = "severity_list")]
    pub severities: Option<Vec<Severity>>,
    /// The header the outgoing webhook carries `webhook_token` in.
    pub webhook_header: String,
    /// The value the outgoing webhook's header must carry
    /// (`FIREWATCH__OPSGENIE__WEBHOOK_TOKEN`); unset, `POST /opsgenie/webhooks` is off (404).
    pub webhook_token: Option<Secret>,
    /// A file holding `webhook_token`.
    pub webhook_token_file: Option<PathBuf>,
}

impl Default for OpsgenieSettings {
    fn default() -> Self {
        Self {
            api_url: OPSGENIE_API_URL.into(),
            api_key: None,
            api_key_file: None,
            severities: None,
            webhook_header: OPSGENIE_WEBHOOK_HEADER.into(),
            webhook_token: None,
            webhook_token_file: None,
        }
    }
}

/// A list of severities, also accepted as one comma-separated string (as environment
/// variables give it): `"P0, P1"`. Unset, or text naming none, is `None` (the default).
fn severity_list<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<Severity>>, D::Error> {
    let Some(names) = super::optional_string_list(deserializer)? else {
        return Ok(None);
    };
    names
        .iter()
        .map(|name| Severity::parse(name).map_err(serde::de::Error::custom))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The severities that page when none are configured.
const DEFAULT_SEVERITIES: [Severity; 2] = [Severity::P0, Severity::P1];

impl PagerDutySettings {
    /// The severities that page.
    pub fn paged(&self) -> Vec<Severity> {
        self.severities
            .clone()
            .unwrap_or_else(|| DEFAULT_SEVERITIES.to_vec())
    }
}

impl OpsgenieSettings {
    /// The severities that page.
    pub fn paged(&self) -> Vec<Severity> {
        self.severities
            .clone()
            .unwrap_or_else(|| DEFAULT_SEVERITIES.to_vec())
    }
}

impl Settings {
    /// Whether incidents get pages of their own through PagerDuty: a routing key, global or a
    /// service's.
    pub fn pages_pagerduty(&self) -> bool {
        self.pagerduty.routing_key.is_some()
            || self
                .services
                .iter()
                .any(|s| s.pagerduty_routing_key.is_some())
    }

    /// The roles with a PagerDuty service of their own (`[roles.NAME] pagerduty_routing_key`).
    pub fn pagerduty_roles(&self) -> impl Iterator<Item = &str> {
        self.roles
            .iter()
            .filter(|(_, role)| role.pagerduty_routing_key.is_some())
            .map(|(name, _)| name.as_str())
    }

    /// Whether anything goes to PagerDuty: an incident's own page or a role's.
    pub fn uses_pagerduty(&self) -> bool {
        self.pages_pagerduty() || self.pagerduty_roles().next().is_some()
    }

    /// The routing key of role `role`'s own PagerDuty service.
    pub fn role_routing_key(&self, role: &str) -> Option<&Secret> {
        self.roles.get(role)?.pagerduty_routing_key.as_ref()
    }

    /// The routing key of `service`'s pages: its own, else `pagerduty.routing_key`.
    pub fn routing_key(&self, service: &str) -> Option<&Secret> {
        self.services
            .iter()
            .find(|s| s.name == service)
            .and_then(|s| s.pagerduty_routing_key.as_ref())
            .or(self.pagerduty.routing_key.as_ref())
    }

    pub(super) fn read_paging_files(&mut self, base: &Path) -> Result<(), (String, String)> {
        let pd = &mut self.pagerduty;
        secret_from_file(
            "pagerduty.routing_key",
            &mut pd.routing_key,
            &pd.routing_key_file,
            base,
        )?;
        secret_from_file(
            "pagerduty.webhook_secret",
            &mut pd.webhook_secret,
            &pd.webhook_secret_file,
            base,
        )?;
        for (name, role) in &mut self.roles {
            secret_from_file(
                &format!("roles.{name}.pagerduty_routing_key"),
                &mut role.pagerduty_routing_key,
                &role.pagerduty_routing_key_file,
                base,
            )?;
        }
        let og = &mut self.opsgenie;
        secret_from_file("opsgenie.api_key", &mut og.api_key, &og.api_key_file, base)?;
        secret_from_file(
            "opsgenie.webhook_token",
            &mut og.webhook_token,
            &og.webhook_token_file,
            base,
        )
    }

    /// A paged severity needs somewhere to page: with incidents paged through PagerDuty (or
    /// its severities set and no role's service to page), every service needs a routing key,
    /// its own or the global one; Opsgenie's
    /// severities need its API key. URLs must be http(s).
    pub(super) fn check_paging(&self) -> Result<(), (String, String)> {
        let pd = &self.pagerduty;
        // Severities set with only roles' services to page through need no service keys.
        let roles_only = !self.pages_pagerduty() && self.pagerduty_roles().next().is_some();
        if self.pages_pagerduty() || (pd.severities.is_some() && !roles_only) {
            let severities = join_severities(&pd.paged());
            for (i, service) in self.services.iter().enumerate() {
                if !pd.paged().is_empty() && self.routing_key(&service.name).is_none() {
                    return Err((
                        format!("services[{i}].pagerduty_routing_key"),
                        format!(
                            "service '{}' has no PagerDuty routing key, so its {severities} \
                             incidents would page nobody: set pagerduty.routing_key \
                             (FIREWATCH__PAGERDUTY__ROUTING_KEY or routing_key_file) or this \
                             service's pagerduty_routing_key",
                            service.name
                        ),
                    ));
                }
            }
        }
        let og = &self.opsgenie;
        if og.severities.as_ref().is_some_and(|s| !s.is_empty()) && og.api_key.is_none() {
            return Err((
                "opsgenie.api_key".into(),
                format!(
                    "opsgenie.severities pages {} incidents, but no API key is set: set \
                     FIREWATCH__OPSGENIE__API_KEY (or opsgenie.api_key_file)",
                    join_severities(&og.paged())
                ),
            ));
        }
        for (key, url) in [
            ("pagerduty.events_url", &pd.events_url),
            ("opsgenie.api_url", &og.api_url),
        ] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err((key.into(), format!("'{url}' is not an http(s) URL")));
            }
        }
        if og.webhook_header.is_empty()
            || !og
                .webhook_header
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err((
                "opsgenie.webhook_header".into(),
                format!("'{}' is not a header name", og.webhook_header),
            ));
        }
        for (name, person) in &self.people {
            if person
                .opsgenie_user
                .as_ref()
                .is_some_and(|u| u.trim().is_empty())
            {
                return Err((
                    format!("people.{name}.opsgenie_user"),
                    "is empty: give the Opsgenie username (their e-mail) or leave it out".into(),
                ));
            }
        }
        for name in self.pagerduty_roles() {
            // The role's name goes into its page's key (`firewatch-12-dba`).
            let usable = name.len() <= 200
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
            if !usable {
                return Err((
                    format!("roles.{name}.pagerduty_routing_key"),
                    "a role paged through PagerDuty needs a name of letters, digits, '-', '_' \
                     and '.' (it goes into the page's key)"
                        .into(),
                ));
            }
        }
        for (name, role) in &self.roles {
            if let Some(bad) = role.opsgenie_teams.iter().find(|t| t.trim().is_empty()) {
                return Err((
                    format!("roles.{name}.opsgenie_teams"),
                    format!("'{bad}' is not a team name"),
                ));
            }
        }
        Ok(())
    }
}

fn join_severities(severities: &[Severity]) -> String {
    let names: Vec<&str> = severities.iter().map(|s| s.as_str()).collect();
    names.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICES: &str = "[[services]]\nname = \"freightliner\"\nnamespace = \"freightliner-production\"\n\n[[services]]\nname = \"billing\"\nnamespace = \"billing\"\n";

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Settings, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bot.toml");
        std::fs::write(&path, text).unwrap();
        let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        Settings::load_with_env(&path, env).map_err(|e| e.to_string())
    }

    #[test]
    fn paging_is_off_by_default_and_pages_p0_and_p1_once_a_routing_key_is_set() {
        let settings = load(SERVICES, &[]).unwrap();
        assert!(!settings.pages_pagerduty());
        let key = ("FIREWATCH__PAGERDUTY__ROUTING_KEY", "R0UT1NG");
        let settings = load(SERVICES, &[key]).unwrap();
        assert!(settings.pages_pagerduty());
        assert_eq!(settings.pagerduty.paged(), [Severity::P0, Severity::P1]);
        assert_eq!(settings.routing_key("billing").unwrap().expose(), "R0UT1NG");
        assert!(
            !format!("{settings:?}").contains("R0UT1NG"),
            "the key stays secret"
        );
    }

    #[test]
    fn check_config_refuses_a_paged_severity_without_a_routing_key() {
        let text = format!("{SERVICES}\n[pagerduty]\nseverities = [\"P0\"]\n");
        let refused = load(&text, &[]).unwrap_err();
        assert!(
            refused.contains("services[0].pagerduty_routing_key"),
            "{refused}"
        );
        assert!(
            refused.contains("P0 incidents would page nobody"),
            "{refused}"
        );
        // One service with its own key, the other with none: the other is named.
        let text = SERVICES.replacen(
            "namespace = \"freightliner-production\"\n",
            "namespace = \"freightliner-production\"\npagerduty_routing_key = \"K1\"\n",
            1,
        );
        let refused = load(&text, &[]).unwrap_err();
        assert!(
            refused.contains("service 'billing' has no PagerDuty routing key"),
            "{refused}"
        );
        let settings = load(&text, &[("FIREWATCH__PAGERDUTY__ROUTING_KEY", "K2")]).unwrap();
        assert_eq!(settings.routing_key("freightliner").unwrap().expose(), "K1");
        assert_eq!(settings.routing_key("billing").unwrap().expose(), "K2");
        let text = format!("{SERVICES}\n[opsgenie]\nseverities = [\"P1\"]\n");
        let refused = load(&text, &[]).unwrap_err();
        assert!(refused.contains("opsgenie.api_key"), "{refused}");
        // Severities from the environment, as comma-separated text; with only a role's own
        // service to page through, services need no key.
        let roles_only = format!("{SERVICES}\n[roles.dba]\npagerduty_routing_key = \"K3\"\n");
        let env = [("FIREWATCH__PAGERDUTY__SEVERITIES", "P0, P2")];
        let settings = load(&roles_only, &env).unwrap();
        assert_eq!(settings.pagerduty.paged(), [Severity::P0, Severity::P2]);
        let bad = load(
            &roles_only,
            &[("FIREWATCH__PAGERDUTY__SEVERITIES", "P0,P9")],
        );
        assert!(bad.unwrap_err().contains("pagerduty.severities"));
    }

    #[test]
    fn secrets_come_from_files_and_urls_must_be_http() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("key");
        std::fs::write(&file, "FROMFILE\n").unwrap();
        let text = format!(
            "{SERVICES}\n[pagerduty]\nrouting_key_file = \"{}\"\n",
            file.display()
        );
        let settings = load(&text, &[]).unwrap();
        assert_eq!(
            settings.routing_key("billing").unwrap().expose(),
            "FROMFILE"
        );
        // A role's own PagerDuty service: its key from a file, and PagerDuty in use with no
        // service key at all.
        let text = format!(
            "{SERVICES}\n[roles.dba]\npagerduty_routing_key_file = \"{}\"\n",
            file.display()
        );
        let settings = load(&text, &[]).unwrap();
        assert_eq!(
            settings.role_routing_key("dba").unwrap().expose(),
            "FROMFILE"
        );
        assert!(settings.uses_pagerduty() && !settings.pages_pagerduty());
        assert_eq!(settings.pagerduty_roles().collect::<Vec<_>>(), ["dba"]);
        assert!(!format!("{settings:?}").contains("FROMFILE"));
        let text = format!("{SERVICES}\n[opsgenie]\napi_url = \"ftp://x\"\n");
        assert!(load(&text, &[]).unwrap_err().contains("opsgenie.api_url"));
    }
}
