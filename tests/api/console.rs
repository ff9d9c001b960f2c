use crate::helpers::{TestApp, assert_has};

#[tokio::test]
async fn a_whole_incident_prints_the_three_runbook_messages_with_times_and_durations() {
    let t = TestApp::spawn().await;

    let alert = t
        .say("/incident-assess API returning 500s since the last deploy")
        .await;
    assert_has(
        &alert,
        &[
            "🚨 INCIDENT DETECTED - P1\n",
            "Incident: #1\n",
            "Severity: P1 High (matched '500s')\n",
            "Service: freightliner\n",
            "Status: Investigating\n",
            "Impact: API returning 500s since the last deploy\n",
            "Started: 2026-11-29 03:00 UTC\n",
            "Next Update: 03:30 UTC (in 30m)\n",
            "Team: @devops-troubleshooter, @performance-engineer, @golang-pro\n",
            "acknowledge by 04:00 UTC",
            "▸ Acknowledge: /incident-ack #1",
        ],
    );

    t.advance_minutes(4);
    let ack = t.console("bob", "ops", "/incident-ack").await;
    assert_has(
        &ack,
        &[
            "👀 INCIDENT ACKNOWLEDGED",
            "Commander: bob",
            "Time to acknowledge: 4m",
        ],
    );

    t.advance_minutes(10);
    let update = t
        .say(r#"/incident-update --status mitigating --eta "20m" rolling back to revision 41"#)
        .await;
    assert_has(
        &update,
        &[
            "📊 INCIDENT UPDATE - P1\n",
            "Status: Mitigating (was Investigating)\n",
            "Progress: rolling back to revision 41\n",
            "ETA: 20m\n",
            "Actions Taken: none since the last update\n",
            "Users affected: not recorded (/incident-update #1 --users 1200|~40%|all)\n",
            "Next Update: 03:44 UTC (in 30m)\n",
            "Posted by: alice\n",
        ],
    );

    t.advance_minutes(3);
    assert_has(
        &t.say("/incident-note error rate falling").await,
        &["📝 NOTE on #1 by alice", "error rate falling"],
    );

    t.say("/incident-followup alert on the 5xx rate").await;
    t.advance_minutes(30);
    let resolved = t
        .say("/incident-resolve config flag enabled a broken path | rolled back to 41")
        .await;
    assert_has(
        &resolved,
        &[
            "✅ INCIDENT RESOLVED\n",
            "Service: freightliner\n",
            "Duration: 47m\n",
            "Root Cause: config flag enabled a broken path\n",
            "Resolution: rolled back to 41\n",
            "Post-Mortem: ",
            "Time to acknowledge: 4m\n",
            "Follow-up (open action items):\n• 1. alert on the 5xx rate (alice)\n/incident-followup #1 <text> adds an action item",
        ],
    );

    let status = t.say("/incident-status").await;
    assert_has(
        &status,
        &[
            "ℹ️ INCIDENT #1 - P1 High - Resolved",
            "Incident commander: bob (since 03:04 UTC)",
            "03:00  detected as P1 (matched '500s'): API returning 500s since the last deploy — alice",
            "03:04  acknowledged — bob",
            "03:14  status Investigating → Mitigating — alice",
            "03:14  update: rolling back to revision 41 (ETA 20m) — alice",
            "03:17  note: error rate falling — alice",
            "03:47  resolved. Root cause: config flag enabled a broken path. Resolution: rolled back to 41 — alice",
        ],
    );
    assert!(
        !status.contains("Next Update"),
        "a resolved incident promises no update:\n{status}"
    );

    let t = t.restart().await;
    let after_restart = t.console("carol", "elsewhere", "/incident-status #1").await;
    let timeline_of = |text: &str| {
        text.split_once("Timeline:")
            .map(|(_, rest)| rest.to_owned())
    };
    assert_eq!(
        timeline_of(&after_restart),
        timeline_of(&status),
        "nothing lost on restart"
    );
}

#[tokio::test]
async fn a_severity_change_pages_the_new_roles_and_moves_the_next_update() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess export button broken for some users")
        .await;
    t.advance_minutes(20);
    let raised = t
        .say("/incident-severity P0 payments are failing too")
        .await;
    assert_has(
        &raised,
        &[
            "🔺 SEVERITY RAISED - P2 → P0",
            "Reason: payments are failing too",
            "Paging: @security-auditor, @performance-engineer",
            "Next Update: 03:35 UTC (in 15m)",
        ],
    );
    t.advance_minutes(5);
    let lowered = t.say("/incident-severity P3").await;
    assert_has(
        &lowered,
        &[
            "🔻 SEVERITY LOWERED - P0 → P3",
            "Reason: none given",
            "Next Update: 2026-11-30 03:25 UTC (in 1d 0h)",
        ],
    );
    assert!(
        !lowered.contains("Paging:"),
        "lowering pages nobody:\n{lowered}"
    );
    let same = t.say("/incident-severity p3").await;
    assert_has(&same, &["⚠️ Nothing to change", "#1 is already P3"]);
}

#[tokio::test]
async fn an_illegal_command_for_the_state_is_refused_and_changes_nothing() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess checkout down").await;
    t.say("/incident-resolve db failover | failed back").await;
    let entries = t.timeline(1).await.len();
    let version = t.version(1).await;

    for (command, shown) in [
        (
            "/incident-update still watching",
            "/incident-update is not possible now",
        ),
        ("/incident-ack", "/incident-ack is not possible now"),
        (
            "/incident-severity P1",
            "/incident-severity is not possible now",
        ),
        (
            "/incident-resolve x | y",
            "/incident-resolve is not possible now",
        ),
        (
            "/incident-rollback",
            "/incident-rollback is not possible now",
        ),
    ] {
        let out = t.say(command).await;
        assert_has(
            &out,
            &[
                shown,
                "#1 is Resolved. Allowed now: /incident-role, /incident-note, /incident-status, /incident-report, /incident-followup.",
            ],
        );
    }
    assert_eq!(
        t.timeline(1).await.len(),
        entries,
        "no timeline entry added"
    );
    assert_eq!(t.version(1).await, version, "incident unchanged");

    let note = t
        .say("/incident-note the failover script had a stale host list")
        .await;
    assert_has(&note, &["📝 NOTE on #1"]);
}

#[tokio::test]
async fn bad_input_gets_a_clear_message_and_changes_nothing() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess search is slow").await;
    let entries = t.timeline(1).await.len();
    for (command, shown) in [
        (
            "/incident-update --status fixed all good",
            "'fixed' is not a status",
        ),
        (
            "/incident-assess --sev P7 db down",
            "'P7' is not a severity",
        ),
        (
            "/incident-assess db down --service nope",
            "unknown service 'nope' (known: freightliner)",
        ),
        ("/incident-note \"unbalanced", "unbalanced quote"),
        (
            "/incident-resolve no pipe here",
            "missing '|' between the root cause and the resolution",
        ),
        ("/incident-udpate hi", "did you mean /incident-update?"),
        ("/incident-status #99", "There is no incident #99"),
        ("/incident-note #99 hello", "There is no incident #99"),
        ("hello bot", "commands start with /incident-"),
    ] {
        let out = t.say(command).await;
        assert_has(&out, &["⚠️", shown]);
    }
    assert_eq!(t.timeline(1).await.len(), entries);
    assert_eq!(
        t.app.store.active_incidents().await.unwrap().len(),
        1,
        "no incident opened by bad input"
    );
}

#[tokio::test]
async fn commands_act_on_the_channels_incident_or_on_a_named_one() {
    let t = TestApp::spawn().await;
    t.console("alice", "ops", "/incident-assess checkout down")
        .await;

    let elsewhere = t.console("bob", "random", "/incident-ack").await;
    assert_has(
        &elsewhere,
        &[
            "⚠️ No incident is open in this channel",
            "Name one with #ID",
        ],
    );

    let named = t.console("bob", "random", "/incident-ack #1").await;
    assert_has(
        &named,
        &[
            "[posted in #ops]",
            "👀 INCIDENT ACKNOWLEDGED",
            "Commander: bob",
        ],
    );

    t.console("alice", "ops", "/incident-assess search slow")
        .await;
    let ambiguous = t.console("alice", "ops", "/incident-note which one?").await;
    assert_has(
        &ambiguous,
        &[
            "Several incidents are open in this channel",
            "#2 (P1 Investigating), #1 (P0 Investigating)",
        ],
    );
    let listed = t.console("alice", "ops", "/incident-status").await;
    assert_has(
        &listed,
        &[
            "ℹ️ OPEN INCIDENTS: 2",
            "#2 P1 Investigating - freightliner - search slow",
        ],
    );

    t.console("alice", "ops", "/incident-resolve #1 db | failover")
        .await;
    let chosen = t
        .console("alice", "ops", "/incident-note only one is active now")
        .await;
    assert_has(&chosen, &["📝 NOTE on #2"]);
}

#[tokio::test]
async fn status_without_a_channel_incident_lists_every_open_one() {
    let t = TestApp::spawn().await;
    let empty = t.console("alice", "lobby", "/incident-status").await;
    assert_has(&empty, &["ℹ️ OPEN INCIDENTS: 0", "No incident is open."]);
    t.console("alice", "ops", "/incident-assess typo in docs")
        .await;
    t.console("alice", "payments", "/incident-assess payments unavailable")
        .await;
    t.advance_minutes(20);
    let list = t.console("alice", "lobby", "/incident-status").await;
    assert_has(
        &list,
        &[
            "ℹ️ OPEN INCIDENTS: 2",
            "#2 P0 Investigating - freightliner - payments unavailable (open 20m, next update 03:15 UTC (overdue by 5m))",
            "#1 P3 Investigating - freightliner - typo in docs",
        ],
    );
}

#[tokio::test]
async fn the_console_switches_user_and_channel_and_skips_comments() {
    let t = TestApp::spawn().await;
    let out = t
        .console(
            "alice",
            "ops",
            "// a scripted drill\n\n/incident-assess queue latency high\n:as bob\n/incident-ack\n:channel #other\n/incident-status\n:quit\n/incident-note never read\n",
        )
        .await;
    assert_has(
        &out,
        &[
            "🚨 INCIDENT DETECTED - P1",
            "Commander: bob",
            "ℹ️ OPEN INCIDENTS: 1",
        ],
    );
    assert!(
        !out.contains("never read"),
        "input after :quit is ignored:\n{out}"
    );
    assert_eq!(
        t.timeline(1).await.len(),
        3,
        "detected + acknowledged + commander"
    );
}

#[tokio::test]
async fn help_lists_every_command_and_explains_one() {
    let t = TestApp::spawn().await;
    let all = t.say("/incident-help").await;
    for name in firewatch::command::CommandName::ALL {
        assert_has(&all, &[name.usage()]);
    }
    assert_has(
        &all,
        &[
            "/incident-rollback [#ID] [REVISION] — roll the service's Helm release back\n",
            "/incident-report [#ID] — write the post-incident report and close the incident\n",
            "/incident-approve [#ID] [REQ] — approve a pending production change\n",
        ],
    );
    let one = t.say("/incident help resolve").await;
    assert_has(
        &one,
        &[
            "ℹ️ /incident-resolve",
            "Usage: /incident-resolve [#ID] <root cause> | <resolution>",
        ],
    );
}

#[tokio::test]
async fn resolved_incidents_do_not_crowd_out_the_channel() {
    let t = TestApp::spawn().await;
    t.say("/incident-assess db down").await;
    t.say("/incident-resolve disk full | grew the volume").await;
    t.advance_minutes(60);
    t.say("/incident-assess search slow").await;
    t.say("/incident-resolve bad index | rebuilt it").await;
    t.console("alice", "other", "/incident-assess queue backlog growing")
        .await;

    let status = t.say("/incident-status").await;
    assert_has(&status, &["ℹ️ INCIDENT #2 - P1 High - Resolved"]);
    let note = t
        .say("/incident-note the index rebuild took 12 minutes")
        .await;
    assert_has(&note, &["📝 NOTE on #2"]);
    let elsewhere = t.console("alice", "lobby", "/incident-status").await;
    assert_has(&elsewhere, &["ℹ️ OPEN INCIDENTS: 1", "#3 P2 Investigating"]);
}

#[tokio::test]
async fn a_line_that_is_not_utf8_is_skipped_and_the_rest_still_runs() {
    let t = TestApp::spawn().await;
    let mut input = b"/incident-assess caf\xe9 down\n".to_vec();
    input.extend_from_slice(b"/incident-assess checkout down\n");
    let (out, refused) = piped(&t, &input).await;
    assert_eq!(refused, 1, "the line that is not UTF-8");
    assert_has(
        &out,
        &[
            "⚠️ That line is not valid UTF-8 text; it was skipped.",
            "🚨 INCIDENT DETECTED - P0",
            "Incident: #1",
        ],
    );
}

#[tokio::test]
async fn what_the_bot_posts_on_its_own_prints_between_commands() {
    use std::sync::Arc;

    use firewatch::chat::console::{self, ConsoleOutbox};
    use firewatch::incident::{IncidentId, Platform};
    use tokio::io::AsyncWriteExt;

    let t = TestApp::spawn().await;
    let (outbox, posts) = ConsoleOutbox::new();
    t.app.outbox.route(Platform::Console, Arc::new(outbox));
    let (mut typing, input) = tokio::io::duplex(4096);
    let engine = Arc::clone(&t.app.engine);
    let console = tokio::spawn(async move {
        let mut out = Vec::new();
        let options = console::Options {
            user: "alice".into(),
            channel: "ops".into(),
            colour: false,
        };
        console::run(
            &engine,
            tokio::io::BufReader::new(input),
            &mut out,
            options,
            Some(posts),
        )
        .await
        .expect("console runs");
        String::from_utf8(out).expect("utf-8")
    });
    typing
        .write_all(b"/incident-assess checkout is down\n")
        .await
        .unwrap();
    let id = IncidentId::new(1).unwrap();
    while t.app.store.incident(id).await.unwrap().is_none() {
        tokio::task::yield_now().await;
    }
    t.advance_minutes(5);
    assert_eq!(t.tick().await, 1);
    typing.write_all(b"/incident-ack\n").await.unwrap();
    drop(typing);
    let out = console.await.unwrap();
    let escalation = out
        .find("🔥 RESPONSE TARGET MISSED - #1 ESCALATED")
        .unwrap_or_else(|| panic!("no escalation in:\n{out}"));
    let ack = out.find("👀 INCIDENT ACKNOWLEDGED").expect("ack printed");
    assert!(
        out.find("🚨 INCIDENT DETECTED").unwrap() < escalation && escalation < ack,
        "{out}"
    );
}

#[tokio::test]
async fn piped_lines_are_echoed_and_refusals_and_bad_console_commands_are_counted() {
    let t = TestApp::spawn().await;
    let script = "/incident-assess checkout down\n\
                  /incident-severity P9\n\
                  :as\n\
                  :as bob carol\n\
                  :channel\n\
                  :frobnicate\n\
                  :as \u{202e}bob\n\
                  :as bob\n\
                  /incident-ack\n\
                  /incident-ack\n";
    let (out, refused) = piped(&t, script.as_bytes()).await;
    assert_has(
        &out,
        &[
            "> /incident-assess checkout down\n🚨 INCIDENT DETECTED - P0",
            "> /incident-severity P9\n⚠️ Could not read that command",
            "> :as\n⚠️ :as needs a user name, like :as bob",
            "> :as bob carol\n⚠️ :as takes one user name, not 2 words ('bob carol')",
            "> :channel\n⚠️ :channel needs a channel name, like :channel ops",
            "> :frobnicate\n⚠️ ':frobnicate' is not a console command",
            "> :as \\u{202e}bob\n⚠️ '\\u{202e}bob' is not a user name",
            "> /incident-ack\n👀 INCIDENT ACKNOWLEDGED",
            "Commander: bob",
            "> /incident-ack\n⚠️ Already acknowledged",
        ],
    );
    assert!(!out.contains('\u{202e}'), "{out:?}");
    // P9, five bad `:` lines and the second acknowledgement.
    assert_eq!(refused, 7, "{out}");
}

/// `input` piped into the console as alice in #ops: what it printed, and how many lines it
/// counted as refused.
async fn piped(t: &TestApp, input: &[u8]) -> (String, usize) {
    let mut out = Vec::new();
    let options = firewatch::chat::console::Options {
        user: "alice".into(),
        channel: "ops".into(),
        colour: false,
    };
    let refused = firewatch::chat::console::run(&t.app.engine, input, &mut out, options, None)
        .await
        .expect("console keeps going");
    (String::from_utf8(out).unwrap(), refused)
}
