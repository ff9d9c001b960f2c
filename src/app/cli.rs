//! The command line: `firewatch serve | console | report ID | check-config | slack-manifest |
//! discord-register | alertmanager-config`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{CommandFactory, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use super::{serve, startup, warnings};
use crate::alerts::setup::{self, DEFAULT_CREDENTIALS_FILE};
use crate::chat::console::{self, ConsoleOutbox};
use crate::chat::discord::api::DiscordApi;
use crate::chat::discord::commands;
use crate::chat::slack::manifest;
use crate::clock::SystemClock;
use crate::command::{self, Invocation};
use crate::config::{LogFormat, Settings};
use crate::engine::{Audience, Outbox};
use crate::error_chain;
use crate::incident::{IncidentId, Platform};
use crate::notify::Template;
use crate::scheduler::Scheduler;
use crate::store::Access;
use crate::text;

/// firewatch — ChatOps incident response for services on Kubernetes.
///
/// Slash commands (/incident-assess, /incident-update, /incident-resolve, …) open and run
/// incidents through the team's runbook: severity, paging, timed updates and a timeline.
#[derive(Debug, Parser)]
#[command(name = "firewatch", version, disable_help_subcommand = true)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        short,
        long,
        global = true,
        env = "FIREWATCH_CONFIG",
        default_value = "bot.toml",
        value_name = "FILE"
    )]
    config: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve Slack and Discord: POST /slack/commands, /slack/interactions and
    /// /discord/interactions on server.listen (Slack Socket Mode when slack.app_token is set, the
    /// Discord gateway when discord.mode = "gateway"), POST /alerts/alertmanager when
    /// alerts.token is set, POST /pagerduty/webhooks and /opsgenie/webhooks when
    /// pagerduty.webhook_secret and opsgenie.webhook_token are set, with GET /healthz, /readyz
    /// and /metrics, and the web pages (/status, /incidents, …) when web.enabled = true; pages go
    /// out through PagerDuty and Opsgenie when their keys are set.
    /// On Ctrl-C or SIGTERM it stops accepting, lets commands in flight finish within
    /// server.shutdown_grace, closes the store and exits 0.
    Serve,
    /// Print the Slack app manifest (YAML): for firewatch's public base URL, or for Socket Mode.
    ///
    /// Give BASE_URL unless --socket-mode is given; with --socket-mode give none.
    SlackManifest {
        /// The public base URL Slack will call: https://host[:port] only, e.g.
        /// https://firewatch.example.com (firewatch adds /slack/commands and /slack/interactions).
        /// Needed unless --socket-mode is given.
        #[arg(value_name = "BASE_URL", required_unless_present = "socket_mode")]
        base_url: Option<String>,
        /// Declare Socket Mode instead of request URLs: no public URL, so no BASE_URL.
        #[arg(long)]
        socket_mode: bool,
    },
    /// Talk to firewatch from the terminal: one command per line on stdin, replies on stdout.
    ///
    /// On a terminal: a prompt with line editing and history (kept in
    /// $XDG_DATA_HOME/firewatch/console_history, else ~/.local/share/firewatch/console_history;
    /// a line typed with a leading space is not kept), reminders printed above the line being
    /// typed, Ctrl-C drops the line, Ctrl-D or :quit ends. When stdin is piped it handles every line,
    /// echoing it (`> LINE`) before its answer, and exits at the end, e.g.
    /// printf '/incident-assess checkout down\n' | firewatch console
    /// The exit status is the number of lines refused or failed (at most 100), 0 when none.
    Console {
        /// The user the commands come from (default: $USER).
        #[arg(long = "as", value_name = "USER")]
        user: Option<String>,
        /// The channel the commands are typed in.
        #[arg(long, value_name = "NAME", default_value = "console")]
        channel: String,
    },
    /// Write the post-incident report of a resolved incident and close it.
    ///
    /// Does what /incident-report does, from the store alone (no chat platform needed): the
    /// report goes to reports.dir and stdout. On a closed incident, writes its report again.
    Report {
        /// The incident: 12 or #12.
        #[arg(value_name = "ID", value_parser = IncidentId::parse)]
        id: IncidentId,
        /// Who writes it (default: $USER).
        #[arg(long = "as", value_name = "USER")]
        user: Option<String>,
    },
    /// Check the configuration and render every template with sample data, then exit.
    ///
    /// Warns (on stderr, exit status 0) about what works but is open: production changes anyone
    /// but the requester may approve, and slack.team_ids or discord.guild_ids left empty.
    CheckConfig,
    /// Print the receiver (webhook_configs) and a route to paste into alertmanager.yml.
    ///
    /// Alertmanager then sends its notifications to POST /alerts/alertmanager with the bearer
    /// token read from the credentials file (the same value as alerts.token).
    AlertmanagerConfig {
        /// firewatch's base URL as Alertmanager reaches it, e.g. https://firewatch.example.com
        /// or, in the cluster, http://firewatch.firewatch.svc.
        #[arg(value_name = "URL")]
        url: String,
        /// Where Alertmanager reads the token.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_CREDENTIALS_FILE)]
        credentials_file: String,
    },
    /// Print this help, or a subcommand's (the same as `firewatch COMMAND --help`).
    Help {
        /// The subcommand, e.g. console.
        #[arg(value_name = "COMMAND")]
        command: Option<String>,
    },
    /// Print the argon2 hash of a password read from stdin, for a [[web.users]] entry.
    ///
    /// On a terminal it asks for the password twice without showing it; piped, it reads one
    /// line (the password, without its line break). It prints the PHC string, e.g.
    /// printf '%s\n' "$PASSWORD" | firewatch web-password
    WebPassword,
    /// Register the /incident command and its subcommands with Discord (bulk overwrite).
    ///
    /// Needs discord.application_id and discord.bot_token. Without --guild the command is
    /// global; with it, only that server has it (handy for trying firewatch out).
    DiscordRegister {
        /// Register in this server (guild id) only.
        #[arg(long, value_name = "ID")]
        guild: Option<String>,
    },
}

/// `firewatch web-password`: the password from stdin (asked twice, unseen, on a terminal), its
/// argon2 hash on stdout.
fn web_password() -> Result<(), String> {
    let password = if std::io::stdin().is_terminal() {
        let first = unseen("Password: ")?;
        if unseen("Again: ")? != first {
            return Err("the two passwords differ; nothing was printed".into());
        }
        first
    } else {
        read_password_line()?
    };
    if password.is_empty() {
        return Err("no password on stdin: pipe one line, e.g. printf '%s\\n' \"$PASSWORD\" | firewatch web-password".into());
    }
    println!("{}", crate::web::password::hash(&password)?);
    Ok(())
}

/// One line from stdin, without its line break.
fn read_password_line() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    Ok(password.strip_suffix('\r').unwrap_or(password).to_owned())
}

/// Asks for a password on the terminal (the prompt on stderr) with echo off, restored after.
fn unseen(prompt: &str) -> Result<String, String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let cannot = |e: nix::Error| format!("cannot turn off the terminal's echo: {e}");
    let before = tcgetattr(&stdin).map_err(cannot)?;
    let mut quiet = before.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    quiet.local_flags.insert(LocalFlags::ECHONL);
    eprint!("{prompt}");
    tcsetattr(&stdin, SetArg::TCSAFLUSH, &quiet).map_err(cannot)?;
    let read = read_password_line();
    tcsetattr(&stdin, SetArg::TCSAFLUSH, &before).map_err(cannot)?;
    read
}

fn user_or_default(user: Option<String>) -> String {
    user.or_else(|| std::env::var("USER").ok())
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "operator".into())
}

/// `firewatch help [COMMAND]`: the long help of the program or of one subcommand.
fn help(command: Option<&str>) -> Result<(), String> {
    let mut cli = Cli::command();
    cli.build();
    let shown = match command {
        None => cli.print_long_help(),
        Some(name) => match cli.find_subcommand_mut(name) {
            Some(sub) => sub.print_long_help(),
            None => {
                return Err(format!(
                    "unknown command '{name}'; firewatch --help lists the commands"
                ));
            }
        },
    };
    shown.map_err(|e| format!("help: {e}"))
}

/// Runs the command line; the binary's `main`.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

/// Why the program exits unsuccessfully: said on stderr, with the exit status.
struct Failure {
    message: String,
    code: u8,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self { message, code: 1 }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        message.to_owned().into()
    }
}

/// The most console lines the exit status counts; more still exit with this.
const MOST_REFUSED_COUNTED: usize = 100;

async fn run(cli: Cli) -> Result<(), Failure> {
    // Needs no configuration.
    if let Command::Help { command } = &cli.command {
        return Ok(help(command.as_deref())?);
    }
    if let Command::SlackManifest {
        base_url,
        socket_mode,
    } = &cli.command
    {
        let yaml = manifest::manifest(base_url.as_deref(), *socket_mode)?;
        print!("{yaml}");
        return Ok(());
    }
    if let Command::AlertmanagerConfig {
        url,
        credentials_file,
    } = &cli.command
    {
        print!("{}", setup::alertmanager_config(url, credentials_file)?);
        return Ok(());
    }
    if let Command::WebPassword = &cli.command {
        return Ok(web_password()?);
    }
    let settings = Settings::load(&cli.config).map_err(|e| error_chain(&e))?;
    let quiet = matches!(
        cli.command,
        Command::Console { .. } | Command::Report { .. }
    );
    init_logging(
        if quiet { "warn" } else { &settings.log.level },
        settings.log.format,
    )?;
    let done: Result<(), String> = match cli.command {
        Command::CheckConfig => {
            startup::check(&settings).map_err(|e| error_chain(&e))?;
            println!(
                "{}: ok — {} service(s), {} classification rule(s), {} role(s), {} verification job(s), alerts {}, {} template(s) rendered with sample data ({})",
                cli.config.display(),
                settings.services.len(),
                settings.classify.len(),
                settings.roles.len(),
                settings.jobs.len(),
                if settings.alerts.enabled() {
                    "on"
                } else {
                    "off"
                },
                Template::ALL.len(),
                settings.messages.dir.as_ref().map_or_else(
                    || "built in".to_owned(),
                    |d| format!("from {}", d.display())
                ),
            );
            for warning in warnings::warnings(&settings) {
                eprintln!("warning: {warning}");
            }
            Ok(())
        }
        Command::Serve => {
            let listen = settings.server.listen.clone();
            let app = startup::build(settings, Arc::new(SystemClock), Access::Exclusive)
                .await
                .map_err(|e| error_chain(&e))?;
            let running = serve::start(&app, &listen)
                .await
                .map_err(|e| error_chain(&e))?;
            let scheduler = Scheduler::spawn(
                Arc::clone(&app.engine),
                std::time::Duration::from_secs(app.settings.scheduler.tick.as_secs()),
            );
            // Listening for the signals before the address is printed: whoever waits for that
            // line may signal at once.
            let stopped = shutdown_signal()?;
            eprintln!("firewatch: serving on {}", running.addr);
            stopped.await;
            let grace = Duration::from_secs(app.settings.server.shutdown_grace.as_secs());
            tracing::info!(grace_seconds = grace.as_secs(), "shutting down");
            let result = shut_down(&app, running, scheduler, grace).await;
            result.map_err(|e| format!("server: {e}"))
        }
        Command::SlackManifest { .. }
        | Command::AlertmanagerConfig { .. }
        | Command::WebPassword
        | Command::Help { .. } => Ok(()),
        Command::DiscordRegister { guild } => register_discord(&settings, guild.as_deref()).await,
        Command::Report { id, user } => report(settings, id, user_or_default(user)).await,
        Command::Console { user, channel } => {
            let app = startup::build(settings, Arc::new(SystemClock), Access::Exclusive)
                .await
                .map_err(|e| error_chain(&e))?;
            let user = user_or_default(user);
            // Reminders and escalations print in the console while it runs.
            let (outbox, posts) = ConsoleOutbox::new();
            app.outbox.route(Platform::Console, Arc::new(outbox));
            let scheduler = Scheduler::spawn(
                Arc::clone(&app.engine),
                std::time::Duration::from_secs(app.settings.scheduler.tick.as_secs()),
            );
            // Posts into Slack or Discord channels, when the config names them (a mirror).
            let sending = app.posts.start();
            let options = console::Options {
                user,
                channel: channel.trim_start_matches('#').to_owned(),
                colour: colour(&std::io::stdout()),
            };
            let result = if std::io::stdin().is_terminal() {
                console::run_interactive(&app.engine, options, Some(posts), console::history_file())
                    .await
                    .map(|()| 0)
            } else {
                let input = tokio::io::BufReader::new(tokio::io::stdin());
                console::run(
                    &app.engine,
                    input,
                    &mut std::io::stdout(),
                    options,
                    Some(posts),
                )
                .await
            };
            scheduler.stop().await;
            sending.stop().await;
            app.store.close().await;
            match result {
                // The reader went away (`firewatch console | head`): every handled command is
                // committed already, so this is a normal end.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(format!("console: {e}")),
                Ok(0) => Ok(()),
                Ok(refused) => {
                    return Err(Failure {
                        message: format!(
                            "{refused} line(s) were refused or failed (the exit status counts \
                             them, up to {MOST_REFUSED_COUNTED})"
                        ),
                        code: u8::try_from(refused.min(MOST_REFUSED_COUNTED)).expect("at most 100"),
                    });
                }
            }
        }
    };
    Ok(done?)
}

async fn register_discord(settings: &Settings, guild: Option<&str>) -> Result<(), String> {
    let discord = &settings.discord;
    let application = discord
        .application_id
        .as_deref()
        .ok_or("discord.application_id is not set (the Developer Portal's Application ID)")?;
    if discord.bot_token.is_none() {
        return Err("discord.bot_token is not set: set FIREWATCH__DISCORD__BOT_TOKEN".into());
    }
    let api = DiscordApi::new(&discord.api_url, application, discord.bot_token.as_ref())
        .map_err(|e| e.to_string())?;
    let registered = api
        .overwrite_commands(guild, &commands::definitions(settings.scale.max_replicas))
        .await
        .map_err(|e| format!("registering the commands failed: {e}"))?;
    for command in registered.as_array().into_iter().flatten() {
        let subcommands: Vec<&str> = command["options"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["name"].as_str())
            .collect();
        println!(
            "registered /{} (id {}) with {} subcommands: {}",
            command["name"].as_str().unwrap_or("?"),
            command["id"].as_str().unwrap_or("?"),
            subcommands.len(),
            subcommands.join(", ")
        );
    }
    match guild {
        Some(guild) => println!(
            "scope: guild {guild} of application {application} (replaces its previous commands)"
        ),
        None => println!(
            "scope: global, application {application} (replaces its previous global commands)"
        ),
    }
    Ok(())
}

/// Stops taking requests and ticking, gives the commands in flight and their follow-up work
/// (mirror posts, late evidence) and the posts they stored up to `grace` to finish, then closes
/// the store. Whatever is still running then stays in the inbox (or the timers, or the outbox)
/// and runs again at the next start.
async fn shut_down(
    app: &startup::App,
    running: serve::Running,
    scheduler: Scheduler,
    grace: Duration,
) -> std::io::Result<()> {
    let deadline = tokio::time::Instant::now() + grace;
    let (stopped, ticked) = tokio::join!(
        tokio::time::timeout(grace, running.stop()),
        tokio::time::timeout(grace, scheduler.stop())
    );
    // Whatever is still running then stays in the inbox and runs again at the next start.
    let result = stopped.unwrap_or_else(|_| {
        tracing::warn!("commands were still running when the shutdown grace ran out");
        Ok(())
    });
    if ticked.is_err() {
        tracing::warn!(
            "a scheduler tick was still running at shutdown; its timers fire again at the next start"
        );
    }
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    if !app.engine.finish_background(left).await {
        tracing::warn!("mirror posts or late evidence were still running at shutdown");
    }
    // What that work stored in the outbox; a post still not delivered waits for the next start
    // (or another replica).
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    if tokio::time::timeout(left, app.posts.deliver_due())
        .await
        .is_err()
    {
        tracing::warn!("posts were still being sent at shutdown; they stay in the outbox");
    }
    // The pool waits for connections in use; a stuck query must not keep the process alive.
    if tokio::time::timeout(CLOSE_STORE, app.store.close())
        .await
        .is_err()
    {
        tracing::warn!("the store did not close in time");
    }
    tracing::info!("stopped");
    result
}

/// How long closing the store may take at shutdown.
const CLOSE_STORE: Duration = Duration::from_secs(5);

/// Ctrl-C or SIGTERM: listened for from this call on, received when the future completes.
///
/// # Errors
/// The signal handlers could not be installed.
#[cfg(unix)]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind| signal(kind).map_err(|e| format!("cannot listen for signals: {e}"));
    let mut interrupt = listen(SignalKind::interrupt())?;
    let mut terminate = listen(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

/// Ctrl-C: received when the future completes.
///
/// # Errors
/// Never on this platform.
#[cfg(not(unix))]
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, String> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// `firewatch report ID`: the engine's `/incident-report` on the store, printed to stdout.
async fn report(settings: Settings, id: IncidentId, user: String) -> Result<(), String> {
    // Beside a running `serve` on the same SQLite file: report runs one command in its own
    // transactions and replays, recovers and fires nothing, so it needs no writer lock.
    let app = startup::build(settings, Arc::new(SystemClock), Access::Shared)
        .await
        .map_err(|e| error_chain(&e))?;
    let caller = console::caller(&user, "command-line");
    let invocation = Invocation {
        incident: Some(id),
        command: command::Command::Report,
    };
    let replies = app.engine.run(&caller, invocation).await;
    let mut outcome = Ok(());
    for reply in &replies {
        match &reply.audience {
            Audience::Channel(channel) => {
                println!("{}", console::render(reply, channel, false));
                // A Slack or Discord channel's post waits in the outbox for the serving process
                // to send it (this one sends nothing); with no such platform configured, the
                // report is in the file and the channel hears about it when someone posts it.
                match app.outbox.post(channel, &reply.message).await {
                    Ok(()) => eprintln!(
                        "note: the report's message waits in the outbox; `firewatch serve` posts it into the incident's channel"
                    ),
                    Err(e) => eprintln!("note: not posted to the incident's channel ({e})"),
                }
            }
            Audience::Caller => {
                let plain = reply.message.plain_text();
                outcome = Err(text::escape_hidden(&plain).replacen("⚠️ ", "", 1));
            }
        }
    }
    app.store.close().await;
    outcome
}

/// Whether to colour what goes to `stream`: it is a terminal and `NO_COLOR` is not set to
/// something (<https://no-color.org>).
fn colour(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn init_logging(default: &str, format: LogFormat) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(value) if !value.is_empty() => EnvFilter::try_new(&value)
            .map_err(|e| format!("RUST_LOG: invalid filter '{value}': {e}"))?,
        _ => EnvFilter::try_new(default)
            .map_err(|e| format!("log.level: invalid filter '{default}': {e}"))?,
    };
    // A log file or a collector gets plain text: colour codes only for a terminal.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_current_span(false).init(),
    }
    Ok(())
}
