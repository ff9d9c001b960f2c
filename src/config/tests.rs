use std::io::Write;

use super::*;

const MINIMAL: &str = r#"
[[services]]
name = "freightliner"
namespace = "freightliner-production"
"#;

/// One service, `web`, for tests that are about the keys below it.
pub(crate) const WEB: &str = "[[services]]\nname = \"web\"\nnamespace = \"web\"\n";

pub(crate) fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("temp file");
    f.write_all(text.as_bytes()).expect("write");
    f
}

pub(crate) fn load(text: &str) -> Result<Settings> {
    load_env(text, &[])
}

fn load_env(text: &str, env: &[(&str, &str)]) -> Result<Settings> {
    let f = file(text);
    let env = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
    Settings::load_with_env(f.path(), env)
}

pub(crate) fn invalid(text: &str) -> (String, String) {
    match load(text) {
        Err(Error::Invalid { key, message, .. }) => (key, message),
        other => panic!("expected an invalid key, got {other:?}"),
    }
}

#[test]
fn a_minimal_file_gets_the_runbook_defaults() {
    let s = load(MINIMAL).expect("loads");
    assert_eq!(s.severity.p0.respond_within.to_string(), "5m");
    assert_eq!(
        s.severity.p1.roles,
        ["devops-troubleshooter", "performance-engineer"]
    );
    assert_eq!(s.classify.len(), 4);
    assert_eq!(s.roles.len(), 8);
    assert_eq!(
        s.default_service().map(|s| s.name.as_str()),
        Some("freightliner")
    );
    assert_eq!(s.incidents.default_severity, "P2");
}

#[test]
fn the_example_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bot.toml.example");
    let s = Settings::load_with_env(&path, []).expect("bot.toml.example loads");
    assert_eq!(s.services[0].name, "freightliner");
}

#[test]
fn a_partial_severity_keeps_the_other_defaults() {
    let s = load(&format!(
        "{MINIMAL}\n[severity.p1]\nupdate_every = \"20m\"\n"
    ))
    .unwrap();
    assert_eq!(s.severity.p1.update_every.to_string(), "20m");
    assert_eq!(s.severity.p1.respond_within.to_string(), "1h");
    assert_eq!(s.severity.p1.label, "High");
}

#[test]
fn classify_rules_in_the_file_replace_the_defaults() {
    let s = load(&format!(
        "{MINIMAL}\n[[classify]]\nseverity = \"P0\"\npattern = \"payments\"\n"
    ))
    .unwrap();
    assert_eq!(s.classify.len(), 1);
}

#[test]
fn roles_in_the_file_merge_with_the_runbook_roles() {
    let s = load(&format!(
        "{MINIMAL}\n[roles.dba]\nslack = [\"S0DBA\"]\n[roles.golang-pro]\nslack = [\"U0G9QF9C6\"]\n"
    ))
    .unwrap();
    assert_eq!(s.roles.len(), 9);
    assert_eq!(s.roles["golang-pro"].slack, ["U0G9QF9C6"]);
    assert_eq!(s.roles["golang-pro"].description, "the service's code");
}

#[test]
fn service_objects_must_have_kubernetes_names() {
    for bad in [
        "--kube-apiserver=evil",
        "Prod",
        "ns/other",
        "a\\\"b",
        "-x",
        "",
    ] {
        let toml = MINIMAL.replace(
            "namespace = \"freightliner-production\"",
            &format!("namespace = {}", toml_string(bad)),
        );
        match load(&toml) {
            Err(Error::Invalid { key, .. }) => assert_eq!(key, "services[0].namespace", "{bad}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
    let release = format!("{MINIMAL}helm_release = \"--dry-run\"\n");
    match load(&release) {
        Err(Error::Invalid { key, .. }) => assert_eq!(key, "services[0].helm_release"),
        other => panic!("{other:?}"),
    }
}

fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn role_members_must_be_platform_ids_not_names() {
    for (toml, key) in [
        ("[roles.dba]\nslack = [\"@alice\"]\n", "roles.dba.slack"),
        ("[roles.dba]\nslack = [\"<!channel>\"]\n", "roles.dba.slack"),
        ("[roles.dba]\ndiscord_users = [\"alice\"]\n", "roles.dba"),
        (
            "[discord]\nstatus_channel_id = \"#status\"\n",
            "discord.status_channel_id",
        ),
    ] {
        match load(&format!("{MINIMAL}\n{toml}")) {
            Err(Error::Invalid { key: k, .. }) => assert_eq!(k, key, "{toml}"),
            other => panic!("{toml}: {other:?}"),
        }
    }
}

#[test]
fn environment_variables_override_the_file() {
    let s = load_env(
        MINIMAL,
        &[
            ("FIREWATCH__STORE__URL", "sqlite:///tmp/x.db"),
            ("FIREWATCH__SEVERITY__P0__UPDATE_EVERY", "10m"),
            ("FIREWATCH__SLACK__BOT_TOKEN", "xoxb-123"),
            ("FIREWATCH__SLACK__CREATE_INCIDENT_CHANNELS", "true"),
            ("FIREWATCH_CONFIG", "ignored.toml"),
        ],
    )
    .unwrap();
    assert_eq!(s.store.url, "sqlite:///tmp/x.db");
    assert_eq!(s.severity.p0.update_every.to_string(), "10m");
    assert_eq!(
        s.slack.bot_token.as_ref().map(Secret::expose),
        Some("xoxb-123")
    );
    assert!(s.slack.create_incident_channels);
    assert!(
        !format!("{s:?}").contains("xoxb-123"),
        "secrets stay out of Debug"
    );
}

#[test]
fn unknown_keys_are_named() {
    assert_eq!(
        invalid(&format!("{MINIMAL}\n[store]\nurll = \"x\"\n")),
        (
            "store.urll".into(),
            "unknown key (expected url or url_file)".into()
        )
    );
    let (key, message) = invalid(&format!("verbose = true\n{MINIMAL}"));
    assert_eq!(key, "verbose");
    assert!(
        message.starts_with("unknown key (expected one of store,"),
        "{message}"
    );
    let (key, _) = invalid(&format!("{MINIMAL}\n[severity.P0]\nlabel = \"x\"\n"));
    assert_eq!(key, "severity.P0");
    let env = load_env(MINIMAL, &[("FIREWATCH__STORE__PATH", "x")]);
    assert!(matches!(env, Err(Error::Invalid { key, .. }) if key == "store.path"));
}

#[test]
fn bad_values_are_named_with_their_key() {
    let (key, message) = invalid(&format!(
        "{MINIMAL}\n[severity.p1]\nupdate_every = \"fast\"\n"
    ));
    assert_eq!(key, "severity.p1.update_every");
    assert!(
        message.contains("'fast' is not a length of time"),
        "{message}"
    );

    let (key, _) = invalid(&format!(
        "{MINIMAL}\n[slack]\ncreate_incident_channels = \"maybe\"\n"
    ));
    assert_eq!(key, "slack.create_incident_channels");

    let (key, message) = invalid(&format!(
        "{MINIMAL}\n[discord]\nmode = \"carrier-pigeon\"\n"
    ));
    assert_eq!(key, "discord.mode");
    assert_eq!(message, "'carrier-pigeon' is not a mode (http or gateway)");

    let (key, message) = invalid(&format!("{MINIMAL}\n[[classify]]\nseverity = \"P1\"\n"));
    assert_eq!(
        (key.as_str(), message.as_str()),
        ("classify[0].pattern", "missing")
    );
}

#[test]
fn references_between_keys_are_checked() {
    assert_eq!(
        invalid("[store]\nurl = \"sqlite://x.db\"\n"),
        (
            "services".into(),
            "at least one [[services]] entry is needed".into()
        )
    );
    let (key, message) = invalid(&format!(
        "{MINIMAL}\n[severity.p2]\nroles = [\"dev-ops\"]\n"
    ));
    assert_eq!(key, "severity.p2.roles");
    assert!(
        message.starts_with("unknown role 'dev-ops' (known: api-documenter,"),
        "{message}"
    );
    let (key, message) = invalid(&format!(
        "{MINIMAL}\n[incidents]\ndefault_service = \"nope\"\n"
    ));
    assert_eq!(key, "incidents.default_service");
    assert_eq!(
        message,
        "'nope' is not in [[services]] (known: freightliner)"
    );
    let (key, _) = invalid(&format!("{MINIMAL}{MINIMAL}"));
    assert_eq!(key, "services[1].name");
    let (key, message) = invalid(&format!(
        "{MINIMAL}\n[store]\nurl = \"postgres://fw:s3cret@db:port/x\"\n"
    ));
    assert_eq!(key, "store.url");
    assert!(!message.contains("s3cret"), "{message}");
    let (key, _) = invalid(&format!(
        "{MINIMAL}\n[severity.p0]\nupdate_every = \"30s\"\n"
    ));
    assert_eq!(key, "severity.p0.update_every");
}

#[test]
fn a_missing_file_or_broken_toml_says_so() {
    let missing = Settings::load_with_env(Path::new("/nonexistent/bot.toml"), []);
    assert_eq!(
        missing.unwrap_err().to_string(),
        "config file /nonexistent/bot.toml not found (copy bot.toml.example to start)"
    );
    assert!(matches!(load("[store\nurl="), Err(Error::Read { .. })));
}

#[test]
fn a_toml_syntax_error_is_told_once_on_one_line_without_the_files_text() {
    let f = file("[slack]\nbot_token = \"xoxb-secret\nx = 1\n");
    let e = Settings::load_with_env(f.path(), []).unwrap_err();
    let shown = crate::error_chain(&e);
    assert!(!shown.contains('\n') && !shown.contains("xoxb"), "{shown}");
    assert_eq!(shown.matches("TOML parse error").count(), 1, "{shown}");
    assert!(
        shown.starts_with(&format!(
            "{}: TOML parse error at line 2",
            f.path().display()
        )),
        "{shown}"
    );
    assert!(!shown.ends_with(&f.path().display().to_string()), "{shown}");
}

#[test]
fn a_bad_value_from_the_environment_names_the_variable() {
    let e = load_env(
        MINIMAL,
        &[("FIREWATCH__SEVERITY__P0__RESPOND_WITHIN", "10s")],
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "FIREWATCH__SEVERITY__P0__RESPOND_WITHIN (environment variable): \
         severity.p0.respond_within: 10s is out of range (1m to 30d)"
    );
    // The same value from the file names the file.
    let f = file(&format!(
        "{MINIMAL}\n[severity.p0]\nrespond_within = \"10s\"\n"
    ));
    let e = Settings::load_with_env(f.path(), []).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "{}: severity.p0.respond_within",
            f.path().display()
        )),
        "{e}"
    );
}

#[test]
fn a_bad_classify_pattern_names_the_file_and_the_key() {
    let f = file(&format!(
        "{MINIMAL}\n[[classify]]\nseverity = \"P1\"\npattern = \"(down\"\n"
    ));
    let e = Settings::load_with_env(f.path(), []).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: classify[0].pattern: not a regular expression: unclosed group",
            f.path().display()
        )
    );
}

#[test]
fn lists_can_come_from_the_environment_as_comma_separated_text() {
    let s = load_env(
        MINIMAL,
        &[(
            "FIREWATCH__SEVERITY__P0__ROLES",
            "golang-pro, api-documenter",
        )],
    )
    .unwrap();
    assert_eq!(s.severity.p0.roles, ["golang-pro", "api-documenter"]);
}

#[test]
fn lengths_of_time_must_be_written_with_a_unit_and_stay_in_range() {
    let (key, message) = invalid(&format!("{MINIMAL}\n[severity.p0]\nrespond_within = 300\n"));
    assert_eq!(key, "severity.p0.respond_within");
    assert!(
        message.contains("'300' is not a length of time"),
        "{message}"
    );
    let err = load_env(
        MINIMAL,
        &[("FIREWATCH__SEVERITY__P0__RESPOND_WITHIN", "99999999999999s")],
    );
    assert!(matches!(err, Err(Error::Invalid { key, message, .. })
        if key == "severity.p0.respond_within" && message.contains("longer than ten years")));
    let (key, message) = invalid(&format!(
        "{MINIMAL}\n[severity.p3]\nupdate_every = \"60d\"\n"
    ));
    assert_eq!(
        (key.as_str(), message.as_str()),
        (
            "severity.p3.update_every",
            "60d is out of range (1m to 30d)"
        )
    );
    let (key, _) = invalid(&format!(
        "{MINIMAL}\n[severity.p0]\nrespond_within = \"0s\"\n"
    ));
    assert_eq!(key, "severity.p0.respond_within");
    let (key, _) = invalid(&format!("{MINIMAL}\n[kubernetes]\ntimeout = \"2h\"\n"));
    assert_eq!(key, "kubernetes.timeout");
}

#[test]
fn the_listen_address_and_the_store_url_are_checked() {
    let (key, message) = invalid(&format!(
        "{MINIMAL}\n[server]\nlisten = \"not an address\"\n"
    ));
    assert_eq!(
        (key.as_str(), message.as_str()),
        (
            "server.listen",
            "'not an address' is not an address (write it like 0.0.0.0:8080)"
        )
    );
    for (url, reason) in [
        (
            "sqlite::memory:",
            "an in-memory database loses every incident at exit",
        ),
        ("sqlite://fw.db?mode=rwc", "URL parameters"),
        ("sqlite://", "no database file is given"),
        ("mysql://db/x", "'mysql://' is not supported"),
    ] {
        let (key, message) = invalid(&format!("{MINIMAL}\n[store]\nurl = \"{url}\"\n"));
        assert_eq!(key, "store.url");
        assert!(message.starts_with(reason), "{url}: {message}");
    }
}

#[test]
fn relative_paths_are_relative_to_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bot.toml");
    std::fs::write(
        &path,
        format!(
            "{MINIMAL}\n[store]\nurl = \"sqlite:data/fw.db\"\n[messages]\ndir = \"templates\"\n"
        ),
    )
    .unwrap();
    let s = Settings::load_with_env(&path, []).unwrap();
    assert_eq!(
        s.store.url,
        format!("sqlite://{}", dir.path().join("data/fw.db").display())
    );
    assert_eq!(s.messages.dir, Some(dir.path().join("templates")));
    let absolute = load(&format!(
        "{MINIMAL}\n[store]\nurl = \"sqlite:///var/lib/fw.db\"\n"
    ))
    .unwrap();
    assert_eq!(absolute.store.url, "sqlite:///var/lib/fw.db");
}

#[test]
fn a_toml_error_does_not_quote_the_line_it_is_on() {
    let err = load(&format!(
        "{MINIMAL}\n[slack]\nbot_token = \"xoxb-secret-value\n"
    ))
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("line 7"), "{text}");
    assert!(!text.contains("xoxb-secret-value"), "{text}");
}

#[test]
fn timers_and_reports_have_runbook_defaults_and_are_checked() {
    let s = load(MINIMAL).expect("loads");
    assert_eq!(s.incidents.escalation_roles, ["cloud-architect"]);
    assert_eq!(s.scheduler.tick.as_secs(), 15);
    assert!(s.reports.dir.ends_with("docs/incidents") && s.reports.dir.is_absolute());
    let s = load_env(
        MINIMAL,
        &[
            (
                "FIREWATCH__INCIDENTS__ESCALATION_ROLES",
                "cloud-architect, deployment-engineer",
            ),
            ("FIREWATCH__SCHEDULER__TICK", "1m"),
        ],
    )
    .expect("loads");
    assert_eq!(
        s.incidents.escalation_roles,
        ["cloud-architect", "deployment-engineer"]
    );
    assert_eq!(s.scheduler.tick.as_secs(), 60);
    let (key, message) = invalid(&format!(
        "{MINIMAL}\n[incidents]\nescalation_roles = [\"boss\"]\n"
    ));
    assert_eq!(key, "incidents.escalation_roles");
    assert!(message.starts_with("unknown role 'boss'"), "{message}");
    let (key, message) = invalid(&format!("{MINIMAL}\n[scheduler]\ntick = \"0s\"\n"));
    assert_eq!(key, "scheduler.tick");
    assert!(message.contains("out of range (1s to 1h)"), "{message}");
}

#[test]
fn the_example_documents_the_default_approval_policy() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bot.toml.example");
    let example = Settings::load_with_env(&path, []).expect("bot.toml.example loads");
    assert_eq!(example.approvals, ApprovalSettings::default());
    let minimal = load(MINIMAL).expect("loads");
    assert_eq!(minimal.approvals, ApprovalSettings::default());
}

#[test]
fn approval_rules_take_roles_people_and_severity_overrides() {
    let s = load(&format!(
        "{MINIMAL}\n[approvals.rollback]\nrequired = 2\napprovers = [\"deployment-engineer\"]\n\
         approver_ids = [\"slack:U0CAROL\", \"console:carol\"]\nttl = \"5m\"\n\
         [approvals.rollback.p0]\nrequired = 1\n"
    ))
    .expect("loads");
    assert_eq!(s.approvals.rollback.required, 2);
    assert_eq!(s.approvals.rollback.p0.as_ref().unwrap().required, Some(1));
    let env = load_env(
        MINIMAL,
        &[(
            "FIREWATCH__APPROVALS__SCALE__APPROVER_IDS",
            "console:a, slack:U1",
        )],
    )
    .expect("loads");
    assert_eq!(env.approvals.scale.approver_ids, ["console:a", "slack:U1"]);
}

#[test]
fn bad_approval_rules_name_the_key() {
    let (key, message) = invalid(&format!(
        "{MINIMAL}\n[approvals.rollback]\napprovers = [\"nobody-role\"]\n"
    ));
    assert_eq!(key, "approvals.rollback.approvers");
    assert!(
        message.contains("'nobody-role' is neither a role nor a person"),
        "{message}"
    );
    let (key, message) = invalid(&format!(
        "{MINIMAL}\n[approvals.scale]\napprover_ids = [\"U0CAROL\"]\n"
    ));
    assert_eq!(key, "approvals.scale.approver_ids");
    assert!(message.contains("slack:U…"), "{message}");
    let (key, _) = invalid(&format!(
        "{MINIMAL}\n[approvals.actions.nope]\nrequired = 0\n"
    ));
    assert_eq!(key, "approvals.actions.nope");
    let (key, _) = invalid(&format!("{MINIMAL}\n[approvals]\nttl = \"10s\"\n"));
    assert_eq!(key, "approvals.ttl");
}

#[test]
fn log_format_and_shutdown_grace_have_defaults_and_are_checked() {
    let s = load(MINIMAL).expect("loads");
    assert_eq!(s.log.format, LogFormat::Text);
    assert_eq!(s.server.shutdown_grace, Interval::from_secs(20));
    let s = load(&format!(
        "{MINIMAL}\n[log]\nformat = \"json\"\n[server]\nshutdown_grace = \"45s\"\n"
    ))
    .expect("loads");
    assert_eq!(s.log.format, LogFormat::Json);
    assert_eq!(s.server.shutdown_grace, Interval::from_secs(45));
    let (key, message) = invalid(&format!("{MINIMAL}\n[log]\nformat = \"xml\"\n"));
    assert_eq!(key, "log.format");
    assert!(message.contains("text or json"), "{message}");
    let (key, _) = invalid(&format!("{MINIMAL}\n[server]\nshutdown_grace = \"1h\"\n"));
    assert_eq!(key, "server.shutdown_grace");
}

#[test]
fn the_outbox_gives_up_after_30_minutes_by_default_and_its_times_are_checked() {
    let s = load(MINIMAL).expect("loads");
    assert_eq!(s.outbox.give_up_after, Interval::from_secs(1_800));
    assert_eq!(s.outbox.send_timeout, Interval::from_secs(10));
    let s = load_env(
        MINIMAL,
        &[
            ("FIREWATCH__OUTBOX__GIVE_UP_AFTER", "2h"),
            ("FIREWATCH__OUTBOX__SEND_TIMEOUT", "3s"),
        ],
    )
    .expect("loads");
    assert_eq!(s.outbox.give_up_after, Interval::from_secs(7_200));
    assert_eq!(s.outbox.send_timeout, Interval::from_secs(3));
    let (key, message) = invalid(&format!("{MINIMAL}\n[outbox]\ngive_up_after = \"30s\"\n"));
    assert_eq!(key, "outbox.give_up_after");
    assert!(message.contains("out of range (1m to 1d)"), "{message}");
    let (key, _) = invalid(&format!("{MINIMAL}\n[outbox]\nsend_timeout = \"5m\"\n"));
    assert_eq!(key, "outbox.send_timeout");
}

#[test]
fn connection_limits_have_defaults_and_are_checked() {
    let s = load(MINIMAL).expect("loads");
    assert_eq!(s.server.header_timeout, Interval::from_secs(10));
    assert_eq!(s.server.body_timeout, Interval::from_secs(10));
    assert_eq!(s.server.idle_timeout, Interval::from_secs(60));
    assert_eq!(s.server.max_connections, 1024);
    let s = load(&format!(
        "{MINIMAL}\n[server]\nheader_timeout = \"5s\"\nbody_timeout = \"30s\"\n\
         idle_timeout = \"2m\"\nmax_connections = 64\n"
    ))
    .expect("loads");
    assert_eq!(s.server.header_timeout, Interval::from_secs(5));
    assert_eq!(s.server.body_timeout, Interval::from_secs(30));
    assert_eq!(s.server.idle_timeout, Interval::from_secs(120));
    assert_eq!(s.server.max_connections, 64);
    let s = load_env(
        MINIMAL,
        &[
            ("FIREWATCH__SERVER__MAX_CONNECTIONS", "8"),
            ("FIREWATCH__SERVER__IDLE_TIMEOUT", "1s"),
        ],
    )
    .expect("loads");
    assert_eq!(s.server.max_connections, 8);
    assert_eq!(s.server.idle_timeout, Interval::from_secs(1));
    for (setting, key) in [
        ("header_timeout = \"0s\"", "server.header_timeout"),
        ("body_timeout = \"11m\"", "server.body_timeout"),
        ("idle_timeout = \"2h\"", "server.idle_timeout"),
        ("max_connections = 0", "server.max_connections"),
        ("max_connections = 100000", "server.max_connections"),
    ] {
        let (got, message) = invalid(&format!("{MINIMAL}\n[server]\n{setting}\n"));
        assert_eq!(got, key, "{setting}: {message}");
        assert!(message.contains("out of range"), "{setting}: {message}");
    }
}
