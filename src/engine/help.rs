//! `/incident-help`: generated from the command table, so it lists exactly what parses. Text
//! only: no store, no cluster.

use crate::command::CommandName;
use crate::message::{Message, capitalise};

/// Help for one command, or the list of all of them.
pub(super) fn help(topic: Option<CommandName>) -> Message {
    match topic {
        Some(name) => Message::notice(
            format!("ℹ️ {name}"),
            &format!("{}\nUsage: {}", capitalise(name.summary()), name.usage()),
        ),
        None => {
            let mut body = String::new();
            for name in CommandName::ALL {
                body.push_str(&format!("{} — {}\n", name.usage(), name.summary()));
            }
            body.push_str(
                "\nCommands act on this channel's incident; put #ID first to name another one.\n\
                 Quote arguments with \"double quotes\". /incident-help COMMAND explains one command.",
            );
            Message::notice("ℹ️ firewatch commands", &body)
        }
    }
}
