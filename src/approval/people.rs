//! Who is who: the people of `[people.NAME]` (one person's accounts across platforms) and the
//! members of each role (`[roles.NAME]`, with the people it lists). Values only, built once from
//! the settings.

use std::collections::{BTreeMap, HashMap};

use crate::config::{PersonSettings, RoleSettings};
use crate::incident::{Actor, Platform};

/// An account: a platform and its id for someone.
type Account = (Platform, String);

/// The people of `[people.NAME]`: which accounts are one person.
#[derive(Debug, Clone, Default)]
pub struct People {
    /// Each linked account's person.
    owner: HashMap<Account, String>,
    /// Each person's accounts.
    accounts: BTreeMap<String, Vec<Account>>,
}

impl People {
    /// The people of `settings` (checked: each account belongs to one person).
    pub fn new(settings: &BTreeMap<String, PersonSettings>) -> Self {
        let mut people = Self::default();
        for (name, person) in settings {
            let accounts: Vec<Account> = person
                .accounts()
                .filter_map(|(platform, id)| Some((Platform::parse(platform)?, id.to_owned())))
                .collect();
            for account in &accounts {
                people.owner.insert(account.clone(), name.clone());
            }
            people.accounts.insert(name.clone(), accounts);
        }
        people
    }

    /// The person `actor` is, when the config links their account to one.
    pub fn who(&self, actor: &Actor) -> Option<&str> {
        self.owner
            .get(&(actor.platform, actor.id.clone()))
            .map(String::as_str)
    }

    /// Whether `a` and `b` are the same person: the same account, or accounts of one
    /// `[people.NAME]`.
    pub fn same(&self, a: &Actor, b: &Actor) -> bool {
        (a.platform == b.platform && a.id == b.id)
            || self
                .who(a)
                .is_some_and(|person| self.who(b) == Some(person))
    }

    /// What one vote per person is counted by: `person:NAME` for a linked account, the account
    /// itself (`slack:U…`) otherwise.
    pub fn key(&self, actor: &Actor) -> String {
        match self.who(actor) {
            Some(person) => format!("person:{person}"),
            None => format!("{}:{}", actor.platform.as_str(), actor.id),
        }
    }

    /// Every account of the person acting as `actor`: theirs, and the others of their person.
    pub fn accounts_of<'a>(&'a self, actor: &'a Actor) -> Vec<(Platform, &'a str)> {
        let mut all = vec![(actor.platform, actor.id.as_str())];
        if let Some(linked) = self.who(actor).and_then(|p| self.accounts.get(p)) {
            all.extend(
                linked
                    .iter()
                    .filter(|(p, id)| !(*p == actor.platform && *id == actor.id))
                    .map(|(p, id)| (*p, id.as_str())),
            );
        }
        all
    }

    /// The account person `name` (`[people.NAME]`, any case) has on `platform`, if any: the
    /// person's name as configured, and the account's id.
    pub fn account_on(&self, name: &str, platform: Platform) -> Option<(&str, &str)> {
        let (person, accounts) = self
            .accounts
            .iter()
            .find(|(person, _)| person.eq_ignore_ascii_case(name))?;
        accounts
            .iter()
            .find(|(p, _)| *p == platform)
            .map(|(_, id)| (person.as_str(), id.as_str()))
    }

    fn named(&self, name: &str) -> &[Account] {
        self.accounts.get(name).map_or(&[], Vec::as_slice)
    }
}

/// Who a role is on each platform: whom approval rules admit, and whom paging mentions.
#[derive(Debug, Clone, Default)]
pub struct Members {
    /// Slack user ids (`U…`) and user-group ids (`S…`).
    pub slack: Vec<String>,
    /// Discord user ids.
    pub discord_users: Vec<String>,
    /// Discord role ids.
    pub discord_roles: Vec<String>,
    /// Terminal user names.
    pub console: Vec<String>,
}

/// Every role's members, by role name.
pub type Roles = BTreeMap<String, Members>;

/// The members of each `[roles.NAME]`, the accounts of the people it lists included.
pub fn roles(
    settings: &BTreeMap<String, RoleSettings>,
    people: &BTreeMap<String, PersonSettings>,
) -> Roles {
    let people = People::new(people);
    settings
        .iter()
        .map(|(name, role)| {
            let mut members = Members {
                slack: role.slack.clone(),
                discord_users: role.discord_users.clone(),
                discord_roles: role.discord_roles.clone(),
                console: role.console.clone(),
            };
            for (platform, id) in role.people.iter().flat_map(|p| people.named(p)) {
                let list = match platform {
                    Platform::Slack => &mut members.slack,
                    Platform::Discord => &mut members.discord_users,
                    Platform::Console => &mut members.console,
                };
                if !list.contains(id) {
                    list.push(id.clone());
                }
            }
            (name.clone(), members)
        })
        .collect()
}

impl Members {
    /// Whether one of `accounts` is a member, or (on Discord) one of the member roles
    /// `discord_roles_held` is.
    pub(super) fn include(
        &self,
        accounts: &[(Platform, &str)],
        discord_roles_held: &[String],
    ) -> bool {
        accounts.iter().any(|(platform, id)| {
            let listed = match platform {
                Platform::Slack => &self.slack,
                Platform::Discord => &self.discord_users,
                Platform::Console => &self.console,
            };
            listed.iter().any(|m| m == id)
        }) || discord_roles_held
            .iter()
            .any(|r| self.discord_roles.contains(r))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The account `id` on `platform`, named `id`.
    pub(in crate::approval) fn actor(platform: Platform, id: &str) -> Actor {
        Actor {
            platform,
            id: id.into(),
            name: id.into(),
        }
    }

    fn alice_and_bob() -> BTreeMap<String, PersonSettings> {
        let mut people = BTreeMap::new();
        people.insert(
            "alice".to_owned(),
            PersonSettings {
                slack: vec!["U0ALICE".into(), "W0ALICE".into()],
                discord: vec!["111111111111111111".into()],
                console: vec!["alice".into()],
                ..PersonSettings::default()
            },
        );
        people.insert(
            "bob".to_owned(),
            PersonSettings {
                slack: vec!["U0BOB".into()],
                ..PersonSettings::default()
            },
        );
        people
    }

    #[test]
    fn linked_accounts_are_one_person_and_unlinked_ones_only_themselves() {
        let people = People::new(&alice_and_bob());
        let slack = actor(Platform::Slack, "U0ALICE");
        let discord = actor(Platform::Discord, "111111111111111111");
        let other_workspace = actor(Platform::Slack, "W0ALICE");
        assert!(people.same(&slack, &discord));
        assert!(people.same(&discord, &other_workspace));
        assert!(!people.same(&slack, &actor(Platform::Slack, "U0BOB")));
        let stranger = actor(Platform::Discord, "222222222222222222");
        assert!(people.same(&stranger, &stranger.clone()));
        assert!(!people.same(&stranger, &actor(Platform::Discord, "333333333333333333")));
        assert_eq!(people.key(&discord), "person:alice");
        assert_eq!(people.key(&stranger), "discord:222222222222222222");
        assert_eq!(
            people.accounts_of(&discord),
            [
                (Platform::Discord, "111111111111111111"),
                (Platform::Slack, "U0ALICE"),
                (Platform::Slack, "W0ALICE"),
                (Platform::Console, "alice"),
            ]
        );
    }

    #[test]
    fn a_role_listing_people_has_their_accounts_as_members() {
        let mut settings = BTreeMap::new();
        settings.insert(
            "sre".to_owned(),
            RoleSettings {
                slack: vec!["U0BOB".into()],
                people: vec!["alice".into(), "bob".into()],
                ..RoleSettings::default()
            },
        );
        let roles = roles(&settings, &alice_and_bob());
        let sre = &roles["sre"];
        assert_eq!(sre.slack, ["U0BOB", "U0ALICE", "W0ALICE"]);
        assert_eq!(sre.discord_users, ["111111111111111111"]);
        assert_eq!(sre.console, ["alice"]);
        assert!(sre.include(&[(Platform::Console, "alice")], &[]));
        assert!(!sre.include(&[(Platform::Console, "U0BOB")], &[]));
    }
}
