//! Approvals scoped to their incident: a vote counts only in the channel the request was posted
//! in, on its platform; the requester rule and one vote per person go by the person
//! (`[people.NAME]`), whichever account they use.

use firewatch::app::serve::{self, Running};
use firewatch::approval::State;
use serde_json::{Value, json};

use super::approvals::kinds;
use super::broken_with_incident_on;
use crate::fake_discord::FakeDiscord;
use crate::fake_slack::FakeSlack;
use crate::helpers::{ClusterApp, assert_has};
use crate::recorder::Call;
use crate::slack::{Press, send_command, send_press};

/// The Slack channel the incidents of these tests live in.
const INCIDENT: &str = "C0AUTH";
/// bob's Discord account; `[people.bob]` links it to his Slack account `UBOB`.
pub(super) const BOB_ON_DISCORD: &str = "1150000000000000003";
pub(super) const BOB: &str = "[people.bob]\nslack = \"UBOB\"\ndiscord = \"1150000000000000003\"\n";

async fn state(c: &ClusterApp) -> State {
    c.t.app.store.approval(1).await.unwrap().expect("R1").state
}

#[tokio::test]
async fn a_vote_from_another_channel_is_refused_with_where_to_vote_and_changes_nothing() {
    let c = broken_with_incident_on(ClusterApp::spawn(&[]).await).await;
    c.t.console("bob", "ops", "/incident-rollback").await;
    let before = kinds(&c).await;
    for line in ["/incident-approve R1", "/incident-deny R1 not needed"] {
        let out = c.t.console("carol", "war-room", line).await;
        assert_has(
            &out,
            &[
                "from here",
                "Votes on R1 count only in the channel it was posted in: the terminal's #ops.",
                "nothing was changed",
            ],
        );
    }
    assert_eq!(kinds(&c).await, before, "nothing is written");
    assert_eq!(state(&c).await, State::Pending);
    assert!(c.helm.calls().is_empty());
    let out = c.t.console("carol", "ops", "/incident-approve R1").await;
    assert_has(
        &out,
        &["👍 R1 approved by carol (1 of 1)", "🔧 R1 #1: done"],
    );
    assert_eq!(c.helm.calls().len(), 1);
}

#[tokio::test]
async fn a_vote_naming_an_incident_acts_on_that_incidents_request_only() {
    let c = broken_with_incident_on(ClusterApp::spawn(&[]).await).await;
    c.t.console("bob", "ops", "/incident-rollback").await;
    let before = kinds(&c).await;
    // #2 has no request: R1 of #1, the channel's incident, is not the one meant.
    for line in ["/incident-deny #2 too risky", "/incident-approve #2 R1"] {
        let out = c.t.console("carol", "ops", line).await;
        assert!(
            !out.contains("denied") && !out.contains("approved by"),
            "{out}"
        );
        assert_eq!(state(&c).await, State::Pending, "{line}: {out}");
    }
    let out = c.t.console("carol", "ops", "/incident-approve #2 R1").await;
    assert_has(
        &out,
        &["R1 is not a request of #2", "R1 asks for a change to #1"],
    );
    assert_eq!(kinds(&c).await, before, "nothing is written");
    let out =
        c.t.console("carol", "ops", "/incident-deny #1 not now")
            .await;
    assert_has(&out, &["R1 denied by carol"]);
    assert_eq!(state(&c).await, State::Denied);
    assert!(c.helm.calls().is_empty());
}

/// firewatch serving Slack and Discord (against fakes) on a broken Freightliner, with `toml`
/// appended to the config and `env` overrides.
pub(super) struct Both {
    pub(super) c: ClusterApp,
    slack: FakeSlack,
    discord: FakeDiscord,
    pub(super) running: Running,
}

impl Both {
    pub(super) async fn start(toml: &str, env: &[(&str, &str)]) -> Self {
        let slack = FakeSlack::start().await;
        let discord = FakeDiscord::start().await;
        let api = format!("{}/api", slack.url);
        let public = crate::discord::public_key();
        let mut all = vec![
            ("FIREWATCH__SLACK__API_URL", api.as_str()),
            ("FIREWATCH__SLACK__BOT_TOKEN", "xoxb-test-token"),
            ("FIREWATCH__SLACK__SIGNING_SECRET", crate::slack::SECRET),
            ("FIREWATCH__DISCORD__API_URL", discord.url.as_str()),
            ("FIREWATCH__DISCORD__APPLICATION_ID", "1180000000000000000"),
            ("FIREWATCH__DISCORD__PUBLIC_KEY", public.as_str()),
            ("FIREWATCH__DISCORD__BOT_TOKEN", "test-bot-token"),
        ];
        all.extend_from_slice(env);
        let c = ClusterApp::spawn_with_toml(toml, &all).await;
        crate::support::objects::broken(&c.kube);
        let running = serve::start(&c.t.app, "127.0.0.1:0")
            .await
            .expect("serve starts");
        Self {
            c,
            slack,
            discord,
            running,
        }
    }

    pub(super) async fn slack(&self, user: &str, channel: &str, line: &str, trigger: &str) {
        let (status, _) =
            send_command(self.running.addr, &self.slack, user, channel, line, trigger).await;
        assert_eq!(status, 200);
    }

    /// `/incident SUB` from Discord by `user` (id `user_id`) in the test server's channel.
    pub(super) async fn discord(
        &self,
        id: &str,
        (user, user_id): (&str, &str),
        sub: &str,
        options: Value,
    ) {
        let body = crate::discord::command_as(id, user, user_id, sub, options);
        let (status, _) = crate::discord::interact_at(self.running.addr, &body).await;
        assert_eq!(status, 200);
    }

    /// Waits for a call to either fake (a post, an edit, an answer) that says `text`; returns
    /// its body.
    pub(super) async fn answered(&self, text: &str) -> String {
        let has = |calls: &[Call]| calls.iter().any(|c| c.body.to_string().contains(text));
        let calls = tokio::select! {
            calls = self.slack.wait_for(text, has) => calls,
            calls = self.discord.wait_for(text, has) => calls,
        };
        calls
            .into_iter()
            .map(|c| c.body.to_string())
            .find(|b| b.contains(text))
            .expect("waited for it")
    }
}

#[tokio::test]
async fn votes_from_another_platform_or_workspace_and_channel_do_not_run_a_rollback() {
    let s = Both::start("", &[]).await;
    s.slack(
        "alice",
        INCIDENT,
        "/incident-assess checkout errors for some users",
        "s.1",
    )
    .await;
    s.slack.wait_calls("chat.postMessage", 1).await;
    s.slack("bob", INCIDENT, "/incident-rollback", "s.2").await;
    s.slack.wait_calls("chat.postMessage", 2).await;
    let before = kinds(&s.c).await;

    // The attacks: /incident approve from an unrelated Discord server and channel …
    let mut body = crate::discord::command_as(
        "1190000000000000051",
        "mallory",
        "1150000000000000009",
        "approve",
        json!([{"name": "request", "type": 3, "value": "R1"}]),
    );
    body["guild_id"] = json!("1990000000000000000");
    body["channel_id"] = json!("1980000000000000000");
    assert_eq!(
        crate::discord::interact_at(s.running.addr, &body).await.0,
        200
    );
    let said = s.answered("You cannot approve R1 from here").await;
    assert_has(
        &said,
        &["count only in the channel it was posted in: Slack channel C0AUTH"],
    );
    // … and an Approve button pressed in another workspace's channel.
    let press = Press {
        team: "T9EVIL",
        user_team: "T9EVIL",
        channel: "C0EVIL",
        user: "mallory",
        command: "/incident-approve R1",
        trigger: "s.3",
    };
    assert_eq!(send_press(s.running.addr, &s.slack, &press).await.0, 200);
    s.slack
        .wait_for("the press's refusal", |calls| {
            calls.iter().any(|c| {
                c.method == "response_url"
                    && c.body
                        .to_string()
                        .contains("You cannot approve R1 from here")
            })
        })
        .await;
    assert_eq!(kinds(&s.c).await, before, "nothing is written");
    assert_eq!(state(&s.c).await, State::Pending);
    assert!(s.c.helm.calls().is_empty(), "nothing runs");

    // The Approve button in the incident's channel runs it, once.
    let press = Press {
        team: "T0001",
        user_team: "T0001",
        channel: INCIDENT,
        user: "carol",
        command: "/incident-approve R1",
        trigger: "s.4",
    };
    assert_eq!(send_press(s.running.addr, &s.slack, &press).await.0, 200);
    s.answered("R1 #1: done").await;
    assert_eq!(s.c.helm.calls().len(), 1);
    assert_eq!(state(&s.c).await, State::Succeeded);
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn one_person_on_slack_and_discord_cannot_approve_their_own_request() {
    let s = Both::start(BOB, &[]).await;
    let alice = ("alice", "1150000000000000000");
    // The incident lives in Discord; bob asks for the rollback from Slack, naming it.
    s.discord(
        "1190000000000000061",
        alice,
        "assess",
        json!([{"name": "description", "type": 3, "value": "checkout errors for some users"}]),
    )
    .await;
    s.answered("INCIDENT DETECTED").await;
    s.slack("bob", "C0OPS", "/incident-rollback #1", "p.1")
        .await;
    let card = s.answered("Approval needed: R1").await;
    assert_has(&card, &["bob asks to rollback freightliner"]);

    // bob's Discord account, in the incident's own channel: the requester, refused.
    s.discord(
        "1190000000000000062",
        ("bob", BOB_ON_DISCORD),
        "approve",
        json!([{"name": "request", "type": 3, "value": "R1"}]),
    )
    .await;
    s.answered("You cannot approve R1: you asked for it").await;
    assert_eq!(state(&s.c).await, State::Pending);
    assert!(s.c.helm.calls().is_empty());
    assert_eq!(kinds(&s.c).await.last().unwrap(), "approval_refused");

    s.discord(
        "1190000000000000063",
        ("carol", "1150000000000000005"),
        "approve",
        json!([{"name": "request", "type": 3, "value": "R1"}]),
    )
    .await;
    s.answered("R1 #1: done").await;
    assert_eq!(s.c.helm.calls().len(), 1);
    s.running.stop().await.unwrap();
}

#[tokio::test]
async fn a_person_with_two_accounts_votes_once() {
    // carol is `UCAROL`, and `UWCAROL` in a second workspace sharing the incident's channel.
    let toml = "[people.carol]\nslack = [\"UCAROL\", \"UWCAROL\"]\n";
    let s = Both::start(toml, &[("FIREWATCH__APPROVALS__ROLLBACK__REQUIRED", "2")]).await;
    s.slack(
        "alice",
        INCIDENT,
        "/incident-assess checkout errors for some users",
        "t.1",
    )
    .await;
    s.slack.wait_calls("chat.postMessage", 1).await;
    s.slack("bob", INCIDENT, "/incident-rollback", "t.2").await;
    s.answered("Approval needed: R1").await;
    s.slack("carol", INCIDENT, "/incident-approve R1", "t.3")
        .await;
    s.answered("R1 approved by carol (1 of 2)").await;
    let press = Press {
        team: "T0001",
        user_team: "T0002",
        channel: INCIDENT,
        user: "wcarol",
        command: "/incident-approve R1",
        trigger: "t.4",
    };
    assert_eq!(send_press(s.running.addr, &s.slack, &press).await.0, 200);
    s.answered("You already voted on R1").await;
    assert_eq!(state(&s.c).await, State::Pending);
    assert!(
        s.c.helm.calls().is_empty(),
        "one person is one approval of two"
    );
    s.slack("dave", INCIDENT, "/incident-approve R1", "t.5")
        .await;
    s.answered("R1 #1: done").await;
    assert_eq!(s.c.helm.calls().len(), 1);
    s.running.stop().await.unwrap();
}
