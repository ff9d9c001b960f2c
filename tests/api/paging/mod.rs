//! Paging through PagerDuty and Opsgenie against fakes that answer as their documentation
//! says and record every call: trigger, acknowledge and resolve of one page key, the severity
//! mapping, retries after 429 and 500 (also after a restart), one send across two replicas, a
//! refusal told once ([`outbound`]); Opsgenie's asynchronous requests ([`opsgenie`]); and the
//! signed webhooks back ([`inbound`]).

mod fake_opsgenie;
mod fake_pagerduty;
mod inbound;
mod opsgenie;
mod outbound;
mod roles;

use chrono::TimeDelta;
use firewatch::incident::TimelineEvent;

use crate::helpers::TestApp;
pub use fake_opsgenie::FakeOpsgenie;
pub use fake_pagerduty::{Failure, FakePagerDuty};

/// A routing key as PagerDuty issues them (32 characters).
pub const ROUTING_KEY: &str = "R0UT1NGKEY0123456789ABCDEFGHIJKL";
/// The Opsgenie API key the tests configure.
pub const API_KEY: &str = "0f1e2d3c-opsgenie-test-key";

/// The overrides that page through `fake` (and `extra`).
pub fn pagerduty_env(fake: &FakePagerDuty, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "FIREWATCH__PAGERDUTY__EVENTS_URL".to_owned(),
            fake.events_url.clone(),
        ),
        (
            "FIREWATCH__PAGERDUTY__ROUTING_KEY".to_owned(),
            ROUTING_KEY.to_owned(),
        ),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    env
}

/// Moves the clock by `seconds` and runs a delivery pass.
pub async fn later(t: &TestApp, seconds: i64) {
    t.clock.advance(TimeDelta::seconds(seconds));
    t.app.posts.deliver_due().await;
}

/// Incident `id`'s timeline entries about pages and undelivered posts, in words.
pub async fn page_entries(t: &TestApp, id: i64) -> Vec<String> {
    t.timeline(id)
        .await
        .into_iter()
        .filter(|e| {
            matches!(
                e.event,
                TimelineEvent::Paged { .. } | TimelineEvent::PostUndelivered { .. }
            )
        })
        .map(|e| e.event.describe())
        .collect()
}
