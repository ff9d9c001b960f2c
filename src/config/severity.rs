//! `[severity.p0]` … `[severity.p3]` and `[[classify]]`: what each severity promises and the
//! rules that classify a description, as plain data with the runbook's values as defaults.
//! `bot.toml.example` documents each key. Severity names, colours and patterns are parsed by
//! the severity policy (`incident::severity::Policy::from_settings`), which names the key at
//! fault.

use serde::{Deserialize, Serialize};

use crate::interval::Interval;

/// `[severity]`: the four levels.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityTable {
    /// P0, Critical.
    pub p0: LevelSettings,
    /// P1, High.
    pub p1: LevelSettings,
    /// P2, Medium.
    pub p2: LevelSettings,
    /// P3, Low.
    pub p3: LevelSettings,
}

impl Default for SeverityTable {
    fn default() -> Self {
        Self {
            p0: LevelSettings::runbook(
                "Critical",
                "production down, data loss, security breach",
                (5 * 60, 15 * 60),
                &[
                    "devops-troubleshooter",
                    "security-auditor",
                    "performance-engineer",
                ],
                "#D92D20",
            ),
            p1: LevelSettings::runbook(
                "High",
                "severe degradation, partial outage, critical feature broken",
                (3_600, 30 * 60),
                &["devops-troubleshooter", "performance-engineer"],
                "#F79009",
            ),
            p2: LevelSettings::runbook(
                "Medium",
                "non-critical feature broken, some users affected, workaround exists",
                (4 * 3_600, 2 * 3_600),
                &["devops-troubleshooter", "golang-pro"],
                "#EAAA08",
            ),
            p3: LevelSettings::runbook(
                "Low",
                "cosmetic, documentation, enhancement",
                (24 * 3_600, 24 * 3_600),
                &["golang-pro", "api-documenter"],
                "#98A2B3",
            ),
        }
    }
}

impl SeverityTable {
    /// The levels with their keys, P0 first.
    pub fn levels(&self) -> [(&'static str, &LevelSettings); 4] {
        [
            ("p0", &self.p0),
            ("p1", &self.p1),
            ("p2", &self.p2),
            ("p3", &self.p3),
        ]
    }
}

/// `[severity.pN]`: what one severity promises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelSettings {
    /// Short name: "Critical", "High", …
    pub label: String,
    /// When it applies, in words (shown in help and the alert).
    pub criteria: String,
    /// Response target: acknowledgement is due this long after detection.
    pub respond_within: Interval,
    /// How often the channel must hear an update while the incident is active.
    pub update_every: Interval,
    /// Roles paged when an incident has (or is raised to) this severity. In the environment,
    /// a comma-separated list.
    #[serde(deserialize_with = "super::string_list")]
    pub roles: Vec<String>,
    /// Colour for chat attachments and embeds, `#RRGGBB`.
    pub colour: String,
}

impl LevelSettings {
    /// A level of the runbook: response target and update cadence in seconds.
    fn runbook(
        label: &str,
        criteria: &str,
        (respond, every): (u64, u64),
        roles: &[&str],
        colour: &str,
    ) -> Self {
        Self {
            label: label.into(),
            criteria: criteria.into(),
            respond_within: Interval::from_secs(respond),
            update_every: Interval::from_secs(every),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            colour: colour.into(),
        }
    }
}

/// `[[classify]]`: a description matching `pattern` is at least `severity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRule {
    /// `P0` … `P3`.
    pub severity: String,
    /// A regular expression (Rust `regex` syntax; `(?i)` for case-insensitive).
    pub pattern: String,
}

/// The runbook's classification rules, one per severity, from its criteria.
pub fn runbook_rules() -> Vec<ClassifyRule> {
    [
        (
            "P0",
            r"(?i)\b(down|outage|unavailable|unreachable|data[ -]?loss|lost data|breach(ed)?|compromised|leak(ed|ing)?|ransomware)\b",
        ),
        (
            "P1",
            r"(?i)\b(degrad\w*|partial(ly)?|slow\w*|latency|time[ds]? ?outs?|timing out|critical feature|5\d\ds?|5xx|error rate|crash\w*|oom\w*)\b",
        ),
        (
            "P2",
            r"(?i)\b(broken|not working|fail(s|ed|ing|ures?)?|some users|workaround|intermittent\w*|bug|errors?)\b",
        ),
        (
            "P3",
            r"(?i)\b(cosmetic|typo|documentation|docs|enhancement|minor|misaligned|ui glitch)\b",
        ),
    ]
    .into_iter()
    .map(|(severity, pattern)| ClassifyRule {
        severity: severity.into(),
        pattern: pattern.into(),
    })
    .collect()
}
