//! The terminal channel (`firewatch console`): one command per line on stdin, every message the
//! bot posts on stdout. Interactive with a prompt on a terminal; plain when piped, exiting at the
//! end of input once every command has been handled.

mod render;

use std::io::Write;

use async_trait::async_trait;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::sync::mpsc;

pub use render::render;

use crate::engine::outbox::{self, Outbox};
use crate::engine::{Audience, Caller, Engine, Reply};
use crate::incident::{ChannelRef, Platform};
use crate::message::Message;

/// A message the bot posted on its own (a reminder, an escalation), on its way to the terminal.
pub type Post = (ChannelRef, Message);

/// The console's [`Outbox`]: what the bot posts on its own goes to the console loop, which
/// prints it between commands.
#[derive(Debug, Clone)]
pub struct ConsoleOutbox {
    posts: mpsc::UnboundedSender<Post>,
}

impl ConsoleOutbox {
    /// An outbox and the receiving end to hand to [`run`].
    pub fn new() -> (Self, mpsc::UnboundedReceiver<Post>) {
        let (posts, receiver) = mpsc::unbounded_channel();
        (Self { posts }, receiver)
    }
}

#[async_trait]
impl Outbox for ConsoleOutbox {
    async fn post(&self, channel: &ChannelRef, message: &Message) -> outbox::Result<()> {
        self.posts
            .send((channel.clone(), message.clone()))
            .map_err(|_| outbox::Error::Platform {
                platform: Platform::Console,
                reason: "the console has stopped".into(),
            })
    }
}

/// The next post, or never when there is no post channel (or it closed).
async fn next_post(posts: &mut Option<mpsc::UnboundedReceiver<Post>>) -> Option<Post> {
    match posts {
        Some(receiver) => match receiver.recv().await {
            Some(post) => Some(post),
            None => {
                *posts = None;
                std::future::pending().await
            }
        },
        None => std::future::pending().await,
    }
}

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

/// `user` at the terminal, typing in `channel`.
pub fn caller(user: &str, channel: &str) -> Caller {
    Caller::new(Platform::Console, user, user, channel)
}

const CONSOLE_HELP: &str = "Console commands: :as USER (act as someone else), :channel NAME \
(switch channel), :quit. Lines starting with // are comments. /incident-help lists the bot's commands.";

/// Reads commands from `input` until it ends (or `:quit`), writing every reply to `output`, and
/// what the bot posts on its own (from a [`ConsoleOutbox`]'s `posts`) as it comes, while
/// waiting for the next line.
///
/// # Errors
/// Only I/O errors on `input` or `output`; command problems are replies.
pub async fn run<R, W>(
    engine: &Engine,
    input: R,
    output: &mut W,
    options: Options,
    posts: Option<mpsc::UnboundedReceiver<Post>>,
) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: Write,
{
    let mut posts = posts;
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
        // `read_until` keeps what it read in `bytes` when a post interrupts it, so the line
        // continues where it stopped.
        let read = loop {
            tokio::select! {
                biased;
                Some((to, message)) = next_post(&mut posts) => {
                    let here = caller(&user, &channel).channel;
                    let reply = Reply { audience: Audience::Channel(to), message };
                    if options.interactive {
                        writeln!(output)?;
                    }
                    writeln!(output, "{}", render(&reply, &here, options.colour))?;
                    if options.interactive {
                        write!(output, "{user}@#{channel}> ")?;
                    }
                    output.flush()?;
                }
                read = input.read_until(b'\n', &mut bytes) => break read?,
            }
        };
        if read == 0 {
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
