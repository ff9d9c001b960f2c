use crate::config::tests::{WEB, load};

use super::*;

fn settings(extra: &str) -> Settings {
    load(&format!("{WEB}{extra}")).expect("the config itself loads")
}

const SMOKE: &str = "[[jobs]]\nname = \"smoke\"\nkind = \"smoke\"\nimage = \"curl:8\"\n";

#[test]
fn jobs_get_their_result_format_and_tolerances_with_the_defaults_filled_in() {
    let s = settings(&format!(
        "{SMOKE}[[jobs]]\nname = \"load\"\nkind = \"load\"\nimage = \"k6:1\"\nresult = \"k6\"\n\
         services = [\"web\"]\np95_tolerance = 0.3\n"
    ));
    let v = Verification::new(&s).expect("valid");
    let smoke = v.named("smoke").expect("smoke");
    assert_eq!(smoke.judged, Judged::Smoke);
    assert!(smoke.covers("anything"));
    let load = v.named("load").expect("load");
    let Judged::Load { format, tolerance } = load.judged else {
        panic!("a load job: {load:?}");
    };
    assert_eq!(format, ResultFormat::K6);
    assert_eq!((tolerance.p95, tolerance.max_error_rate), (0.3, 0.01));
    assert!(!load.covers("other"));
    assert_eq!(v.smoke_tests("web").len(), 1);
    assert_eq!(v.load_tests("web")[0].name, "load");
    assert_eq!(v.waiting(Purpose::Smoke).tail_lines, 20);
    assert_eq!(v.waiting(Purpose::Compare).tail_lines, LOAD_LOG_LINES);
}

#[test]
fn the_examples_jobs_load_when_uncommented() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("bot.toml.example")).expect("example");
    let mut jobs = String::new();
    let mut on = false;
    for line in example.lines() {
        on = on || line == "# [[jobs]]";
        if on {
            let Some(text) = line.strip_prefix('#') else {
                break;
            };
            jobs.push_str(text.strip_prefix(' ').unwrap_or(text));
            jobs.push('\n');
        }
    }
    assert!(jobs.matches("[[jobs]]").count() == 2, "{jobs}");
    let text = example
        .replace("url = \"sqlite://firewatch.db\"", "url = \"sqlite://x.db\"")
        .replace("dir = \"messages\"", "dir = \"m\"")
        + &jobs;
    let s = load(&text).expect("the example with its jobs loads");
    assert_eq!(s.jobs.len(), 2);
    assert_eq!(s.jobs[1].result.as_deref(), Some("k6"));
    assert_eq!(s.approvals.job.required, 0);
    let v = Verification::new(&s).expect("the example's jobs are valid");
    assert_eq!(v.smoke_tests("freightliner").len(), 1);
    let load = v.load_tests("freightliner");
    assert!(
        matches!(
            load[0].judged,
            Judged::Load {
                format: ResultFormat::K6,
                ..
            }
        ),
        "{load:?}"
    );
}

#[test]
fn bad_result_formats_and_tolerances_name_their_key_and_value() {
    let cases = [
        (
            "[[jobs]]\nname = \"s\"\nkind = \"load\"\nimage = \"x\"",
            "jobs[0].result",
            "\"k6\" or \"line\"",
        ),
        (
            "[[jobs]]\nname = \"s\"\nkind = \"load\"\nimage = \"x\"\nresult = \"xml\"",
            "jobs[0].result",
            "'xml' is not a result format",
        ),
        (
            "[[jobs]]\nname = \"s\"\nkind = \"smoke\"\nimage = \"x\"\nresult = \"line\"",
            "jobs[0].result",
            "only load jobs",
        ),
        (
            "[[jobs]]\nname = \"s\"\nkind = \"smoke\"\nimage = \"x\"\np95_tolerance = 0.5",
            "jobs[0].kind",
            "tolerances are for load jobs",
        ),
        (
            "[[jobs]]\nname = \"s\"\nkind = \"load\"\nimage = \"x\"\nresult = \"line\"\nmax_error_rate = 2.0",
            "jobs[0].max_error_rate",
            "2 is not a tolerance",
        ),
        (
            "[verification]\np95_tolerance = 0",
            "verification.p95_tolerance",
            "0 is not a tolerance",
        ),
    ];
    for (extra, key, said) in cases {
        let err = Verification::new(&settings(extra)).expect_err(extra);
        assert_eq!(err.key, key, "{extra}: {err}");
        assert!(err.message.contains(said), "{extra}: {err}");
    }
}

#[test]
fn a_run_fills_the_services_names_and_keeps_the_jobs_own_variables() {
    let s = settings(&format!(
        "{SMOKE}env = {{ TARGET = \"http://{{deployment}}.{{namespace}}\", FIREWATCH_SERVICE = \"mine\" }}\n\
         secret_env = {{ TOKEN = \"creds/token\" }}\n"
    ));
    let v = Verification::new(&s).expect("valid");
    let service = crate::catalog::Catalog::new(&s)
        .pick(None)
        .expect("one service")
        .clone();
    let spec = v.spec(v.named("smoke").unwrap(), 7, &service, Purpose::Smoke, 2);
    assert_eq!(spec.name, "firewatch-7-smoke-2");
    assert_eq!(spec.namespace, "web");
    assert!(
        spec.env
            .contains(&("TARGET".into(), "http://web.web".into()))
    );
    assert!(
        spec.env
            .contains(&("FIREWATCH_SERVICE".into(), "mine".into()))
    );
    assert!(
        spec.env
            .contains(&("FIREWATCH_INCIDENT".into(), "7".into()))
    );
    assert_eq!(
        spec.secret_env,
        [("TOKEN".into(), "creds".into(), "token".into())]
    );
    assert_eq!(spec.ttl_secs, 3_600);
}
