//! `[github]`, `[jira]` and `[followups]`: where `/incident-followup` files its action items.
//! With `[followups] tracker = "github"`, each action item becomes an issue in the service's
//! `github_repo` (or `[github] repo`); with `"jira"`, in its `jira_project` (or `[jira]
//! project`); filed through the store's outbox. `bot.toml.example` documents each key.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{Secret, Settings};

/// GitHub's REST API.
pub const GITHUB_API: &str = "https://api.github.com";

/// `[github]`: the GitHub (or GitHub Enterprise Server) REST API and the token it is called with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GithubSettings {
    /// The REST API's base URL: `https://api.github.com`, or `https://HOST/api/v3` for GitHub
    /// Enterprise Server.
    pub api_url: String,
    /// A fine-grained personal access token or a GitHub App installation token; set it with
    /// `FIREWATCH__GITHUB__TOKEN`.
    pub token: Option<Secret>,
    /// A file holding the token (a Kubernetes Secret mount), instead of `token`.
    pub token_file: Option<PathBuf>,
    /// The repository (`owner/name`) of services without a `github_repo`.
    pub repo: Option<String>,
    /// Labels every filed issue gets (besides its severity, `P0` … `P3`).
    #[serde(deserialize_with = "super::string_list")]
    pub labels: Vec<String>,
}

impl Default for GithubSettings {
    fn default() -> Self {
        Self {
            api_url: GITHUB_API.to_owned(),
            token: None,
            token_file: None,
            repo: None,
            labels: vec!["incident-followup".to_owned()],
        }
    }
}

/// `[jira]`: Jira Cloud or Data Center, through REST API v2.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JiraSettings {
    /// The site's base URL: `https://acme.atlassian.net` (Cloud) or `https://jira.acme.com`.
    pub url: String,
    /// Jira Cloud: the account's email, with `api_token`.
    pub email: Option<String>,
    /// Jira Cloud: an API token of `email`'s account; set it with `FIREWATCH__JIRA__API_TOKEN`.
    pub api_token: Option<Secret>,
    /// A file holding the API token, instead of `api_token`.
    pub api_token_file: Option<PathBuf>,
    /// Jira Data Center: a personal access token; set it with `FIREWATCH__JIRA__TOKEN`.
    pub token: Option<Secret>,
    /// A file holding the personal access token, instead of `token`.
    pub token_file: Option<PathBuf>,
    /// The project key of services without a `jira_project`.
    pub project: Option<String>,
    /// The issue type of filed items.
    pub issue_type: String,
    /// The transition `/incident-followup done N` takes.
    pub done_transition: String,
    /// Labels every filed issue gets (besides its severity); spaces become `-`.
    #[serde(deserialize_with = "super::string_list")]
    pub labels: Vec<String>,
}

impl Default for JiraSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            email: None,
            api_token: None,
            api_token_file: None,
            token: None,
            token_file: None,
            project: None,
            issue_type: "Task".to_owned(),
            done_transition: "Done".to_owned(),
            labels: vec!["incident-followup".to_owned()],
        }
    }
}

/// Which tracker action items are filed in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tracker {
    /// Kept in firewatch's store only.
    #[default]
    None,
    /// Filed as GitHub issues.
    Github,
    /// Filed as Jira issues.
    Jira,
}

/// `[reports] github`: whether the report is committed to the service's repository.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportMode {
    /// Written locally only.
    #[default]
    Off,
    /// Committed to a branch `incident-<id>-report`, with a pull request.
    Pr,
    /// Committed straight to the default branch.
    Commit,
}

/// `[followups]`: where action items are filed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FollowupSettings {
    /// `"none"` (the store only), `"github"` or `"jira"`.
    pub tracker: Tracker,
}

impl Settings {
    /// The repository (`owner/name`) the action items of `service` are filed in: the service's
    /// `github_repo`, else `[github] repo`.
    pub fn github_repo(&self, service: &str) -> Option<&str> {
        self.services
            .iter()
            .find(|s| s.name == service)
            .and_then(|s| s.github_repo.as_deref())
            .or(self.github.repo.as_deref())
    }

    /// The Jira project key the action items of `service` are filed in: the service's
    /// `jira_project`, else `[jira] project`.
    pub fn jira_project(&self, service: &str) -> Option<&str> {
        self.services
            .iter()
            .find(|s| s.name == service)
            .and_then(|s| s.jira_project.as_deref())
            .or(self.jira.project.as_deref())
    }

    /// Checks that Jira can be reached when it is the tracker: a URL, credentials, a project for
    /// every service.
    fn check_jira(&self) -> Result<(), (String, String)> {
        let jira = &self.jira;
        if !jira.url.starts_with("https://") && !jira.url.starts_with("http://") {
            return Err((
                "jira.url".into(),
                "followups.tracker = \"jira\" needs the site's http(s) URL".into(),
            ));
        }
        let cloud = jira.email.is_some() && jira.api_token.is_some();
        if !cloud && jira.token.is_none() {
            return Err((
                "jira.token".into(),
                "followups.tracker = \"jira\" needs credentials: email and api_token \
                 (FIREWATCH__JIRA__API_TOKEN) for Jira Cloud, or a personal access token \
                 (FIREWATCH__JIRA__TOKEN) for Data Center"
                    .into(),
            ));
        }
        for (i, service) in self.services.iter().enumerate() {
            if self.jira_project(&service.name).is_none() {
                return Err((
                    format!("services[{i}].jira_project"),
                    format!(
                        "followups.tracker = \"jira\" needs a project for service '{}': set \
                         its jira_project or jira.project",
                        service.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Checks that the tracker chosen can be reached: a token, a repository for every service,
    /// repository names of the form `owner/name`.
    pub(super) fn check_tracker(&self) -> Result<(), (String, String)> {
        let github = &self.github;
        if !github.api_url.starts_with("https://") && !github.api_url.starts_with("http://") {
            return Err((
                "github.api_url".into(),
                format!("'{}' is not an http(s) URL", github.api_url),
            ));
        }
        if let Some(repo) = &github.repo
            && !is_repo(repo)
        {
            return Err(("github.repo".into(), not_a_repo(repo)));
        }
        for (i, service) in self.services.iter().enumerate() {
            if let Some(repo) = &service.github_repo
                && !is_repo(repo)
            {
                return Err((format!("services[{i}].github_repo"), not_a_repo(repo)));
            }
        }
        let path = &self.reports.repo_path;
        if path.is_empty()
            || path.starts_with('/')
            || path.split('/').any(|p| p == ".." || p == ".")
        {
            return Err((
                "reports.repo_path".into(),
                format!("'{path}' is not a folder inside the repository (docs/incidents)"),
            ));
        }
        if self.reports.github != ReportMode::Off {
            self.check_github_reach("reports.github")?;
        }
        match self.followups.tracker {
            Tracker::None => return Ok(()),
            Tracker::Jira => return self.check_jira(),
            Tracker::Github => {}
        }
        self.check_github_reach("followups.tracker")
    }

    /// Checks that GitHub is reachable for `what` (`followups.tracker`, `reports.github`): a
    /// token and a repository for every service.
    fn check_github_reach(&self, what: &str) -> Result<(), (String, String)> {
        let github = &self.github;
        if github.token.is_none() {
            return Err((
                "github.token".into(),
                format!(
                    "{what} needs a GitHub token (FIREWATCH__GITHUB__TOKEN or \
                     github.token_file) with Issues (and for reports Contents and Pull \
                     requests): read and write on the repositories"
                ),
            ));
        }
        for (i, service) in self.services.iter().enumerate() {
            if self.github_repo(&service.name).is_none() {
                return Err((
                    format!("services[{i}].github_repo"),
                    format!(
                        "{what} needs a GitHub repository for service '{}': \
                         set its github_repo or github.repo",
                        service.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Whether `repo` reads `owner/name` (letters, digits, `-`, `_`, `.`).
fn is_repo(repo: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    matches!(repo.split_once('/'), Some((owner, name)) if part(owner) && part(name))
}

fn not_a_repo(repo: &str) -> String {
    format!("'{repo}' is not a repository (owner/name)")
}

#[cfg(test)]
mod tests {
    use super::is_repo;
    use crate::config::tests::{WEB, invalid, load};

    #[test]
    fn filing_needs_credentials_and_a_place_per_service() {
        let (key, message) = invalid(&format!("{WEB}[followups]\ntracker = \"github\"\n"));
        assert_eq!(key, "github.token");
        assert!(message.contains("FIREWATCH__GITHUB__TOKEN"), "{message}");
        let (key, message) = invalid(&format!(
            "{WEB}[followups]\ntracker = \"github\"\n[github]\ntoken = \"t\"\n"
        ));
        assert_eq!(key, "services[0].github_repo");
        assert!(message.contains("service 'web'"), "{message}");
        let (key, _) = invalid(&format!("{WEB}github_repo = \"nope\"\n"));
        assert_eq!(key, "services[0].github_repo");
        let (key, _) = invalid(&format!("{WEB}[github]\napi_url = \"ftp://x\"\n"));
        assert_eq!(key, "github.api_url");
        let s = load(&format!(
            "{WEB}github_repo = \"acme/web\"\n[followups]\ntracker = \"github\"\n\
             [github]\ntoken = \"t\"\n"
        ))
        .expect("loads");
        assert_eq!(s.github_repo("web"), Some("acme/web"));
        assert_eq!(s.github.labels, ["incident-followup"]);
        let (key, _) = invalid(&format!(
            "{WEB}[followups]\ntracker = \"jira\"\n[jira]\nurl = \"https://acme.atlassian.net\"\n"
        ));
        assert_eq!(key, "jira.token");
        let (key, _) = invalid(&format!(
            "{WEB}[followups]\ntracker = \"jira\"\n[jira]\nurl = \"https://j\"\ntoken = \"t\"\n"
        ));
        assert_eq!(key, "services[0].jira_project");
        let (key, _) = invalid(&format!("{WEB}[followups]\ntracker = \"jira\"\n"));
        assert_eq!(key, "jira.url");
        let s = load(&format!(
            "{WEB}jira_project = \"OPS\"\n[followups]\ntracker = \"jira\"\n[jira]\n\
             url = \"https://j\"\nemail = \"a@b\"\napi_token = \"t\"\n"
        ))
        .expect("loads");
        assert_eq!(s.jira_project("web"), Some("OPS"));
        assert_eq!(s.jira.done_transition, "Done");
        let (key, message) = invalid(&format!("{WEB}[reports]\ngithub = \"pr\"\n"));
        assert_eq!(key, "github.token");
        assert!(message.starts_with("reports.github needs"), "{message}");
        let (key, _) = invalid(&format!("{WEB}[reports]\nrepo_path = \"../elsewhere\"\n"));
        assert_eq!(key, "reports.repo_path");
        let (key, _) = invalid(&format!("{WEB}[followups]\ntracker = \"trello\"\n"));
        assert!(key.starts_with("followups"), "{key}");
    }

    #[test]
    fn repositories_read_owner_slash_name() {
        assert!(is_repo("acme/freightliner"));
        assert!(is_repo("acme-inc/web.site_2"));
        for bad in ["acme", "acme/", "/x", "a/b/c", "a/..", "a b/c", "a/b?x"] {
            assert!(!is_repo(bad), "{bad}");
        }
    }
}
