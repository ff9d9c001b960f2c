use super::*;

fn ok(input: &str) -> Invocation {
    parse(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"))
}

fn err(input: &str) -> ParseError {
    match parse(input) {
        Ok(inv) => panic!("{input:?} should fail, parsed as {inv:?}"),
        Err(e) => e,
    }
}

#[test]
fn assess_takes_a_description_and_options_anywhere() {
    let inv = ok("/incident-assess API returning 500s since the last deploy");
    assert_eq!(
        inv.command,
        Command::Assess {
            description: "API returning 500s since the last deploy".into(),
            severity: None,
            service: None
        }
    );
    let inv = ok("/incident-assess --sev p0 checkout down --service=payments");
    assert_eq!(
        inv.command,
        Command::Assess {
            description: "checkout down".into(),
            severity: Some(Severity::P0),
            service: Some("payments".into())
        }
    );
    assert_eq!(inv.incident, None);
}

#[test]
fn the_umbrella_form_and_a_missing_slash_parse_alike() {
    let a = ok("/incident-note rollback started");
    assert_eq!(ok("/incident note rollback started"), a);
    assert_eq!(ok("incident-note rollback started"), a);
    assert_eq!(ok("/INCIDENT NOTE rollback started"), a);
    assert_eq!(ok("/incident").command, Command::Help { topic: None });
}

#[test]
fn quoted_arguments_keep_their_spaces_and_hide_options() {
    let inv = ok(r#"/incident-update --eta "30 min" --status mitigating "scaling  up" now"#);
    assert_eq!(
        inv.command,
        Command::Update {
            status: Some(Status::Mitigating),
            eta: Some("30 min".into()),
            users: None,
            impact: None,
            progress: "scaling  up now".into(),
            public: None,
        }
    );
    let inv = ok(r#"/incident-note "--sev is not an option here""#);
    assert_eq!(
        inv.command,
        Command::Note {
            text: "--sev is not an option here".into()
        }
    );
    let inv = ok("/incident-note -- --force was used");
    assert_eq!(
        inv.command,
        Command::Note {
            text: "--force was used".into()
        }
    );
}

#[test]
fn a_leading_hash_id_names_the_incident() {
    let inv = ok("/incident-update #12 --status monitoring error rate back to normal");
    assert_eq!(inv.incident, IncidentId::new(12));
    let inv = ok("/incident-status #3");
    assert_eq!(
        (inv.incident, inv.command),
        (IncidentId::new(3), Command::Status)
    );
    // A vote names the incident as every other command does, never as the start of a reason.
    let inv = ok("/incident-deny #12 too risky");
    assert_eq!(
        (inv.incident, inv.command),
        (
            IncidentId::new(12),
            Command::Deny {
                request: None,
                reason: Some("too risky".into())
            }
        )
    );
    let inv = ok("/incident-approve #12 R5");
    assert_eq!(
        (inv.incident, inv.command),
        (
            IncidentId::new(12),
            Command::Approve {
                request: Some(RequestId(5))
            }
        )
    );
    let inv = ok("/incident-note see #4 for the same symptom");
    assert_eq!(inv.incident, None, "only a leading #ID counts");
    let inv = ok("/incident-note #general was paged");
    assert_eq!(inv.incident, None, "#word is text");
    assert_eq!(
        err("/incident-note #0 hi").problem,
        "'#0' is not an incident number (write it like #12)"
    );
    assert_eq!(
        err("/incident-status #abc").problem,
        "'#abc' is not an incident number (write it like #12)"
    );
}

#[test]
fn every_simple_command_parses() {
    let cases = [
        ("/incident-ack", Command::Ack),
        ("/incident-status", Command::Status),
        ("/incident-help", Command::Help { topic: None }),
        (
            "/incident-help scale",
            Command::Help {
                topic: Some(CommandName::Scale),
            },
        ),
        (
            "/incident-help /incident-scale",
            Command::Help {
                topic: Some(CommandName::Scale),
            },
        ),
        ("/incident-rollback", Command::Rollback { revision: None }),
        (
            "/incident-rollback 41",
            Command::Rollback { revision: Some(41) },
        ),
        (
            "/incident-scale 5",
            Command::Scale {
                replicas: 5,
                deployment: None,
            },
        ),
        (
            "/incident-scale 0 freightliner-worker",
            Command::Scale {
                replicas: 0,
                deployment: Some("freightliner-worker".into()),
            },
        ),
        (
            "/incident-action circuit-breaker",
            Command::Action {
                name: "circuit-breaker".into(),
            },
        ),
        ("/incident-approve", Command::Approve { request: None }),
        (
            "/incident-approve R7",
            Command::Approve {
                request: Some(RequestId(7)),
            },
        ),
        (
            "/incident-deny 7 too risky now",
            Command::Deny {
                request: Some(RequestId(7)),
                reason: Some("too risky now".into()),
            },
        ),
        (
            "/incident-deny not yet",
            Command::Deny {
                request: None,
                reason: Some("not yet".into()),
            },
        ),
        (
            "/incident-diagnose performance",
            Command::Diagnose { area: Area::Perf },
        ),
        ("/incident-verify", Command::Verify { smoke_only: false }),
        (
            "/incident-verify --smoke-only",
            Command::Verify { smoke_only: true },
        ),
        ("/incident-report", Command::Report),
        (
            "/performance-test",
            Command::PerformanceTest { baseline: false },
        ),
        (
            "/performance-test BASELINE",
            Command::PerformanceTest { baseline: true },
        ),
        (
            "/incident performance-test baseline",
            Command::PerformanceTest { baseline: true },
        ),
        (
            "/incident-performance-test",
            Command::PerformanceTest { baseline: false },
        ),
        (
            "/incident-followup add alert on 5xx rate",
            Command::Followup(Followup::Add("add alert on 5xx rate".into())),
        ),
        (
            "/incident-followup done 2",
            Command::Followup(Followup::Done(2)),
        ),
        (
            "/incident-followup \"done\"",
            Command::Followup(Followup::Add("done".into())),
        ),
        (
            "/incident-followup 2 @bob",
            Command::Followup(Followup::Assign(2, Mention::Name("bob".into()))),
        ),
        (
            "/incident-followup 3 replicas are too few",
            Command::Followup(Followup::Add("3 replicas are too few".into())),
        ),
        (
            "/incident-severity P0 all regions affected",
            Command::Severity {
                severity: Severity::P0,
                reason: Some("all regions affected".into()),
            },
        ),
        (
            "/incident-severity p3",
            Command::Severity {
                severity: Severity::P3,
                reason: None,
            },
        ),
    ];
    for (input, command) in cases {
        assert_eq!(ok(input).command, command, "{input}");
    }
}

#[test]
fn resolve_splits_root_cause_from_resolution_at_the_first_unquoted_pipe() {
    let inv = ok(r#"/incident-resolve bad "a|b" flag | rolled back to 41 | verified"#);
    assert_eq!(
        inv.command,
        Command::Resolve {
            root_cause: "bad a|b flag".into(),
            resolution: "rolled back to 41 | verified".into(),
            public: None,
        }
    );
    assert_eq!(
        ok("/incident-resolve x|y").command,
        Command::Resolve {
            root_cause: "x".into(),
            resolution: "y".into(),
            public: None,
        }
    );
    assert_eq!(
        err("/incident-resolve bad config").problem,
        "missing '|' between the root cause and the resolution"
    );
    assert_eq!(
        err("/incident-resolve | rolled back").problem,
        "missing <root cause> before '|'"
    );
    assert_eq!(
        err("/incident-resolve bad config |").problem,
        "missing <resolution> after '|'"
    );
}

#[test]
fn bad_arguments_name_the_token_and_show_the_usage() {
    let cases = [
        (
            "/incident-assess --sev P5 down",
            "'P5' is not a severity (P0, P1, P2 or P3)",
        ),
        (
            "/incident-assess --sevv P1 down",
            "unknown option '--sevv' (to write it as text, quote it or put -- before it)",
        ),
        (
            "/incident-update --eta --status mitigating rolling",
            "option '--eta' needs a value",
        ),
        (
            "/incident-update --eta -- x",
            "option '--eta' needs a value",
        ),
        (
            "/incident-assess down --sev",
            "option '--sev' needs a value",
        ),
        (
            "/incident-update --users -5 rolling",
            "--users '-5': a count of users cannot be negative",
        ),
        (
            r#"/incident-update --users "" rolling"#,
            "--users is empty: give a count of users (1200, ~40% or all)",
        ),
        (
            "/incident-update --users many rolling",
            "--users 'many' is not a count of users: give 1200, ~40% or all",
        ),
        (
            "/incident-assess --sev P1 --sev P2 down",
            "option '--sev' is given twice",
        ),
        ("/incident-assess", "missing <description>"),
        ("/incident-assess --sev P1", "missing <description>"),
        (
            "/incident-update --status resolved done",
            "'resolved' cannot be set with --status; use /incident-resolve <root cause> | <resolution>",
        ),
        (
            "/incident-update --status fixing it",
            "'fixing' is not a status (investigating, mitigating, monitoring)",
        ),
        ("/incident-update", "missing <progress>"),
        ("/incident-severity", "missing severity (P0, P1, P2 or P3)"),
        (
            "/incident-severity high",
            "'high' is not a severity (P0, P1, P2 or P3)",
        ),
        ("/incident-ack now", "unexpected argument 'now'"),
        (
            "/incident-status everything",
            "unexpected argument 'everything'",
        ),
        (
            "/incident-scale many",
            "'many' is not a replica count (a whole number, 0 or more)",
        ),
        (
            "/incident-scale 99999999999",
            "'99999999999' is more replicas than scale.max_replicas allows",
        ),
        (
            "/incident-followup done",
            "missing the action item number after 'done' (quote \"done\" to add it as an item)",
        ),
        (
            "/incident-scale -1",
            "'-1' is not a replica count (a whole number, 0 or more)",
        ),
        (
            "/incident-scale 3 Freightliner",
            "'Freightliner' is not a Deployment name (lowercase letters, digits and '-', at most 63)",
        ),
        ("/incident-rollback 0", "'0' is not a revision number"),
        (
            "/incident-rollback latest",
            "'latest' is not a revision number",
        ),
        (
            "/incident-approve seven",
            "'seven' is not a request number (write it like R12)",
        ),
        (
            "/incident-diagnose network",
            "'network' is not an area (app, perf, security or infra)",
        ),
        (
            "/performance-test now",
            "'now' is not an argument of /performance-test (only 'baseline')",
        ),
        (
            "/performance-test baseline again",
            "unexpected argument 'again'",
        ),
        (
            "/incident-verify --smoke-only=yes",
            "option '--smoke-only' takes no value",
        ),
        ("/incident-action rm -rf", "unexpected argument '-rf'"),
        ("/incident-ack --now", "unexpected argument '--now'"),
        (
            "/incident-action 'a b'",
            "'a b' is not an action name (letters, digits, '-', '_', '.')",
        ),
        (
            "/incident-followup done x",
            "'x' is not an action item number",
        ),
        ("/incident-help frobnicate", "unknown command 'frobnicate'"),
    ];
    for (input, problem) in cases {
        let e = err(input);
        assert_eq!(e.problem, problem, "{input}");
        let usage = e.usage.unwrap_or_else(|| panic!("{input}: no usage line"));
        let name = parse(input.split_whitespace().next().unwrap())
            .map(|i| i.command.name())
            .ok();
        if let Some(name) = name {
            assert_eq!(usage, name.usage(), "{input}");
        }
        assert!(
            e.to_string().contains("\nUsage: /incident-")
                || e.to_string().contains("\nUsage: /performance-test"),
            "{e}"
        );
    }
}

#[test]
fn unknown_commands_suggest_the_closest_one() {
    assert_eq!(
        err("/incident-asess db down").problem,
        "unknown command '/incident-asess' — did you mean /incident-assess?"
    );
    assert_eq!(
        err("/incident stauts").problem,
        "unknown command '/incident stauts' — did you mean /incident-status?"
    );
    assert_eq!(
        err("/incident-xyzzy").problem,
        "unknown command '/incident-xyzzy'"
    );
    let e = err("/deploy now");
    assert_eq!(
        e.problem,
        "unknown command '/deploy': commands start with /incident- (like /incident-status; the leading / may be left out), or are /performance-test"
    );
    assert!(
        e.to_string()
            .ends_with("Type /incident-help for the list of commands.")
    );
}

#[test]
fn garbage_is_refused_plainly() {
    assert_eq!(err("").problem, "empty command");
    assert_eq!(err("   \t ").problem, "empty command");
    assert_eq!(
        err("|||").problem,
        "unknown command '|': commands start with /incident- (like /incident-status; the leading / may be left out), or are /performance-test"
    );
    assert_eq!(
        err("\u{0}\u{1}").problem,
        "the command contains the control character U+0000"
    );
    assert!(
        err("/incident-note \"unclosed")
            .problem
            .starts_with("unbalanced quote")
    );
    assert!(err("!!!").problem.starts_with("unknown command '!!!'"));
}

#[test]
fn unicode_text_is_kept_intact() {
    let inv = ok("/incident-assess 決済APIが落ちている 🚨 — Zahlungen schlagen fehl");
    assert_eq!(
        inv.command,
        Command::Assess {
            description: "決済APIが落ちている 🚨 — Zahlungen schlagen fehl".into(),
            severity: None,
            service: None
        }
    );
    let inv = ok("/incident-note l’équipe a redémarré les pods");
    assert_eq!(
        inv.command,
        Command::Note {
            text: "l’équipe a redémarré les pods".into()
        }
    );
}

#[test]
fn very_long_input_is_refused_with_its_length() {
    let text = "é".repeat(MAX_TEXT_CHARS + 1);
    let e = err(&format!("/incident-note {text}"));
    assert_eq!(
        e.problem,
        format!(
            "<text> is {} characters long; the limit is {MAX_TEXT_CHARS}",
            MAX_TEXT_CHARS + 1
        )
    );
    let e = err(&format!("/incident-note {}", "x ".repeat(MAX_INPUT_CHARS)));
    assert!(e.problem.starts_with("the command is "), "{}", e.problem);
    let at_limit = "y".repeat(MAX_TEXT_CHARS);
    assert_eq!(
        ok(&format!("/incident-note {at_limit}")).command,
        Command::Note { text: at_limit }
    );
}

#[test]
fn apostrophes_do_not_open_quotes() {
    let inv = ok("/incident-update it's the cache, we're flushing it");
    assert_eq!(
        inv.command,
        Command::Update {
            status: None,
            eta: None,
            users: None,
            impact: None,
            progress: "it's the cache, we're flushing it".into(),
            public: None,
        }
    );
}

#[test]
fn an_option_may_carry_a_quoted_value_after_the_equals_sign() {
    let inv = ok(r#"/incident-assess --sev="P0" --service=“freightliner” checkout is slow"#);
    assert_eq!(
        inv.command,
        Command::Assess {
            description: "checkout is slow".into(),
            severity: Some(Severity::P0),
            service: Some("freightliner".into())
        }
    );
    let inv = ok(r#"/incident-update --eta="20m" still rolling"#);
    assert_eq!(
        inv.command,
        Command::Update {
            status: None,
            eta: Some("20m".into()),
            users: None,
            impact: None,
            progress: "still rolling".into(),
            public: None,
        }
    );
    let inv = ok(r#"/incident-update --eta "--soon--" waiting"#);
    assert!(matches!(inv.command, Command::Update { eta: Some(e), .. } if e == "--soon--"));
}

#[test]
fn commands_without_options_take_double_dashes_as_text() {
    let inv = ok("/incident-note ran kubectl --context prod get pods");
    assert_eq!(
        inv.command,
        Command::Note {
            text: "ran kubectl --context prod get pods".into()
        }
    );
    let inv = ok("/incident-resolve the --force flag | reverted");
    assert_eq!(
        inv.command,
        Command::Resolve {
            root_cause: "the --force flag".into(),
            resolution: "reverted".into(),
            public: None,
        }
    );
}

#[test]
fn after_a_double_dash_even_a_hash_id_is_text() {
    let inv = ok("/incident-note -- #12 is the PR that broke it");
    assert_eq!(inv.incident, None);
    assert_eq!(
        inv.command,
        Command::Note {
            text: "#12 is the PR that broke it".into()
        }
    );
    let inv = ok("/incident-note #3 -- --verbose output attached");
    assert_eq!(inv.incident, IncidentId::new(3));
    assert_eq!(
        inv.command,
        Command::Note {
            text: "--verbose output attached".into()
        }
    );
}

#[test]
fn quoted_line_breaks_cannot_add_lines_to_a_message() {
    let inv = ok("/incident-assess \"checkout slow\nSeverity: P3 Low\nStatus: Resolved\"");
    assert!(
        matches!(inv.command, Command::Assess { description, .. } if !description.contains('\n'))
    );
}

#[test]
fn only_commands_that_may_change_something_are_marked_handled() {
    for line in [
        "/incident-assess checkout down",
        "/incident-note #3 looked at the logs",
        "/incident-rollback",
        "/incident-approve R2",
        "/incident-diagnose app",
    ] {
        assert!(!changes_nothing(line), "{line}");
    }
    for line in [
        "/incident-status",
        "/incident-status #3",
        "/incident-help rollback",
        "/incident-nonsense",
        "/incident-scale many",
    ] {
        assert!(changes_nothing(line), "{line}");
    }
}

#[test]
fn role_takes_a_role_and_an_optional_person_by_mention_or_name() {
    let role = |input: &str| match ok(input).command {
        Command::Role { role, person } => (role, person),
        other => panic!("{input:?} parsed as {other:?}"),
    };
    assert_eq!(role("/incident-role commander"), (Role::Commander, None));
    let account = |id: &str, label: Option<&str>| {
        Some(Mention::Account {
            id: id.into(),
            label: label.map(Into::into),
        })
    };
    assert_eq!(
        role("/incident-role comms <@U0BOB>"),
        (Role::Comms, account("U0BOB", None))
    );
    assert_eq!(
        role("/incident-role comms <@U0BOB|bob>"),
        (Role::Comms, account("U0BOB", Some("bob"))),
        "Slack's escaped mention arrives split at its '|'"
    );
    assert_eq!(
        role("/incident-role Scribe <@!80351110224678912>"),
        (Role::Scribe, account("80351110224678912", None))
    );
    assert_eq!(
        role("/incident-role scribe @carol"),
        (Role::Scribe, Some(Mention::Name("carol".into())))
    );
    assert_eq!(ok("/incident-role #4 scribe").incident, IncidentId::new(4));
}

#[test]
fn role_refuses_a_missing_or_unknown_role_and_a_bad_person_naming_them() {
    assert!(err("/incident-role").problem.contains("missing role"));
    let unknown = err("/incident-role boss");
    assert!(
        unknown.problem.contains("'boss' is not a role"),
        "{unknown}"
    );
    assert_eq!(unknown.usage, Some(CommandName::Role.usage()));
    let bad = err("/incident-role comms <@U0BOB");
    assert!(bad.problem.contains("'<@U0BOB' is not a person"), "{bad}");
    assert!(
        err("/incident-role comms bob and carol")
            .problem
            .contains("is not a person")
    );
}

#[test]
fn an_update_takes_users_as_a_count_and_the_business_impact_as_text() {
    let inv = ok(r#"/incident-update --users ~40% --impact "EU checkout down" scaled up"#);
    match inv.command {
        Command::Update { users, impact, .. } => {
            assert_eq!(users.map(|u| u.to_string()).as_deref(), Some("~40%"));
            assert_eq!(impact.as_deref(), Some("EU checkout down"));
        }
        other => panic!("parsed as {other:?}"),
    }
}

#[test]
fn public_text_rides_on_an_update_and_a_resolution() {
    let inv = ok(r#"/incident-update --public "Checkout is slow; a fix is rolling out" scaled up"#);
    match inv.command {
        Command::Update {
            public, progress, ..
        } => {
            assert_eq!(
                public.as_deref(),
                Some("Checkout is slow; a fix is rolling out")
            );
            assert_eq!(progress, "scaled up");
        }
        other => panic!("parsed as {other:?}"),
    }
    let inv = ok(r#"/incident-resolve --public "Checkout works again" bad flag | reverted"#);
    assert_eq!(
        inv.command,
        Command::Resolve {
            root_cause: "bad flag".into(),
            resolution: "reverted".into(),
            public: Some("Checkout works again".into()),
        }
    );
}

#[test]
fn empty_public_text_is_refused() {
    let err = err(r#"/incident-update --public "  " scaled up"#);
    assert!(
        err.problem.contains("--public needs the text"),
        "{}",
        err.problem
    );
}

#[test]
fn incident_page_takes_a_role_or_a_person_and_an_optional_message() {
    use crate::command::PageTarget;
    let page = |line: &str| parse(line).map(|i| i.command);
    assert_eq!(
        page("/incident-page performance-engineer p99 at 4s").unwrap(),
        Command::Page {
            target: PageTarget::Name("performance-engineer".into()),
            message: Some("p99 at 4s".into()),
        }
    );
    assert_eq!(
        page("/incident-page #3 @bob").unwrap(),
        Command::Page {
            target: PageTarget::Person(Mention::Name("bob".into())),
            message: None,
        }
    );
    // Slack's escaped mention arrives split at its `|`.
    assert_eq!(
        page("/incident-page <@U123|bob> come look").unwrap(),
        Command::Page {
            target: PageTarget::Person(Mention::Account {
                id: "U123".into(),
                label: Some("bob".into()),
            }),
            message: Some("come look".into()),
        }
    );
    let missing = page("/incident-page").unwrap_err().to_string();
    assert!(missing.contains("missing who to page"), "{missing}");
}
