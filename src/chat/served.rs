//! Where firewatch takes requests from: the Slack workspaces of `slack.team_ids` and the Discord
//! servers of `discord.guild_ids`, by one rule. The adapters check it before a request is stored
//! ([`crate::chat::Adapter::admit`]).

/// The workspaces or servers of one platform firewatch serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Served {
    ids: Vec<String>,
}

impl Served {
    /// Serves `ids`; none serves anywhere.
    pub fn new(ids: &[String]) -> Self {
        Self { ids: ids.to_vec() }
    }

    /// Whether a request is taken that comes from `places` (the workspaces or server it names;
    /// none for a Discord direct message): always when no ids are configured; otherwise it must
    /// name at least one place, and every place it names must be served.
    pub fn admits<'a>(&self, places: impl IntoIterator<Item = &'a str>) -> bool {
        if self.ids.is_empty() {
            return true;
        }
        let mut named = false;
        for place in places {
            if !self.ids.iter().any(|id| id == place) {
                return false;
            }
            named = true;
        }
        named
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_ids_serve_anywhere_and_some_only_requests_that_name_them_alone() {
        assert!(Served::default().admits([]));
        assert!(Served::default().admits(["T9EVIL"]));
        let ours = Served::new(&["T0001".into(), "T0002".into()]);
        assert!(ours.admits(["T0001"]));
        assert!(ours.admits(["T0002", "T0001"]));
        assert!(!ours.admits(["T9EVIL"]));
        assert!(
            !ours.admits(["T0001", "T9EVIL"]),
            "a user of another workspace"
        );
        assert!(!ours.admits([]), "a request that names no workspace");
    }
}
