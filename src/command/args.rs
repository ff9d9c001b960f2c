//! Per-command arguments: options (`--sev P1`, `--sev=P1`, `--` ends options), the optional
//! leading `#ID`, and each command's positional arguments.

use super::lexer::Token;
use super::{
    Area, Command, CommandName, Followup, Invocation, MAX_TEXT_CHARS, ParseError, RequestId,
};
use crate::incident::{IncidentId, Severity, Status};

/// An option a command accepts.
struct OptionSpec {
    name: &'static str,
    alias: Option<&'static str>,
    takes_value: bool,
}

const fn value(name: &'static str, alias: Option<&'static str>) -> OptionSpec {
    OptionSpec {
        name,
        alias,
        takes_value: true,
    }
}

const ASSESS_OPTIONS: [OptionSpec; 2] = [value("sev", Some("severity")), value("service", None)];
const UPDATE_OPTIONS: [OptionSpec; 2] = [value("status", None), value("eta", None)];
const VERIFY_OPTIONS: [OptionSpec; 1] = [OptionSpec {
    name: "smoke-only",
    alias: None,
    takes_value: false,
}];

fn options_of(name: CommandName) -> &'static [OptionSpec] {
    match name {
        CommandName::Assess => &ASSESS_OPTIONS,
        CommandName::Update => &UPDATE_OPTIONS,
        CommandName::Verify => &VERIFY_OPTIONS,
        _ => &[],
    }
}

/// The arguments of one command, split into options and positionals.
struct Args {
    name: CommandName,
    options: Vec<(&'static str, String)>,
    positionals: Vec<Token>,
}

impl Args {
    fn fail(&self, problem: impl Into<String>) -> ParseError {
        ParseError {
            problem: problem.into(),
            usage: Some(self.name.usage()),
        }
    }

    fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The positionals joined as free text; an error naming `what` when empty or too long.
    fn text(&self, tokens: &[Token], what: &str) -> Result<String, ParseError> {
        let text = join(tokens);
        if text.trim().is_empty() {
            return Err(self.fail(format!("missing {what}")));
        }
        let length = text.chars().count();
        if length > MAX_TEXT_CHARS {
            return Err(self.fail(format!(
                "{what} is {length} characters long; the limit is {MAX_TEXT_CHARS}"
            )));
        }
        Ok(text)
    }

    /// Optional free text: `None` when there are no words.
    fn optional_text(&self, tokens: &[Token], what: &str) -> Result<Option<String>, ParseError> {
        if tokens.is_empty() {
            Ok(None)
        } else {
            self.text(tokens, what).map(Some)
        }
    }

    fn no_more(&self, tokens: &[Token]) -> Result<(), ParseError> {
        match tokens.first() {
            None => Ok(()),
            Some(t) => Err(self.fail(format!("unexpected argument '{}'", t.text))),
        }
    }
}

fn join(tokens: &[Token]) -> String {
    tokens
        .iter()
        .map(|t| t.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses the arguments of `name`.
pub(super) fn parse(name: CommandName, tokens: Vec<Token>) -> Result<Invocation, ParseError> {
    let mut args = split_options(name, tokens)?;
    let incident = take_incident(&mut args)?;
    let command = build(&args)?;
    Ok(Invocation { incident, command })
}

fn split_options(name: CommandName, tokens: Vec<Token>) -> Result<Args, ParseError> {
    let mut args = Args {
        name,
        options: Vec::new(),
        positionals: Vec::new(),
    };
    let specs = options_of(name);
    let mut tokens = tokens.into_iter();
    let mut options_done = false;
    while let Some(mut token) = tokens.next() {
        let unquoted = !token.quoted && !token.pipe;
        if !options_done && unquoted && token.text == "--" {
            options_done = true;
            continue;
        }
        // A command without options takes `--words` as text; after `--` everything is text,
        // even a leading `#12`.
        let is_option = !options_done && unquoted && !specs.is_empty() && is_flag(&token.text);
        if !is_option {
            token.quoted |= options_done;
            args.positionals.push(token);
            continue;
        }
        let (flag, inline) = match token.text.split_once('=') {
            Some((flag, value)) => (flag, Some(value.to_owned())),
            None => (token.text.as_str(), None),
        };
        let key = &flag[2..];
        let spec = specs
            .iter()
            .find(|s| {
                s.name.eq_ignore_ascii_case(key)
                    || s.alias.is_some_and(|a| a.eq_ignore_ascii_case(key))
            })
            .ok_or_else(|| {
                args.fail(format!(
                    "unknown option '{flag}' (to write it as text, quote it or put -- before it)"
                ))
            })?;
        if args.option(spec.name).is_some() {
            return Err(args.fail(format!("option '--{}' is given twice", spec.name)));
        }
        let value = match (spec.takes_value, inline) {
            (true, Some(v)) => v,
            (true, None) => match tokens.next() {
                Some(next) if !next.pipe && (next.quoted || !next.text.starts_with("--")) => {
                    next.text
                }
                _ => return Err(args.fail(format!("option '{flag}' needs a value"))),
            },
            (false, None) => String::new(),
            (false, Some(_)) => return Err(args.fail(format!("option '{flag}' takes no value"))),
        };
        args.options.push((spec.name, value));
    }
    Ok(args)
}

/// `--name` or `--name=value` (not `--` alone).
fn is_flag(text: &str) -> bool {
    text.len() > 2 && text.starts_with("--")
}

/// Takes a leading `#ID` for commands about one incident.
fn take_incident(args: &mut Args) -> Result<Option<IncidentId>, ParseError> {
    let Some(first) = args.positionals.first() else {
        return Ok(None);
    };
    let looks_like_id = !first.quoted
        && first.text.len() > 1
        && first.text.starts_with('#')
        && first.text[1..].bytes().all(|b| b.is_ascii_digit());
    if !looks_like_id || !args.name.takes_incident() {
        return Ok(None);
    }
    let id = IncidentId::parse(&first.text).map_err(|e| args.fail(e))?;
    args.positionals.remove(0);
    Ok(Some(id))
}

fn build(args: &Args) -> Result<Command, ParseError> {
    let pos = args.positionals.as_slice();
    let command = match args.name {
        CommandName::Assess => Command::Assess {
            description: args.text(pos, "<description>")?,
            severity: args
                .option("sev")
                .map(|s| Severity::parse(s).map_err(|e| args.fail(e)))
                .transpose()?,
            service: args.option("service").map(str::to_owned),
        },
        CommandName::Update => Command::Update {
            status: args
                .option("status")
                .map(|s| active_status(args, s))
                .transpose()?,
            eta: args
                .option("eta")
                .map(str::to_owned)
                .filter(|e| !e.trim().is_empty()),
            progress: args.text(pos, "<progress>")?,
        },
        CommandName::Severity => {
            let (first, rest) = pos
                .split_first()
                .ok_or_else(|| args.fail("missing severity (P0, P1, P2 or P3)"))?;
            Command::Severity {
                severity: Severity::parse(&first.text).map_err(|e| args.fail(e))?,
                reason: args.optional_text(rest, "[reason]")?,
            }
        }
        CommandName::Note => Command::Note {
            text: args.text(pos, "<text>")?,
        },
        CommandName::Ack => {
            args.no_more(pos)?;
            Command::Ack
        }
        CommandName::Resolve => resolve(args, pos)?,
        CommandName::Status => {
            if let Some(t) = pos.first().filter(|t| t.text.starts_with('#')) {
                IncidentId::parse(&t.text).map_err(|e| args.fail(e))?;
            }
            args.no_more(pos)?;
            Command::Status
        }
        CommandName::Help => {
            let topic = pos
                .first()
                .map(|t| {
                    let bare = t.text.trim_start_matches('/');
                    let word = bare
                        .strip_prefix("incident-")
                        .filter(|w| !w.is_empty())
                        .unwrap_or(bare);
                    super::lookup(word, &t.text).map_err(|e| args.fail(e.problem))
                })
                .transpose()?;
            args.no_more(pos.get(1..).unwrap_or_default())?;
            Command::Help { topic }
        }
        CommandName::Rollback => {
            let revision = pos
                .first()
                .map(|t| positive(args, &t.text, "a revision number"))
                .transpose()?;
            args.no_more(pos.get(1..).unwrap_or_default())?;
            Command::Rollback { revision }
        }
        CommandName::Scale => scale(args, pos)?,
        CommandName::Action => {
            let name = pos
                .first()
                .ok_or_else(|| args.fail("missing action NAME"))?;
            if !is_name(&name.text) {
                return Err(args.fail(format!(
                    "'{}' is not an action name (letters, digits, '-', '_', '.')",
                    name.text
                )));
            }
            args.no_more(&pos[1..])?;
            Command::Action {
                name: name.text.clone(),
            }
        }
        CommandName::Approve => {
            let request = pos.first().map(|t| request(args, &t.text)).transpose()?;
            args.no_more(pos.get(1..).unwrap_or_default())?;
            Command::Approve { request }
        }
        CommandName::Deny => {
            let (request, rest) = match pos.split_first() {
                Some((first, rest)) if !first.quoted => match RequestId::parse(&first.text) {
                    Some(id) => (Some(id), rest),
                    None => (None, pos),
                },
                _ => (None, pos),
            };
            Command::Deny {
                request,
                reason: args.optional_text(rest, "[reason]")?,
            }
        }
        CommandName::Diagnose => {
            let area = pos
                .first()
                .ok_or_else(|| args.fail("missing area (app, perf, security or infra)"))?;
            let parsed = Area::parse(&area.text).ok_or_else(|| {
                args.fail(format!(
                    "'{}' is not an area (app, perf, security or infra)",
                    area.text
                ))
            })?;
            args.no_more(&pos[1..])?;
            Command::Diagnose { area: parsed }
        }
        CommandName::Verify => {
            args.no_more(pos)?;
            Command::Verify {
                smoke_only: args.option("smoke-only").is_some(),
            }
        }
        CommandName::Report => {
            args.no_more(pos)?;
            Command::Report
        }
        CommandName::Followup => match pos {
            [done, n] if !done.quoted && done.text.eq_ignore_ascii_case("done") => {
                Command::Followup(Followup::Done(positive(
                    args,
                    &n.text,
                    "an action item number",
                )?))
            }
            _ => Command::Followup(Followup::Add(args.text(pos, "<text>")?)),
        },
    };
    Ok(command)
}

fn resolve(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
    let split = pos
        .iter()
        .position(|t| t.pipe)
        .ok_or_else(|| args.fail("missing '|' between the root cause and the resolution"))?;
    let (cause, rest) = pos.split_at(split);
    let resolution: Vec<Token> = rest[1..]
        .iter()
        .map(|t| Token {
            pipe: false,
            ..t.clone()
        })
        .collect();
    Ok(Command::Resolve {
        root_cause: args.text(cause, "<root cause> before '|'")?,
        resolution: args.text(&resolution, "<resolution> after '|'")?,
    })
}

fn scale(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
    let replicas = pos.first().ok_or_else(|| args.fail("missing REPLICAS"))?;
    let replicas = replicas.text.parse::<u32>().map_err(|_| {
        args.fail(format!(
            "'{}' is not a replica count (a whole number, 0 or more)",
            replicas.text
        ))
    })?;
    let deployment = pos.get(1).map(|t| t.text.clone());
    if let Some(d) = deployment.as_deref().filter(|d| !is_dns_label(d)) {
        return Err(args.fail(format!(
            "'{d}' is not a Deployment name (lowercase letters, digits and '-', at most 63)"
        )));
    }
    args.no_more(pos.get(2..).unwrap_or_default())?;
    Ok(Command::Scale {
        replicas,
        deployment,
    })
}

fn active_status(args: &Args, text: &str) -> Result<Status, ParseError> {
    match Status::parse(text) {
        Ok(status) if status.is_active() => Ok(status),
        Ok(Status::Resolved) => Err(args.fail(
            "'resolved' cannot be set with --status; use /incident-resolve <root cause> | <resolution>",
        )),
        Ok(status) => Err(args.fail(format!(
            "'{}' cannot be set with --status; /incident-report closes an incident",
            status.as_str()
        ))),
        Err(e) => Err(args.fail(e)),
    }
}

fn positive(args: &Args, text: &str, what: &str) -> Result<u32, ParseError> {
    text.parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| args.fail(format!("'{text}' is not {what}")))
}

fn request(args: &Args, text: &str) -> Result<RequestId, ParseError> {
    RequestId::parse(text).ok_or_else(|| {
        args.fail(format!(
            "'{text}' is not a request number (write it like R12)"
        ))
    })
}

fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A Kubernetes object name (RFC 1123 label).
fn is_dns_label(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 63
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
}
