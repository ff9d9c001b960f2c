//! Store faults that heal, and the commands caught in them: a SQLite store on a full disk, a
//! Postgres store whose connections are killed under load, a SQLite file deleted under a running
//! firewatch. Every acknowledged command has its effect exactly once, `/readyz` says not ready
//! while the store cannot take writes (and ready again once it can, without a restart), and
//! nothing is claimed saved that is not.

mod deleted;
mod disk;
mod postgres;

use std::future::Future;
use std::time::{Duration, Instant};

use firewatch::incident::{ChannelRef, Incident, Platform, TimelineEvent};
use firewatch::store::Store;

use crate::fake_slack::FakeSlack;
use crate::recorder::Call;

/// How long a test waits for what must happen eventually (retries wait up to 30 s each).
const PATIENCE: Duration = Duration::from_secs(120);

/// The `FIREWATCH__…` overrides that point Slack at `fake`, plus `extra`.
fn slack_env(fake: &FakeSlack, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("FIREWATCH__SLACK__API_URL", format!("{}/api", fake.url)),
        ("FIREWATCH__SLACK__BOT_TOKEN", "xoxb-test-token".to_owned()),
        (
            "FIREWATCH__SLACK__SIGNING_SECRET",
            crate::slack::SECRET.to_owned(),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// Whether Slack was told the request is taken (an empty 200), rather than that it could not be
/// recorded.
fn acknowledged((status, body): &(u16, String)) -> bool {
    assert_eq!(*status, 200, "{body}");
    body.is_empty()
}

/// Polls `done` until it holds, for at most [`PATIENCE`].
async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while !done().await {
        assert!(
            started.elapsed() < PATIENCE,
            "{what}: not within {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The open incidents of the Slack channel `id`.
async fn incidents_in(store: &dyn Store, id: &str) -> Vec<Incident> {
    let channel = ChannelRef {
        platform: Platform::Slack,
        id: id.into(),
    };
    store.incidents_in(&channel).await.expect("incidents load")
}

/// The notes on `incident`'s timeline, in order.
async fn notes(store: &dyn Store, incident: &Incident) -> Vec<String> {
    store
        .timeline(incident.id)
        .await
        .expect("timeline loads")
        .into_iter()
        .filter_map(|entry| match entry.event {
            TimelineEvent::Note { text } => Some(text),
            _ => None,
        })
        .collect()
}

/// The text of everything Slack was sent (posts, ephemeral messages, `response_url` answers).
fn texts(calls: &[Call]) -> Vec<String> {
    calls.iter().map(|c| c.body.to_string()).collect()
}

/// Asserts that nothing Slack was sent says `words`.
#[track_caller]
fn never_said(fake: &FakeSlack, words: &str) {
    let said = texts(&fake.calls());
    assert!(
        !said.iter().any(|t| t.contains(words)),
        "{words:?} was said: {said:#?}"
    );
}
