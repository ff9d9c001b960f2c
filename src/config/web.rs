//! `[web]`: the read-only web pages of `firewatch serve` and who may see them.
//!
//! The status pages (`/status`, `/status.json`, `/status.atom`) are public once the web side is
//! enabled; the internal pages are served only when the section says how people are identified:
//! by a header an authenticating proxy sets (`user_header`), or by HTTP Basic authentication
//! against `[[web.users]]` with argon2 password hashes (`firewatch web-password`).

use serde::{Deserialize, Serialize};

use super::Settings;

/// `[web]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSettings {
    /// Serve the web pages (off by default).
    pub enabled: bool,
    /// The status page's title.
    pub title: String,
    /// The header an authenticating proxy (oauth2-proxy) sets to the signed-in user, such as
    /// `X-Forwarded-User`. firewatch must then be reachable only through that proxy.
    pub user_header: Option<String>,
    /// `[[web.users]]`: people who sign in with HTTP Basic authentication.
    pub users: Vec<WebUser>,
    /// Where people reach the web pages (`https://firewatch.example.com`): links from pages
    /// and from the Atom feed, made absolute with it.
    pub public_url: Option<String>,
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            title: "Service status".into(),
            user_header: None,
            users: Vec::new(),
            public_url: None,
        }
    }
}

/// `[[web.users]]`: one person who may read the internal pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebUser {
    /// The name they sign in with.
    pub name: String,
    /// Their password's argon2 hash as a PHC string (`$argon2id$v=19$…`), printed by
    /// `firewatch web-password`.
    pub password_hash: String,
}

impl Settings {
    /// The absolute address of web page `path` (`/incidents/12`), when the pages are served
    /// and `web.public_url` says where.
    pub fn web_url(&self, path: &str) -> Option<String> {
        let base = self
            .web
            .public_url
            .as_deref()
            .filter(|_| self.web.enabled)?;
        Some(format!("{}{path}", base.trim_end_matches('/')))
    }

    /// Checks `[web]`: one way to identify people, a header name that is one, users with
    /// distinct names and hashes that parse.
    pub(super) fn check_web(&self) -> Result<(), (String, String)> {
        let web = &self.web;
        if web.title.trim().is_empty() {
            return Err(("web.title".into(), "must not be empty".into()));
        }
        if let Some(header) = &web.user_header {
            if http::HeaderName::from_bytes(header.as_bytes()).is_err() || header.is_empty() {
                return Err((
                    "web.user_header".into(),
                    format!("'{header}' is not a header name (write it like X-Forwarded-User)"),
                ));
            }
            if !web.users.is_empty() {
                return Err((
                    "web.user_header".into(),
                    "set either web.user_header (a proxy signs people in) or [[web.users]] \
                     (Basic authentication), not both"
                        .into(),
                ));
            }
        }
        if let Some(url) = &web.public_url {
            let plain = url.starts_with("https://") || url.starts_with("http://");
            if !plain || url.contains(['?', '#', ' ']) {
                return Err((
                    "web.public_url".into(),
                    format!(
                        "'{url}' is not the address of the pages (write it like \
                         https://firewatch.example.com)"
                    ),
                ));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for (i, user) in web.users.iter().enumerate() {
            let key = format!("web.users[{i}]");
            if user.name.is_empty() || user.name.contains(':') || user.name.trim() != user.name {
                return Err((
                    format!("{key}.name"),
                    "must be a non-empty name without ':' or surrounding spaces".into(),
                ));
            }
            if !names.insert(user.name.as_str()) {
                return Err((
                    format!("{key}.name"),
                    format!("'{}' is listed twice", user.name),
                ));
            }
            if let Err(e) = crate::web::password::check_hash(&user.password_hash) {
                return Err((format!("{key}.password_hash"), e));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Settings, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bot.toml");
        let services = "[[services]]\nname = \"freightliner\"\nnamespace = \"freightliner\"\n";
        std::fs::write(&path, format!("{services}\n{text}")).unwrap();
        Settings::load_with_env(&path, std::iter::empty()).map_err(|e| e.to_string())
    }

    #[test]
    fn the_public_address_makes_page_links_absolute_once_the_pages_are_on() {
        let on = load("[web]\nenabled = true\npublic_url = \"https://fw.example.com/\"\n").unwrap();
        assert_eq!(
            on.web_url("/incidents/3").as_deref(),
            Some("https://fw.example.com/incidents/3")
        );
        let off = load("[web]\npublic_url = \"https://fw.example.com\"\n").unwrap();
        assert_eq!(off.web_url("/incidents/3"), None, "no pages, no links");
        for bad in ["fw.example.com", "https://fw.example.com/?x=1", "ftp://fw"] {
            let refused = load(&format!("[web]\npublic_url = \"{bad}\"\n")).unwrap_err();
            assert!(refused.contains("web.public_url"), "{refused}");
        }
    }
}
