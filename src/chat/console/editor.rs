//! The console at a terminal: rustyline edits the line (arrows, Ctrl-A/E/W/R, history search) on
//! a thread of its own, since it blocks; what the bot posts on its own is printed above the line
//! being typed through rustyline's external printer, on a second thread, so a post never waits
//! for the person to finish typing and never garbles their line.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc as sync;

use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use rustyline::{Config, Editor, ExternalPrinter};
use tokio::sync::mpsc;

use super::Terminal;

/// How many lines the history file keeps.
const HISTORY_LINES: usize = 1000;

/// The console's history file: `$XDG_DATA_HOME/firewatch/console_history`, or
/// `~/.local/share/firewatch/console_history` when `XDG_DATA_HOME` is unset (or not an absolute
/// path, as the XDG spec says); `None` without a home directory.
pub fn history_file() -> Option<PathBuf> {
    history_file_from(|name| std::env::var_os(name))
}

/// [`history_file`] with the environment read through `var`.
fn history_file_from(var: impl Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    let absolute = |name| var(name).map(PathBuf::from).filter(|dir| dir.is_absolute());
    let data =
        absolute("XDG_DATA_HOME").or_else(|| Some(absolute("HOME")?.join(".local/share")))?;
    Some(data.join("firewatch").join("console_history"))
}

/// A line read by the editor thread: the text, the end of input, or what went wrong.
type Read = io::Result<Option<String>>;

/// The interactive [`Terminal`]: prompts go to the editor thread, lines come back.
pub(super) struct LineEditor {
    prompts: sync::Sender<String>,
    lines: mpsc::Receiver<Read>,
    /// A prompt was sent and its line has not come back yet.
    asked: bool,
    /// The printer thread, when the terminal has one (not on a terminal rustyline cannot drive).
    posts: Option<sync::Sender<String>>,
}

impl LineEditor {
    /// Starts the editor on this process's terminal, with the history in `history` (loaded
    /// now, each line appended as it is typed; the file is the user's only, mode 0600).
    pub(super) fn start(history: Option<PathBuf>) -> io::Result<Self> {
        let config = Config::builder()
            .max_history_size(HISTORY_LINES)
            .map_err(io::Error::other)?
            .history_ignore_dups(true)
            .map_err(io::Error::other)?
            // A line typed with a leading space stays out of the history, as in a shell.
            .history_ignore_space(true)
            .auto_add_history(false)
            .build();
        let mut editor: Editor<(), FileHistory> =
            Editor::with_config(config).map_err(io::Error::other)?;
        let history = history.and_then(|path| match open_history(&mut editor, &path) {
            Ok(()) => Some(path),
            Err(problem) => {
                eprintln!("⚠️ The console keeps no history: {problem}");
                None
            }
        });
        let posts = editor.create_external_printer().ok().map(|mut printer| {
            let (posts, printing) = sync::channel::<String>();
            std::thread::spawn(move || {
                for text in printing {
                    if printer.print(text).is_err() {
                        break;
                    }
                }
            });
            posts
        });
        let (prompts, asked) = sync::channel::<String>();
        let (read, lines) = mpsc::channel(1);
        std::thread::spawn(move || edit(editor, history.as_deref(), &asked, &read));
        Ok(Self {
            prompts,
            lines,
            asked: false,
            posts,
        })
    }
}

/// Loads the history at `path`, creating its directory (the user's only) when it is missing.
fn open_history(editor: &mut Editor<(), FileHistory>, path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    match editor.load_history(path) {
        Ok(()) => Ok(()),
        Err(ReadlineError::Io(e)) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The editor thread: reads one line per prompt until the console stops asking.
fn edit(
    mut editor: Editor<(), FileHistory>,
    history: Option<&Path>,
    prompts: &sync::Receiver<String>,
    lines: &mpsc::Sender<Read>,
) {
    let mut history = history;
    for prompt in prompts {
        let read = loop {
            match editor.readline(&prompt) {
                Ok(line) => break Ok(Some(line)),
                // Ctrl-C drops the line being typed, as in a shell.
                Err(ReadlineError::Interrupted) => {}
                Err(ReadlineError::Eof) => break Ok(None),
                Err(ReadlineError::Io(e)) => break Err(e),
                Err(e) => break Err(io::Error::other(e)),
            }
        };
        if let (Ok(Some(line)), Some(path)) = (&read, history)
            && editor.add_history_entry(line.as_str()).unwrap_or(false)
            && let Err(e) = editor.append_history(path)
        {
            eprintln!(
                "⚠️ The console stops keeping history: cannot write {}: {e}",
                path.display()
            );
            history = None;
        }
        let end = !matches!(read, Ok(Some(_)));
        if lines.blocking_send(read).is_err() || end {
            break;
        }
    }
}

impl Terminal for LineEditor {
    fn interactive(&self) -> bool {
        true
    }

    async fn line(&mut self, prompt: &str) -> io::Result<Option<Vec<u8>>> {
        if !self.asked {
            self.prompts
                .send(prompt.to_owned())
                .map_err(|_| io::Error::other("the line editor stopped"))?;
            self.asked = true;
        }
        let read = self.lines.recv().await.unwrap_or(Ok(None));
        self.asked = false;
        Ok(read?.map(String::into_bytes))
    }

    fn print(&mut self, text: &str) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()
    }

    fn post(&mut self, text: &str) -> io::Result<()> {
        match &self.posts {
            Some(printer) if printer.send(text.to_owned()).is_ok() => Ok(()),
            _ => self.print(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_lives_in_the_users_data_directory() {
        let env = |xdg: Option<&'static str>, home: Option<&'static str>| {
            move |name: &str| match name {
                "XDG_DATA_HOME" => xdg.map(Into::into),
                "HOME" => home.map(Into::into),
                _ => None,
            }
        };
        let in_home = Some(PathBuf::from(
            "/home/alice/.local/share/firewatch/console_history",
        ));
        assert_eq!(
            history_file_from(env(Some("/data"), Some("/home/alice"))),
            Some("/data/firewatch/console_history".into())
        );
        // A relative XDG_DATA_HOME is ignored, as the XDG spec says.
        assert_eq!(
            history_file_from(env(Some("data"), Some("/home/alice"))),
            in_home
        );
        assert_eq!(history_file_from(env(None, Some("/home/alice"))), in_home);
        assert_eq!(history_file_from(env(None, None)), None);
    }
}
