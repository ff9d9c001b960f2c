//! `firewatch serve`: builds the chat pipelines the settings enable (Slack over HTTP and/or
//! Socket Mode, Discord over HTTP or the gateway) and the alert notifications' (with
//! `alerts.token`), binds the HTTP server, runs again what the inbox holds from before a
//! restart, keeps the inbox pruned, and sends what the outbox holds (from this process, an
//! earlier one, or a replica that is gone).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;

use super::App;
use super::alerts::{Alerts, Endpoint};
use super::health::Health;
use super::http::{self, AppState};
use super::pagers::{self, PagerNews};
use crate::approval;
use crate::chat::discord::{self, Discord};
use crate::chat::slack::signature::Verifier;
use crate::chat::slack::socket::SocketMode;
use crate::chat::slack::{self, Slack};
use crate::chat::{Adapter, Pipeline, Served};
use crate::config::DiscordMode;
use crate::delivery::Sending;
use crate::engine::Outbox;
use crate::error_chain;
use crate::store::Inbound;

/// How often done requests are pruned, and how long they are kept (Slack and Discord stop
/// redelivering within minutes).
const PRUNE_EVERY: Duration = Duration::from_secs(600);
const KEEP_DONE: chrono::TimeDelta = chrono::TimeDelta::hours(1);

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
    server: JoinHandle<()>,
    socket: Option<SocketMode>,
    background: Vec<JoinHandle<()>>,
    slack: Option<Arc<Pipeline<Slack>>>,
    discord: Option<Arc<Pipeline<Discord>>>,
    sending: Sending,
    alerts: Option<Arc<Pipeline<Alerts>>>,
    pagers: Option<Arc<Pipeline<PagerNews>>>,
}

impl Running {
    /// Stops taking requests (the HTTP listener, Socket Mode, the Discord gateway), waits up to
    /// `server.shutdown_grace` for the commands in flight to be committed and answered, sends
    /// what they stored in the outbox once more, and returns. A command still running then
    /// stays in the inbox and runs at the next start; a post not delivered stays in the outbox.
    ///
    /// # Errors
    /// The server's task panicked.
    pub async fn stop(self) -> std::io::Result<()> {
        // What has not started stays in the inbox for the next start; what runs finishes.
        if let Some(slack) = &self.slack {
            slack.close();
        }
        if let Some(discord) = &self.discord {
            discord.close();
        }
        if let Some(alerts) = &self.alerts {
            alerts.close();
        }
        if let Some(pagers) = &self.pagers {
            pagers.close();
        }
        let _ = self.stop.send(());
        if let Some(socket) = &self.socket {
            socket.shutdown().await;
        }
        // The gateway, the inbox upkeep and pruning: nothing in them needs finishing (an
        // interaction the gateway took runs as a tracked task of its own).
        for task in &self.background {
            task.abort();
        }
        let served = self.server.await.map_err(std::io::Error::other);
        self.sending.stop().await;
        served
    }
}

/// The Slack pipeline, when Slack is configured.
fn slack_pipeline(app: &App, tasks: &TaskTracker) -> Result<Option<Arc<Pipeline<Slack>>>, Error> {
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
    let api = match (
        &app.slack_api,
        &settings.signing_secret,
        &settings.app_token,
    ) {
        (None, None, None) => return Ok(None),
        (None, _, _) => {
            return Err(Error::Incomplete(
                "slack.bot_token is not set, so firewatch could not answer in Slack: set \
                 FIREWATCH__SLACK__BOT_TOKEN"
                    .into(),
            ));
        }
        (Some(_), None, None) => {
            return Err(Error::Incomplete(
                "slack.signing_secret is not set, so Slack's requests cannot be verified: set \
                 FIREWATCH__SLACK__SIGNING_SECRET (or slack.app_token for Socket Mode)"
                    .into(),
            ));
        }
        (Some(api), _, _) => Arc::clone(api),
    };
    let adapter = Slack::new(
        api,
        Arc::clone(&app.posts),
        Arc::clone(&app.engine),
        Arc::clone(&app.outbox) as Arc<dyn Outbox>,
        Arc::new(approval::roles(&app.settings.roles, &app.settings.people)),
        slack::Options {
            alerts_channel: settings.alerts_channel.clone(),
            create_incident_channels: settings.create_incident_channels,
            teams: Served::new(&settings.team_ids),
        },
    );
    Ok(Some(pipeline(app, adapter, tasks)))
}

/// The Discord pipeline and, over HTTP, the request verifier (none in gateway mode).
type DiscordParts = (Arc<Pipeline<Discord>>, Option<discord::signature::Verifier>);

fn discord_pipeline(app: &App, tasks: &TaskTracker) -> Result<Option<DiscordParts>, Error> {
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
    let verifier = match settings.mode {
        DiscordMode::Http => {
            let key = settings.public_key.as_deref().ok_or_else(|| {
                Error::Incomplete(
                    "discord.public_key is not set, so Discord's requests cannot be verified"
                        .into(),
                )
            })?;
            let verifier = discord::signature::Verifier::new(key)
                .map_err(|e| Error::Incomplete(e.to_string()))?;
            Some(verifier)
        }
        DiscordMode::Gateway if settings.bot_token.is_none() => {
            return Err(Error::Incomplete(
                "discord.mode = \"gateway\" needs discord.bot_token (FIREWATCH__DISCORD__BOT_TOKEN)"
                    .into(),
            ));
        }
        DiscordMode::Gateway => None,
    };
    let adapter = Discord::new(
        Arc::clone(api),
        Arc::clone(&app.posts),
        Arc::clone(&app.outbox) as Arc<dyn Outbox>,
        Arc::new(approval::roles(&app.settings.roles, &app.settings.people)),
        Served::new(&settings.guild_ids),
    );
    Ok(Some((pipeline(app, adapter, tasks), verifier)))
}

/// The alert notifications' pipeline and endpoint, when `alerts.token` is set.
fn alerts_pipeline(app: &App, tasks: &TaskTracker) -> Option<(Arc<Pipeline<Alerts>>, Endpoint)> {
    let settings = &app.settings.alerts;
    let token = settings.token.clone()?;
    let adapter = Alerts::new(
        Arc::clone(&app.engine),
        Arc::clone(&app.outbox) as Arc<dyn Outbox>,
    );
    let pipeline = pipeline(app, adapter, tasks);
    let endpoint = Endpoint::new(Arc::clone(&pipeline), token, settings.max_body);
    Some((pipeline, endpoint))
}

/// The pagers' webhooks pipeline and endpoint, when a webhook secret is set.
fn pagers_pipeline(
    app: &App,
    tasks: &TaskTracker,
) -> Option<(Arc<Pipeline<PagerNews>>, pagers::Endpoint)> {
    let pagerduty = app.settings.pagerduty.webhook_secret.clone();
    let opsgenie = &app.settings.opsgenie;
    let opsgenie = opsgenie
        .webhook_token
        .clone()
        .map(|token| (opsgenie.webhook_header.to_ascii_lowercase(), token));
    if pagerduty.is_none() && opsgenie.is_none() {
        return None;
    }
    let adapter = PagerNews::new(
        Arc::clone(&app.engine),
        Arc::clone(&app.outbox) as Arc<dyn Outbox>,
    );
    let pipeline = pipeline(app, adapter, tasks);
    let endpoint = pagers::Endpoint::new(Arc::clone(&pipeline), pagerduty, opsgenie);
    Some((pipeline, endpoint))
}

fn pipeline<A: Adapter>(app: &App, adapter: A, tasks: &TaskTracker) -> Arc<Pipeline<A>> {
    Pipeline::new(
        adapter,
        Arc::clone(&app.engine),
        Arc::clone(&app.store),
        Arc::clone(&app.clock),
        tasks.clone(),
    )
}

/// What the inbox holds from before the start for `pipeline` (read before taking requests).
async fn pending<A: Adapter>(pipeline: Option<&Arc<Pipeline<A>>>) -> Result<Vec<Inbound>, Error> {
    match pipeline {
        Some(p) => p.pending().await.map_err(|e| {
            Error::Incomplete(format!(
                "cannot read the request inbox: {}",
                error_chain(&e)
            ))
        }),
        None => Ok(Vec::new()),
    }
}

/// Replays `pending` in a tracked task, then keeps the pipeline's inbox moving until shutdown.
fn resume<A: Adapter>(
    pipeline: &Arc<Pipeline<A>>,
    pending: Vec<Inbound>,
    tasks: &TaskTracker,
) -> JoinHandle<()> {
    let replaying = Arc::clone(pipeline);
    tasks.spawn(async move {
        let ran = replaying.replay(pending).await;
        if ran > 0 {
            tracing::info!(
                platform = A::PREFIX,
                ran,
                "ran requests accepted before the restart"
            );
        }
    });
    tokio::spawn(Arc::clone(pipeline).upkeep())
}

/// Starts serving `app` on `listen` (`127.0.0.1:0` picks a free port).
///
/// # Errors
/// [`Error`] when no platform is configured, one is half configured, or the address is taken.
pub async fn start(app: &App, listen: &str) -> Result<Running, Error> {
    for warning in super::warnings::warnings(&app.settings) {
        tracing::warn!("{warning}");
    }
    let tasks = TaskTracker::new();
    let slack = slack_pipeline(app, &tasks)?;
    let discord = discord_pipeline(app, &tasks)?;
    if slack.is_none() && discord.is_none() {
        return Err(Error::NoPlatform);
    }
    let (alerts, endpoint) = alerts_pipeline(app, &tasks).unzip();
    let slack_pending = pending(slack.as_ref()).await?;
    let discord_pending = pending(discord.as_ref().map(|(d, _)| d)).await?;
    let alerts_pending = pending(alerts.as_ref()).await?;
    let (pagers, pagers_endpoint) = pagers_pipeline(app, &tasks).unzip();
    let pagers_pending = pending(pagers.as_ref()).await?;
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
    let health = Health::new(
        Arc::clone(&app.store),
        app.readiness.clone(),
        Arc::clone(&app.metrics),
    );
    let limits = http::Limits::from(&app.settings.server);
    let mut state = AppState {
        slack: None,
        discord: None,
        alerts: endpoint,
        pagers: pagers_endpoint,
        health,
        bodies: http::body::Bodies::new(limits.body_timeout, http::body::BODY_BUDGET),
        web: crate::web::Web::new(
            Arc::clone(&app.store),
            Arc::clone(&app.engine),
            Arc::clone(&app.clock),
            &app.settings,
        )
        .map(crate::web::router),
    };
    if let (Some(slack), Some(secret)) = (&slack, &app.settings.slack.signing_secret) {
        state.slack = Some((Arc::clone(slack), Verifier::new(secret)));
    }
    let mut background = vec![tokio::spawn(prune(app))];
    if let Some((discord, verifier)) = &discord {
        match verifier {
            Some(verifier) => state.discord = Some((Arc::clone(discord), verifier.clone())),
            None => background.push(gateway(app, Arc::clone(discord))),
        }
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let grace = Duration::from_secs(app.settings.server.shutdown_grace.as_secs());
    let server = tokio::spawn(http::serve(
        listener,
        state,
        limits,
        tasks.clone(),
        grace,
        async move {
            let _ = stopped.await;
        },
    ));
    if let Some(slack) = &slack {
        background.push(resume(slack, slack_pending, &tasks));
    }
    if let Some((discord, _)) = &discord {
        background.push(resume(discord, discord_pending, &tasks));
    }
    let sending = app.posts.start();
    if let Some(alerts) = &alerts {
        background.push(resume(alerts, alerts_pending, &tasks));
    }
    if let Some(pagers) = &pagers {
        background.push(resume(pagers, pagers_pending, &tasks));
    }
    tracing::info!(%addr, "serving");
    Ok(Running {
        addr,
        stop,
        server,
        socket,
        background,
        slack,
        discord: discord.map(|(pipeline, _)| pipeline),
        sending,
        alerts,
        pagers,
    })
}

/// Takes Discord interactions over the gateway until shutdown.
fn gateway(app: &App, discord: Arc<Pipeline<Discord>>) -> JoinHandle<()> {
    let token = app.settings.discord.bot_token.clone();
    let api_url = app.settings.discord.api_url.clone();
    let link = app.readiness.link("discord gateway");
    let metrics = Arc::clone(&app.metrics);
    tokio::spawn(async move {
        let Some(token) = token else { return };
        let run = discord::gateway::run(discord, &token, &api_url, link, metrics);
        if let Err(e) = run.await {
            tracing::error!(error = %e, "the discord gateway stopped");
        }
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
