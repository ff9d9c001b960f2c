//! Action items filed as GitHub issues, against a fake GitHub REST API.

mod fake_github;
mod fake_jira;
mod github;
mod jira;
mod report;
