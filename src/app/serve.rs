//! `firewatch serve`: builds the chat adapters the settings enable (Slack over HTTP and/or
//! Socket Mode, Discord over HTTP or the gateway), binds the HTTP server, runs again what the
//! inbox holds from before a restart, and keeps the inbox pruned.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use crate::app::health::Health;
use crate::app::http::{self, AppState};
use crate::app::startup::App;
use crate::chat::discord::{self, Discord};
use crate::chat::slack::blocks::Mentions;
use crate::chat::slack::signature::Verifier;
use crate::chat::slack::socket::SocketMode;
use crate::chat::slack::{self, Slack};
use crate::config::DiscordMode;
use crate::error_chain;
use crate::store::Inbound;

/// How often done requests are pruned, and how long they are kept (Slack and Discord stop
/// redelivering within minutes).
const PRUNE_EVERY: Duration = Duration::from_secs(600);
const KEEP_DONE: chrono::TimeDelta = chrono::TimeDelta::hours(1);
/// How often requests left by a process that is gone (a replica that died while others run)
/// are looked for after the start-up replay.
const ADOPT_EVERY: Duration = Duration::from_secs(10);

/// Why `serve` could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing to serve.
    #[error(
        "no chat platform is configured: set slack.bot_token and slack.signing_secret \
         (FIREWATCH__SLACK__BOT_TOKEN, FIREWATCH__SLACK__SIGNING_SECRET), or slack.app_token for \
         Socket Mode; or discord.application_id with discord.public_key (or discord.bot_token in \
         gateway mode). `firewatch console` needs none of them"
    )]
    NoPlatform,
    /// A platform is half configured.
    #[error("{0}")]
    Incomplete(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A running server.
pub struct Running {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
    socket: Option<SocketMode>,
    background: Vec<JoinHandle<()>>,
    slack: Option<Arc<Slack>>,
    discord: Option<Arc<Discord>>,
}

impl Running {
    /// Stops taking requests (the HTTP listener, Socket Mode, the Discord gateway), waits up to
    /// `server.shutdown_grace` for the commands in flight to be committed and answered, and
    /// returns. A command still running then stays in the inbox and runs at the next start.
    ///
    /// # Errors
    /// The server failed while running.
    pub async fn stop(self) -> std::io::Result<()> {
        // Queued requests stay in the inbox for the next start; only those running finish.
        if let Some(slack) = &self.slack {
            slack.close();
        }
        if let Some(discord) = &self.discord {
            discord.close();
        }
        let _ = self.stop.send(());
        if let Some(socket) = &self.socket {
            socket.shutdown().await;
        }
        // The gateway and the inbox pruning: nothing in them needs finishing (an interaction
        // the gateway took is a tracked task of its own).
        for task in &self.background {
            task.abort();
        }
        self.server.await.map_err(std::io::Error::other)?
    }
}

fn slack_adapter(app: &App, tasks: &TaskTracker) -> Result<Option<Arc<Slack>>, Error> {
    let settings = &app.settings.slack;
    for (key, secret) in [
        ("bot_token", &settings.bot_token),
        ("signing_secret", &settings.signing_secret),
        ("app_token", &settings.app_token),
    ] {
        if secret
            .as_ref()
            .is_some_and(|s| s.expose().trim().is_empty())
        {
            return Err(Error::Incomplete(format!(
                "slack.{key} is set but empty: unset it or give it its value"
            )));
        }
    }
    match (
        &app.slack_api,
        &settings.signing_secret,
        &settings.app_token,
    ) {
        (None, None, None) => Ok(None),
        (None, _, _) => Err(Error::Incomplete(
            "slack.bot_token is not set, so firewatch could not answer in Slack: set \
             FIREWATCH__SLACK__BOT_TOKEN"
                .into(),
        )),
        (Some(_), None, None) => Err(Error::Incomplete(
            "slack.signing_secret is not set, so Slack's requests cannot be verified: set \
             FIREWATCH__SLACK__SIGNING_SECRET (or slack.app_token for Socket Mode)"
                .into(),
        )),
        (Some(api), _, _) => Ok(Some(Slack::new(
            app,
            Arc::clone(api),
            Arc::new(Mentions::new(&app.settings.roles)),
            slack::Options {
                alerts_channel: settings.alerts_channel.clone(),
                create_incident_channels: settings.create_incident_channels,
            },
            tasks.clone(),
        ))),
    }
}

/// The Discord adapter and, over HTTP, the request verifier (none in gateway mode).
type DiscordParts = (Arc<Discord>, Option<discord::signature::Verifier>);

fn discord_adapter(app: &App, tasks: &TaskTracker) -> Result<Option<DiscordParts>, Error> {
    let settings = &app.settings.discord;
    let Some(api) = &app.discord_api else {
        return match (&settings.public_key, &settings.bot_token) {
            (None, None) => Ok(None),
            _ => Err(Error::Incomplete(
                "discord.application_id is not set: set it to the application id from the \
                 Developer Portal"
                    .into(),
            )),
        };
    };
    let adapter = Discord::new(app, Arc::clone(api), tasks.clone());
    match settings.mode {
        DiscordMode::Http => {
            let key = settings.public_key.as_deref().ok_or_else(|| {
                Error::Incomplete(
                    "discord.public_key is not set, so Discord's requests cannot be verified"
                        .into(),
                )
            })?;
            let verifier = discord::signature::Verifier::new(key)
                .map_err(|e| Error::Incomplete(e.to_string()))?;
            Ok(Some((adapter, Some(verifier))))
        }
        DiscordMode::Gateway if settings.bot_token.is_none() => Err(Error::Incomplete(
            "discord.mode = \"gateway\" needs discord.bot_token (FIREWATCH__DISCORD__BOT_TOKEN)"
                .into(),
        )),
        DiscordMode::Gateway => Ok(Some((adapter, None))),
    }
}

fn inbox_error(e: &crate::store::Error) -> Error {
    Error::Incomplete(format!("cannot read the request inbox: {}", error_chain(e)))
}

/// Starts serving `app` on `listen` (`127.0.0.1:0` picks a free port).
///
/// # Errors
/// [`Error`] when no platform is configured, one is half configured, or the address is taken.
pub async fn start(app: &App, listen: &str) -> Result<Running, Error> {
    crate::chat::work::set_engine_nice(app.settings.server.engine_nice);
    let tasks = TaskTracker::new();
    let slack = slack_adapter(app, &tasks)?;
    let discord = discord_adapter(app, &tasks)?;
    if slack.is_none() && discord.is_none() {
        return Err(Error::NoPlatform);
    }
    // Read before taking requests, so a new request is run by its own handler only.
    let slack_pending: Vec<Inbound> = match &slack {
        Some(s) => s.pending().await.map_err(|e| inbox_error(&e))?,
        None => Vec::new(),
    };
    let discord_pending: Vec<Inbound> = match &discord {
        Some((d, _)) => d.pending().await.map_err(|e| inbox_error(&e))?,
        None => Vec::new(),
    };
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|source| Error::Bind {
            addr: listen.to_owned(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: listen.to_owned(),
        source,
    })?;
    let socket = match (&slack, &app.settings.slack.app_token) {
        (Some(slack), Some(token)) => Some(
            SocketMode::start(
                Arc::clone(slack),
                token,
                app.readiness.link("slack socket mode"),
                Arc::clone(&app.metrics),
            )
            .await
            .map_err(Error::Incomplete)?,
        ),
        _ => None,
    };
    let slack_http = match (&slack, &app.settings.slack.signing_secret) {
        (Some(slack), Some(secret)) => Some((Arc::clone(slack), Verifier::new(secret))),
        _ => None,
    };
    let mut state = AppState::new(slack_http, tasks.clone())
        .with_health(Health::new(
            Arc::clone(&app.store),
            app.readiness.clone(),
            Arc::clone(&app.metrics),
        ))
        .with_grace(Duration::from_secs(
            app.settings.server.shutdown_grace.as_secs(),
        ));
    let mut background = vec![tokio::spawn(prune(app))];
    if let Some((adapter, verifier)) = &discord {
        match verifier {
            Some(verifier) => state = state.with_discord(Arc::clone(adapter), verifier.clone()),
            None => {
                let adapter = Arc::clone(adapter);
                let token = app.settings.discord.bot_token.clone();
                let api_url = app.settings.discord.api_url.clone();
                let link = app.readiness.link("discord gateway");
                let metrics = Arc::clone(&app.metrics);
                background.push(tokio::spawn(async move {
                    let Some(token) = token else { return };
                    let run = discord::gateway::run(adapter, &token, &api_url, link, metrics);
                    if let Err(e) = run.await {
                        tracing::error!(error = %e, "the discord gateway stopped");
                    }
                }));
            }
        }
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(http::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    if let Some(slack) = &slack {
        let slack = Arc::clone(slack);
        tasks.spawn(async move {
            let replayed = slack.replay(slack_pending).await;
            if replayed > 0 {
                tracing::info!(replayed, "ran slack requests accepted before the restart");
            }
        });
    }
    if let Some((discord, _)) = &discord {
        let discord = Arc::clone(discord);
        tasks.spawn(async move {
            let replayed = discord.replay(discord_pending).await;
            if replayed > 0 {
                tracing::info!(
                    replayed,
                    "ran discord interactions accepted before the restart"
                );
            }
        });
    }
    background.push(tokio::spawn(adopt(
        slack.clone(),
        discord.as_ref().map(|(d, _)| Arc::clone(d)),
    )));
    tracing::info!(%addr, "serving");
    Ok(Running {
        addr,
        stop,
        server,
        socket,
        background,
        slack,
        discord: discord.map(|(adapter, _)| adapter),
    })
}

/// Replays, now and then, what another process accepted and left when it died: with several
/// replicas on one database, the start-up replay of the others will not come.
async fn adopt(slack: Option<Arc<Slack>>, discord: Option<Arc<Discord>>) {
    let mut every = tokio::time::interval(ADOPT_EVERY);
    every.tick().await;
    loop {
        every.tick().await;
        if let Some(slack) = &slack {
            match slack.pending().await {
                Ok(pending) if !pending.is_empty() => {
                    let replayed = slack.replay(pending).await;
                    tracing::info!(
                        replayed,
                        "took over slack requests of a process that is gone"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %error_chain(&e), "cannot read the request inbox"),
            }
        }
        if let Some(discord) = &discord {
            match discord.pending().await {
                Ok(pending) if !pending.is_empty() => {
                    let replayed = discord.replay(pending).await;
                    tracing::info!(
                        replayed,
                        "took over discord interactions of a process that is gone"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %error_chain(&e), "cannot read the request inbox"),
            }
        }
    }
}

fn prune(app: &App) -> impl std::future::Future<Output = ()> + Send + 'static {
    let store = Arc::clone(&app.store);
    let clock = Arc::clone(&app.clock);
    async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        loop {
            every.tick().await;
            match store.prune_requests(clock.now() - KEEP_DONE).await {
                Ok(0) => {}
                Ok(pruned) => tracing::debug!(pruned, "pruned done requests"),
                Err(e) => {
                    tracing::warn!(error = %error_chain(&e), "could not prune the request inbox")
                }
            }
        }
    }
}
