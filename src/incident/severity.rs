//! How bad an incident is: the four severities, what each promises (response target, update
//! cadence, who gets paged), and the rules that classify a description. The policy is built
//! once from the settings ([`Policy::from_settings`]), which parses and checks them; after that
//! nothing here reads the config, the store or a chat.

use std::fmt;

use regex::Regex;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::config::{LevelSettings, Settings};
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

/// What one severity promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// Short name: "Critical", "High", …
    pub label: String,
    /// When it applies, in words (shown in help and the alert).
    pub criteria: String,
    /// Response target: acknowledgement is due this long after detection.
    pub respond_within: Interval,
    /// How often the channel must hear an update while the incident is active.
    pub update_every: Interval,
    /// Roles paged when an incident has (or is raised to) this severity.
    pub roles: Vec<String>,
    /// Colour for chat attachments and embeds, `#RRGGBB`.
    pub colour: String,
}

impl From<&LevelSettings> for Level {
    fn from(s: &LevelSettings) -> Self {
        Self {
            label: s.label.clone(),
            criteria: s.criteria.clone(),
            respond_within: s.respond_within,
            update_every: s.update_every,
            roles: s.roles.clone(),
            colour: s.colour.clone(),
        }
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
    /// The `severity` label of an alert, through `[alerts.severity]`; `None` when the alerts had
    /// no label listed there and the default applies.
    Alert(Option<String>),
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
            Reason::Alert(Some(label)) => write!(f, "alert severity '{label}'"),
            Reason::Alert(None) => {
                write!(f, "no alert severity listed; default {}", self.severity)
            }
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
    /// A severity in the settings is not `P0` … `P3`.
    #[error("{key}: {message}")]
    Severity {
        /// The key, like `incidents.default_severity` or `classify[2].severity`.
        key: String,
        /// What is wrong, naming the bad value.
        message: String,
    },
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
    /// Roles paged, on top of the severity's and the service's, when a response target is missed.
    pub fn escalation_roles(&self) -> &[String] {
        &self.escalation
    }

    /// The policy of the settings: the levels of `[severity.pN]`, the rules of `[[classify]]`
    /// (each compiled), and `[incidents]`' default severity and escalation roles.
    ///
    /// # Errors
    /// [`PolicyError`] naming the first bad key and its value.
    pub fn from_settings(settings: &Settings) -> Result<Self, PolicyError> {
        let levels = settings.severity.levels();
        for (key, level) in &levels {
            let hex = level.colour.strip_prefix('#').unwrap_or("");
            if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(PolicyError::Colour {
                    key: (*key).to_owned(),
                    colour: level.colour.clone(),
                });
            }
        }
        let rules = settings
            .classify
            .iter()
            .enumerate()
            .map(|(index, rule)| {
                let severity = severity_at(&format!("classify[{index}].severity"), &rule.severity)?;
                let re = Regex::new(&rule.pattern)
                    .map_err(|source| PolicyError::Pattern { index, source })?;
                Ok((severity, re))
            })
            .collect::<Result<_, PolicyError>>()?;
        let incidents = &settings.incidents;
        Ok(Self {
            levels: levels.map(|(_, level)| Level::from(level)),
            rules,
            default: severity_at("incidents.default_severity", &incidents.default_severity)?,
            escalation: incidents.escalation_roles.clone(),
        })
    }

    /// The runbook's policy: the defaults of the settings (its levels and rules, P2 when nothing
    /// matches, escalation to the cloud architect).
    pub fn runbook() -> Self {
        Self::from_settings(&Settings::default())
            .expect("the runbook defaults are a valid policy (checked by the tests)")
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

/// `text` as a severity, or an error naming `key`.
fn severity_at(key: &str, text: &str) -> Result<Severity, PolicyError> {
    Severity::parse(text).map_err(|message| PolicyError::Severity {
        key: key.to_owned(),
        message,
    })
}

#[cfg(test)]
mod tests;
