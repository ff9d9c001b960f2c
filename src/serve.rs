//! `firewatch serve`: builds the chat adapters the settings enable, binds the HTTP server,
//! runs again what the inbox holds from before a restart, and keeps the inbox pruned.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use crate::chat::slack::blocks::Mentions;
use crate::chat::slack::socket::SocketMode;
use crate::chat::slack::verify::Verifier;
use crate::chat::slack::{self, Slack};
use crate::error_chain;
use crate::server::{self, AppState};
use crate::startup::App;

/// How often done requests are pruned, and how long they are kept (Slack stops redelivering
/// within minutes).
const PRUNE_EVERY: Duration = Duration::from_secs(600);
const KEEP_DONE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Why `serve` could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing to serve.
    #[error(
        "no chat platform is configured: set slack.bot_token and slack.signing_secret \
         (FIREWATCH__SLACK__BOT_TOKEN, FIREWATCH__SLACK__SIGNING_SECRET), or slack.app_token for \
         Socket Mode. `firewatch console` needs none of them"
    )]
    NoPlatform,
    /// Slack is half configured.
    #[error("{0}")]
    Slack(String),
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
    housekeeping: JoinHandle<()>,
}

impl Running {
    /// Stops accepting, waits (bounded) for commands in flight, and returns.
    ///
    /// # Errors
    /// The server failed while running.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        if let Some(socket) = &self.socket {
            socket.shutdown().await;
        }
        self.housekeeping.abort();
        self.server.await.map_err(std::io::Error::other)?
    }
}

/// Starts serving `app` on `listen` (`127.0.0.1:0` picks a free port).
///
/// # Errors
/// [`Error`] when no platform is configured, Slack is half configured, or the address is taken.
pub async fn start(app: &App, listen: &str) -> Result<Running, Error> {
    let settings = &app.settings.slack;
    let slack = match (
        &app.slack_api,
        &settings.signing_secret,
        &settings.app_token,
    ) {
        (None, None, None) => return Err(Error::NoPlatform),
        (None, _, _) => {
            return Err(Error::Slack(
                "slack.bot_token is not set, so firewatch could not answer in Slack: set \
                 FIREWATCH__SLACK__BOT_TOKEN"
                    .into(),
            ));
        }
        (Some(_), None, None) => {
            return Err(Error::Slack(
                "slack.signing_secret is not set, so Slack's requests cannot be verified: set \
                 FIREWATCH__SLACK__SIGNING_SECRET (or slack.app_token for Socket Mode)"
                    .into(),
            ));
        }
        (Some(api), _, _) => Arc::new(Slack::new(
            app,
            Arc::clone(api),
            Arc::new(Mentions::new(&app.settings.roles)),
            slack::Options {
                alerts_channel: settings.alerts_channel.clone(),
                create_incident_channels: settings.create_incident_channels,
            },
        )),
    };
    let pending = slack.pending().await.map_err(|e| {
        Error::Slack(format!(
            "cannot read the request inbox: {}",
            error_chain(&e)
        ))
    })?;
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
    let socket = match &settings.app_token {
        Some(token) => Some(
            SocketMode::start(Arc::clone(&slack), token)
                .await
                .map_err(Error::Slack)?,
        ),
        None => None,
    };
    let tasks = TaskTracker::new();
    let http = settings
        .signing_secret
        .as_ref()
        .map(|secret| (Arc::clone(&slack), Verifier::new(secret)));
    let state = AppState::new(http, tasks.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let replaying = Arc::clone(&slack);
    tasks.spawn(async move {
        let replayed = replaying.replay(pending).await;
        if replayed > 0 {
            tracing::info!(replayed, "ran requests accepted before the restart");
        }
    });
    let housekeeping = tokio::spawn(prune(app));
    tracing::info!(%addr, "serving");
    Ok(Running {
        addr,
        stop,
        server,
        socket,
        housekeeping,
    })
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
