//! The real `firewatch` binary, run as a user would.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::helpers::{assert_has, repo};

fn firewatch(args: &[&str], store: &Path, stdin: &str) -> Output {
    run(command(args, store), stdin)
}

/// `firewatch ARGS` on the store at `store`, from the repository, with neither `RUST_LOG` nor
/// colour, its output piped.
fn command(args: &[&str], store: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_firewatch"));
    command.args(args);
    on_store(command, store)
}

/// `command` run from the repository on the store at `store`, with neither `RUST_LOG` nor
/// colour, its input and output piped.
fn on_store(mut command: Command, store: &Path) -> Command {
    command
        .current_dir(repo())
        .env(
            "FIREWATCH__STORE__URL",
            format!("sqlite://{}", store.display()),
        )
        .env("FIREWATCH__REPORTS__DIR", reports_dir(store))
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Starts `command`, writes `stdin` to it and waits for it to finish.
fn run(mut command: Command, stdin: &str) -> Output {
    let mut child = command.spawn().expect("firewatch starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("firewatch finishes")
}

/// Where reports of the store at `store` go: beside it, never into the repository.
fn reports_dir(store: &Path) -> std::path::PathBuf {
    store.with_file_name("reports")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn piped_commands_run_an_incident_and_a_second_run_finds_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fw.db");
    let script = "/incident-assess API returning 500s since the last deploy\n\
                  /incident-update --status monitoring error rate back to normal\n\
                  /incident-note watching for 30 minutes\n\
                  /incident-resolve bad flag | rolled back\n";
    let first = firewatch(
        &[
            "console",
            "--config",
            "bot.toml.example",
            "--as",
            "alice",
            "--channel",
            "ops",
        ],
        &db,
        script,
    );
    assert!(first.status.success(), "{}", text(&first.stderr));
    let out = text(&first.stdout);
    assert_has(
        &out,
        &[
            "🚨 INCIDENT DETECTED - P1",
            "📊 INCIDENT UPDATE",
            "Status: Monitoring (was Investigating)",
            "📝 NOTE on #1",
            "✅ INCIDENT RESOLVED",
        ],
    );
    assert!(!out.contains("firewatch>"), "no prompt when piped");
    assert!(
        text(&first.stderr).is_empty(),
        "nothing on stderr: {}",
        text(&first.stderr)
    );

    let second = firewatch(
        &["console", "-c", "bot.toml.example", "--channel", "ops"],
        &db,
        "/incident-status\n",
    );
    assert!(second.status.success());
    assert_has(
        &text(&second.stdout),
        &[
            "ℹ️ INCIDENT #1 - P1 High - Resolved",
            "detected as P1 (matched '500s')",
            "status Investigating → Monitoring",
            "note: watching for 30 minutes",
            "resolved. Root cause: bad flag. Resolution: rolled back",
        ],
    );
}

#[test]
fn check_config_accepts_the_example_and_names_what_is_wrong_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let ok = firewatch(&["check-config", "--config", "bot.toml.example"], &db, "");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_has(
        &text(&ok.stdout),
        &[
            "bot.toml.example: ok",
            "12 template(s) rendered with sample data",
        ],
    );
    assert!(!db.exists(), "check-config does not create the store");

    let messages = dir.path().join("messages");
    std::fs::create_dir(&messages).unwrap();
    for entry in std::fs::read_dir(repo().join("messages")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, messages.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        messages.join("resolved.hbs"),
        "✅ INCIDENT RESOLVED\nRoot Cause: {{root_cause}}\nDuration: {{duraton}}\n",
    )
    .unwrap();
    let config = dir.path().join("bot.toml");
    let example = std::fs::read_to_string(repo().join("bot.toml.example")).unwrap();
    std::fs::write(
        &config,
        example.replace(
            "# dir = \"messages\"",
            &format!("dir = \"{}\"", messages.display()),
        ),
    )
    .unwrap();
    let bad = firewatch(
        &["check-config", "--config", config.to_str().unwrap()],
        &db,
        "",
    );
    assert_eq!(bad.status.code(), Some(1));
    assert_has(
        &text(&bad.stderr),
        &[
            "error: template ",
            "resolved.hbs failed to render",
            "duraton",
        ],
    );

    std::fs::write(&config, format!("{example}\n[store.extra]\nx = 1\n")).unwrap();
    let unknown = firewatch(
        &["check-config", "--config", config.to_str().unwrap()],
        &db,
        "",
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert_has(
        &text(&unknown.stderr),
        &["bot.toml: store.extra: unknown key (expected url or url_file)"],
    );

    // Values the domain parses are named with their key too.
    for (from, to, said) in [
        (
            "default_severity = \"P2\"",
            "default_severity = \"P9\"",
            "incidents.default_severity: 'P9' is not a severity (P0, P1, P2 or P3)",
        ),
        (
            "\n[[services]]\n",
            "\n[[jobs]]\nname = \"load\"\nkind = \"load\"\nimage = \"k6:1\"\nresult = \"xml\"\n\n[[services]]\n",
            "jobs[0].result: 'xml' is not a result format (k6 or line)",
        ),
    ] {
        assert!(example.contains(from), "{from}");
        std::fs::write(&config, example.replacen(from, to, 1)).unwrap();
        let bad = firewatch(
            &["check-config", "--config", config.to_str().unwrap()],
            &db,
            "",
        );
        assert_eq!(bad.status.code(), Some(1), "{to}");
        assert_has(&text(&bad.stderr), &[said]);
    }

    let missing = firewatch(
        &["check-config", "--config", "/nonexistent/bot.toml"],
        &db,
        "",
    );
    assert_has(
        &text(&missing.stderr),
        &["error: config file /nonexistent/bot.toml not found"],
    );
}

#[test]
fn check_config_warns_that_anyone_may_approve_production_changes_until_approvers_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let example = firewatch(&["check-config", "--config", "bot.toml.example"], &db, "");
    assert!(example.status.success(), "a warning is not an error");
    assert_has(
        &text(&example.stderr),
        &[
            "warning: approvals.rollback: anyone but the requester may approve these production \
             changes (at P0, P1, P2, P3): no approvers or approver_ids are listed",
            "warning: approvals.scale: anyone but the requester may approve these production \
             changes (at P2, P3)",
            "warning: approvals.scale (to 0 replicas): anyone but the requester may approve \
             these production changes (at P0, P1)",
            "warning: approvals.action: ",
        ],
    );
    // With Slack configured and no slack.team_ids, any workspace may command it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_firewatch"));
    let slack = child
        .args(["check-config", "--config", "bot.toml.example"])
        .current_dir(repo())
        .env("FIREWATCH__SLACK__SIGNING_SECRET", "s3cret")
        .output()
        .unwrap();
    assert_has(&text(&slack.stderr), &["warning: slack.team_ids is empty"]);
    assert!(!text(&slack.stderr).contains("s3cret"));

    // The rules the example shows (commented out) for production: nothing to warn about.
    let config = dir.path().join("bot.toml");
    let example = std::fs::read_to_string(repo().join("bot.toml.example")).unwrap();
    let restricted = example
        .replace(
            "[approvals.rollback]\nrequired = 1\napprovers = []",
            "[approvals.rollback]\nrequired = 1\napprovers = [\"deployment-engineer\"]",
        )
        .replace(
            "[approvals.scale]\nrequired = 1\n",
            "[approvals.scale]\nrequired = 1\napprovers = [\"devops-troubleshooter\"]\n",
        )
        .replace(
            "[approvals.action]\nrequired = 1\n",
            "[approvals.action]\nrequired = 1\napprovers = [\"devops-troubleshooter\"]\n",
        );
    std::fs::write(&config, &restricted).unwrap();
    let quiet = firewatch(
        &["check-config", "--config", config.to_str().unwrap()],
        &db,
        "",
    );
    assert!(quiet.status.success(), "{}", text(&quiet.stderr));
    assert!(
        !text(&quiet.stderr).contains("warning"),
        "{}",
        text(&quiet.stderr)
    );
}

#[test]
fn an_unopenable_store_stops_the_console_with_a_clear_message() {
    let out = firewatch(
        &["console", "-c", "bot.toml.example"],
        Path::new("/nonexistent-dir/fw.db"),
        "/incident-status\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_has(
        &text(&out.stderr),
        &["error: cannot open the store at sqlite:///nonexistent-dir/fw.db: "],
    );
}

#[test]
fn serve_without_slack_tokens_says_what_to_set() {
    let dir = tempfile::tempdir().unwrap();
    let out = firewatch(
        &["serve", "-c", "bot.toml.example"],
        &dir.path().join("fw.db"),
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_has(
        &text(&out.stderr),
        &[
            "no chat platform is configured",
            "FIREWATCH__SLACK__BOT_TOKEN",
        ],
    );
}

#[test]
fn slack_manifest_prints_yaml_for_the_base_url_and_refuses_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fw.db");
    let out = firewatch(&["slack-manifest", "https://fw.example.com"], &db, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_has(
        &text(&out.stdout),
        &[
            "- command: /incident-assess",
            "url: \"https://fw.example.com/slack/commands\"",
            "request_url: \"https://fw.example.com/slack/interactions\"",
            "- commands # ",
        ],
    );
    let http = firewatch(&["slack-manifest", "http://fw.example.com"], &db, "");
    assert_eq!(http.status.code(), Some(1));
    assert_has(&text(&http.stderr), &["not an https:// URL"]);
    let path = firewatch(&["slack-manifest", "https://fw.example.com/bot"], &db, "");
    assert_eq!(path.status.code(), Some(1));
    assert_has(&text(&path.stderr), &["(it has a path;"]);
    let both = firewatch(
        &["slack-manifest", "--socket-mode", "https://fw.example.com"],
        &db,
        "",
    );
    assert_eq!(both.status.code(), Some(1));
    assert_has(&text(&both.stderr), &["would not be used"]);
    assert!(both.stdout.is_empty());
}

#[test]
fn alertmanager_config_prints_the_receiver_for_firewatchs_url() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fw.db");
    let out = firewatch(
        &["alertmanager-config", "http://firewatch.firewatch.svc"],
        &db,
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    assert_has(
        &yaml,
        &[
            "url: 'http://firewatch.firewatch.svc/alerts/alertmanager'",
            "send_resolved: true",
            "max_alerts: 0",
            "type: Bearer",
            "credentials_file: '/etc/alertmanager/secrets/firewatch-token'",
            "receiver: firewatch",
        ],
    );
    let parsed: serde_json::Value = serde_saphyr::from_str(&yaml).expect("valid YAML");
    assert_eq!(
        parsed["receivers"][0]["webhook_configs"][0]["http_config"]["authorization"]["type"],
        "Bearer"
    );
    let bad = firewatch(&["alertmanager-config", "firewatch.example.com"], &db, "");
    assert!(!bad.status.success());
    assert_has(&text(&bad.stderr), &["is not an http(s) URL"]);
    assert!(!db.exists(), "it needs no configuration and opens no store");
}

#[test]
fn check_config_names_a_bad_alerts_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let check = |key: &str, value: &str| {
        let mut c = command(&["check-config", "--config", "bot.toml.example"], &db);
        c.env(key, value);
        let out = run(c, "");
        assert!(!out.status.success(), "{key}={value} passed");
        text(&out.stderr)
    };
    assert_has(
        &check("FIREWATCH__ALERTS__SEVERITY__PAGE", "P9"),
        &["alerts.severity.page: 'P9' is not a severity"],
    );
    assert_has(
        &check("FIREWATCH__ALERTS__CHANNEL", "#alerts"),
        &["alerts.channel: '#alerts' is not a channel"],
    );
    assert_has(
        &check("FIREWATCH__ALERTS__SERVICE_LABELS", "service, 0day"),
        &["alerts.service_labels: '0day' is not a label name"],
    );
    let on = check("FIREWATCH__ALERTS__TOKEN", "t0ken-value");
    assert_has(&on, &["alerts.channel: alerts are on"]);
    assert!(!on.contains("t0ken-value"), "{on}");
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fw.db");
    for args in [
        &["--help"][..],
        &["console", "--help"],
        &["serve", "--help"],
        &["check-config", "--help"],
        &["slack-manifest", "--help"],
        &["alertmanager-config", "--help"],
        &["help", "--help"],
        &["help"],
        &["help", "console"],
        &["report", "--help"],
        &["discord-register", "--help"],
    ] {
        let out = firewatch(args, &db, "");
        assert!(out.status.success(), "{args:?}");
        assert_has(&text(&out.stdout), &["Usage: firewatch"]);
    }
    let console = firewatch(&["help", "console"], &db, "");
    assert_has(
        &text(&console.stdout),
        &["Usage: firewatch console", "--as <USER>"],
    );
    let unknown = firewatch(&["help", "deploy"], &db, "");
    assert_eq!(unknown.status.code(), Some(1));
    assert_has(&text(&unknown.stderr), &["error: unknown command 'deploy'"]);
    let manifest = firewatch(&["slack-manifest", "--help"], &db, "");
    assert_has(
        &text(&manifest.stdout),
        &["Needed unless --socket-mode is given", "no BASE_URL"],
    );
    let top = firewatch(&["--help"], &db, "");
    assert_has(
        &text(&top.stdout),
        &["console", "check-config", "serve", "--config <FILE>"],
    );
}

#[test]
fn report_writes_a_resolved_incidents_report_from_the_store_alone() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fw.db");
    let script = "/incident-assess API returning 500s since the last deploy\n\
                  /incident-followup add a 5xx alert\n\
                  /incident-resolve bad flag | rolled back\n\
                  /incident-assess checkout is down\n";
    let run = firewatch(
        &["console", "-c", "bot.toml.example", "--as", "alice"],
        &db,
        script,
    );
    assert!(run.status.success(), "{}", text(&run.stderr));

    let report = firewatch(
        &["report", "#1", "-c", "bot.toml.example", "--as", "bob"],
        &db,
        "",
    );
    assert!(report.status.success(), "{}", text(&report.stderr));
    let file = std::fs::read_dir(reports_dir(&db))
        .unwrap()
        .next()
        .expect("one report")
        .unwrap()
        .path();
    let written = std::fs::read_to_string(&file).unwrap();
    assert_has(
        &written,
        &[
            "# Post-Incident Report: #1 — API returning 500s since the last deploy",
            "- [ ] add a 5xx alert (alice)",
            "## Root Cause\n\nbad flag\n",
        ],
    );
    let out = text(&report.stdout);
    assert_has(
        &out,
        &[
            "📄 POST-INCIDENT REPORT - #1",
            "Status: Closed",
            &format!("Report: {}", file.file_name().unwrap().to_string_lossy()),
        ],
    );
    assert!(out.contains(&written), "the report is printed");
    assert!(
        !out.contains(&reports_dir(&db).display().to_string()),
        "the server's folder is not shown: {out}"
    );
    assert_has(
        &text(&report.stderr),
        &["not posted to the incident's channel (no console channel is connected)"],
    );

    let open = firewatch(&["report", "2", "-c", "bot.toml.example"], &db, "");
    assert!(!open.status.success());
    assert_has(
        &text(&open.stderr),
        &[
            "error: #2 cannot have its report yet",
            "#2 is Investigating",
        ],
    );
    let missing = firewatch(&["report", "7", "-c", "bot.toml.example"], &db, "");
    assert!(!missing.status.success());
    assert_has(&text(&missing.stderr), &["There is no incident #7"]);
    let bad = firewatch(&["report", "x1", "-c", "bot.toml.example"], &db, "");
    assert!(!bad.status.success());
    assert_has(&text(&bad.stderr), &["'x1' is not an incident number"]);
}

#[test]
fn a_log_written_to_a_file_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fw.db");
    let log_path = dir.path().join("firewatch.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut console = command(
        &["console", "--config", "bot.toml.example", "--as", "alice"],
        &db,
    );
    console
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stderr(log);
    let script = "/incident-assess checkout down\n\
                  /incident-resolve bad flag | rolled back\n\
                  /incident-report\n";
    assert!(run(console, script).status.success());
    let written = std::fs::read_to_string(&log_path).unwrap();
    assert_has(&written, &["INFO", "report written; incident closed"]);
    assert!(!written.contains("\x1b["), "{written:?}");
}

#[test]
fn a_piped_console_exits_with_the_number_of_refused_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fw.db");
    let args = ["console", "-c", "bot.toml.example", "--as", "alice"];
    let clean = firewatch(
        &args,
        &db,
        "/incident-assess checkout down\n/incident-ack\n",
    );
    assert!(clean.status.success(), "{}", text(&clean.stderr));
    assert_has(
        &text(&clean.stdout),
        &["> /incident-ack\n👀 INCIDENT ACKNOWLEDGED"],
    );
    let bad = firewatch(
        &args,
        &db,
        "/incident-ack\n/incident-severity P9\n:channel\n/incident-note fine\n",
    );
    assert_eq!(bad.status.code(), Some(3), "{}", text(&bad.stderr));
    assert_has(
        &text(&bad.stderr),
        &["error: 3 line(s) were refused or failed"],
    );
    assert_has(
        &text(&bad.stdout),
        &["> /incident-note fine\n📝 NOTE on #1"],
    );
}

/// What a console on a terminal has printed so far, read as it comes.
struct Screen(std::sync::Arc<std::sync::Mutex<String>>);

impl Screen {
    fn of(mut output: impl std::io::Read + Send + 'static) -> Self {
        let screen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let shown = std::sync::Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(read @ 1..) = output.read(&mut chunk) {
                shown
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk[..read]));
            }
        });
        Self(screen)
    }

    /// Waits (at most a minute) until `text` has been shown `times` times.
    fn wait_for(&self, text: &str, times: usize) {
        for _ in 0..600 {
            if self.0.lock().unwrap().matches(text).count() >= times {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("{text:?} not shown {times} times in:\n{}", self.text());
    }

    fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
}

#[test]
fn a_console_on_a_terminal_edits_lines_and_keeps_their_history() {
    // `script` (util-linux) runs the console on a pseudo-terminal, as a person would.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux's `script` is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fw.db");
    let data = dir.path().join("data");
    let console = format!(
        "{} console -c bot.toml.example --as alice --channel ops",
        env!("CARGO_BIN_EXE_firewatch")
    );
    let mut script = Command::new("script");
    script
        .args(["-qefc", &console, "/dev/null"])
        .env("XDG_DATA_HOME", &data)
        .env("TERM", "xterm");
    let mut command = on_store(script, &db);
    let mut child = command.spawn().expect("script starts");
    let mut keys = child.stdin.take().unwrap();
    let screen = Screen::of(child.stdout.take().unwrap());
    let prompt = "alice@#ops> ";
    let mut typed = 0;
    for line in [
        "/incident-assess checkout down\r",
        // A line that starts with a space stays out of the history.
        " /incident-note private\r",
        // Backspace mends a typo; Ctrl-A moves to the start of the line.
        "incident-statux\x7fs\x01/\r",
        ":quit\r",
    ] {
        typed += 1;
        screen.wait_for(prompt, typed);
        keys.write_all(line.as_bytes()).unwrap();
        keys.flush().unwrap();
    }
    let status = child.wait().expect("the console ends");
    let shown = screen.text();
    assert!(status.success(), "{shown}");
    assert_has(
        &shown,
        &[
            "firewatch console — you are alice in #ops",
            "🚨 INCIDENT DETECTED - P0",
            "📝 NOTE on #1",
            "ℹ️ INCIDENT #1 - P0 Critical - Investigating",
        ],
    );
    let history = std::fs::read_to_string(data.join("firewatch/console_history")).unwrap();
    assert_eq!(
        history.lines().skip(1).collect::<Vec<_>>(),
        [
            "/incident-assess checkout down",
            "/incident-status",
            ":quit"
        ],
        "{history}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("firewatch/console_history"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
