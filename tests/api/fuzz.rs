//! Property tests (proptest) for everything that reads outside input: the command grammar, the
//! Slack form and interaction decoders and the Discord interaction decoder. Each must return a
//! value or an error for any input — never panic. `cargo test` runs 256 cases per property;
//! `PROPTEST_CASES=200000 cargo test --release --test api fuzz` is the long run.

use firewatch::chat::discord::interaction;
use firewatch::chat::slack::payload::{self, SlashCommand};
use firewatch::command;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Words the grammar gives meaning to, and some it must cope with.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/incident-assess".to_owned()),
        Just("/incident".to_owned()),
        Just("/incident-update".to_owned()),
        Just("/incident-followup".to_owned()),
        Just("/incident-scale".to_owned()),
        Just("/incident-resolve".to_owned()),
        Just("/incident-diagnose".to_owned()),
        Just("assess".to_owned()),
        Just("done".to_owned()),
        Just("--sev".to_owned()),
        Just("--sev=P1".to_owned()),
        Just("--status".to_owned()),
        Just("--eta=\"30 min\"".to_owned()),
        Just("--users".to_owned()),
        Just("--service".to_owned()),
        Just("--".to_owned()),
        Just("-".to_owned()),
        Just("|".to_owned()),
        Just("\"".to_owned()),
        Just("\\\"".to_owned()),
        Just("#12".to_owned()),
        Just("#0".to_owned()),
        Just("#-1".to_owned()),
        Just("#99999999999999999999".to_owned()),
        Just("P0".to_owned()),
        Just("p9".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("-5".to_owned()),
        Just("mitigating".to_owned()),
        Just("\u{200b}".to_owned()),
        Just("🚨".to_owned()),
        "\\PC{0,12}",
        "[ -~]{0,8}",
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop::collection::vec(token(), 0..10).prop_map(|t| t.join(" "))
}

/// JSON of any shape, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        "\\PC{0,16}".prop_map(Value::String),
        line().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("type".to_owned()),
                    Just("id".to_owned()),
                    Just("name".to_owned()),
                    Just("value".to_owned()),
                    Just("options".to_owned()),
                    Just("custom_id".to_owned()),
                    Just("user".to_owned()),
                    Just("channel".to_owned()),
                    Just("actions".to_owned()),
                    "[a-z_]{1,10}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A Discord interaction close to the documented shape, with any part replaced.
fn discord_interaction() -> impl Strategy<Value = Value> {
    (
        0u8..8,
        json_value(),
        prop::option::of(line()),
        prop::option::of("[0-9]{1,20}"),
        json_value(),
    )
        .prop_map(|(kind, options, custom, channel, member)| {
            json!({
                "id": "1234567890",
                "type": kind,
                "token": "tok",
                "channel_id": channel,
                "member": {"user": member},
                "user": {"id": "42", "username": "alice"},
                "data": {
                    "name": "incident",
                    "options": [{"type": 1, "name": "assess", "options": options}],
                    "custom_id": custom.map(|c| format!("{}{c}", interaction::BUTTON_PREFIX)),
                },
            })
        })
}

/// A Slack form: the slash-command fields (some left out) with any values, plus noise.
fn slack_form() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop_oneof![
                Just("team_id"),
                Just("channel_id"),
                Just("user_id"),
                Just("user_name"),
                Just("command"),
                Just("text"),
                Just("response_url"),
                Just("trigger_id"),
                Just("payload"),
                Just("ssl_check"),
            ],
            prop_oneof![
                line(),
                "\\PC{0,20}",
                json_value().prop_map(|v| v.to_string())
            ],
        ),
        0..12,
    )
    .prop_map(|pairs| serde_urlencoded::to_string(pairs).unwrap())
}

/// Bytes of a form body, drawn to hit a form decoder's edges: field names, separators, escapes
/// whole and broken, `+`, multi-byte and invalid UTF-8.
fn form_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            Just(b"trigger_id".to_vec()),
            Just(b"trigger%5Fid".to_vec()),
            Just(b"team_id".to_vec()),
            Just(b"channel_id".to_vec()),
            Just(b"user_id".to_vec()),
            Just(b"user_name".to_vec()),
            Just(b"command".to_vec()),
            Just(b"text".to_vec()),
            Just(b"response_url".to_vec()),
            Just(b"=".to_vec()),
            Just(b"&".to_vec()),
            Just(b"+".to_vec()),
            Just(b"%".to_vec()),
            Just(b"%2".to_vec()),
            Just(b"%2F".to_vec()),
            Just(b"%e2%9c%85".to_vec()),
            Just(b"%ff".to_vec()),
            Just(b"%zz".to_vec()),
            Just("é".as_bytes().to_vec()),
            Just(vec![0xff]),
            prop::collection::vec(any::<u8>(), 1..4),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// A slash command Slack could send: every field, values of any text, the pairs in any order,
/// maybe with fields firewatch does not read and a field given twice.
fn complete_form() -> impl Strategy<Value = Vec<u8>> {
    let names = [
        "team_id",
        "channel_id",
        "user_id",
        "user_name",
        "command",
        "text",
        "response_url",
        "trigger_id",
        "token",
        "api_app_id",
    ];
    (
        prop::collection::vec("\\PC{0,12}", names.len()),
        prop::option::of(0..names.len()),
        any::<prop::sample::Index>(),
    )
        .prop_map(move |(values, twice, rotation)| {
            let mut pairs: Vec<(&str, String)> = names.iter().copied().zip(values).collect();
            if let Some(twice) = twice {
                pairs.push((names[twice], "again".to_owned()));
            }
            let by = rotation.index(pairs.len());
            pairs.rotate_left(by);
            serde_urlencoded::to_string(pairs).unwrap().into_bytes()
        })
}

proptest! {
    #[test]
    fn slack_command_bodies_never_panic(body in prop_oneof![form_bytes(), complete_form()]) {
        if let Ok(payload::CommandRequest::Command(c)) = payload::command_request(&body) {
            let _ = command::parse(&c.line());
        }
    }

    #[test]
    fn the_command_parser_never_panics(input in line()) {
        let _ = command::parse(&input);
    }

    #[test]
    fn the_command_parser_never_panics_on_any_text(input in "\\PC*") {
        let _ = command::parse(&input);
    }

    #[test]
    fn slack_slash_command_forms_never_panic(form in slack_form()) {
        if let Ok(c) = SlashCommand::from_form(form.as_bytes()) {
            let _ = command::parse(&c.line());
        }
        let _ = payload::button_press(form.as_bytes());
    }

    #[test]
    fn slack_decoders_never_panic_on_any_bytes(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = SlashCommand::from_form(&body);
        let _ = payload::button_press(&body);
        let _ = interaction::read(&body);
    }

    #[test]
    fn slack_interaction_payloads_never_panic(
        value in json_value(),
        actions in prop::collection::vec(json_value(), 0..3),
    ) {
        let shaped = json!({
            "type": "block_actions",
            "user": {"id": "U1", "username": "alice"},
            "channel": {"id": "C1"},
            "trigger_id": "1.2.3",
            "response_url": "http://127.0.0.1/respond",
            "actions": actions,
            "extra": value,
        });
        for payload in [shaped, value] {
            let form = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
            if let Ok(Some(press)) = payload::button_press(form.as_bytes()) {
                let _ = command::parse(&press.command);
            }
        }
    }

    #[test]
    fn discord_interactions_never_panic(value in discord_interaction(), noise in json_value()) {
        for body in [value.to_string(), noise.to_string()] {
            if let Ok(interaction::Interaction::Call(call)) = interaction::read(body.as_bytes()) {
                let _ = command::parse(&call.line);
            }
        }
    }
}
