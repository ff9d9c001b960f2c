//! Channel approvals for production changes: the two-person rule, expiry, denial, and a change
//! that runs exactly once however the approvals arrive.

use std::sync::Arc;

use firewatch::approval::{Ballot, State, Vote, Voted};
use firewatch::clock::Clock;
use firewatch::engine::Caller;
use firewatch::incident::{Actor, ChannelRef, Platform};

use super::broken_with_incident_on;
use crate::health::metric;
use crate::helpers::{ClusterApp, assert_has};

/// Incident #1 on a broken Freightliner, with `env` approval settings.
async fn with_policy(env: &[(&str, &str)]) -> ClusterApp {
    broken_with_incident_on(ClusterApp::spawn(env).await).await
}

fn person(user: &str, request: Option<&str>) -> Caller {
    Caller {
        actor: Actor {
            platform: Platform::Console,
            id: user.into(),
            name: user.into(),
        },
        channel: ChannelRef {
            platform: Platform::Console,
            id: "ops".into(),
        },
        request: request.map(str::to_owned),
        roles: Vec::new(),
    }
}

/// The kinds of incident #1's timeline entries, in order.
pub(super) async fn kinds(c: &ClusterApp) -> Vec<String> {
    c.t.timeline(1)
        .await
        .iter()
        .map(|e| e.event.kind())
        .collect()
}

async fn state(c: &ClusterApp, id: i64) -> State {
    c.t.app
        .store
        .approval(id)
        .await
        .unwrap()
        .expect("request exists")
        .state
}

/// carol's approval of R1, committed to the store directly (the vote of a process that then
/// stops).
async fn carol_approves(c: &ClusterApp) -> Voted {
    let carol = person("carol", None).actor;
    let ballot = Ballot {
        voter: &carol,
        person: "console:carol",
        vote: Vote::Approve,
        reason: None,
    };
    let now = c.t.clock.now();
    c.t.app.store.vote(1, &ballot, now, None).await.unwrap()
}

/// bob asks for a rollback; the request message is posted, nothing runs yet.
async fn bob_asks(c: &ClusterApp) -> String {
    let out = c.t.console("bob", "ops", "/incident-rollback").await;
    assert_has(
        &out,
        &[
            "🔐 Approval needed: R1 — rollback freightliner to the previous revision",
            "Requested by: bob",
            "Why: mitigate #1: checkout errors for some users",
            "From: revision 42",
            "To: revision 41",
            "Expires: 03:15 UTC",
            "/incident-approve R1",
        ],
    );
    assert!(c.helm.calls().is_empty(), "nothing runs before approval");
    out
}

#[tokio::test]
async fn the_request_message_carries_approve_and_deny_buttons_that_are_commands() {
    let c = with_policy(&[]).await;
    let replies =
        c.t.app
            .engine
            .handle(&person("bob", None), "/incident-rollback")
            .await;
    let message = &replies[0].message;
    let buttons: Vec<(&str, &str)> = message
        .buttons
        .iter()
        .map(|b| (b.label.as_str(), b.command.as_str()))
        .collect();
    assert_eq!(
        buttons,
        [
            ("Approve", "/incident-approve R1"),
            ("Deny", "/incident-deny R1")
        ]
    );
    assert!(
        message
            .plain_text()
            .contains("Needs: 1 approval from anyone but the requester")
    );
}

#[tokio::test]
async fn the_requester_cannot_approve_their_own_change() {
    let c = with_policy(&[]).await;
    bob_asks(&c).await;
    let out = c.t.console("bob", "ops", "/incident-approve R1").await;
    assert_has(
        &out,
        &[
            "You cannot approve R1: you asked for it",
            "Someone else must approve it: anyone but the requester",
        ],
    );
    assert!(c.helm.calls().is_empty());
    assert_eq!(state(&c, 1).await, State::Pending);
    let last = c.t.timeline(1).await.pop().unwrap();
    assert_eq!(last.event.kind(), "approval_refused");
    assert_eq!(last.actor.name, "bob");
}

#[tokio::test]
async fn an_approver_outside_the_policy_is_refused_with_who_may_approve_and_audited() {
    let c = with_policy(&[(
        "FIREWATCH__APPROVALS__ROLLBACK__APPROVER_IDS",
        "console:carol, slack:U0CAROL",
    )])
    .await;
    bob_asks(&c).await;
    let out = c.t.console("mallory", "ops", "/incident-approve").await;
    assert_has(
        &out,
        &[
            "You may not approve R1",
            "Only console:carol, slack:U0CAROL may approve or deny rollback changes",
        ],
    );
    let out = c.t.console("mallory", "ops", "/incident-deny R1 no").await;
    assert_has(&out, &["You may not deny R1"]);
    assert_eq!(state(&c, 1).await, State::Pending);
    let refused: Vec<_> =
        c.t.timeline(1)
            .await
            .into_iter()
            .filter(|e| e.event.kind() == "approval_refused")
            .collect();
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[0].actor.name, "mallory");
    let out = c.t.console("carol", "ops", "/incident-approve R1").await;
    assert_has(
        &out,
        &["👍 R1 approved by carol (1 of 1)", "🔧 R1 #1: done"],
    );
    assert_eq!(c.helm.calls().len(), 1);
}

#[tokio::test]
async fn two_approvals_needed_and_given_run_the_change_once() {
    let c = with_policy(&[("FIREWATCH__APPROVALS__ROLLBACK__REQUIRED", "2")]).await;
    bob_asks(&c).await;
    let out = c.t.console("carol", "ops", "/incident-approve").await;
    assert_has(
        &out,
        &["👍 R1 approved by carol (1 of 2)", "Waiting for 1 more"],
    );
    assert!(c.helm.calls().is_empty());
    let out = c.t.console("dave", "ops", "/incident-approve R1").await;
    assert_has(
        &out,
        &[
            "👍 R1 approved by dave (2 of 2)",
            "🔧 R1 #1: done — rollback freightliner to the previous revision",
            "Requested by bob; approved by carol, dave.",
        ],
    );
    let kubeconfig = c.t.app.settings.kubernetes.kubeconfig.clone().unwrap();
    assert_eq!(
        c.helm.calls(),
        [format!(
            "rollback -n freightliner-production --wait --timeout 300s --kubeconfig {} -- freightliner 41",
            kubeconfig.display()
        )]
    );
    let out = c.t.console("erin", "ops", "/incident-approve R1").await;
    assert_has(&out, &["R1 is succeeded", "It already ran."]);
    assert_eq!(c.helm.calls().len(), 1);
    assert_eq!(state(&c, 1).await, State::Succeeded);
    let app = &c.t.app;
    for (series, want) in [
        ("firewatch_approvals_total{outcome=\"approved\"}", 1.0),
        ("firewatch_approvals_total{outcome=\"succeeded\"}", 1.0),
        ("firewatch_approvals_total{outcome=\"failed\"}", 0.0),
        ("firewatch_approvals_total{outcome=\"denied\"}", 0.0),
        // One helm rollback, previewed when asked and again before it ran.
        (
            "firewatch_cluster_call_duration_seconds_count{call=\"apply\"}",
            1.0,
        ),
        (
            "firewatch_cluster_call_duration_seconds_count{call=\"preview\"}",
            2.0,
        ),
        ("firewatch_cluster_call_errors_total{call=\"apply\"}", 0.0),
        (
            "firewatch_commands_total{command=\"approve\",platform=\"console\",outcome=\"ok\"}",
            2.0,
        ),
        (
            "firewatch_commands_total{command=\"approve\",platform=\"console\",outcome=\"refused\"}",
            1.0,
        ),
    ] {
        assert_eq!(metric(app, series), want, "{series}");
    }
    let kinds = kinds(&c).await;
    assert_eq!(
        kinds[kinds.len() - 7..],
        [
            "mutation_previewed",
            "approval_requested",
            "approval_given",
            "approval_given",
            "approval_executing",
            "mutation_previewed",
            "mutation_applied",
        ]
    );
}

#[tokio::test]
async fn fifty_concurrent_approvals_run_helm_exactly_once() {
    let c = with_policy(&[("FIREWATCH__APPROVALS__ROLLBACK__REQUIRED", "3")]).await;
    bob_asks(&c).await;
    let engine = Arc::clone(&c.t.app.engine);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let engine = Arc::clone(&engine);
            tokio::spawn(async move {
                let key = format!("test:click:{i}");
                engine
                    .handle(
                        &person(&format!("user{i}"), Some(&key)),
                        "/incident-approve R1",
                    )
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("no panic");
    }
    c.t.tick().await;
    assert_eq!(c.helm.calls().len(), 1, "{:?}", c.helm.calls());
    assert_eq!(state(&c, 1).await, State::Succeeded);
    let given = kinds(&c)
        .await
        .into_iter()
        .filter(|k| *k == "approval_given")
        .count();
    assert_eq!(given, 3, "votes after the third find the request closed");
    let applied = kinds(&c)
        .await
        .into_iter()
        .filter(|k| *k == "mutation_applied")
        .count();
    assert_eq!(applied, 1);
}

#[tokio::test]
async fn a_duplicate_delivery_counts_one_vote() {
    let c = with_policy(&[("FIREWATCH__APPROVALS__ROLLBACK__REQUIRED", "2")]).await;
    bob_asks(&c).await;
    let engine = &c.t.app.engine;
    let first = engine
        .handle(
            &person("carol", Some("test:click:1")),
            "/incident-approve R1",
        )
        .await;
    assert!(
        first[0]
            .message
            .headline
            .contains("approved by carol (1 of 2)")
    );
    let again = engine
        .handle(
            &person("carol", Some("test:click:1")),
            "/incident-approve R1",
        )
        .await;
    assert!(again.is_empty(), "a redelivery has no effect: {again:?}");
    // A second click (a new delivery id) by the same person is still one vote.
    let second = engine
        .handle(
            &person("carol", Some("test:click:2")),
            "/incident-approve R1",
        )
        .await;
    assert!(
        second[0]
            .message
            .headline
            .contains("You already voted on R1"),
        "{second:?}"
    );
    let (votes,): (i64,) = sqlx::query_as("SELECT count(*) FROM approval_votes")
        .fetch_one(sqlite(&c).await.pool())
        .await
        .unwrap();
    assert_eq!(votes, 1);
    assert_eq!(state(&c, 1).await, State::Pending);
    assert!(c.helm.calls().is_empty());
}

async fn sqlite(c: &ClusterApp) -> firewatch::store::SqlStore {
    firewatch::store::SqlStore::connect(&c.t.app.settings.store.url)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_expired_request_never_runs() {
    let c = with_policy(&[]).await;
    let posts = c.t.record_posts();
    bob_asks(&c).await;
    c.t.advance_minutes(14);
    c.t.tick().await;
    assert_eq!(state(&c, 1).await, State::Pending);
    c.t.advance_minutes(2);
    c.t.tick().await;
    assert_eq!(state(&c, 1).await, State::Expired);
    let said: Vec<String> = posts.take_text();
    assert!(
        said.iter()
            .any(|m| m.contains("⌛ R1 expired") && m.contains("nothing ran")),
        "{said:?}"
    );
    let out = c.t.console("carol", "ops", "/incident-approve R1").await;
    assert_has(&out, &["R1 is expired", "nothing runs"]);
    c.t.tick().await;
    assert!(c.helm.calls().is_empty());
    assert!(kinds(&c).await.contains(&"approval_expired".into()));
    let expired = "firewatch_approvals_total{outcome=\"expired\"}";
    assert_eq!(metric(&c.t.app, expired), 1.0);
    assert_eq!(
        metric(&c.t.app, "firewatch_approvals_total{outcome=\"approved\"}"),
        0.0
    );
}

#[tokio::test]
async fn a_vote_after_the_expiry_time_but_before_the_tick_does_not_run_it() {
    let c = with_policy(&[]).await;
    bob_asks(&c).await;
    c.t.advance_minutes(16);
    let out = c.t.console("carol", "ops", "/incident-approve R1").await;
    assert_has(&out, &["R1 has expired"]);
    c.t.tick().await;
    assert_eq!(state(&c, 1).await, State::Expired);
    assert!(c.helm.calls().is_empty());
}

#[tokio::test]
async fn a_denied_request_never_runs() {
    let c = with_policy(&[("FIREWATCH__APPROVALS__ROLLBACK__REQUIRED", "2")]).await;
    bob_asks(&c).await;
    c.t.console("carol", "ops", "/incident-approve").await;
    let out =
        c.t.console("dave", "ops", "/incident-deny R1 the canary is fine")
            .await;
    assert_has(
        &out,
        &[
            "🚫 R1 denied by dave",
            "rollback freightliner to the previous revision will not run",
            "Reason: the canary is fine",
        ],
    );
    let out = c.t.console("erin", "ops", "/incident-approve R1").await;
    assert_has(&out, &["R1 is denied"]);
    c.t.tick().await;
    assert!(c.helm.calls().is_empty());
    assert_eq!(state(&c, 1).await, State::Denied);
    let denied = "firewatch_approvals_total{outcome=\"denied\"}";
    assert_eq!(metric(&c.t.app, denied), 1.0);
    let last = c.t.timeline(1).await.pop().unwrap();
    assert_eq!(last.event.describe(), "R1 denied: the canary is fine");
    assert_eq!(last.actor.name, "dave");
}

#[tokio::test]
async fn resolving_the_incident_cancels_what_waits_for_approval() {
    let c = with_policy(&[]).await;
    bob_asks(&c).await;
    let out =
        c.t.say("/incident-resolve bad deploy | rolled forward")
            .await;
    assert_has(&out, &["R1 cancelled", "will not run"]);
    let out = c.t.console("carol", "ops", "/incident-approve R1").await;
    assert_has(&out, &["R1 is cancelled"]);
    c.t.tick().await;
    assert!(c.helm.calls().is_empty());
}

#[tokio::test]
async fn an_approval_committed_before_a_restart_runs_once_after_it() {
    let c = with_policy(&[]).await;
    bob_asks(&c).await;
    // The last approval is committed, then firewatch dies before running the change.
    let voted = carol_approves(&c).await;
    assert!(matches!(voted, Voted::Approved { complete: true, .. }));
    assert!(c.helm.calls().is_empty());
    let ClusterApp { t, kube, helm } = c;
    let c = ClusterApp {
        t: t.restart().await,
        kube,
        helm,
    };
    let posts = c.t.record_posts();
    c.t.tick().await;
    c.t.tick().await;
    assert_eq!(c.helm.calls().len(), 1);
    assert_eq!(state(&c, 1).await, State::Succeeded);
    let said: Vec<String> = posts.take_text();
    assert!(
        said.iter()
            .any(|m| m.contains("🔧 R1 #1: done") && m.contains("approved by carol")),
        "{said:?}"
    );
    // Another restart finds nothing to do.
    let ClusterApp { t, kube, helm } = c;
    let c = ClusterApp {
        t: t.restart().await,
        kube,
        helm,
    };
    c.t.tick().await;
    assert_eq!(c.helm.calls().len(), 1);
}

#[tokio::test]
async fn a_run_interrupted_by_a_restart_is_marked_failed_and_never_run_again() {
    let c = with_policy(&[]).await;
    bob_asks(&c).await;
    let now = c.t.clock.now();
    carol_approves(&c).await;
    // An earlier process claimed it and died while it ran.
    let claimed =
        c.t.app
            .store
            .claim_approval(1, "an-earlier-process", now)
            .await
            .unwrap();
    assert!(claimed.is_some());
    assert!(
        c.t.app
            .store
            .claim_approval(1, "another", now)
            .await
            .unwrap()
            .is_none(),
        "a claim is won once"
    );
    let ClusterApp { t, kube, helm } = c;
    let c = ClusterApp {
        t: t.restart().await,
        kube,
        helm,
    };
    let posts = c.t.record_posts();
    c.t.tick().await;
    c.t.tick().await;
    assert!(c.helm.calls().is_empty());
    assert_eq!(state(&c, 1).await, State::Failed);
    let said: Vec<String> = posts.take_text();
    assert!(
        said.iter().any(|m| m.contains("❌ R1 failed: interrupted")),
        "{said:?}"
    );
    assert!(kinds(&c).await.contains(&"approval_closed".into()));
}

#[tokio::test]
async fn policy_zero_runs_at_once_with_an_audit_entry() {
    // The default policy: scaling needs no approval at P0/P1.
    let c = ClusterApp::spawn(&[]).await;
    crate::support::objects::healthy(&c.kube);
    let out =
        c.t.say("/incident-assess \"checkout errors for some users\" --sev P1")
            .await;
    assert_has(&out, &["INCIDENT DETECTED - P1"]);
    let out = c.t.console("bob", "ops", "/incident-scale 6").await;
    assert_has(&out, &["🔧 /incident-scale #1: done"]);
    let timeline = c.t.timeline(1).await;
    let audit = timeline
        .iter()
        .find(|e| e.event.kind() == "approval_not_required")
        .expect("audit entry");
    assert_eq!(audit.actor.name, "bob");
    assert!(
        audit
            .event
            .describe()
            .contains("no approval required by policy")
    );
}

#[tokio::test]
async fn scaling_below_p1_needs_one_approval_by_default() {
    let c = ClusterApp::spawn(&[]).await;
    crate::support::objects::healthy(&c.kube);
    let out =
        c.t.say("/incident-assess \"checkout errors for some users\" --sev P3")
            .await;
    assert_has(&out, &["INCIDENT DETECTED - P3"]);
    let out = c.t.console("bob", "ops", "/incident-scale 6").await;
    assert_has(
        &out,
        &["🔐 Approval needed: R1 — scale freightliner to 6 replicas"],
    );
    let out = c.t.console("carol", "ops", "/incident-approve").await;
    assert_has(&out, &["🔧 R1 #1: done — scale freightliner to 6 replicas"]);
}

#[tokio::test]
async fn only_the_policys_requesters_may_ask_and_a_refusal_is_audited() {
    let c = with_policy(&[(
        "FIREWATCH__APPROVALS__ROLLBACK__REQUESTER_IDS",
        "console:bob",
    )])
    .await;
    let out = c.t.console("mallory", "ops", "/incident-rollback").await;
    assert_has(
        &out,
        &[
            "You may not ask for rollback freightliner to the previous revision",
            "Only console:bob may ask for /incident-rollback",
        ],
    );
    let last = c.t.timeline(1).await.pop().unwrap();
    assert_eq!(last.event.kind(), "approval_refused");
    bob_asks(&c).await;
}

#[tokio::test]
async fn the_requester_may_withdraw_their_request() {
    let c = with_policy(&[]).await;
    bob_asks(&c).await;
    let out =
        c.t.console("bob", "ops", "/incident-deny changed my mind")
            .await;
    assert_has(&out, &["🚫 R1 denied by bob", "Reason: changed my mind"]);
    assert_eq!(state(&c, 1).await, State::Denied);
    assert!(c.helm.calls().is_empty());
}

#[tokio::test]
async fn a_failing_approved_run_is_recorded_as_failed_once() {
    let c = with_policy(&[]).await;
    bob_asks(&c).await;
    c.helm
        .exit_with(1, "Error: timed out waiting for the condition");
    let out = c.t.console("carol", "ops", "/incident-approve R1").await;
    assert_has(&out, &["❌ R1 #1: failed", "exit code 1"]);
    c.t.tick().await;
    assert_eq!(c.helm.calls().len(), 1);
    assert_eq!(state(&c, 1).await, State::Failed);
    let last = c.t.timeline(1).await.pop().unwrap();
    assert_eq!(last.event.kind(), "mutation_failed");
    assert_eq!(last.actor.name, "bob");
}

#[tokio::test]
async fn an_approved_rollback_runs_to_the_revision_people_saw_even_if_the_release_moved() {
    let c = with_policy(&[]).await;
    bob_asks(&c).await;
    // Someone deploys revision 43 before the approval: "the previous revision" would now be 42.
    c.kube.put(
        &crate::support::objects::secrets(),
        crate::support::objects::helm_release(
            "freightliner",
            43,
            "1.5.1",
            "1.5.1",
            "deployed",
            "2026-11-29T03:01:00Z",
        ),
    );
    let out = c.t.console("carol", "ops", "/incident-approve R1").await;
    assert_has(&out, &["🔧 R1 #1: done"]);
    let calls = c.helm.calls();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].ends_with("-- freightliner 41"), "{calls:?}");
}

#[tokio::test]
async fn in_slack_the_request_message_is_updated_with_each_approval_and_the_result() {
    let fake = crate::fake_slack::FakeSlack::start().await;
    let api = format!("{}/api", fake.url);
    let c = ClusterApp::spawn(&[
        ("FIREWATCH__SLACK__API_URL", api.as_str()),
        ("FIREWATCH__SLACK__BOT_TOKEN", "xoxb-test-token"),
        ("FIREWATCH__SLACK__SIGNING_SECRET", crate::slack::SECRET),
        ("FIREWATCH__APPROVALS__ROLLBACK__REQUIRED", "2"),
    ])
    .await;
    crate::support::objects::broken(&c.kube);
    let running = firewatch::app::serve::start(&c.t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    let slack = |user: &'static str, line: &'static str, trigger: &'static str| {
        crate::slack::send_command(running.addr, &fake, user, "C0INC", line, trigger)
    };
    slack(
        "alice",
        "/incident-assess checkout errors for some users",
        "a.1",
    )
    .await;
    fake.wait_calls("chat.postMessage", 1).await;
    slack("bob", "/incident-rollback", "a.2").await;
    let posts = fake.wait_calls("chat.postMessage", 2).await;
    assert!(posts[1].body.to_string().contains("Approval needed: R1"));
    // The card is kept once Slack has answered the post; a step before that is posted anew.
    card_kept(&c, "approval-1").await;
    slack("carol", "/incident-approve R1", "a.3").await;
    let updates = fake.wait_calls("chat.update", 1).await;
    let first = updates[0].body.to_string();
    assert!(
        first.contains("Approval needed: R1") && first.contains("R1 approved by carol (1 of 2)"),
        "{first}"
    );
    assert!(
        first.contains("\"actions\""),
        "buttons stay while it is open"
    );
    slack("dave", "/incident-approve R1", "a.4").await;
    let updates = fake.wait_calls("chat.update", 3).await;
    let last = updates[2].body.to_string();
    assert!(last.contains("R1 #1: done"), "{last}");
    assert!(
        !last.contains("\"actions\""),
        "the closing step removes the buttons: {last}"
    );
    assert!(
        updates
            .iter()
            .all(|u| u.body["channel"] == "C0INC" && u.body["ts"].is_string())
    );
    assert_eq!(c.helm.calls().len(), 1);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn in_discord_the_request_message_is_edited_with_each_approval_and_the_result() {
    let fake = crate::fake_discord::FakeDiscord::start().await;
    let public = crate::discord::public_key();
    let c = ClusterApp::spawn(&[
        ("FIREWATCH__DISCORD__API_URL", fake.url.as_str()),
        ("FIREWATCH__DISCORD__APPLICATION_ID", "1180000000000000000"),
        ("FIREWATCH__DISCORD__PUBLIC_KEY", public.as_str()),
        ("FIREWATCH__DISCORD__BOT_TOKEN", "test-bot-token"),
        ("FIREWATCH__APPROVALS__ROLLBACK__REQUIRED", "2"),
    ])
    .await;
    crate::support::objects::broken(&c.kube);
    let running = firewatch::app::serve::start(&c.t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    let interact = |id: &str, user: &str, sub: &str, options: serde_json::Value| {
        let user_id = format!("11500000000000000{}", user.len());
        let body = crate::discord::command_as(id, user, &user_id, sub, options);
        async move { crate::discord::interact_at(running.addr, &body).await }
    };
    let edit = "PATCH /webhooks/1180000000000000000/{token}/messages/@original";
    let card = "PATCH /channels/1160000000000000000/messages/1300000000000000001";
    interact("1190000000000000041", "alice", "assess",
        serde_json::json!([{"name": "description", "type": 3, "value": "checkout errors for some users"}])).await;
    fake.wait_calls(edit, 1).await;
    interact(
        "1190000000000000042",
        "bob",
        "rollback",
        serde_json::json!([]),
    )
    .await;
    let edits = fake.wait_calls(edit, 2).await;
    assert!(edits[1].body.to_string().contains("Approval needed: R1"));
    card_kept(&c, "approval-1").await;
    interact(
        "1190000000000000043",
        "carol",
        "approve",
        serde_json::json!([{"name": "request", "type": 3, "value": "R1"}]),
    )
    .await;
    let updates = fake.wait_calls(card, 1).await;
    let first = updates[0].body.to_string();
    assert!(
        first.contains("Approval needed: R1") && first.contains("R1 approved by carol (1 of 2)"),
        "{first}"
    );
    assert_eq!(updates[0].auth.as_deref(), Some("Bot test-bot-token"));
    interact(
        "1190000000000000044",
        "dave",
        "approve",
        serde_json::json!([{"name": "request", "type": 3, "value": "R1"}]),
    )
    .await;
    let updates = fake.wait_calls(card, 3).await;
    let last = &updates[2].body;
    assert!(last.to_string().contains("R1 #1: done"), "{last}");
    assert_eq!(
        last["components"],
        serde_json::json!([]),
        "the closing step removes the buttons"
    );
    assert_eq!(c.helm.calls().len(), 1);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_change_another_live_replica_runs_is_left_alone_until_its_lease_runs_out() {
    let pg = crate::support::pg::PgSchema::create().await;
    let c = with_policy(&[("FIREWATCH__STORE__URL", &pg.url)]).await;
    bob_asks(&c).await;
    let carol = person("carol", None).actor;
    let now = c.t.clock.now();
    carol_approves(&c).await;
    // Another replica on the same database claims it and is running it; its lease is current.
    let pool = pg.pool().await;
    sqlx::query("INSERT INTO processes (id) VALUES ('replica-b')")
        .execute(&pool)
        .await
        .unwrap();
    assert!(
        c.t.app
            .store
            .claim_approval(1, "replica-b", now)
            .await
            .unwrap()
            .is_some()
    );
    // This replica's recovery pass (its first scheduler tick) leaves it running.
    let posts = c.t.record_posts();
    c.t.tick().await;
    assert_eq!(state(&c, 1).await, State::Running);
    assert!(c.helm.calls().is_empty(), "not run here too");
    assert!(posts.take().is_empty());
    // The other replica goes silent: once its lease ran out, recovery may close the request.
    sqlx::query(
        "UPDATE processes SET heartbeat_at = now() - interval '1 minute' WHERE id = 'replica-b'",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let me = c.t.app.store.process().to_owned();
    let closed =
        c.t.app
            .store
            .close_approval(
                1,
                firewatch::store::Close {
                    from: &[State::Running],
                    to: State::Failed,
                    result: Some("its replica is gone"),
                    not_runner: Some(&me),
                },
                &[],
                &carol,
                now,
            )
            .await
            .unwrap();
    assert_eq!(closed.map(|r| r.state), Some(State::Failed));
    assert!(c.helm.calls().is_empty());
}

/// Waits (bounded) until the card `key` is in the store: the message the next steps update.
async fn card_kept(c: &ClusterApp, key: &str) {
    for _ in 0..200 {
        if c.t.app.store.card(key).await.unwrap().is_some() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("card {key} was never stored");
}

/// Makes the next `failures` closes of a running request on `pg` fail in the database (a
/// sequence counts them: a failed transaction does not roll it back).
async fn refuse_closing_a_run(pg: &crate::support::pg::PgSchema, failures: i64) {
    let pool = pg.pool().await;
    for sql in [
        "CREATE SEQUENCE close_faults",
        "CREATE TABLE close_fault_budget (n BIGINT NOT NULL)",
        "CREATE FUNCTION refuse_close() RETURNS trigger AS $$ BEGIN \
         IF nextval('close_faults') <= (SELECT n FROM close_fault_budget) THEN \
         RAISE EXCEPTION 'injected: the store refuses'; END IF; RETURN NEW; END $$ \
         LANGUAGE plpgsql",
        "CREATE TRIGGER refuse_close BEFORE UPDATE ON approvals FOR EACH ROW \
         WHEN (OLD.state = 'running' AND NEW.state <> 'running') EXECUTE FUNCTION refuse_close()",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    sqlx::query("INSERT INTO close_fault_budget (n) VALUES ($1)")
        .bind(failures)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn a_run_whose_outcome_the_store_refuses_for_a_moment_is_recorded_on_a_later_try() {
    let pg = crate::support::pg::PgSchema::create().await;
    let c = with_policy(&[("FIREWATCH__STORE__URL", &pg.url)]).await;
    bob_asks(&c).await;
    refuse_closing_a_run(&pg, 2).await;
    let out = c.t.console("carol", "ops", "/incident-approve R1").await;
    assert_has(
        &out,
        &["🔧 R1 #1: done — rollback freightliner to the previous revision"],
    );
    assert!(!out.contains("could not record"), "{out}");
    assert_eq!(state(&c, 1).await, State::Succeeded);
    assert_eq!(c.helm.calls().len(), 1);
    assert!(kinds(&c).await.contains(&"mutation_applied".to_owned()));
}

#[tokio::test]
async fn a_run_whose_outcome_cannot_be_recorded_still_tells_the_channel_what_it_did() {
    let pg = crate::support::pg::PgSchema::create().await;
    let c = with_policy(&[("FIREWATCH__STORE__URL", &pg.url)]).await;
    bob_asks(&c).await;
    refuse_closing_a_run(&pg, 1_000).await;
    let out = c.t.console("carol", "ops", "/incident-approve R1").await;
    assert_has(
        &out,
        &[
            "🔧 R1 #1: done — rollback freightliner to the previous revision",
            "firewatch could not record this outcome",
            "R1 as running until firewatch restarts",
        ],
    );
    assert_eq!(state(&c, 1).await, State::Running);
    assert_eq!(c.helm.calls().len(), 1, "run once, not again");
}
