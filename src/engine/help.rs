//! `/incident-help`: generated from the command table, so it lists exactly what parses.

use super::NOT_YET_BUILT;
use crate::command::CommandName;
use crate::message::Message;

/// Help for one command, or the list of all of them.
pub(super) fn help(topic: Option<CommandName>) -> Message {
    match topic {
        Some(name) => {
            let availability = if NOT_YET_BUILT.contains(&name) {
                "\nNot available yet in this version."
            } else {
                ""
            };
            Message::notice(
                format!("ℹ️ {name}"),
                &format!(
                    "{}\nUsage: {}{availability}",
                    capitalise(name.summary()),
                    name.usage()
                ),
            )
        }
        None => {
            let mut body = String::new();
            for name in CommandName::ALL {
                let soon = if NOT_YET_BUILT.contains(&name) {
                    " (not available yet)"
                } else {
                    ""
                };
                body.push_str(&format!("{} — {}{soon}\n", name.usage(), name.summary()));
            }
            body.push_str(
                "\nCommands act on this channel's incident; put #ID first to name another one.\n\
                 Quote arguments with \"double quotes\". /incident-help COMMAND explains one command.",
            );
            Message::notice("ℹ️ firewatch commands", &body)
        }
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
