//! How bad an incident is: the four severities, what each promises (response target, update
//! cadence, who gets paged), and the rules that classify a description.

use std::fmt;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::interval::Interval;

/// P0 (critical) to P3 (low). `P0 < P1` in ordering: a smaller value is more severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Production down, data loss, security breach.
    P0,
    /// Severe degradation, partial outage, critical feature broken.
    P1,
    /// Non-critical feature broken, some users affected, workaround exists.
    P2,
    /// Cosmetic, documentation, enhancement.
    P3,
}

impl Severity {
    /// All four, most severe first.
    pub const ALL: [Severity; 4] = [Severity::P0, Severity::P1, Severity::P2, Severity::P3];

    /// `"P0"` … `"P3"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::P0 => "P0",
            Severity::P1 => "P1",
            Severity::P2 => "P2",
            Severity::P3 => "P3",
        }
    }

    /// 0 for P0 … 3 for P3.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Parses `P0`…`P3`, case-insensitively.
    ///
    /// # Errors
    /// A message naming the text and listing the severities.
    pub fn parse(text: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| format!("'{text}' is not a severity (P0, P1, P2 or P3)"))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Severity::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What one severity promises. Read from `[severity.pN]` in the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
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
    #[serde(deserialize_with = "crate::config::string_list")]
    pub roles: Vec<String>,
    /// Colour for chat attachments and embeds, `#RRGGBB`.
    pub colour: String,
}

impl Level {
    /// The runbook's defaults for `severity`.
    pub fn runbook_default(severity: Severity) -> Self {
        let (label, criteria, respond, every, roles, colour): (_, _, u64, u64, &[&str], _) =
            match severity {
                Severity::P0 => (
                    "Critical",
                    "production down, data loss, security breach",
                    5 * 60,
                    15 * 60,
                    &[
                        "devops-troubleshooter",
                        "security-auditor",
                        "performance-engineer",
                    ],
                    "#D92D20",
                ),
                Severity::P1 => (
                    "High",
                    "severe degradation, partial outage, critical feature broken",
                    3_600,
                    30 * 60,
                    &["devops-troubleshooter", "performance-engineer"],
                    "#F79009",
                ),
                Severity::P2 => (
                    "Medium",
                    "non-critical feature broken, some users affected, workaround exists",
                    4 * 3_600,
                    2 * 3_600,
                    &["devops-troubleshooter", "golang-pro"],
                    "#EAAA08",
                ),
                Severity::P3 => (
                    "Low",
                    "cosmetic, documentation, enhancement",
                    24 * 3_600,
                    24 * 3_600,
                    &["golang-pro", "api-documenter"],
                    "#98A2B3",
                ),
            };
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

/// One classification rule: a description matching `pattern` is at least `severity`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The severity the rule assigns.
    pub severity: Severity,
    /// A regular expression (Rust `regex` syntax; `(?i)` for case-insensitive).
    pub pattern: String,
}

impl Rule {
    /// The default rules, one per severity, from the runbook's criteria.
    pub fn runbook_defaults() -> Vec<Rule> {
        [
            (
                Severity::P0,
                r"(?i)\b(down|outage|unavailable|unreachable|data[ -]?loss|lost data|breach(ed)?|compromised|leak(ed|ing)?|ransomware)\b",
            ),
            (
                Severity::P1,
                r"(?i)\b(degrad\w*|partial(ly)?|slow\w*|latency|time[ds]? ?outs?|timing out|critical feature|5\d\ds?|5xx|error rate|crash\w*|oom\w*)\b",
            ),
            (
                Severity::P2,
                r"(?i)\b(broken|not working|fail(s|ed|ing|ures?)?|some users|workaround|intermittent\w*|bug|errors?)\b",
            ),
            (
                Severity::P3,
                r"(?i)\b(cosmetic|typo|documentation|docs|enhancement|minor|misaligned|ui glitch)\b",
            ),
        ]
        .into_iter()
        .map(|(severity, pattern)| Rule {
            severity,
            pattern: pattern.into(),
        })
        .collect()
    }
}

/// Why an incident has the severity it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A rule matched this text of the description.
    Matched(String),
    /// The reporter chose it with `--sev`; `rules` is what the rules would have said.
    Chosen { rules: Box<Classification> },
    /// No rule matched; the configured default applies.
    Default,
    /// A live signal from the cluster raised the severity above what `was` said.
    Raised {
        /// The signal (`0/3 replicas of freightliner ready`).
        signal: String,
        /// The classification before the raise.
        was: Box<Classification>,
    },
}

/// A severity and the reason for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// The severity.
    pub severity: Severity,
    /// Why.
    pub reason: Reason,
}

impl Classification {
    /// This classification raised to `to` because of `signal`; unchanged when it is already at
    /// least as severe.
    pub fn raise(self, to: Severity, signal: impl Into<String>) -> Self {
        if self.severity <= to {
            return self;
        }
        Self {
            severity: to,
            reason: Reason::Raised {
                signal: signal.into(),
                was: Box::new(self),
            },
        }
    }
}

impl fmt::Display for Classification {
    /// The reason in words, as the alert shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Reason::Matched(text) => write!(f, "matched '{text}'"),
            Reason::Default => write!(f, "no rule matched; default {}", self.severity),
            Reason::Chosen { rules } if rules.severity == self.severity => {
                write!(f, "set with --sev; rules agree: {rules}")
            }
            Reason::Chosen { rules } => {
                write!(f, "set with --sev; rules said {}: {rules}", rules.severity)
            }
            Reason::Raised { signal, was } => {
                write!(
                    f,
                    "raised from {} by the cluster: {signal}; {was}",
                    was.severity
                )
            }
        }
    }
}

/// Why the policy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// A classification rule's pattern is not a valid regular expression.
    #[error("classify[{index}].pattern: invalid regular expression: {source}")]
    Pattern {
        /// Position of the rule in `[[classify]]`.
        index: usize,
        /// What the regex parser said.
        #[source]
        source: regex::Error,
    },
    /// A severity's colour is not `#RRGGBB`.
    #[error("severity.{key}.colour: '{colour}' is not a colour (write it like #D92D20)")]
    Colour {
        /// `p0` … `p3`.
        key: String,
        /// The bad value.
        colour: String,
    },
}

/// The severity policy: the four levels and the classification rules.
#[derive(Debug, Clone)]
pub struct Policy {
    levels: [Level; 4],
    rules: Vec<(Severity, Regex)>,
    default: Severity,
    escalation: Vec<String>,
}

impl Policy {
    /// Builds the policy, compiling every rule.
    ///
    /// # Errors
    /// [`PolicyError`] naming the first bad rule or colour.
    pub fn new(levels: [Level; 4], rules: &[Rule], default: Severity) -> Result<Self, PolicyError> {
        for (severity, level) in Severity::ALL.iter().zip(&levels) {
            let hex = level.colour.strip_prefix('#').unwrap_or("");
            if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(PolicyError::Colour {
                    key: severity.as_str().to_lowercase(),
                    colour: level.colour.clone(),
                });
            }
        }
        let rules = rules
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                Regex::new(&rule.pattern)
                    .map(|re| (rule.severity, re))
                    .map_err(|source| PolicyError::Pattern { index, source })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            levels,
            rules,
            default,
            escalation: Vec::new(),
        })
    }

    /// The policy with `roles` paged when a response target is missed.
    pub fn with_escalation(mut self, roles: Vec<String>) -> Self {
        self.escalation = roles;
        self
    }

    /// Roles paged, on top of the severity's and the service's, when a response target is missed.
    pub fn escalation_roles(&self) -> &[String] {
        &self.escalation
    }

    /// The runbook's policy: default levels and rules, P2 when nothing matches, escalation to
    /// the cloud architect.
    pub fn runbook() -> Self {
        Self::new(
            Severity::ALL.map(Level::runbook_default),
            &Rule::runbook_defaults(),
            Severity::P2,
        )
        .expect("the runbook defaults compile (checked by the tests)")
        .with_escalation(vec!["cloud-architect".into()])
    }

    /// What `severity` promises.
    pub fn level(&self, severity: Severity) -> &Level {
        &self.levels[severity.index()]
    }

    /// Classifies a description: the most severe matching rule wins; `--sev` overrides.
    pub fn classify(&self, description: &str, chosen: Option<Severity>) -> Classification {
        let by_rules = self
            .rules
            .iter()
            .filter_map(|(severity, re)| re.find(description).map(|m| (*severity, m.as_str())))
            .min_by_key(|(severity, _)| *severity)
            .map_or(
                Classification {
                    severity: self.default,
                    reason: Reason::Default,
                },
                |(severity, text)| Classification {
                    severity,
                    reason: Reason::Matched(text.to_owned()),
                },
            );
        match chosen {
            Some(severity) => Classification {
                severity,
                reason: Reason::Chosen {
                    rules: Box::new(by_rules),
                },
            },
            None => by_rules,
        }
    }
}

#[cfg(test)]
mod tests;
