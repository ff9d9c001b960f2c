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
/// The base URL is not `https://…` (Slack only calls HTTPS request URLs).
pub fn manifest(base_url: Option<&str>, socket_mode: bool) -> Result<String, String> {
    let base = match (base_url, socket_mode) {
        (Some(url), _) => {
            let url = url.trim().trim_end_matches('/');
            if !url.starts_with("https://") || url.len() <= "https://".len() {
                return Err(format!(
                    "'{url}' is not an https:// URL; Slack only sends requests to HTTPS endpoints"
                ));
            }
            Some(url.to_owned())
        }
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
        // Escaping turns a typed @bob into `<@U…|bob>`, which only /incident-role reads; the
        // other commands take text as typed.
        let escape = name == CommandName::Role;
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
            1,
            "only /incident-role has Slack turn @names into <@U…> mentions"
        );
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
}
