//! Requests from Slack workspaces and Discord servers firewatch does not serve
//! (`slack.team_ids`, `discord.guild_ids`): refused before they are stored, over every transport,
//! with a word to their author; nothing in the inbox, nothing run.

use firewatch::app::serve;
use firewatch::approval::State;
use firewatch::clock::Clock;
use serde_json::{Value, json};

use crate::fake_discord::FakeDiscord;
use crate::fake_slack::FakeSlack;
use crate::helpers::{ClusterApp, TestApp, assert_has};
use crate::slack::{Press, command_body_from, post_signed, send_press, socket_command};

/// How many requests the inbox holds.
async fn inbox(t: &TestApp) -> i64 {
    let store = firewatch::store::SqlStore::connect(&t.app.settings.store.url)
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM processed_requests")
        .fetch_one(store.pool())
        .await
        .unwrap();
    n
}

fn slack_env(fake: &FakeSlack) -> Vec<(String, String)> {
    [
        ("FIREWATCH__SLACK__API_URL", format!("{}/api", fake.url)),
        ("FIREWATCH__SLACK__BOT_TOKEN", "xoxb-test-token".into()),
        (
            "FIREWATCH__SLACK__SIGNING_SECRET",
            crate::slack::SECRET.into(),
        ),
        ("FIREWATCH__SLACK__TEAM_IDS", "T0001".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[tokio::test]
async fn a_slack_command_or_button_from_another_workspace_is_refused_before_it_is_stored() {
    let fake = FakeSlack::start().await;
    let env = slack_env(&fake);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let c = ClusterApp::spawn(&env).await;
    crate::support::objects::broken(&c.kube);
    let running = serve::start(&c.t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    let addr = running.addr;
    let ours = |user: &str, line: &str, trigger: &str| {
        let body = command_body_from("T0001", &fake, user, "C0AUTH", line, trigger);
        async move { post_signed(addr, "/slack/commands", &body).await }
    };
    ours(
        "alice",
        "/incident-assess checkout errors for some users",
        "o.1",
    )
    .await;
    fake.wait_calls("chat.postMessage", 1).await;
    ours("bob", "/incident-rollback", "o.2").await;
    fake.wait_calls("chat.postMessage", 2).await;
    let stored = inbox(&c.t).await;

    // A command typed in another workspace gets an answer only its author sees.
    let body = command_body_from(
        "T9EVIL",
        &fake,
        "mallory",
        "C0AUTH",
        "/incident-approve R1",
        "o.3",
    );
    let (status, answer) = post_signed(addr, "/slack/commands", &body).await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["response_type"], "ephemeral");
    assert_has(
        answer["text"].as_str().unwrap(),
        &[
            "firewatch does not take requests from this Slack workspace",
            "Nothing was recorded",
        ],
    );
    // The attack: Approve pressed by another workspace (in a shared channel), and by
    // its guest in ours: 403, which Slack shows as a failed button.
    for (team, user_team, trigger) in [("T9EVIL", "T9EVIL", "o.4"), ("T0001", "T9EVIL", "o.5")] {
        let press = Press {
            team,
            user_team,
            channel: "C0AUTH",
            user: "mallory",
            command: "/incident-approve R1",
            trigger,
        };
        let (status, said) = send_press(addr, &fake, &press).await;
        assert_eq!(status, 403, "{team}/{user_team}");
        assert_has(&said, &["does not take requests from this Slack workspace"]);
    }
    assert_eq!(inbox(&c.t).await, stored, "nothing is stored");
    let request = c.t.app.store.approval(1).await.unwrap().unwrap();
    assert_eq!(
        (request.state, request.approvers.len()),
        (State::Pending, 0)
    );
    assert!(c.helm.calls().is_empty());

    // Our workspace's press runs it, once.
    let press = Press {
        team: "T0001",
        user_team: "T0001",
        channel: "C0AUTH",
        user: "carol",
        command: "/incident-approve R1",
        trigger: "o.6",
    };
    assert_eq!(send_press(addr, &fake, &press).await.0, 200);
    fake.wait_for("the result", |calls| {
        calls
            .iter()
            .any(|c| c.body.to_string().contains("R1 #1: done"))
    })
    .await;
    assert_eq!(c.helm.calls().len(), 1);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_socket_mode_command_from_another_workspace_is_answered_and_not_stored() {
    let fake = FakeSlack::start().await;
    let mut env = slack_env(&fake);
    env.retain(|(k, _)| k != "FIREWATCH__SLACK__SIGNING_SECRET");
    env.push((
        "FIREWATCH__SLACK__APP_TOKEN".into(),
        "xapp-test-token".into(),
    ));
    let t = TestApp::spawn_with(env).await;
    let running = serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    fake.send_envelope(socket_command(&fake, "T9EVIL", "mallory", "o.7"))
        .await;
    let acks = fake.wait_calls("socket", 1).await;
    assert_has(
        &acks[0].body["payload"].to_string(),
        &["firewatch does not take requests from this Slack workspace"],
    );
    assert_eq!(inbox(&t).await, 0);
    assert!(fake.calls_to("chat.postMessage").is_empty());
    running.stop().await.unwrap();
}

/// `/incident status` from Discord, in server `guild` (a direct message when `None`).
fn status_from(id: &str, guild: Option<&str>) -> Value {
    let mut body =
        crate::discord::command_as(id, "mallory", "1150000000000000009", "status", json!([]));
    match guild {
        Some(guild) => body["guild_id"] = json!(guild),
        None => {
            let object = body.as_object_mut().unwrap();
            object.remove("guild_id");
            let member = object.remove("member").unwrap();
            object.insert("user".into(), member["user"].clone());
        }
    }
    body
}

#[tokio::test]
async fn a_discord_interaction_from_another_server_or_a_dm_is_refused_before_it_is_stored() {
    let fake = FakeDiscord::start().await;
    let mut env = crate::discord::discord_env(&fake);
    env.push((
        "FIREWATCH__DISCORD__GUILD_IDS".into(),
        "1170000000000000000".into(),
    ));
    let t = TestApp::spawn_with(env.clone()).await;
    let running = serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    for (body, said) in [
        (
            status_from("1190000000000000071", Some("1990000000000000000")),
            "firewatch does not take commands from this Discord server",
        ),
        (
            status_from("1190000000000000072", None),
            "firewatch does not take commands in direct messages",
        ),
    ] {
        let (status, answer) = crate::discord::interact_at(running.addr, &body).await;
        assert_eq!(status, 200);
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["type"], 4, "an answer, not a deferral");
        assert_eq!(answer["data"]["flags"], 64, "seen by its author only");
        assert_has(answer["data"]["content"].as_str().unwrap(), &[said]);
    }
    assert_eq!(inbox(&t).await, 0);
    // From the server it serves, the same command is taken.
    let ours = status_from("1190000000000000073", Some("1170000000000000000"));
    let (_, answer) = crate::discord::interact_at(running.addr, &ours).await;
    assert_eq!(serde_json::from_str::<Value>(&answer).unwrap()["type"], 5);
    running.stop().await.unwrap();

    // Over the gateway, the refusal is the interaction's callback.
    let gateway = FakeDiscord::start().await;
    let mut env = crate::discord::discord_env(&gateway);
    env.push(("FIREWATCH__DISCORD__MODE".into(), "gateway".into()));
    env.push((
        "FIREWATCH__DISCORD__GUILD_IDS".into(),
        "1170000000000000000".into(),
    ));
    let t = TestApp::spawn_with(env).await;
    let running = serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    let interaction = crate::discord::over_the_gateway(status_from(
        "1190000000000000074",
        Some("1990000000000000000"),
    ));
    gateway.dispatch("INTERACTION_CREATE", interaction).await;
    let callback = gateway
        .wait_calls("POST /interactions/1190000000000000074/{token}/callback", 1)
        .await;
    assert_eq!(callback[0].body["type"], 4);
    assert_has(
        &callback[0].body["data"]["content"].to_string(),
        &["firewatch does not take commands from this Discord server"],
    );
    assert_eq!(inbox(&t).await, 0);
    running.stop().await.unwrap();
}

#[tokio::test]
async fn a_request_stored_before_its_workspace_stopped_being_served_is_not_run() {
    let fake = FakeSlack::start().await;
    let t = TestApp::spawn_with(slack_env(&fake)).await;
    // Accepted just before a restart (by settings that served its workspace).
    let body = command_body_from(
        "T9EVIL",
        &fake,
        "mallory",
        "C0INC",
        "/incident-assess db down",
        "o.8",
    );
    let command =
        firewatch::chat::slack::payload::SlashCommand::from_form(body.as_bytes()).unwrap();
    let delivery = firewatch::chat::slack::Delivery::Command(command);
    let inbound = firewatch::store::Inbound::new(delivery.key(), &delivery, t.clock.now());
    assert!(t.app.store.accept_request(&inbound).await.unwrap());
    let t = t.restart().await;
    let running = serve::start(&t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    // The replay at start takes it up; wait (bounded) until it is done with it.
    let store = firewatch::store::SqlStore::connect(&t.app.settings.store.url)
        .await
        .unwrap();
    let mut waiting = 1;
    for _ in 0..200 {
        (waiting,) = sqlx::query_as::<_, (i64,)>(
            "SELECT count(*) FROM processed_requests WHERE delivered_at IS NULL",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        if waiting == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(waiting, 0, "the stored request was never taken up");
    let (incidents,): (i64,) = sqlx::query_as("SELECT count(*) FROM incidents")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(incidents, 0, "not run");
    assert!(fake.calls_to("chat.postMessage").is_empty());
    running.stop().await.unwrap();
}
