//! Action items filed in the team's tracker: with `[followups] tracker = "github"`, each
//! `/incident-followup` item becomes a GitHub issue, and ticking it off closes the issue.
//!
//! Filing goes through the store's outbox ([`crate::delivery`]): the engine stores a post of
//! kind [`github::KIND`] in the incident's lane (`github:<id>`, so an item's close never
//! overtakes its create), and the [`github::GithubCourier`] sends it, retried through a
//! tracker outage and across restarts. A created issue's key and page are recorded on the
//! incident's timeline ([`crate::incident::TimelineEvent::FollowupFiled`]); until then the
//! item reads "not yet filed". A post the tracker refuses (a 401, 403, 404, 422) is given up
//! and put on the timeline with why, naming the repository and what the token lacks.
//!
//! When the report is written, each filed item's state is read from the tracker, so an issue
//! closed there is ticked in the report.

pub mod github;

pub use github::Github;
