//! The slash-command grammar: text in, a typed [`Invocation`] out.
//!
//! `/incident-assess …` and the umbrella form `/incident assess …` parse alike; the leading `/` is
//! optional. A bad command or argument yields a [`ParseError`] naming the bad token, with the
//! command's usage line. Nothing here knows about incidents in the store or about chat platforms.

mod args;
mod build;
pub mod lexer;
pub mod spec;
#[cfg(test)]
mod tests;

use std::fmt;

pub use spec::CommandName;

use crate::incident::{IncidentId, Role, Severity, Status, UsersAffected};

/// The longest command text accepted, in characters. Discord's string options hold at most
/// 6 000 characters each; Slack documents no limit for a slash command's text (it keeps at most
/// 40 000 characters of a message). No command's grammar needs more than a free-text
/// argument ([`MAX_TEXT_CHARS`]) and a few flags, so 8 000 refuses nothing a person means to
/// type, and every platform's requests are held to it before they are stored
/// ([`crate::chat::pipeline`]).
pub const MAX_INPUT_CHARS: usize = 8_000;
/// The longest free-text argument accepted (description, progress, note…), in characters.
pub const MAX_TEXT_CHARS: usize = 3_000;

/// A parsed command and the incident it names, if it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// `#ID` given explicitly; otherwise the channel's incident is meant.
    pub incident: Option<IncidentId>,
    /// The command.
    pub command: Command,
}

/// A command with typed arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `/incident-assess <description> [--sev P0..P3] [--service NAME]`
    Assess {
        /// What users see (the impact).
        description: String,
        /// `--sev`: overrides classification.
        severity: Option<Severity>,
        /// `--service`: a catalog service other than the default.
        service: Option<String>,
    },
    /// `/incident-update [--status S] [--eta TEXT] [--users COUNT] [--impact TEXT] [--public TEXT] <progress>`
    Update {
        /// `--status`: an active status to move to.
        status: Option<Status>,
        /// `--eta`: expected time to resolution.
        eta: Option<String>,
        /// `--users`: how many users are affected (for the report's Impact and the 📊 message).
        users: Option<UsersAffected>,
        /// `--impact`: the business impact, as written (for the report's Impact).
        impact: Option<String>,
        /// `--public`: text for the public status page, as written.
        public: Option<String>,
        /// What happened since the last update.
        progress: String,
    },
    /// `/incident-severity P0..P3 [reason]`
    Severity {
        /// The new severity.
        severity: Severity,
        /// Why.
        reason: Option<String>,
    },
    /// `/incident-note <text>`
    Note {
        /// The note.
        text: String,
    },
    /// `/incident-ack`
    Ack,
    /// `/incident-role commander|comms|scribe [@person]`
    Role {
        /// The role.
        role: Role,
        /// Who takes it; the caller when absent.
        person: Option<Mention>,
    },
    /// `/incident-page ROLE|@person [message]`
    Page {
        /// Who: a role, or a person.
        target: PageTarget,
        /// What they are told, if anything.
        message: Option<String>,
    },
    /// `/incident-resolve [--public TEXT] <root cause> | <resolution>`
    Resolve {
        /// What caused it.
        root_cause: String,
        /// What fixed it.
        resolution: String,
        /// `--public`: the resolution as the public status page tells it.
        public: Option<String>,
    },
    /// `/incident-status [#ID]`
    Status,
    /// `/incident-help [COMMAND]`
    Help {
        /// The command to explain; all of them when absent.
        topic: Option<CommandName>,
    },
    /// `/incident-rollback [REVISION]`
    Rollback {
        /// The Helm revision to return to; the previous one when absent.
        revision: Option<u32>,
    },
    /// `/incident-scale REPLICAS [DEPLOYMENT]`
    Scale {
        /// The replica count wanted.
        replicas: u32,
        /// The Deployment; the service's own when absent.
        deployment: Option<String>,
    },
    /// `/incident-action NAME`
    Action {
        /// The runbook action's name in the config.
        name: String,
    },
    /// `/incident-approve [#ID] [REQ]`
    Approve {
        /// The request; the channel's only pending one when absent.
        request: Option<RequestId>,
    },
    /// `/incident-deny [#ID] [REQ] [reason]`
    Deny {
        /// The request; the channel's only pending one when absent.
        request: Option<RequestId>,
        /// Why.
        reason: Option<String>,
    },
    /// `/incident-diagnose app|perf|security|infra`
    Diagnose {
        /// The area to look at.
        area: Area,
    },
    /// `/incident-verify [--smoke-only]`
    Verify {
        /// Run only the smoke-test jobs, not the HTTP checks.
        smoke_only: bool,
    },
    /// `/performance-test [baseline]`
    PerformanceTest {
        /// Store the figures as the service's baseline instead of comparing with it.
        baseline: bool,
    },
    /// `/incident-report`
    Report,
    /// `/incident-followup <text> | done N`
    Followup(Followup),
}

impl Command {
    /// Whether it only reads (`/incident-status`, `/incident-help`): it changes nothing, so its
    /// answer is private, and after a restart it simply runs again for a fresh answer (it needs
    /// no handled mark in the inbox).
    pub fn only_reads(&self) -> bool {
        matches!(self, Command::Status | Command::Help { .. })
    }

    /// Which command this is.
    pub fn name(&self) -> CommandName {
        match self {
            Command::Assess { .. } => CommandName::Assess,
            Command::Update { .. } => CommandName::Update,
            Command::Severity { .. } => CommandName::Severity,
            Command::Note { .. } => CommandName::Note,
            Command::Ack => CommandName::Ack,
            Command::Role { .. } => CommandName::Role,
            Command::Page { .. } => CommandName::Page,
            Command::Resolve { .. } => CommandName::Resolve,
            Command::Status => CommandName::Status,
            Command::Help { .. } => CommandName::Help,
            Command::Rollback { .. } => CommandName::Rollback,
            Command::Scale { .. } => CommandName::Scale,
            Command::Action { .. } => CommandName::Action,
            Command::Approve { .. } => CommandName::Approve,
            Command::Deny { .. } => CommandName::Deny,
            Command::Diagnose { .. } => CommandName::Diagnose,
            Command::Verify { .. } => CommandName::Verify,
            Command::PerformanceTest { .. } => CommandName::PerformanceTest,
            Command::Report => CommandName::Report,
            Command::Followup(_) => CommandName::Followup,
        }
    }
}

/// Who `/incident-page` pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageTarget {
    /// A role (`[roles.NAME]`), or a bare name that may be a person (`[people.NAME]`): the
    /// engine tells them apart by the configuration.
    Name(String),
    /// A person, mentioned (`@bob`, `<@U123>`).
    Person(Mention),
}

/// An approval request's number, typed as `R12` or `12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(pub i64);

impl RequestId {
    /// Parses `R12`, `r12` or `12`.
    pub fn parse(text: &str) -> Option<Self> {
        let digits = text.strip_prefix(['R', 'r']).unwrap_or(text);
        (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten()
            .filter(|n| *n > 0)
            .map(Self)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "R{}", self.0)
    }
}

/// A person as typed in a command: a platform mention or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mention {
    /// A Slack `<@U…>` or Discord `<@id>` (`<@!id>`) mention: the account's id, and the name
    /// Slack may put after a `|` (`<@U123|bob>`).
    Account {
        /// The platform's id for the person.
        id: String,
        /// The name shown with it, when the mention carries one.
        label: Option<String>,
    },
    /// `@bob` or `bob`: a `[people.NAME]`, or a terminal user.
    Name(String),
}

impl Mention {
    /// Parses `<@U123>`, `<@U123|bob>`, `<@!123>`, `<@123>`, `@bob` or `bob`.
    pub fn parse(text: &str) -> Option<Self> {
        if let Some(inner) = text.strip_prefix("<@").and_then(|t| t.strip_suffix('>')) {
            let inner = inner.strip_prefix('!').unwrap_or(inner);
            let (id, label) = match inner.split_once('|') {
                Some((id, label)) => (id, Some(label.trim().to_owned())),
                None => (inner, None),
            };
            let well_formed = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric());
            return well_formed.then(|| Mention::Account {
                id: id.to_owned(),
                label: label.filter(|l| !l.is_empty()),
            });
        }
        let name = text.strip_prefix('@').unwrap_or(text);
        let well_formed = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
        well_formed.then(|| Mention::Name(name.to_owned()))
    }
}

/// The areas `/incident-diagnose` looks at (the runbook's root-cause categories).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Area {
    /// Application: error logs, recent deploys.
    App,
    /// Performance: latency, CPU, memory, profiles.
    Perf,
    /// Security: 401/403 counts, network policies.
    Security,
    /// Infrastructure: nodes, events, capacity.
    Infra,
}

impl Area {
    /// Parses an area name or a common long form.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_lowercase().as_str() {
            "app" | "application" => Some(Area::App),
            "perf" | "performance" => Some(Area::Perf),
            "security" | "sec" => Some(Area::Security),
            "infra" | "infrastructure" => Some(Area::Infra),
            _ => None,
        }
    }
}

/// `/incident-followup` forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followup {
    /// Add an action item.
    Add(String),
    /// Tick action item N.
    Done(u32),
    /// Assign action item N's issue in the tracker to a person.
    Assign(u32, Mention),
}

/// Why command text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong, naming the bad token.
    pub problem: String,
    /// The usage line of the command, when the command itself was recognised.
    pub usage: Option<&'static str>,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem)?;
        match self.usage {
            Some(usage) => write!(f, "\nUsage: {usage}"),
            None => f.write_str("\nType /incident-help for the list of commands."),
        }
    }
}

impl std::error::Error for ParseError {}

/// Whether `line` changes nothing when run: a command that only reads
/// ([`Command::only_reads`]), or text that does not parse (its answer is the parse error).
pub fn changes_nothing(line: &str) -> bool {
    parse(line).map_or(true, |call| call.command.only_reads())
}

/// Checks that `input` is no longer than [`MAX_INPUT_CHARS`].
///
/// # Errors
/// [`ParseError`] saying how long it is.
pub fn check_length(input: &str) -> Result<(), ParseError> {
    let length = input.chars().count();
    if length > MAX_INPUT_CHARS {
        return Err(ParseError {
            problem: format!(
                "the command is {length} characters long; the limit is {MAX_INPUT_CHARS}"
            ),
            usage: None,
        });
    }
    Ok(())
}

/// Parses one command.
///
/// # Errors
/// [`ParseError`] naming the bad token, with the command's usage line when it is known.
pub fn parse(input: &str) -> Result<Invocation, ParseError> {
    check_length(input)?;
    let tokens = lexer::lex(input.trim()).map_err(|e| ParseError {
        problem: e.to_string(),
        usage: None,
    })?;
    let mut words = tokens.into_iter();
    let first = words.next().ok_or_else(|| ParseError {
        problem: "empty command".into(),
        usage: None,
    })?;
    let head = first.text.strip_prefix('/').unwrap_or(&first.text);
    let name = if head.eq_ignore_ascii_case(CommandName::PerformanceTest.word()) {
        CommandName::PerformanceTest
    } else if head.eq_ignore_ascii_case("incident") {
        match words.next() {
            None => CommandName::Help,
            Some(sub) => lookup(&sub.text, &format!("/incident {}", sub.text))?,
        }
    } else if let Some(word) = head
        .get(..9)
        .filter(|p| p.eq_ignore_ascii_case("incident-"))
        .map(|_| &head[9..])
    {
        lookup(word, &first.text)?
    } else {
        return Err(ParseError {
            problem: format!(
                "unknown command '{}': commands start with /incident- (like /incident-status; the leading / may be left out), or are /performance-test",
                first.text
            ),
            usage: None,
        });
    };
    args::parse(name, words.collect())
}

fn lookup(word: &str, shown: &str) -> Result<CommandName, ParseError> {
    CommandName::ALL
        .into_iter()
        .find(|c| c.word().eq_ignore_ascii_case(word))
        .ok_or_else(|| {
            let hint = CommandName::closest(word)
                .map(|c| format!(" — did you mean {c}?"))
                .unwrap_or_default();
            ParseError {
                problem: format!("unknown command '{shown}'{hint}"),
                usage: None,
            }
        })
}
