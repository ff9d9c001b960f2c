//! Incident channels (`slack.create_incident_channels`): `/incident-assess` opens
//! `#inc-YYYYMMDD-<slug>`, invites the paged roles' users and the reporter, binds the incident to
//! it (so later commands typed there act on it), and leaves a pointer where it was reported
//! (through the outbox, in order with that channel's other posts).

use chrono::{DateTime, Utc};

use super::{Slack, blocks, outbox};
use crate::engine::{Audience, Caller, Reply};
use crate::error_chain;
use crate::incident::{ChannelRef, IncidentId, Platform};
use crate::message::Message;

/// Slack's longest channel name.
const LONGEST_NAME: usize = 80;

/// `inc-20261129-api-returning-500s`: lowercase letters, digits and single hyphens.
pub fn channel_name(opened: DateTime<Utc>, summary: &str) -> String {
    let prefix = format!("inc-{}-", opened.format("%Y%m%d"));
    let mut slug = String::new();
    for c in summary.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if prefix.len() + slug.len() >= LONGEST_NAME {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug = if slug.is_empty() { "incident" } else { slug };
    let mut name = format!("{prefix}{slug}");
    name.truncate(LONGEST_NAME);
    name
}

/// Moves a just-opened incident into its own channel; returns the replies to deliver. When
/// anything fails the incident stays where it was reported, and the caller is told why.
pub(super) async fn open_for_incident(
    slack: &Slack,
    caller: &Caller,
    replies: Vec<Reply>,
) -> Vec<Reply> {
    let Some((id, paged)) = replies
        .iter()
        .find_map(|r| match (&r.audience, r.message.incident) {
            (Audience::Channel(_), Some(id)) => Some((id, r.message.paged_roles.clone())),
            _ => None,
        })
    else {
        return replies;
    };
    match create(slack, caller, id, &paged).await {
        Ok(channel) => {
            let pointer = blocks::with_channel_link(
                &format!("🚨 Incident {id} is being handled in"),
                &channel.id,
            );
            let summary = format!("🚨 Incident {id} is being handled in #{}", channel.id);
            let post = outbox::content_post(
                &slack.posts,
                &caller.channel.id,
                &pointer,
                &summary,
                Some(id),
            );
            slack.posts.send(vec![post]).await;
            replies
                .into_iter()
                .map(|reply| match reply.audience {
                    Audience::Channel(_) if reply.message.incident == Some(id) => Reply {
                        audience: Audience::Channel(channel.clone()),
                        message: reply.message,
                    },
                    _ => reply,
                })
                .collect()
        }
        Err(reason) => {
            tracing::warn!(incident = %id, %reason, "could not open an incident channel");
            let mut replies = replies;
            replies.push(Reply {
                audience: Audience::Caller,
                message: Message::notice(
                    "⚠️ firewatch could not open an incident channel",
                    &format!("{reason}. The incident stays in this channel."),
                ),
            });
            replies
        }
    }
}

async fn create(
    slack: &Slack,
    caller: &Caller,
    id: IncidentId,
    paged: &[String],
) -> Result<ChannelRef, String> {
    let incident = slack
        .engine
        .incident(id)
        .await
        .map_err(|e| error_chain(&e))?
        .ok_or_else(|| format!("incident {id} is gone"))?;
    let base = channel_name(incident.opened.at, &incident.summary);
    let created = match slack.api.create_channel(&base).await {
        Err(super::api::Error::Api(code)) if code == "name_taken" => {
            let suffix = format!("-{}", id.get());
            let keep = LONGEST_NAME.saturating_sub(suffix.len());
            let numbered = format!(
                "{}{suffix}",
                base[..base.len().min(keep)].trim_end_matches('-')
            );
            slack.api.create_channel(&numbered).await
        }
        other => other,
    }
    .map_err(|e| format!("creating the channel failed: {e}"))?;
    let mut users = blocks::users(&slack.roles, paged);
    users.push(caller.actor.id.clone());
    users.sort();
    users.dedup();
    let left_out = slack.api.invite(&created, &users).await;
    if !left_out.is_empty() {
        // The channel exists and the incident can live there; people can join by hand.
        let who: Vec<String> = left_out.iter().map(|(u, e)| format!("{u} ({e})")).collect();
        tracing::warn!(incident = %id, left_out = %who.join(", "), "could not invite everyone paged");
    }
    let channel = ChannelRef {
        platform: Platform::Slack,
        id: created,
    };
    slack
        .engine
        .bind_channel(id, &channel, &caller.actor)
        .await
        .map_err(|e| {
            format!(
                "binding the incident to the channel failed: {}",
                error_chain(&e)
            )
        })?;
    Ok(channel)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn channel_names_are_dated_slugs_within_slacks_rules() {
        let at = Utc.with_ymd_and_hms(2026, 11, 29, 3, 0, 0).unwrap();
        assert_eq!(
            channel_name(at, "API returning 500s since the last deploy!"),
            "inc-20261129-api-returning-500s-since-the-last-deploy"
        );
        assert_eq!(channel_name(at, "🔥🔥"), "inc-20261129-incident");
        let long = channel_name(at, &"checkout ".repeat(30));
        assert!(long.len() <= 80 && !long.ends_with('-'), "{long}");
        assert_eq!(
            channel_name(at, "Ünïcode  ümlauts"),
            "inc-20261129-n-code-mlauts"
        );
    }
}
