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
use crate::engine::{Answer, Audience, Caller, Engine, Reply};
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

/// What a `:` line asks of the console itself.
#[derive(Debug, PartialEq, Eq)]
enum Meta {
    Quit,
    As(String),
    Channel(String),
}

/// Reads a `:` line (without its colon): what it asks, or what is wrong with it.
fn meta(line: &str) -> Result<Meta, String> {
    let mut words = line.split_whitespace();
    let word = words.next().unwrap_or("");
    let rest: Vec<&str> = words.collect();
    let one = |what: &str, example: &str| match rest.as_slice() {
        [value] => Ok((*value).to_owned()),
        [] => Err(format!(":{word} needs a {what}, like {example}")),
        _ => Err(format!(
            ":{word} takes one {what}, not {} words ('{}')",
            rest.len(),
            rest.join(" ")
        )),
    };
    match word {
        "quit" | "q" | "exit" if rest.is_empty() => Ok(Meta::Quit),
        "quit" | "q" | "exit" => Err(format!(":{word} takes nothing after it")),
        "as" => Ok(Meta::As(named(one("user name", ":as bob")?, "user name")?)),
        "channel" => {
            let name = one("channel name", ":channel ops")?;
            let name = name.trim_start_matches('#').to_owned();
            Ok(Meta::Channel(named(name, "channel name")?))
        }
        "" => Err("a ':' line needs a console command after the colon".into()),
        other => Err(format!("':{other}' is not a console command")),
    }
}

/// `name` when it is a plain name (letters, digits, '.', '_', '-'); otherwise what it is not.
fn named(name: String, what: &str) -> Result<String, String> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "._-".contains(c))
    {
        Ok(name)
    } else {
        Err(format!(
            "'{name}' is not a {what} (letters, digits, '.', '_', '-')"
        ))
    }
}

/// Reads commands from `input` until it ends (or `:quit`), writing every reply to `output`, and
/// what the bot posts on its own (from a [`ConsoleOutbox`]'s `posts`) as it comes, while
/// waiting for the next line. When not interactive, each line is echoed (`> /incident-ack`)
/// before its replies, so an answer can be matched to its line.
///
/// Returns how many lines were refused (a command the bot refused, a bad `:` line, a line that
/// is not UTF-8) or failed.
///
/// # Errors
/// Only I/O errors on `input` or `output`; command problems are replies.
pub async fn run<R, W>(
    engine: &Engine,
    input: R,
    output: &mut W,
    options: Options,
    posts: Option<mpsc::UnboundedReceiver<Post>>,
) -> std::io::Result<usize>
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
    let mut refused = 0;
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
            refused += 1;
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
        if !options.interactive {
            // Shown as the answers show typed text: what would act on the terminal as escapes.
            writeln!(output, "> {}", crate::text::escape_hidden(line))?;
        }
        if let Some(asked) = line.strip_prefix(':') {
            match meta(asked) {
                Ok(Meta::Quit) => break,
                Ok(Meta::As(name)) => user = name,
                Ok(Meta::Channel(name)) => channel = name,
                Err(problem) => {
                    refused += 1;
                    let problem = crate::text::escape_hidden(&problem);
                    writeln!(output, "⚠️ {problem}\n{CONSOLE_HELP}\n")?;
                }
            }
            continue;
        }
        let from = caller(&user, &channel);
        let answer = engine.attempt(&from, line).await;
        if !matches!(answer, Answer::Final(_) | Answer::Replayed) {
            refused += 1;
        }
        for reply in answer.replies() {
            writeln!(output, "{}", render(&reply, &from.channel, options.colour))?;
        }
        output.flush()?;
    }
    Ok(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_commands_are_read_and_bad_ones_say_what_is_wrong() {
        assert_eq!(meta("as bob"), Ok(Meta::As("bob".into())));
        assert_eq!(meta("channel #ops"), Ok(Meta::Channel("ops".into())));
        assert_eq!(meta("q"), Ok(Meta::Quit));
        assert_eq!(meta("quit now"), Err(":quit takes nothing after it".into()));
        assert_eq!(
            meta("channel #"),
            Err("'' is not a channel name (letters, digits, '.', '_', '-')".into())
        );
        assert_eq!(
            meta("as b@b"),
            Err("'b@b' is not a user name (letters, digits, '.', '_', '-')".into())
        );
        assert_eq!(
            meta(""),
            Err("a ':' line needs a console command after the colon".into())
        );
        assert_eq!(meta("help"), Err("':help' is not a console command".into()));
    }
}
