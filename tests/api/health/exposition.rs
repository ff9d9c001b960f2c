//! A checker of the Prometheus text exposition format, and proof that it can fail.

use std::collections::HashMap;

/// Checks every line against the Prometheus text format 0.0.4: `# HELP`/`# TYPE` once per
/// family and before its samples, valid metric and label names, escaped label values, numeric
/// values, samples named after their family, histogram buckets cumulative with `+Inf` equal to
/// `_count`.
pub fn check_exposition(text: &str) {
    let name = regex::Regex::new(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$").unwrap();
    let sample = regex::Regex::new(
        r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? (\S+)$"#,
    )
    .unwrap();
    assert!(text.ends_with('\n'), "the text ends with a newline");
    let mut types: HashMap<String, String> = HashMap::new();
    let mut helped = std::collections::HashSet::new();
    let mut current: Option<String> = None;
    let mut buckets: HashMap<String, (f64, f64)> = HashMap::new(); // series → (last le, count)
    for line in text.lines() {
        assert!(!line.is_empty(), "no blank lines");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (family, help) = rest.split_once(' ').expect("HELP has a text");
            assert!(name.is_match(family), "{line}");
            assert!(!help.is_empty(), "{line}");
            assert!(helped.insert(family.to_owned()), "HELP twice: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').expect("TYPE has a kind");
            assert!(name.is_match(family), "{line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(family.to_owned(), kind.to_owned()).is_none(),
                "TYPE twice: {line}"
            );
            current = Some(family.to_owned());
            continue;
        }
        assert!(
            !line.starts_with('#'),
            "only HELP and TYPE comments: {line}"
        );
        let caps = sample
            .captures(line)
            .unwrap_or_else(|| panic!("not a sample line: {line}"));
        let metric = &caps[1];
        let family = current.as_deref().expect("a sample after its TYPE");
        let kind = &types[family];
        let value: f64 = match &caps[4] {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a number: {line}")),
        };
        match kind.as_str() {
            "histogram" => {
                let labels = caps.get(3).map_or("", |m| m.as_str());
                if metric == format!("{family}_bucket") {
                    let (rest, le) = labels.rsplit_once("le=\"").expect("a bucket has le");
                    let le = le.trim_end_matches('"');
                    let le: f64 = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    };
                    let entry = buckets
                        .entry(format!("{family}{{{rest}"))
                        .or_insert((f64::NEG_INFINITY, 0.0));
                    assert!(le > entry.0, "buckets in rising order: {line}");
                    assert!(value >= entry.1, "buckets are cumulative: {line}");
                    *entry = (le, value);
                } else if metric == format!("{family}_count") {
                    let key = if labels.is_empty() {
                        format!("{family}{{")
                    } else {
                        format!("{family}{{{labels},")
                    };
                    let (last, total) = buckets.get(&key).copied().expect("buckets before count");
                    assert!(last.is_infinite(), "the last bucket is +Inf: {line}");
                    assert_eq!(total, value, "+Inf equals _count: {line}");
                } else {
                    assert_eq!(metric, format!("{family}_sum"), "{line}");
                }
            }
            "counter" => {
                assert_eq!(metric, family, "{line}");
                assert!(metric.ends_with("_total"), "counters end in _total: {line}");
                assert!(value >= 0.0 && value.fract() == 0.0, "{line}");
            }
            _ => assert_eq!(metric, family, "{line}"),
        }
    }
    assert_eq!(helped.len(), types.len(), "every family has HELP and TYPE");
}

#[test]
fn the_exposition_check_can_fail() {
    for bad in [
        "# TYPE x_total counter\nx_total{a=\"1\"} one\n",
        "x_total 1\n",
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# HELP g g\n# TYPE g gauge\ng{a=1} 1\n",
        "# HELP g g\n# TYPE g gauge\ng 1",
    ] {
        let caught = std::panic::catch_unwind(|| check_exposition(bad));
        assert!(caught.is_err(), "accepted: {bad:?}");
    }
}
