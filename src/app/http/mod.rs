//! The HTTP server of `firewatch serve`: `POST /slack/commands`, `POST /slack/interactions`,
//! `POST /discord/interactions`, `POST /alerts/alertmanager` ([`super::alerts`]), and the health
//! routes of [`super::health`], and the web pages of [`crate::web`] when enabled. Handlers answer
//! within milliseconds: they verify, hand the request to its platform's pipeline (which stores
//! it in the inbox and starts it in a task) and answer; nothing here waits for the engine, the
//! cluster or Slack. [`connections`] accepts connections and times them out; [`body`] reads a
//! signed request's body (its limit, and the checks made before it is read).

pub mod body;
pub mod connections;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use super::alerts;
use super::health::{self, Health};
use crate::chat::Pipeline;
use crate::chat::discord::interaction::{self, Interaction};
use crate::chat::discord::{self, Discord};
use crate::chat::pipeline::Refusal;
use crate::chat::slack::payload::{self, CommandRequest};
use crate::chat::slack::signature::Verifier;
use crate::chat::slack::{Delivery, Slack};
use crate::config::ServerSettings;
use crate::incident::Platform;
use body::CHAT_BODY_LIMIT;

/// What the handlers share: each platform's pipeline with the verifier of its requests (a
/// platform that is `None` answers 404), the health routes, and how bodies are read.
pub struct AppState {
    /// The Slack endpoints.
    pub slack: Option<(Arc<Pipeline<Slack>>, Verifier)>,
    /// The Discord interactions endpoint.
    pub discord: Option<(Arc<Pipeline<Discord>>, discord::signature::Verifier)>,
    /// The alert notifications' endpoint (`None`: off, 404).
    pub alerts: Option<alerts::Endpoint>,
    /// The pagers' webhooks (`None`: off, 404).
    pub pagers: Option<super::pagers::Endpoint>,
    /// `/healthz`, `/readyz` and `/metrics`.
    pub health: Health,
    /// How signed requests' bodies are read: within `server.body_timeout` and one budget.
    pub bodies: body::Bodies,
    /// The web pages' routes ([`crate::web`]), when `[web]` enables them.
    pub web: Option<Router>,
}

/// What the server holds every connection to (`[server]`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `server.header_timeout`.
    pub header_timeout: Duration,
    /// `server.body_timeout`.
    pub body_timeout: Duration,
    /// `server.idle_timeout`.
    pub idle_timeout: Duration,
    /// `server.max_connections`.
    pub max_connections: usize,
}

impl From<&ServerSettings> for Limits {
    fn from(server: &ServerSettings) -> Self {
        let seconds = |interval: crate::interval::Interval| Duration::from_secs(interval.as_secs());
        Self {
            header_timeout: seconds(server.header_timeout),
            body_timeout: seconds(server.body_timeout),
            idle_timeout: seconds(server.idle_timeout),
            max_connections: server.max_connections,
        }
    }
}

/// The routes, for tests with `oneshot` and for [`serve`].
pub fn router(mut state: AppState) -> Router {
    let health = state.health.clone();
    let alerts = alerts::router(state.alerts.take(), state.bodies.clone());
    let web = state.web.take().unwrap_or_default();
    let pagers = super::pagers::router(state.pagers.take(), state.bodies.clone());
    Router::new()
        .route("/slack/commands", post(slack_command))
        .route("/slack/interactions", post(slack_interaction))
        .route("/discord/interactions", post(discord_interaction))
        .with_state(Arc::new(state))
        .merge(alerts)
        .merge(pagers)
        .merge(health::router(health))
        .merge(web)
}

/// Serves until `shutdown` completes, within `limits` ([`connections`]), then waits up to
/// `grace` for the requests being answered and the commands in flight (`tasks`, where the
/// pipelines run them).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    limits: Limits,
    tasks: TaskTracker,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    connections::serve(listener, router(state), limits, tasks, grace, shutdown).await;
}

/// Why a request was not taken.
#[derive(Debug)]
pub enum Refused {
    /// The platform is not configured (404).
    NotConfigured(&'static str),
    /// The signature is missing, stale or wrong (401).
    Unsigned(String),
    /// Signed, but not a request firewatch reads (400).
    Unreadable(String),
    /// The body is over the route's limit, in bytes (413).
    TooLarge(usize),
    /// The body did not arrive within the body timeout (408).
    Slow(Duration),
    /// The client broke off while sending the body (400).
    BrokenOff(String),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Refused::NotConfigured(platform) => (
                StatusCode::NOT_FOUND,
                format!("{platform} is not configured"),
            ),
            Refused::Unsigned(reason) => {
                tracing::warn!(%reason, "rejected a request without a valid signature");
                (StatusCode::UNAUTHORIZED, "invalid request signature".into())
            }
            Refused::Unreadable(reason) => {
                tracing::warn!(%reason, "rejected a signed but unreadable request");
                (StatusCode::BAD_REQUEST, reason)
            }
            Refused::TooLarge(limit) => {
                tracing::warn!(limit, "rejected a request body over the limit");
                let text = format!("the request body is over {} KiB", limit / 1024);
                return closing(StatusCode::PAYLOAD_TOO_LARGE, text);
            }
            Refused::Slow(timeout) => {
                tracing::warn!(
                    ?timeout,
                    "rejected a request body that did not arrive in time"
                );
                let text = format!("the request body did not arrive within {timeout:?}");
                return closing(StatusCode::REQUEST_TIMEOUT, text);
            }
            Refused::BrokenOff(reason) => {
                tracing::debug!(%reason, "a client broke off while sending a body");
                return closing(
                    StatusCode::BAD_REQUEST,
                    "the request body was cut off".into(),
                );
            }
        };
        (status, text).into_response()
    }
}

/// An answer after which the connection is closed: its request's body was not read to the end.
fn closing(status: StatusCode, text: String) -> Response {
    (status, [(header::CONNECTION, "close")], text).into_response()
}

/// The body of a Slack request once its signature is verified, and the Slack pipeline.
async fn verified_slack(
    state: &AppState,
    request: Request,
) -> Result<(&Arc<Pipeline<Slack>>, axum::body::Bytes), Refused> {
    let (pipeline, verifier) = state
        .slack
        .as_ref()
        .ok_or(Refused::NotConfigured("slack"))?;
    let (headers, body) = state
        .bodies
        .read(request, CHAT_BODY_LIMIT, |headers| {
            verifier.check_headers(headers).map_err(|r| r.to_string())
        })
        .await?;
    verifier
        .check(&headers, &body)
        .map_err(|r| Refused::Unsigned(r.to_string()))?;
    Ok((pipeline, body))
}

async fn slack_command(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, Refused> {
    let started = Instant::now();
    let (slack, body) = verified_slack(&state, request).await?;
    let command = match payload::command_request(&body) {
        Ok(CommandRequest::Command(command)) => command,
        // Slack checks the certificate of a new request URL with a signed `ssl_check=1` request.
        Ok(CommandRequest::CertificateCheck) => return Ok(StatusCode::OK.into_response()),
        Err(e) => return Err(Refused::Unreadable(e.to_string())),
    };
    Ok(take_slack(&state, slack, Delivery::Command(command), started).await)
}

async fn slack_interaction(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, Refused> {
    let started = Instant::now();
    let (slack, body) = verified_slack(&state, request).await?;
    let press = payload::button_press(&body).map_err(|e| Refused::Unreadable(e.to_string()))?;
    let Some(press) = press else {
        return Ok(StatusCode::OK.into_response());
    };
    Ok(take_slack(&state, slack, Delivery::Button(press), started).await)
}

/// Hands the delivery to the pipeline, and times the answer from `started`; the answer to Slack
/// does not wait for it to run. A refusal is told to the author in an ephemeral answer; a button
/// press from a workspace firewatch does not serve gets 403 (Slack shows no answer to a button
/// press, but marks the button as failed).
async fn take_slack(
    state: &AppState,
    slack: &Arc<Pipeline<Slack>>,
    delivery: Delivery,
    started: Instant,
) -> Response {
    let button = matches!(delivery, Delivery::Button(_));
    let taken = slack.take(delivery).await;
    state
        .health
        .metrics()
        .ack(Platform::Slack, started.elapsed());
    match taken {
        Ok(_) => StatusCode::OK.into_response(),
        Err(refusal @ Refusal::NotServed(_)) if button => {
            (StatusCode::FORBIDDEN, refusal.notice()).into_response()
        }
        Err(refusal) => {
            Json(json!({"response_type": "ephemeral", "text": refusal.notice()})).into_response()
        }
    }
}

async fn discord_interaction(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, Refused> {
    let started = Instant::now();
    let (pipeline, verifier) = state
        .discord
        .as_ref()
        .ok_or(Refused::NotConfigured("discord"))?;
    // The timestamp is judged as of the request's arrival, before and after the body.
    let now = chrono::Utc::now().timestamp();
    let (headers, body) = state
        .bodies
        .read(request, CHAT_BODY_LIMIT, |headers| {
            verifier
                .check_headers(headers, now)
                .map_err(|r| r.to_string())
        })
        .await?;
    verifier
        .check(&headers, &body, now)
        .map_err(|r| Refused::Unsigned(r.to_string()))?;
    let call = match interaction::read(&body).map_err(|e| Refused::Unreadable(e.to_string()))? {
        Interaction::Ping => return Ok(Json(json!({"type": 1})).into_response()),
        Interaction::Other => {
            return Err(Refused::Unreadable(
                "firewatch does not handle this interaction".into(),
            ));
        }
        Interaction::Call(call) => call,
    };
    let deferral = discord::deferral(&call);
    if let Err(refusal) = pipeline.take(call).await {
        return Ok(Json(discord::refusal(&refusal.notice())).into_response());
    }
    state
        .health
        .metrics()
        .ack(Platform::Discord, started.elapsed());
    Ok(Json(deferral).into_response())
}
