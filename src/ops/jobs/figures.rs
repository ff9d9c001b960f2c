//! A load test's figures (p95 latency, error rate, throughput), read from its pod's log, and
//! their comparison with the service's baseline.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a load job reports its figures in its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    /// k6's `--summary-export` JSON, printed to the log (`cat summary.json` after `k6 run`):
    /// `http_req_duration` `p(95)` (ms), `http_req_failed` rate, `http_reqs` rate.
    K6,
    /// A line `p95_ms=… error_rate=… rps=…` (the last such line counts); vegeta, hey or a
    /// script can print it.
    Line,
}

impl ResultFormat {
    /// `k6` or `line`, as `result` in `[[jobs]]` names them.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "k6" => Some(ResultFormat::K6),
            "line" => Some(ResultFormat::Line),
            _ => None,
        }
    }
}

/// What one load test measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// 95th percentile latency, in milliseconds.
    pub p95_ms: f64,
    /// The share of requests that failed, 0 to 1.
    pub error_rate: f64,
    /// Requests per second.
    pub rps: f64,
}

impl Figures {
    /// `p95 182 ms, errors 0.40 %, 950.0 req/s`.
    pub fn describe(&self) -> String {
        format!(
            "p95 {} ms, errors {}, {:.1} req/s",
            ms(self.p95_ms),
            percent(self.error_rate),
            self.rps
        )
    }

    fn checked(self) -> Result<Self, String> {
        let finite = [self.p95_ms, self.error_rate, self.rps]
            .iter()
            .all(|v| v.is_finite() && *v >= 0.0);
        if !finite {
            return Err("the figures must be numbers of at least 0".into());
        }
        if self.error_rate > 1.0 {
            return Err(format!(
                "error_rate {} is more than 1 (it is a share, not a percentage)",
                self.error_rate
            ));
        }
        Ok(self)
    }
}

/// Reads the figures of a load test's log.
///
/// # Errors
/// What is missing or malformed, for the channel.
pub fn parse(format: ResultFormat, log: &str) -> Result<Figures, String> {
    match format {
        ResultFormat::K6 => parse_k6(log),
        ResultFormat::Line => parse_line(log),
    }
}

/// The last k6 summary (a JSON object with `metrics`) in `log`.
fn parse_k6(log: &str) -> Result<Figures, String> {
    let mut summary = None;
    let mut offset = 0;
    for line in log.split_inclusive('\n') {
        if line.trim_start().starts_with('{') {
            let mut values =
                serde_json::Deserializer::from_str(&log[offset..]).into_iter::<Value>();
            if let Some(Ok(value)) = values.next()
                && value.get("metrics").is_some()
            {
                summary = Some(value);
            }
        }
        offset += line.len();
    }
    let Some(summary) = summary else {
        return Err("no k6 summary (a JSON object with \"metrics\") in the log".into());
    };
    let metrics = &summary["metrics"];
    let number = |metric: &str, keys: &[&str]| -> Result<f64, String> {
        let m = &metrics[metric];
        keys.iter()
            .find_map(|k| m[*k].as_f64().or_else(|| m["values"][*k].as_f64()))
            .ok_or_else(|| format!("the k6 summary has no {metric} {}", keys[0]))
    };
    let error_rate = match number("http_req_failed", &["value", "rate"]) {
        Ok(rate) => rate,
        // `passes` counts the requests that failed (the metric's true values).
        Err(e) => {
            let failed = &metrics["http_req_failed"];
            match (failed["passes"].as_f64(), failed["fails"].as_f64()) {
                (Some(p), Some(f)) if p + f > 0.0 => p / (p + f),
                _ => return Err(e),
            }
        }
    };
    Figures {
        p95_ms: number("http_req_duration", &["p(95)"])?,
        error_rate,
        rps: number("http_reqs", &["rate"])?,
    }
    .checked()
}

/// The last line with `p95_ms=`, `error_rate=` and `rps=`.
fn parse_line(log: &str) -> Result<Figures, String> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("p95_ms=") && l.contains("error_rate=") && l.contains("rps="))
        .ok_or("no line 'p95_ms=… error_rate=… rps=…' in the log")?;
    let value = |key: &str| -> Result<f64, String> {
        let text = line
            .split(|c: char| c.is_whitespace() || c == ',')
            .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
            .ok_or_else(|| format!("no {key}= in '{}'", line.trim()))?;
        let text = text.trim_end_matches('%');
        text.parse::<f64>()
            .map_err(|_| format!("{key}={text} is not a number"))
    };
    Figures {
        p95_ms: value("p95_ms")?,
        error_rate: value("error_rate")?,
        rps: value("rps")?,
    }
    .checked()
}

/// How far a new run may be from the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// p95 may be at most this much above the baseline's (0.2 = 20 %).
    pub p95: f64,
    /// The error rate must stay below this (0.01 = 1 %).
    pub max_error_rate: f64,
}

/// A run beside the baseline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// One line a figure: now, baseline, ratio and ✅/❌ (throughput is shown, not judged).
    pub lines: Vec<String>,
    /// Whether every judged figure is within tolerance.
    pub passed: bool,
}

/// Compares `now` with `baseline`.
pub fn compare(now: &Figures, baseline: &Figures, tolerance: Tolerance) -> Comparison {
    let p95_ratio = ratio(now.p95_ms, baseline.p95_ms);
    let p95_ok = p95_ratio <= 1.0 + tolerance.p95 + 1e-9;
    let errors_ok = now.error_rate < tolerance.max_error_rate;
    let mark = |ok: bool| if ok { "✅" } else { "❌" };
    let lines = vec![
        format!(
            "{} p95 latency {} ms vs baseline {} ms ({}, at most ×{:.2})",
            mark(p95_ok),
            ms(now.p95_ms),
            ms(baseline.p95_ms),
            times(p95_ratio),
            1.0 + tolerance.p95
        ),
        format!(
            "{} error rate {} vs baseline {} ({}, below {})",
            mark(errors_ok),
            percent(now.error_rate),
            percent(baseline.error_rate),
            times(ratio(now.error_rate, baseline.error_rate)),
            percent(tolerance.max_error_rate)
        ),
        format!(
            "ℹ️ throughput {:.1} req/s vs baseline {:.1} req/s ({})",
            now.rps,
            baseline.rps,
            times(ratio(now.rps, baseline.rps))
        ),
    ];
    Comparison {
        lines,
        passed: p95_ok && errors_ok,
    }
}

/// `now / baseline`; equal zeros are ×1, anything over a zero baseline is infinite.
fn ratio(now: f64, baseline: f64) -> f64 {
    if baseline > 0.0 {
        now / baseline
    } else if now > 0.0 {
        f64::INFINITY
    } else {
        1.0
    }
}

fn times(ratio: f64) -> String {
    if ratio.is_finite() {
        format!("×{ratio:.2}")
    } else {
        "×∞".into()
    }
}

fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

fn percent(share: f64) -> String {
    format!("{:.2} %", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K6: &str = r#"
          /\      |‾‾| /‾‾/   /‾‾/
     /\  /  \     |  |/  /   /  /
running (0m30.0s), 00/10 VUs, 2851 complete and 0 interrupted iterations
{
    "root_group": { "name": "", "path": "", "id": "d41d8cd98f00b204e9800998ecf8427e", "groups": {}, "checks": {} },
    "metrics": {
        "http_req_duration": { "avg": 102.3, "min": 80.1, "med": 98.7, "max": 450.2, "p(90)": 140.0, "p(95)": 182.5 },
        "http_req_failed": { "passes": 4, "fails": 996, "thresholds": { "rate<0.01": false }, "value": 0.004 },
        "http_reqs": { "count": 1000, "rate": 33.33 },
        "iterations": { "count": 1000, "rate": 33.33 }
    }
}
"#;

    #[test]
    fn a_k6_summary_export_is_read() {
        let f = parse(ResultFormat::K6, K6).unwrap();
        assert_eq!(f.p95_ms, 182.5);
        assert_eq!(f.error_rate, 0.004);
        assert_eq!(f.rps, 33.33);
        // Without `value`, passes / (passes + fails).
        let old = K6.replace(r#", "value": 0.004"#, "");
        assert_eq!(parse(ResultFormat::K6, &old).unwrap().error_rate, 0.004);
        // k6's newer `values` nesting.
        let nested = r#"{"metrics": {"http_req_duration": {"values": {"p(95)": 12.0}},
            "http_req_failed": {"values": {"rate": 0.5}}, "http_reqs": {"values": {"rate": 7.0}}}}"#;
        let f = parse(ResultFormat::K6, nested).unwrap();
        assert_eq!((f.p95_ms, f.error_rate, f.rps), (12.0, 0.5, 7.0));
    }

    #[test]
    fn a_bad_k6_log_says_what_is_missing() {
        let e = parse(ResultFormat::K6, "k6 crashed\n").unwrap_err();
        assert!(e.contains("no k6 summary"), "{e}");
        let no_p95 = K6.replace(r#""p(95)": 182.5"#, r#""p(99)": 1.0"#);
        let e = parse(ResultFormat::K6, &no_p95).unwrap_err();
        assert!(e.contains("http_req_duration p(95)"), "{e}");
        assert!(parse(ResultFormat::K6, "{ not json\n").is_err());
    }

    #[test]
    fn the_last_key_value_line_is_read() {
        let log = "warming up\np95_ms=900 error_rate=0.5 rps=1\nrun 2\np95_ms=182.5 error_rate=0.004 rps=950\ndone\n";
        let f = parse(ResultFormat::Line, log).unwrap();
        assert_eq!((f.p95_ms, f.error_rate, f.rps), (182.5, 0.004, 950.0));
        let commas = parse(ResultFormat::Line, "p95_ms=1, error_rate=0, rps=2").unwrap();
        assert_eq!(
            (commas.p95_ms, commas.error_rate, commas.rps),
            (1.0, 0.0, 2.0)
        );
    }

    #[test]
    fn bad_key_value_lines_are_refused() {
        for (log, says) in [
            ("nothing here", "no line"),
            (
                "p95_ms=abc error_rate=0 rps=1",
                "p95_ms=abc is not a number",
            ),
            ("p95_ms=1 error_rate=5 rps=1", "more than 1"),
            ("p95_ms=-1 error_rate=0 rps=1", "at least 0"),
            ("p95_ms=NaN error_rate=0 rps=1", "at least 0"),
            ("xp95_ms=1 error_rate=0 rps=1", "no p95_ms="),
        ] {
            let e = parse(ResultFormat::Line, log).unwrap_err();
            assert!(e.contains(says), "{log}: {e}");
        }
    }

    #[test]
    fn comparison_judges_p95_ratio_and_error_rate() {
        let tolerance = Tolerance {
            p95: 0.2,
            max_error_rate: 0.01,
        };
        let base = Figures {
            p95_ms: 100.0,
            error_rate: 0.002,
            rps: 1000.0,
        };
        let better = Figures {
            p95_ms: 90.0,
            error_rate: 0.001,
            rps: 1100.0,
        };
        let c = compare(&better, &base, tolerance);
        assert!(c.passed, "{:?}", c.lines);
        assert!(c.lines[0].starts_with("✅ p95 latency 90.0 ms vs baseline 100 ms (×0.90"));
        let edge = Figures {
            p95_ms: 120.0,
            ..base
        };
        assert!(compare(&edge, &base, tolerance).passed);
        let slow = Figures {
            p95_ms: 121.0,
            ..base
        };
        let c = compare(&slow, &base, tolerance);
        assert!(!c.passed);
        assert!(c.lines[0].starts_with("❌"), "{:?}", c.lines);
        let failing = Figures {
            error_rate: 0.01,
            ..base
        };
        let c = compare(&failing, &base, tolerance);
        assert!(!c.passed);
        assert!(
            c.lines[1].starts_with("❌ error rate 1.00 %"),
            "{:?}",
            c.lines
        );
        let zero = Figures {
            p95_ms: 0.0,
            error_rate: 0.0,
            rps: 0.0,
        };
        assert!(compare(&zero, &zero, tolerance).passed);
        assert!(compare(&base, &zero, tolerance).lines[0].contains("×∞"));
    }
}
