//! Action items filed as GitHub issues, against a fake GitHub REST API.

mod fake_github;
mod github;
