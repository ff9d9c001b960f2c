//! `firewatch slack-manifest`: the Slack app manifest (YAML) declaring every slash command, the
//! interactivity URL and exactly the scopes the adapter uses.

use crate::command::CommandName;

/// Bot scopes and why the adapter needs each.
pub const SCOPES: [(&str, &str); 5] = [
    (
        "commands",
        "receive the /incident-* and /performance-test slash commands",
    ),
    ("chat:write", "post alerts, updates and answers"),
    (
        "chat:write.public",
        "post into public channels (the alerts channel) without being invited",
    ),
    (
        "channels:manage",
        "create #inc-… incident channels and invite the paged roles",
    ),
    (
        "users:read",
        "name people in the timeline when Socket Mode leaves their handle out",
    ),
];

/// The manifest for an app reached at `base_url` (`https://firewatch.example.com`), or over
/// Socket Mode (no public URL) when `socket_mode` is set.
///
/// # Errors
/// No base URL without `--socket-mode`, or one with it (Socket Mode uses none); a base URL that
/// is not a bare `https://host[:port]` (Slack only calls HTTPS request URLs, and firewatch adds
/// the paths itself).
pub fn manifest(base_url: Option<&str>, socket_mode: bool) -> Result<String, String> {
    let base = match (base_url, socket_mode) {
        (Some(url), true) => {
            return Err(format!(
                "--socket-mode declares no request URLs, so '{url}' would not be used: leave it \
                 out for Socket Mode, or drop --socket-mode to have Slack call {url}"
            ));
        }
        (Some(url), false) => Some(base(url)?),
        (None, true) => None,
        (None, false) => {
            return Err(
                "give the public base URL (e.g. https://firewatch.example.com) or --socket-mode"
                    .into(),
            );
        }
    };
    let mut yaml = String::new();
    yaml.push_str(
        "# Slack app manifest for firewatch. Create the app at https://api.slack.com/apps\n",
    );
    yaml.push_str(
        "# (\"From an app manifest\"), install it, then set FIREWATCH__SLACK__BOT_TOKEN and\n",
    );
    yaml.push_str(
        "# FIREWATCH__SLACK__SIGNING_SECRET (and FIREWATCH__SLACK__APP_TOKEN for Socket Mode).\n",
    );
    yaml.push_str("display_information:\n");
    yaml.push_str("  name: firewatch\n");
    yaml.push_str("  description: \"Incident response for services on Kubernetes\"\n");
    yaml.push_str("  background_color: \"#B42318\"\n");
    yaml.push_str("features:\n");
    yaml.push_str("  bot_user:\n    display_name: firewatch\n    always_online: true\n");
    yaml.push_str("  slash_commands:\n");
    for name in CommandName::ALL {
        yaml.push_str(&format!("    - command: {name}\n"));
        if let Some(base) = &base {
            yaml.push_str(&format!(
                "      url: {}\n",
                quoted(&format!("{base}/slack/commands"))
            ));
        }
        yaml.push_str(&format!("      description: {}\n", quoted(name.summary())));
        let hint = name
            .usage()
            .split_once(' ')
            .map(|(_, rest)| rest)
            .unwrap_or("");
        if !hint.is_empty() {
            yaml.push_str(&format!("      usage_hint: {}\n", quoted(hint)));
        }
        // Escaping turns a typed @bob into `<@U…|bob>`, which only /incident-role and
        // /incident-page read; the other commands take text as typed.
        let escape = matches!(name, CommandName::Role | CommandName::Page);
        yaml.push_str(&format!("      should_escape: {escape}\n"));
    }
    yaml.push_str("oauth_config:\n  scopes:\n    bot:\n");
    for (scope, why) in SCOPES {
        yaml.push_str(&format!("      - {scope} # {why}\n"));
    }
    yaml.push_str("settings:\n  interactivity:\n    is_enabled: true\n");
    if let Some(base) = &base {
        yaml.push_str(&format!(
            "    request_url: {}\n",
            quoted(&format!("{base}/slack/interactions"))
        ));
    }
    yaml.push_str("  org_deploy_enabled: false\n");
    yaml.push_str(&format!("  socket_mode_enabled: {socket_mode}\n"));
    yaml.push_str("  token_rotation_enabled: false\n");
    Ok(yaml)
}

/// The base URL without its trailing slash, when it is `https://host[:port]`.
fn base(url: &str) -> Result<String, String> {
    let url = url.trim();
    let Some(rest) = url.strip_prefix("https://") else {
        return Err(format!(
            "'{url}' is not an https:// URL; Slack only sends requests to HTTPS endpoints"
        ));
    };
    let host = rest.strip_suffix('/').unwrap_or(rest);
    let problem = if host.is_empty() {
        Some("it has no host")
    } else if host.contains(char::is_whitespace) {
        Some("it contains a space")
    } else if host.contains('?') {
        Some("it has a query (?…)")
    } else if host.contains('#') {
        Some("it has a fragment (#…)")
    } else if host.contains('/') {
        Some("it has a path; firewatch adds /slack/commands and /slack/interactions itself")
    } else if host.contains('@') {
        Some("it has a user name (…@)")
    } else {
        None
    };
    match problem {
        Some(why) => Err(format!(
            "'{url}' is not a base URL ({why}); give only https://host[:port], e.g. \
             https://firewatch.example.com"
        )),
        None => Ok(format!("https://{host}")),
    }
}

/// A YAML double-quoted scalar (JSON's string syntax is valid YAML).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_declares_every_command_the_urls_and_the_scopes() {
        let yaml = manifest(Some("https://fw.example.com/"), false).unwrap();
        for name in CommandName::ALL {
            assert!(yaml.contains(&format!("- command: {name}\n")));
        }
        assert_eq!(
            yaml.matches("url: \"https://fw.example.com/slack/commands\"")
                .count(),
            CommandName::ALL.len()
        );
        assert!(yaml.contains("request_url: \"https://fw.example.com/slack/interactions\""));
        assert!(yaml.contains("usage_hint: \"<description> [--sev P0..P3] [--service NAME]\""));
        assert!(yaml.contains("- chat:write # "));
        assert!(yaml.contains("socket_mode_enabled: false"));
        assert_eq!(
            yaml.matches("should_escape: true").count(),
            2,
            "only /incident-role and /incident-page have Slack turn @names into <@U…> mentions"
        );
        let page = yaml.split("- command: /incident-page\n").nth(1).unwrap();
        let page = page.split("- command:").next().unwrap();
        assert!(page.contains("should_escape: true"), "{page}");
        let role = yaml.split("- command: /incident-role\n").nth(1).unwrap();
        let role = role.split("- command:").next().unwrap();
        assert!(role.contains("should_escape: true"), "{role}");
    }

    #[test]
    fn socket_mode_needs_no_url_and_plain_http_is_refused() {
        let yaml = manifest(None, true).unwrap();
        assert!(!yaml.contains("url:") && yaml.contains("socket_mode_enabled: true"));
        assert!(manifest(Some("http://fw.example.com"), false).is_err());
        assert!(manifest(None, false).is_err());
    }

    #[test]
    fn a_base_url_with_more_than_scheme_host_and_port_is_refused_saying_what() {
        for (url, why) in [
            ("https://fw.example.com/firewatch", "it has a path"),
            ("https://fw.example.com/?team=1", "it has a query"),
            ("https://fw.example.com#top", "it has a fragment"),
            ("https://fw example.com", "it contains a space"),
            ("https://", "it has no host"),
            ("https://me@fw.example.com", "it has a user name"),
        ] {
            let e = manifest(Some(url), false).unwrap_err();
            assert!(e.contains(why) && e.contains(url), "{url}: {e}");
        }
        let yaml = manifest(Some(" https://fw.example.com:8443/ "), false).unwrap();
        assert!(yaml.contains("url: \"https://fw.example.com:8443/slack/commands\""));
    }

    #[test]
    fn socket_mode_with_a_url_says_the_url_would_not_be_used() {
        let e = manifest(Some("https://fw.example.com"), true).unwrap_err();
        assert!(
            e.contains("'https://fw.example.com' would not be used"),
            "{e}"
        );
    }
}
