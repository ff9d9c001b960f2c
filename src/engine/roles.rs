//! `/incident-role`: who a mention or name is, then the role change through the state machine
//! ([`crate::incident::lifecycle`] decides; this module only finds the person).

use super::{Caller, Engine, Reply, Result, refuse};
use crate::approval::People;
use crate::command::{CommandName, Mention};
use crate::incident::lifecycle::Event;
use crate::incident::{Actor, IncidentId, Platform, Role};

impl Engine {
    /// `/incident-role ROLE [@person]`: the caller, or the person named, holds `role` from now.
    pub(super) async fn assign_role(
        &self,
        caller: &Caller,
        explicit: Option<IncidentId>,
        role: Role,
        person: Option<Mention>,
    ) -> Result<Vec<Reply>> {
        let person = match person {
            None => caller.actor.clone(),
            Some(mention) => resolve(self.approvals.people(), caller.actor.platform, &mention)
                .map_err(|why| refuse("Who is that?", why))?,
        };
        let event = Event::AssignRole { role, person };
        self.transition(caller, explicit, CommandName::Role, event)
            .await
    }
}

/// The person `mention` names, typed on `platform`: a `<@id>` mention is that account (named as
/// its `[people.NAME]`, else as the mention shows it); a name is the `[people.NAME]`'s account
/// on `platform`, or on the terminal the user of that name.
///
/// # Errors
/// What is wrong with the mention, for the caller.
pub(super) fn resolve(
    people: &People,
    platform: Platform,
    mention: &Mention,
) -> Result<Actor, String> {
    match mention {
        Mention::Account { id, label } => {
            if platform == Platform::Console {
                return Err(format!(
                    "<@{id}> is a Slack or Discord mention; on the terminal name the user (bob)"
                ));
            }
            let mut actor = Actor {
                platform,
                id: id.clone(),
                name: label.clone().unwrap_or_else(|| format!("<@{id}>")),
            };
            if let Some(person) = people.who(&actor) {
                actor.name = person.to_owned();
            }
            Ok(actor)
        }
        Mention::Name(name) => match people.account_on(name, platform) {
            Some((person, id)) => Ok(Actor {
                platform,
                id: id.to_owned(),
                name: person.to_owned(),
            }),
            None if platform == Platform::Console => {
                let mut actor = Actor {
                    platform,
                    id: name.clone(),
                    name: name.clone(),
                };
                if let Some(person) = people.who(&actor) {
                    actor.name = person.to_owned();
                }
                Ok(actor)
            }
            None => Err(format!(
                "'{name}' has no {platform} account in [people.{name}]: mention them (<@…>) or add the account to bot.toml"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::PersonSettings;

    fn people() -> People {
        let mut settings = BTreeMap::new();
        settings.insert(
            "bob".to_owned(),
            PersonSettings {
                slack: vec!["U0BOB".into()],
                discord: vec!["4242".into()],
                console: vec!["robert".into()],
                ..PersonSettings::default()
            },
        );
        People::new(&settings)
    }

    fn mention(text: &str) -> Mention {
        Mention::parse(text).expect("a well-formed mention")
    }

    #[test]
    fn a_mention_resolves_to_the_person_it_links_to() {
        let slack = resolve(&people(), Platform::Slack, &mention("<@U0BOB|bobby>")).unwrap();
        assert_eq!((slack.id.as_str(), slack.name.as_str()), ("U0BOB", "bob"));
        let discord = resolve(&people(), Platform::Discord, &mention("<@!4242>")).unwrap();
        assert_eq!(
            (discord.id.as_str(), discord.name.as_str()),
            ("4242", "bob")
        );
        let stranger = resolve(&people(), Platform::Slack, &mention("<@U0EVE>")).unwrap();
        assert_eq!(
            stranger.name, "<@U0EVE>",
            "shown as a mention the platform renders"
        );
    }

    #[test]
    fn a_name_resolves_to_the_persons_account_on_the_platform() {
        let slack = resolve(&people(), Platform::Slack, &mention("@Bob")).unwrap();
        assert_eq!((slack.id.as_str(), slack.name.as_str()), ("U0BOB", "bob"));
        let console = resolve(&people(), Platform::Console, &mention("robert")).unwrap();
        assert_eq!(
            (console.id.as_str(), console.name.as_str()),
            ("robert", "bob")
        );
        let plain = resolve(&people(), Platform::Console, &mention("carol")).unwrap();
        assert_eq!(plain.id, "carol");
    }

    #[test]
    fn an_unknown_name_on_a_chat_platform_or_a_mention_on_the_terminal_is_refused() {
        let unknown = resolve(&people(), Platform::Slack, &mention("@carol")).unwrap_err();
        assert!(unknown.contains("[people.carol]"), "{unknown}");
        let misplaced = resolve(&people(), Platform::Console, &mention("<@U0BOB>")).unwrap_err();
        assert!(misplaced.contains("on the terminal"), "{misplaced}");
    }
}
