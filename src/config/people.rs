//! Who people are, and where requests may come from: `[people.NAME]` (one person's accounts on
//! every chat platform, so approval rules see one person wherever they act), the people a role
//! lists (`[roles.NAME] people`), approver and requester lists that name people, and the
//! workspaces and servers firewatch serves (`slack.team_ids`, `discord.guild_ids`).
//! `bot.toml.example` documents each key; `approval::Policy::new` and the chat adapters read them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Settings, join};

type Invalid = (String, String);

/// `[people.NAME]`: one person's accounts. Each key takes one id or a list (someone with
/// accounts in two Slack workspaces).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PersonSettings {
    /// Slack user ids (`U…`, `W…`).
    #[serde(deserialize_with = "super::string_list")]
    pub slack: Vec<String>,
    /// Discord user ids.
    #[serde(deserialize_with = "super::string_list")]
    pub discord: Vec<String>,
    /// Terminal user names (`firewatch console --as NAME`).
    #[serde(deserialize_with = "super::string_list")]
    pub console: Vec<String>,
    /// Their GitHub login: action items assigned to them are assigned to it.
    pub github: Option<String>,
    /// Their Jira account: the account id (Cloud) or user name (Data Center).
    pub jira: Option<String>,
    /// Their Opsgenie username (the e-mail they log in with): `/incident-page @NAME` adds them
    /// to the incident's Opsgenie alert as a responder.
    pub opsgenie_user: Option<String>,
}

impl PersonSettings {
    /// Every account, as `(platform, id)`: `("slack", "U…")`.
    pub fn accounts(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.slack
            .iter()
            .map(|id| ("slack", id.as_str()))
            .chain(self.discord.iter().map(|id| ("discord", id.as_str())))
            .chain(self.console.iter().map(|id| ("console", id.as_str())))
    }
}

impl Settings {
    /// People have well-formed accounts that belong to one person each, do not share a name
    /// with a role, and are the people roles list; team and guild ids are ids.
    pub(super) fn check_people(&self) -> Result<(), Invalid> {
        let mut owner: BTreeMap<(&str, &str), &str> = BTreeMap::new();
        for (name, person) in &self.people {
            let key = format!("people.{name}");
            if !is_name(name) {
                return Err((
                    key,
                    format!("'{name}' is not a name (letters, digits, '-', '_', '.')"),
                ));
            }
            if self.roles.contains_key(name) {
                return Err((
                    key,
                    format!(
                        "'{name}' is also a role ([roles.{name}]): approver lists could not tell \
                         them apart; rename one"
                    ),
                ));
            }
            if person.accounts().next().is_none() {
                return Err((
                    key,
                    "names no account (set slack, discord or console)".into(),
                ));
            }
            for (platform, id) in person.accounts() {
                let account_key = format!("{key}.{platform}");
                let fits = match platform {
                    "slack" => is_slack_user(id),
                    "discord" => is_snowflake(id),
                    _ => !id.is_empty() && !id.contains(char::is_whitespace),
                };
                if !fits {
                    let want = match platform {
                        "slack" => "a Slack user id (U… or W…)",
                        "discord" => "a Discord user id (a number like 112233445566778899)",
                        _ => "a terminal user name (no spaces)",
                    };
                    return Err((account_key, format!("'{id}' is not {want}")));
                }
                if let Some(other) = owner.insert((platform, id), name) {
                    return Err((
                        account_key,
                        format!("'{id}' is also people.{other}'s: an account is one person's"),
                    ));
                }
            }
        }
        for (role, settings) in &self.roles {
            if let Some(unknown) = settings
                .people
                .iter()
                .find(|p| !self.people.contains_key(*p))
            {
                return Err((
                    format!("roles.{role}.people"),
                    format!("there is no [people.{unknown}]{}", self.known_people()),
                ));
            }
        }
        self.check_places()
    }

    /// An approver or requester list: each name a role or a person.
    pub(super) fn check_approver_names(&self, key: &str, names: &[String]) -> Result<(), Invalid> {
        match names
            .iter()
            .find(|n| !self.roles.contains_key(*n) && !self.people.contains_key(*n))
        {
            None => Ok(()),
            Some(name) => Err((
                key.into(),
                format!(
                    "'{name}' is neither a role nor a person (roles: {}{}; add [roles.{name}] or \
                     [people.{name}] to define it)",
                    join(&self.roles.keys().map(String::as_str).collect()),
                    self.known_people(),
                ),
            )),
        }
    }

    fn known_people(&self) -> String {
        if self.people.is_empty() {
            String::new()
        } else {
            format!(
                "; people: {}",
                join(&self.people.keys().map(String::as_str).collect())
            )
        }
    }

    /// `slack.team_ids` are team ids, `discord.guild_ids` snowflakes.
    fn check_places(&self) -> Result<(), Invalid> {
        if let Some(bad) = self
            .slack
            .team_ids
            .iter()
            .find(|id| !is_slack_id(id, &['T']))
        {
            return Err((
                "slack.team_ids".into(),
                format!("'{bad}' is not a Slack workspace id (T…, the team_id of its requests)"),
            ));
        }
        if let Some(bad) = self.discord.guild_ids.iter().find(|id| !is_snowflake(id)) {
            return Err((
                "discord.guild_ids".into(),
                format!("'{bad}' is not a Discord server id (a number like 112233445566778899)"),
            ));
        }
        Ok(())
    }
}

/// A Slack id of a kind `kinds` names by its first letter (`T` a workspace, `U`/`W` a user, `S`
/// a user group): that letter, then uppercase letters and digits, three characters at least.
pub(super) fn is_slack_id(id: &str, kinds: &[char]) -> bool {
    id.len() >= 3
        && id.starts_with(kinds)
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A Slack user id: `U…` or `W…` (Enterprise Grid).
pub(super) fn is_slack_user(id: &str) -> bool {
    is_slack_id(id, &['U', 'W'])
}

/// A Discord id: 15 to 21 digits.
pub(super) fn is_snowflake(id: &str) -> bool {
    (15..=21).contains(&id.len()) && id.chars().all(|c| c.is_ascii_digit())
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{WEB, invalid, load};

    #[test]
    fn a_person_has_accounts_on_each_platform_given_as_one_id_or_a_list() {
        let s = load(&format!(
            "{WEB}\n[people.alice]\nslack = \"U0ALICE\"\ndiscord = [\"112233445566778899\"]\n\
             console = \"alice\"\n[people.bob]\nslack = [\"U0BOB\", \"W0BOB\"]\n\
             [roles.sre]\npeople = [\"alice\"]\n[approvals.rollback]\napprovers = [\"sre\", \"bob\"]\n"
        ))
        .expect("loads");
        assert_eq!(s.people["alice"].slack, ["U0ALICE"]);
        assert_eq!(s.people["alice"].discord, ["112233445566778899"]);
        assert_eq!(s.people["bob"].slack, ["U0BOB", "W0BOB"]);
        assert_eq!(s.roles["sre"].people, ["alice"]);
        assert!(s.slack.team_ids.is_empty() && s.discord.guild_ids.is_empty());
    }

    #[test]
    fn bad_people_and_places_name_the_key() {
        for (toml, key, said) in [
            (
                "[people.alice]\nslack = \"@alice\"\n",
                "people.alice.slack",
                "not a Slack user id",
            ),
            (
                "[people.alice]\ndiscord = \"alice\"\n",
                "people.alice.discord",
                "not a Discord user id",
            ),
            ("[people.alice]\n", "people.alice", "names no account"),
            (
                "[people.alice]\nslack = \"U1A\"\n[people.eve]\nslack = \"U1A\"\n",
                "people.eve.slack",
                "'U1A' is also people.alice's",
            ),
            (
                "[people.golang-pro]\nconsole = \"g\"\n",
                "people.golang-pro",
                "is also a role",
            ),
            (
                "[roles.sre]\npeople = [\"nobody\"]\n",
                "roles.sre.people",
                "there is no [people.nobody]",
            ),
            (
                "[approvals.scale]\napprovers = [\"nobody\"]\n",
                "approvals.scale.approvers",
                "'nobody' is neither a role nor a person",
            ),
            (
                "[slack]\nteam_ids = [\"acme\"]\n",
                "slack.team_ids",
                "not a Slack workspace id",
            ),
            (
                "[discord]\nguild_ids = \"general\"\n",
                "discord.guild_ids",
                "not a Discord server id",
            ),
        ] {
            let (k, message) = invalid(&format!("{WEB}\n{toml}"));
            assert_eq!(k, key, "{toml}");
            assert!(message.contains(said), "{toml}: {message}");
        }
    }
}
