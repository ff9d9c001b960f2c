use super::*;

fn runbook_policy() -> Policy {
    Policy::runbook()
}

#[test]
fn severity_parses_case_insensitively_and_names_bad_text() {
    assert_eq!(Severity::parse("p1"), Ok(Severity::P1));
    assert_eq!(Severity::parse("P3"), Ok(Severity::P3));
    for bad in ["P4", "1", "high", "", "P0!"] {
        let err = Severity::parse(bad).expect_err(bad);
        assert!(err.contains(&format!("'{bad}'")), "{err}");
    }
}

#[test]
fn p0_is_the_most_severe() {
    assert!(Severity::P0 < Severity::P1 && Severity::P2 < Severity::P3);
}

#[test]
fn classification_picks_the_most_severe_matching_rule() {
    let policy = runbook_policy();
    let cases = [
        (
            "Checkout is unavailable for everyone",
            Severity::P0,
            "unavailable",
        ),
        (
            "API returning 500s since the last deploy",
            Severity::P1,
            "500s",
        ),
        ("search is slow and checkout is down", Severity::P0, "down"),
        ("Latency spike on EU cluster", Severity::P1, "Latency"),
        (
            "export button broken, workaround exists",
            Severity::P2,
            "broken",
        ),
        ("typo on the pricing page", Severity::P3, "typo"),
        ("customer DATA LOSS reported", Severity::P0, "DATA LOSS"),
    ];
    for (text, severity, matched) in cases {
        let c = policy.classify(text, None);
        assert_eq!(c.severity, severity, "{text}");
        assert_eq!(c.reason, Reason::Matched(matched.into()), "{text}");
        assert_eq!(c.to_string(), format!("matched '{matched}'"));
    }
}

#[test]
fn words_that_only_contain_a_keyword_do_not_match() {
    let policy = runbook_policy();
    for text in [
        "slowdown of the download page",
        "shutdown of a downstream cron",
    ] {
        assert_ne!(policy.classify(text, None).severity, Severity::P0, "{text}");
    }
}

#[test]
fn no_match_falls_back_to_the_default_and_says_so() {
    let c = runbook_policy().classify("something odd with the cafeteria menu", None);
    assert_eq!(
        (c.severity, c.reason.clone()),
        (Severity::P2, Reason::Default)
    );
    assert_eq!(c.to_string(), "no rule matched; default P2");
}

#[test]
fn sev_overrides_the_rules_and_the_reason_shows_both() {
    let c = runbook_policy().classify("checkout is down", Some(Severity::P2));
    assert_eq!(c.severity, Severity::P2);
    assert_eq!(
        c.to_string(),
        "set with --sev; rules said P0: matched 'down'"
    );
    let agree = runbook_policy().classify("checkout is down", Some(Severity::P0));
    assert_eq!(
        agree.to_string(),
        "set with --sev; rules agree: matched 'down'"
    );
}

/// The default settings with `rules` (severity, pattern) as `[[classify]]`.
fn classified(rules: &[(&str, &str)]) -> crate::config::Settings {
    let classify = rules
        .iter()
        .map(|(severity, pattern)| crate::config::ClassifyRule {
            severity: (*severity).into(),
            pattern: (*pattern).into(),
        })
        .collect();
    crate::config::Settings {
        classify,
        ..Default::default()
    }
}

#[test]
fn configured_rules_replace_the_defaults() {
    let mut settings = classified(&[("P0", "(?i)payments")]);
    settings.incidents.default_severity = "P3".into();
    let policy = Policy::from_settings(&settings).expect("valid");
    assert_eq!(
        policy.classify("Payments failing", None).severity,
        Severity::P0
    );
    assert_eq!(policy.classify("site down", None).severity, Severity::P3);
}

#[test]
fn a_bad_pattern_or_colour_names_its_key() {
    let mut settings = classified(&[("P1", "ok"), ("P1", "(unclosed")]);
    let err = Policy::from_settings(&settings).expect_err("bad regex");
    assert!(err.to_string().starts_with("classify[1].pattern"), "{err}");

    settings.severity.p3.colour = "grey".into();
    let err = Policy::from_settings(&settings).expect_err("bad colour");
    assert!(err.to_string().starts_with("severity.p3.colour"), "{err}");
}

#[test]
fn a_live_signal_raises_a_classification_and_keeps_the_first_reason() {
    let policy = runbook_policy();
    let first = policy.classify("checkout errors for some users", None);
    assert_eq!(first.severity, Severity::P2);
    let raised = first.clone().raise(Severity::P0, "0/3 replicas ready");
    assert_eq!(raised.severity, Severity::P0);
    assert_eq!(
        raised.to_string(),
        format!("raised from P2 by the cluster: 0/3 replicas ready; {first}")
    );
    let p0 = policy.classify("the site is down", None);
    assert_eq!(
        p0.clone().raise(Severity::P0, "x"),
        p0,
        "never lowered or re-raised"
    );
}

#[test]
fn the_runbook_policy_is_the_settings_defaults() {
    let policy = runbook_policy();
    assert_eq!(policy.level(Severity::P0).respond_within.to_string(), "5m");
    assert_eq!(
        policy.level(Severity::P1).roles,
        ["devops-troubleshooter", "performance-engineer"]
    );
    assert_eq!(policy.escalation_roles(), ["cloud-architect"]);
    let c = policy.classify("something odd with the cafeteria menu", None);
    assert_eq!(c.severity, Severity::P2);
}

#[test]
fn bad_severities_in_the_settings_name_their_key_and_value() {
    let mut settings = crate::config::Settings::default();
    settings.incidents.default_severity = "P9".into();
    let err = Policy::from_settings(&settings).expect_err("P9");
    assert_eq!(
        err.to_string(),
        "incidents.default_severity: 'P9' is not a severity (P0, P1, P2 or P3)"
    );
    let mut settings = crate::config::Settings::default();
    settings.classify[2].severity = "high".into();
    let err = Policy::from_settings(&settings).expect_err("high");
    assert_eq!(
        err.to_string(),
        "classify[2].severity: 'high' is not a severity (P0, P1, P2 or P3)"
    );
    let mut settings = crate::config::Settings::default();
    settings.severity.p2.colour = "yellow".into();
    let err = Policy::from_settings(&settings).expect_err("yellow");
    assert!(
        err.to_string().starts_with("severity.p2.colour: 'yellow'"),
        "{err}"
    );
}
