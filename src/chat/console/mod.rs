//! The terminal channel (`firewatch console`): one command per line on stdin, every message the
//! bot posts on stdout. On a terminal, a prompt with line editing and history ([`editor`]); plain
//! when piped, exiting at the end of input once every command has been handled.

mod editor;
mod render;

use std::io::Write;

use async_trait::async_trait;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::sync::mpsc;

use editor::LineEditor;
pub use editor::history_file;
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

/// Where the console reads lines and shows what happens: a pipe ([`run`]) or a person at a
/// terminal ([`run_interactive`]).
trait Terminal {
    /// A person types here: the console shows a welcome line and a prompt, and does not echo
    /// lines back.
    fn interactive(&self) -> bool;

    /// The next line, typed after `prompt`; `None` at the end of input. Dropping the future
    /// loses nothing: a line being read then is what the next call returns.
    async fn line(&mut self, prompt: &str) -> std::io::Result<Option<Vec<u8>>>;

    /// Prints the answer to a line.
    fn print(&mut self, text: &str) -> std::io::Result<()>;

    /// Prints what the bot posted on its own while a line is being read.
    fn post(&mut self, text: &str) -> std::io::Result<()>;
}

/// Lines piped in, answers written out.
struct Piped<'a, R, W> {
    input: R,
    output: &'a mut W,
    /// What was read of the next line so far.
    bytes: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin, W: Write> Terminal for Piped<'_, R, W> {
    fn interactive(&self) -> bool {
        false
    }

    async fn line(&mut self, _prompt: &str) -> std::io::Result<Option<Vec<u8>>> {
        // `read_until` keeps what it read in `bytes` when a post interrupts it, so the line
        // continues where it stopped.
        let read = self.input.read_until(b'\n', &mut self.bytes).await?;
        if read == 0 && self.bytes.is_empty() {
            return Ok(None);
        }
        Ok(Some(std::mem::take(&mut self.bytes)))
    }

    fn print(&mut self, text: &str) -> std::io::Result<()> {
        self.output.write_all(text.as_bytes())?;
        self.output.flush()
    }

    fn post(&mut self, text: &str) -> std::io::Result<()> {
        self.print(text)
    }
}

/// Reads commands from `input` until it ends (or `:quit`), writing every reply to `output`, and
/// what the bot posts on its own (from a [`ConsoleOutbox`]'s `posts`) as it comes, while
/// waiting for the next line. Each line is echoed (`> /incident-ack`) before its replies, so an
/// answer can be matched to its line.
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
    let piped = Piped {
        input,
        output,
        bytes: Vec::new(),
    };
    session(engine, piped, options, posts).await
}

/// The console for a person at a terminal: a prompt with line editing and a history kept in
/// `history` (see [`history_file`]), what the bot posts on its own printed above the line being
/// typed. Ctrl-C drops the line being typed; Ctrl-D or `:quit` ends the console. A refused line
/// was answered on the screen, so unlike [`run`] this does not count them.
///
/// # Errors
/// When the terminal cannot be read or written.
pub async fn run_interactive(
    engine: &Engine,
    options: Options,
    posts: Option<mpsc::UnboundedReceiver<Post>>,
    history: Option<std::path::PathBuf>,
) -> std::io::Result<()> {
    let editor = LineEditor::start(history)?;
    session(engine, editor, options, posts).await.map(drop)
}

/// The console's loop over any [`Terminal`].
async fn session<T: Terminal>(
    engine: &Engine,
    mut terminal: T,
    options: Options,
    posts: Option<mpsc::UnboundedReceiver<Post>>,
) -> std::io::Result<usize> {
    let mut posts = posts;
    let mut user = options.user;
    let mut channel = options.channel;
    let interactive = terminal.interactive();
    if interactive {
        terminal.print(&format!(
            "firewatch console — you are {user} in #{channel}. {CONSOLE_HELP}\n"
        ))?;
    }
    let mut refused = 0;
    loop {
        let prompt = if interactive {
            format!("{user}@#{channel}> ")
        } else {
            String::new()
        };
        let read = loop {
            tokio::select! {
                biased;
                Some((to, message)) = next_post(&mut posts) => {
                    let here = caller(&user, &channel).channel;
                    let reply = Reply { audience: Audience::Channel(to), message };
                    terminal.post(&format!("{}\n", render(&reply, &here, options.colour)))?;
                }
                read = terminal.line(&prompt) => break read?,
            }
        };
        let Some(bytes) = read else {
            break;
        };
        let Ok(line) = std::str::from_utf8(&bytes) else {
            refused += 1;
            terminal.print("⚠️ That line is not valid UTF-8 text; it was skipped.\n\n")?;
            continue;
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        if !interactive {
            // Shown as the answers show typed text: what would act on the terminal as escapes.
            terminal.print(&format!("> {}\n", crate::text::escape_hidden(line)))?;
        }
        if let Some(asked) = line.strip_prefix(':') {
            match meta(asked) {
                Ok(Meta::Quit) => break,
                Ok(Meta::As(name)) => user = name,
                Ok(Meta::Channel(name)) => channel = name,
                Err(problem) => {
                    refused += 1;
                    let problem = crate::text::escape_hidden(&problem);
                    terminal.print(&format!("⚠️ {problem}\n{CONSOLE_HELP}\n\n"))?;
                }
            }
            continue;
        }
        let from = caller(&user, &channel);
        let answer = engine.attempt(&from, line).await;
        if !matches!(answer, Answer::Final(_) | Answer::Replayed) {
            refused += 1;
        }
        let mut text = String::new();
        for reply in answer.replies() {
            text.push_str(&render(&reply, &from.channel, options.colour));
            text.push('\n');
        }
        terminal.print(&text)?;
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
