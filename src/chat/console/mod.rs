//! The terminal channel (`firewatch console`): one command per line on stdin, every message the
//! bot posts on stdout. Interactive with a prompt on a terminal; plain when piped, exiting at the
//! end of input once every command has been handled.

mod render;

use std::io::Write;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

pub use render::render;

use crate::engine::{Caller, Engine};
use crate::incident::{Actor, ChannelRef, Platform};

/// How the console runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The user commands are attributed to.
    pub user: String,
    /// The channel commands are typed in.
    pub channel: String,
    /// Show a prompt and the welcome line (stdin is a terminal).
    pub interactive: bool,
    /// Colour headlines with ANSI escapes (stdout is a terminal and `NO_COLOR` is unset).
    pub colour: bool,
}

fn caller(user: &str, channel: &str) -> Caller {
    Caller {
        actor: Actor {
            platform: Platform::Console,
            id: user.to_owned(),
            name: user.to_owned(),
        },
        channel: ChannelRef {
            platform: Platform::Console,
            id: channel.to_owned(),
        },
        request: None,
    }
}

const CONSOLE_HELP: &str = "Console commands: :as USER (act as someone else), :channel NAME \
(switch channel), :quit. Lines starting with // are comments. /incident-help lists the bot's commands.";

/// Reads commands from `input` until it ends (or `:quit`), writing every reply to `output`.
///
/// # Errors
/// Only I/O errors on `input` or `output`; command problems are replies.
pub async fn run<R, W>(
    engine: &Engine,
    input: R,
    output: &mut W,
    options: Options,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: Write,
{
    let mut user = options.user;
    let mut channel = options.channel;
    if options.interactive {
        writeln!(
            output,
            "firewatch console — you are {user} in #{channel}. {CONSOLE_HELP}"
        )?;
    }
    let mut input = input;
    let mut bytes = Vec::new();
    loop {
        if options.interactive {
            write!(output, "{user}@#{channel}> ")?;
            output.flush()?;
        }
        bytes.clear();
        if input.read_until(b'\n', &mut bytes).await? == 0 {
            if options.interactive {
                writeln!(output)?;
            }
            break;
        }
        let Ok(line) = std::str::from_utf8(&bytes) else {
            writeln!(
                output,
                "⚠️ That line is not valid UTF-8 text; it was skipped.\n"
            )?;
            continue;
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        if let Some(meta) = line.strip_prefix(':') {
            let mut words = meta.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some("quit" | "q" | "exit"), None, _) => break,
                (Some("as"), Some(name), None) => user = name.to_owned(),
                (Some("channel"), Some(name), None) => {
                    channel = name.trim_start_matches('#').to_owned();
                }
                _ => writeln!(output, "{CONSOLE_HELP}")?,
            }
            continue;
        }
        let from = caller(&user, &channel);
        for reply in engine.handle(&from, line).await {
            writeln!(output, "{}", render(&reply, &from.channel, options.colour))?;
        }
        output.flush()?;
    }
    Ok(())
}
