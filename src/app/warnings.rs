//! What `check-config` and `serve` warn about: settings that load and work, but leave production
//! changes approvable by anyone, take chat requests from any workspace or server, or page
//! without hearing back from the pager. They stay
//! the defaults so that existing setups keep working; the warnings say what to set instead.

use crate::approval;
use crate::config::Settings;

/// One line per setting to tighten, for `check-config` (stderr) and `serve` (the log).
pub fn warnings(settings: &Settings) -> Vec<String> {
    let mut said = Vec::new();
    for (key, severities) in approval::open_to_anyone(&settings.approvals) {
        let at: Vec<&str> = severities.iter().map(|s| s.as_str()).collect();
        said.push(format!(
            "{key}: anyone but the requester may approve these production changes (at {}): no \
             approvers or approver_ids are listed. Name who may, e.g. approvers = \
             [\"deployment-engineer\"]",
            at.join(", ")
        ));
    }
    let slack = &settings.slack;
    let slack_used =
        slack.bot_token.is_some() || slack.signing_secret.is_some() || slack.app_token.is_some();
    if slack_used && slack.team_ids.is_empty() {
        said.push(
            "slack.team_ids is empty: commands and button presses from every Slack workspace the \
             app is installed in are taken. Set it to your workspace's id (T…)"
                .into(),
        );
    }
    let discord = &settings.discord;
    if discord.application_id.is_some() && discord.guild_ids.is_empty() {
        said.push(
            "discord.guild_ids is empty: interactions from every Discord server the application \
             is in, and from direct messages, are taken. Set it to your server's id"
                .into(),
        );
    }
    if settings.uses_pagerduty() && settings.pagerduty.webhook_secret.is_none() {
        said.push(
            "pagerduty.webhook_secret is not set: pages go out to PagerDuty, but an \
             acknowledgement or resolution made there does not reach firewatch. Subscribe a \
             webhook to POST /pagerduty/webhooks and set FIREWATCH__PAGERDUTY__WEBHOOK_SECRET"
                .into(),
        );
    }
    if settings.opsgenie.api_key.is_some() && settings.opsgenie.webhook_token.is_none() {
        said.push(
            "opsgenie.webhook_token is not set: pages go out to Opsgenie, but an acknowledgement \
             or close made there does not reach firewatch. Add a Webhook integration posting to \
             POST /opsgenie/webhooks and set FIREWATCH__OPSGENIE__WEBHOOK_TOKEN"
                .into(),
        );
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ApprovalRule, Secret};

    #[test]
    fn open_approvals_and_unscoped_platforms_are_warned_about_until_set() {
        let mut settings = Settings::default();
        let said = warnings(&settings);
        assert_eq!(said.len(), 4, "{said:?}");
        assert!(
            said[0].starts_with("approvals.rollback: anyone but the requester may approve")
                && said[0].contains("(at P0, P1, P2, P3)"),
            "{said:?}"
        );
        // Scaling needs no approval at P0/P1 by default: only P2 and P3 are open.
        assert!(said[1].starts_with("approvals.scale:") && said[1].contains("(at P2, P3)"));
        // A scale to 0 always needs an approval, so at P0/P1 it is open to anyone.
        assert!(
            said[2].starts_with("approvals.scale (to 0 replicas):")
                && said[2].contains("(at P0, P1)"),
            "{said:?}"
        );
        assert!(said[3].starts_with("approvals.action:"));
        settings.slack.bot_token = Some(Secret::new("xoxb-1"));
        settings.discord.application_id = Some("123456789012345678".into());
        let said = warnings(&settings);
        assert!(
            said.iter()
                .any(|w| w.starts_with("slack.team_ids is empty"))
        );
        assert!(
            said.iter()
                .any(|w| w.starts_with("discord.guild_ids is empty"))
        );

        let closed = ApprovalRule {
            approvers: vec!["deployment-engineer".into()],
            ..ApprovalRule::default()
        };
        settings.approvals.rollback = closed.clone();
        settings.approvals.scale = closed.clone();
        settings.approvals.action = closed;
        settings.slack.team_ids = vec!["T0001".into()];
        settings.discord.guild_ids = vec!["112233445566778899".into()];
        assert_eq!(warnings(&settings), Vec::<String>::new());
    }

    #[test]
    fn paging_without_the_webhook_back_is_warned_about() {
        let mut settings = Settings::default();
        let quiet = warnings(&settings).len();
        settings.pagerduty.routing_key = Some(Secret::new("R0UT1NG"));
        settings.opsgenie.api_key = Some(Secret::new("genie"));
        let said = warnings(&settings);
        assert_eq!(said.len(), quiet + 2, "{said:?}");
        assert!(
            said.iter()
                .any(|w| w.starts_with("pagerduty.webhook_secret is not set"))
        );
        assert!(
            said.iter()
                .any(|w| w.starts_with("opsgenie.webhook_token is not set"))
        );
        settings.pagerduty.webhook_secret = Some(Secret::new("s"));
        settings.opsgenie.webhook_token = Some(Secret::new("t"));
        assert_eq!(warnings(&settings).len(), quiet);
    }
}
