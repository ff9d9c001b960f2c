//! Each command's positional arguments, typed: severities, statuses, replica counts, names. One
//! function per command's grammar; errors name the bad token. Pure: no I/O.

use super::args::Args;
use super::lexer::Token;
use super::{Area, Command, CommandName, Followup, Mention, PageTarget, ParseError, RequestId};
use crate::incident::{IncidentId, Role, Severity, Status, UsersAffected};

/// The typed command from split arguments.
pub(super) fn build(args: &Args) -> Result<Command, ParseError> {
    let pos = args.positionals.as_slice();
    match args.name {
        CommandName::Assess => assess(args, pos),
        CommandName::Update => update(args, pos),
        CommandName::Severity => severity(args, pos),
        CommandName::Note => Ok(Command::Note {
            text: args.text(pos, "<text>")?,
        }),
        CommandName::Ack => {
            args.no_more(pos)?;
            Ok(Command::Ack)
        }
        CommandName::Role => role(args, pos),
        CommandName::Page => page(args, pos),
        CommandName::Resolve => resolve(args, pos),
        CommandName::Status => {
            if let Some(t) = pos.first().filter(|t| t.text.starts_with('#')) {
                IncidentId::parse(&t.text).map_err(|e| args.fail(e))?;
            }
            args.no_more(pos)?;
            Ok(Command::Status)
        }
        CommandName::Help => help(args, pos),
        CommandName::Rollback => {
            let revision = pos
                .first()
                .map(|t| positive(args, &t.text, "a revision number"))
                .transpose()?;
            args.no_more(pos.get(1..).unwrap_or_default())?;
            Ok(Command::Rollback { revision })
        }
        CommandName::Scale => scale(args, pos),
        CommandName::Action => action(args, pos),
        CommandName::Approve => {
            let request = pos.first().map(|t| request(args, &t.text)).transpose()?;
            args.no_more(pos.get(1..).unwrap_or_default())?;
            Ok(Command::Approve { request })
        }
        CommandName::Deny => deny(args, pos),
        CommandName::Diagnose => diagnose(args, pos),
        CommandName::Verify => {
            args.no_more(pos)?;
            Ok(Command::Verify {
                smoke_only: args.option("smoke-only").is_some(),
            })
        }
        CommandName::PerformanceTest => performance_test(args, pos),
        CommandName::Report => {
            args.no_more(pos)?;
            Ok(Command::Report)
        }
        CommandName::Followup => followup(args, pos),
    }
}

fn assess(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
    Ok(Command::Assess {
        description: args.text(pos, "<description>")?,
        severity: args
            .option("sev")
            .map(|s| Severity::parse(s).map_err(|e| args.fail(e)))
            .transpose()?,
        service: args.option("service").map(str::to_owned),
    })
}

fn update(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
    let given = |name: &str| {
        args.option(name)
            .map(str::to_owned)
            .filter(|v| !v.trim().is_empty())
    };
    Ok(Command::Update {
        status: args
            .option("status")
            .map(|s| active_status(args, s))
            .transpose()?,
        eta: given("eta"),
        users: args
            .option("users")
            .map(|u| UsersAffected::parse(u).map_err(|e| args.fail(format!("--users {e}"))))
            .transpose()?,
        impact: given("impact"),
        public: public(args)?,
        progress: args.text(pos, "<progress>")?,
    })
}

fn severity(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
    let (first, rest) = pos
        .split_first()
        .ok_or_else(|| args.fail("missing severity (P0, P1, P2 or P3)"))?;
    Ok(Command::Severity {
        severity: Severity::parse(&first.text).map_err(|e| args.fail(e))?,
        reason: args.optional_text(rest, "[reason]")?,
    })
}

/// `/incident-role commander|comms|scribe [@person]`. Slack's `<@U123|bob>` arrives split at
/// its `|`, so the words after the role are read as one mention.
fn role(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
    let (first, rest) = pos
        .split_first()
        .ok_or_else(|| args.fail("missing role (commander, comms or scribe)"))?;
    let role = Role::parse(&first.text).map_err(|e| args.fail(e))?;
    if rest.is_empty() {
        return Ok(Command::Role { role, person: None });
    }
    let mut text = String::new();
    for (i, token) in rest.iter().enumerate() {
        let after_pipe = i > 0 && rest[i - 1].pipe;
        if i > 0 && !token.pipe && !after_pipe {
            text.push(' ');
        }
        text.push_str(&token.text);
    }
    let person = Mention::parse(&text).ok_or_else(|| {
        args.fail(format!(
            "'{text}' is not a person (a mention like @bob or <@U123>, or a [people] name)"
        ))
    })?;
    Ok(Command::Role {
        role,
        person: Some(person),
    })
}

/// `/incident-page ROLE|@person [message]`. A mention Slack sent as `<@U123|bob>` arrives
/// split at its `|`, and is joined again.
fn page(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
    let (first, mut rest) = pos
        .split_first()
        .ok_or_else(|| args.fail("missing who to page (a role, or @person)"))?;
    let mut who = first.text.clone();
    if who.starts_with("<@") && !who.ends_with('>') {
        while let Some((token, more)) = rest.split_first() {
            who.push_str(&token.text);
            rest = more;
            if token.text.ends_with('>') {
                break;
            }
        }
    }
    let target = if who.starts_with('@') || who.starts_with("<@") {
        let person = Mention::parse(&who).ok_or_else(|| {
            args.fail(format!(
                "'{who}' is not a person (a mention like @bob or <@U123>)"
            ))
        })?;
        PageTarget::Person(person)
    } else {
        PageTarget::Name(who)
    };
    Ok(Command::Page {
        target,
        message: args.optional_text(rest, "[message]")?,
    })
}

/// `/incident-help [COMMAND]`: the command as `/incident-ack`, `incident-ack` or `ack`.
fn help(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
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
    Ok(Command::Help { topic })
}

fn action(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
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
    Ok(Command::Action {
        name: name.text.clone(),
    })
}

/// `/incident-deny [#ID] [REQ] [reason]`: a first word that is not a request number starts the reason.
fn deny(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
    let (request, rest) = match pos.split_first() {
        Some((first, rest)) if !first.quoted => match RequestId::parse(&first.text) {
            Some(id) => (Some(id), rest),
            None => (None, pos),
        },
        _ => (None, pos),
    };
    Ok(Command::Deny {
        request,
        reason: args.optional_text(rest, "[reason]")?,
    })
}

fn diagnose(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
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
    Ok(Command::Diagnose { area: parsed })
}

fn performance_test(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
    let baseline = match pos.first() {
        None => false,
        Some(t) if !t.quoted && t.text.eq_ignore_ascii_case("baseline") => true,
        Some(t) => {
            return Err(args.fail(format!(
                "'{}' is not an argument of /performance-test (only 'baseline')",
                t.text
            )));
        }
    };
    args.no_more(pos.get(1..).unwrap_or_default())?;
    Ok(Command::PerformanceTest { baseline })
}

/// `/incident-followup <text>`, `/incident-followup done N`, or `/incident-followup N @person`.
fn followup(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
    Ok(match pos {
        [done, n] if !done.quoted && done.text.eq_ignore_ascii_case("done") => Command::Followup(
            Followup::Done(positive(args, &n.text, "an action item number")?),
        ),
        [done] if !done.quoted && done.text.eq_ignore_ascii_case("done") => {
            return Err(args.fail(
                "missing the action item number after 'done' (quote \"done\" to add it as an item)",
            ));
        }
        [n, who]
            if n.text.parse::<u32>().is_ok_and(|n| n > 0)
                && (who.text.starts_with('@') || who.text.starts_with("<@")) =>
        {
            let person = Mention::parse(&who.text).ok_or_else(|| {
                args.fail(format!("'{}' is not a person (@bob or <@U123>)", who.text))
            })?;
            Command::Followup(Followup::Assign(
                positive(args, &n.text, "an action item number")?,
                person,
            ))
        }
        _ => Command::Followup(Followup::Add(args.text(pos, "<text>")?)),
    })
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
        public: public(args)?,
    })
}

/// `--public TEXT`: text for everyone; given, it must say something.
fn public(args: &Args) -> Result<Option<String>, ParseError> {
    match args.option("public") {
        None => Ok(None),
        Some(text) if text.trim().is_empty() => Err(args.fail(
            "--public needs the text the status page shows, e.g. --public \"Checkout is slow; we are on it.\"",
        )),
        Some(text) => Ok(Some(text.trim().to_owned())),
    }
}

fn scale(args: &Args, pos: &[Token]) -> Result<Command, ParseError> {
    let replicas = pos.first().ok_or_else(|| args.fail("missing REPLICAS"))?;
    let text = &replicas.text;
    let replicas = text.parse::<u32>().map_err(|_| {
        args.fail(if text.bytes().all(|b| b.is_ascii_digit()) {
            format!("'{text}' is more replicas than scale.max_replicas allows")
        } else {
            format!("'{text}' is not a replica count (a whole number, 0 or more)")
        })
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
