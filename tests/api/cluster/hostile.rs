//! Text from the cluster that would drive a terminal or hide a link: a pod log line that sets
//! the window title, clears the screen and turns the text red, with a right-to-left override
//! and a Markdown masked link in it. Evidence carries it into the 🚨 alert, the timeline and
//! `/incident-status`; every way out shows it safely, and the timeline keeps it as it came.

use firewatch::app::serve;
use firewatch::incident::TimelineEvent;
use serde_json::Value;

use crate::fake_discord::FakeDiscord;
use crate::fake_slack::FakeSlack;
use crate::helpers::{ClusterApp, assert_has};
use crate::support::objects;

/// The hostile log line.
const LINE: &str = "panic: \u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}[31mboom \u{202e}exe.txt [docs](https://evil.example)\u{1b}[0m";

/// A broken Freightliner whose pods log [`LINE`], and firewatch started with `env`.
async fn hostile_cluster(env: &[(String, String)]) -> ClusterApp {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let c = ClusterApp::spawn_unapproved(&env).await;
    objects::broken(&c.kube);
    for i in 0..3 {
        c.kube
            .set_log(&format!("freightliner-{i}"), &format!("INFO up\n{LINE}\n"));
    }
    c
}

/// Every string in `json` holding ESC or U+202E.
fn raw_in(json: &Value) -> Vec<String> {
    match json {
        Value::String(s) if s.contains(['\u{1b}', '\u{202e}']) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(raw_in).collect(),
        Value::Object(fields) => fields.values().flat_map(raw_in).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn the_console_shows_escape_sequences_from_pod_logs_escaped_and_the_timeline_keeps_them() {
    let c = hostile_cluster(&[]).await;
    let alert =
        c.t.say("/incident-assess checkout errors for some users")
            .await;
    let status = c.t.say("/incident-status").await;
    for out in [&alert, &status] {
        assert!(!out.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{out:?}");
        assert_has(
            out,
            &[
                r"panic: \u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}[31mboom \u{202e}exe.txt [docs](https://evil.example)\u{1b}[0m",
            ],
        );
    }
    assert_has(
        &alert,
        &["🚨 INCIDENT DETECTED - P0", "Log errors: 3 error lines"],
    );
    let timeline = c.t.timeline(1).await;
    let TimelineEvent::Evidence { findings, .. } = &timeline[1].event else {
        panic!("evidence second: {timeline:?}");
    };
    assert!(
        findings.iter().any(|f| f.contains(LINE)),
        "the timeline keeps the line as the cluster gave it: {findings:?}"
    );
}

/// Typed control characters are refused before they are stored (the command's lexer); bidi
/// overrides and invisible characters are taken as typed and shown escaped.
#[tokio::test]
async fn typed_bidi_overrides_and_invisible_characters_are_shown_escaped_in_the_console() {
    let c = hostile_cluster(&[]).await;
    c.t.say("/incident-assess checkout \u{202e}nwod si").await;
    let out =
        c.t.say("/incident-note restarted \u{2066}pods\u{2069} on node\u{200b}-7")
            .await;
    assert!(
        !out.contains(['\u{2066}', '\u{2069}', '\u{200b}']),
        "{out:?}"
    );
    assert_has(&out, &[r"restarted \u{2066}pods\u{2069} on node\u{200b}-7"]);
    let status = c.t.say("/incident-status").await;
    assert!(!status.contains('\u{202e}'), "{status:?}");
    assert_has(&status, &[r"Impact: checkout \u{202e}nwod si"]);
    let refused = c.t.say("/incident-note \u{1b}[2J").await;
    assert_has(&refused, &["control character U+001B"]);
}

#[tokio::test]
async fn slack_blocks_carry_neither_escape_sequences_nor_bidi_overrides_from_pod_logs() {
    let fake = FakeSlack::start().await;
    let c = hostile_cluster(&crate::slack::slack_env(&fake, &[])).await;
    let running = serve::start(&c.t.app, "127.0.0.1:0")
        .await
        .expect("serve starts");
    crate::slack::send_command(
        running.addr,
        &fake,
        "alice",
        "C0INC",
        "/incident-assess checkout \u{202e}nwod si",
        "hostile.1",
    )
    .await;
    let post = fake.wait_calls("chat.postMessage", 1).await.remove(0);
    assert_eq!(raw_in(&post.body), Vec::<String>::new());
    assert_has(
        &post.body.to_string(),
        &[
            "🚨 INCIDENT DETECTED - P0",
            "panic: boom exe.txt [docs](https://evil.example)",
            "checkout nwod si",
        ],
    );
    running.stop().await.unwrap();
}

#[tokio::test]
async fn discord_embeds_carry_no_hidden_characters_and_no_masked_links_from_logs_or_notes() {
    let fake = FakeDiscord::start().await;
    let c = hostile_cluster(&crate::discord::discord_env(&fake)).await;
    let status = format!("POST /channels/{}/messages", crate::discord::STATUS_CHANNEL);
    // As `firewatch console` does: the outbox's posts (the mirror) are sent while it runs.
    let sending = c.t.app.posts.start();
    c.t.say("/incident-assess checkout \u{202e}nwod si").await;
    fake.wait_calls(&status, 1).await;
    c.t.say("/incident-note see [the runbook](https://evil.example/login) \u{202e}txt.exe")
        .await;
    let mirrored = fake.wait_calls(&status, 2).await;
    let bodies: Vec<&Value> = mirrored.iter().map(|call| &call.body).collect();
    for body in &bodies {
        assert_eq!(raw_in(body), Vec::<String>::new());
    }
    let alert = bodies[0]["embeds"][0].to_string();
    assert_has(
        &alert,
        &[
            // JSON-quoted: each backslash Discord receives shows as two.
            // The address runs to the next space: Discord links it, showing all of it.
            r"panic: boom exe.txt \\[docs\\](https://evil.example)",
            "checkout nwod si",
        ],
    );
    assert_has(
        &bodies[1]["embeds"][0].to_string(),
        &[r"see \\[the runbook\\](https://evil.example/login) txt.exe"],
    );
    sending.stop().await;
}
