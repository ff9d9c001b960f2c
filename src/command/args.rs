//! Per-command arguments: options (`--sev P1`, `--sev=P1`, `--` ends options), the optional
//! leading `#ID`, and each command's positional arguments.

use super::lexer::Token;
use super::{CommandName, Invocation, MAX_TEXT_CHARS, ParseError};
use crate::incident::IncidentId;

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
const UPDATE_OPTIONS: [OptionSpec; 5] = [
    value("status", None),
    value("eta", None),
    value("users", None),
    value("impact", None),
    value("public", None),
];
const RESOLVE_OPTIONS: [OptionSpec; 1] = [value("public", None)];
const VERIFY_OPTIONS: [OptionSpec; 1] = [OptionSpec {
    name: "smoke-only",
    alias: None,
    takes_value: false,
}];

fn options_of(name: CommandName) -> &'static [OptionSpec] {
    match name {
        CommandName::Assess => &ASSESS_OPTIONS,
        CommandName::Update => &UPDATE_OPTIONS,
        CommandName::Resolve => &RESOLVE_OPTIONS,
        CommandName::Verify => &VERIFY_OPTIONS,
        _ => &[],
    }
}

/// The arguments of one command, split into options and positionals.
pub(super) struct Args {
    pub(super) name: CommandName,
    options: Vec<(&'static str, String)>,
    pub(super) positionals: Vec<Token>,
}

impl Args {
    pub(super) fn fail(&self, problem: impl Into<String>) -> ParseError {
        ParseError {
            problem: problem.into(),
            usage: Some(self.name.usage()),
        }
    }

    pub(super) fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The positionals joined as free text; an error naming `what` when empty or too long.
    pub(super) fn text(&self, tokens: &[Token], what: &str) -> Result<String, ParseError> {
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
    pub(super) fn optional_text(
        &self,
        tokens: &[Token],
        what: &str,
    ) -> Result<Option<String>, ParseError> {
        if tokens.is_empty() {
            Ok(None)
        } else {
            self.text(tokens, what).map(Some)
        }
    }

    pub(super) fn no_more(&self, tokens: &[Token]) -> Result<(), ParseError> {
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
    let command = super::build::build(&args)?;
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
        let found = specs.iter().find(|s| {
            s.name.eq_ignore_ascii_case(key) || s.alias.is_some_and(|a| a.eq_ignore_ascii_case(key))
        });
        // A root cause or resolution may quote a flag (`the --force flag`): there only
        // `--public` is an option.
        if found.is_none() && name == CommandName::Resolve {
            args.positionals.push(token);
            continue;
        }
        let spec = found.ok_or_else(|| {
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
