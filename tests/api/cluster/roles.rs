//! Incident roles handed to someone by a Slack or Discord mention: the mention resolves to the
//! person `[people.NAME]` links it to, and a name without an account there is refused.

use firewatch::incident::{IncidentId, Platform, Role};
use serde_json::json;

use super::approval_scope::{BOB, BOB_ON_DISCORD, Both};
use crate::helpers::assert_has;

#[tokio::test]
async fn a_slack_or_discord_mention_hands_a_role_to_the_person_it_links_to() {
    let s = Both::start(BOB, &[]).await;
    s.slack(
        "alice",
        "C0ROLES",
        "/incident-assess checkout errors",
        "r.1",
    )
    .await;
    s.answered("INCIDENT DETECTED").await;
    s.slack(
        "alice",
        "C0ROLES",
        "/incident-role comms <@UBOB|bobby>",
        "r.2",
    )
    .await;
    let said = s.answered("IS COMMS LEAD OF #1").await;
    assert_has(&said, &["bob IS COMMS LEAD OF #1"]);
    s.slack("alice", "C0ROLES", "/incident-role scribe @zed", "r.3")
        .await;
    let refused = s.answered("[people.zed]").await;
    assert_has(&refused, &["'zed' has no slack account in [people.zed]"]);

    let alice = ("alice", "1150000000000000000");
    s.discord(
        "1190000000000000071",
        alice,
        "assess",
        json!([{"name": "description", "type": 3, "value": "search is slow"}]),
    )
    .await;
    s.answered("search is slow").await;
    s.discord(
        "1190000000000000072",
        alice,
        "role",
        json!([{"name": "role", "type": 3, "value": "scribe"},
               {"name": "person", "type": 6, "value": BOB_ON_DISCORD}]),
    )
    .await;
    s.answered("IS SCRIBE OF #2").await;

    let store = &s.c.t.app.store;
    let first = store
        .incident(IncidentId::new(1).unwrap())
        .await
        .unwrap()
        .unwrap();
    let comms = first.holder(Role::Comms).expect("a comms lead");
    assert_eq!(
        (comms.platform, comms.id.as_str(), comms.name.as_str()),
        (Platform::Slack, "UBOB", "bob")
    );
    assert!(
        first.holder(Role::Scribe).is_none(),
        "the refused name changed nothing"
    );
    assert_eq!(first.commander().map(|a| a.name.as_str()), Some("alice"));
    let second = store
        .incident(IncidentId::new(2).unwrap())
        .await
        .unwrap()
        .unwrap();
    let scribe = second.holder(Role::Scribe).expect("a scribe");
    assert_eq!(
        (scribe.platform, scribe.id.as_str(), scribe.name.as_str()),
        (Platform::Discord, BOB_ON_DISCORD, "bob")
    );
    s.running.stop().await.unwrap();
}
