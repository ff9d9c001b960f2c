//! The HTTP server of `firewatch serve`: `POST /slack/commands`, `POST /slack/interactions`,
//! `POST /discord/interactions`, and the health routes of [`super::health`]. Handlers answer
//! within milliseconds: they verify, hand the request to its platform's pipeline (which stores
//! it in the inbox and starts it in a task) and answer; nothing here waits for the engine, the
//! cluster or Slack.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use super::health::{self, Health};
use crate::chat::Pipeline;
use crate::chat::discord::interaction::{self, Interaction};
use crate::chat::discord::{self, Discord};
use crate::chat::pipeline::Refusal;
use crate::chat::slack::payload::{self, CommandRequest};
use crate::chat::slack::signature::Verifier;
use crate::chat::slack::{Delivery, Slack};
use crate::incident::Platform;

/// What the handlers share: each platform's pipeline with the verifier of its requests (a
/// platform that is `None` answers 404), and the health routes.
pub struct AppState {
    /// The Slack endpoints.
    pub slack: Option<(Arc<Pipeline<Slack>>, Verifier)>,
    /// The Discord interactions endpoint.
    pub discord: Option<(Arc<Pipeline<Discord>>, discord::signature::Verifier)>,
    /// `/healthz`, `/readyz` and `/metrics`.
    pub health: Health,
}

/// The routes, for tests with `oneshot` and for [`serve`].
pub fn router(state: AppState) -> Router {
    let health = state.health.clone();
    Router::new()
        .route("/slack/commands", post(slack_command))
        .route("/slack/interactions", post(slack_interaction))
        .route("/discord/interactions", post(discord_interaction))
        .with_state(Arc::new(state))
        .merge(health::router(health))
}

/// Serves until `shutdown` completes, then waits up to `grace` for the commands in flight
/// (`tasks`, where the pipelines run them).
///
/// # Errors
/// The listener failed.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    tasks: TaskTracker,
    grace: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    tasks.close();
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!(
            in_flight = tasks.len(),
            "commands still running at shutdown; they stay in the inbox and run again at the next start"
        );
    }
    Ok(())
}

/// Why a request was not taken.
enum Refused {
    NotConfigured(&'static str),
    Unsigned(String),
    Unreadable(String),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::NotConfigured(platform) => (
                StatusCode::NOT_FOUND,
                format!("{platform} is not configured"),
            )
                .into_response(),
            Refused::Unsigned(reason) => {
                tracing::warn!(%reason, "rejected a request without a valid signature");
                (StatusCode::UNAUTHORIZED, "invalid request signature").into_response()
            }
            Refused::Unreadable(reason) => {
                tracing::warn!(%reason, "rejected a signed but unreadable request");
                (StatusCode::BAD_REQUEST, reason).into_response()
            }
        }
    }
}

fn verified_slack<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<&'a Arc<Pipeline<Slack>>, Refused> {
    let (pipeline, verifier) = state
        .slack
        .as_ref()
        .ok_or(Refused::NotConfigured("slack"))?;
    verifier
        .check(headers, body)
        .map_err(|r| Refused::Unsigned(r.to_string()))?;
    Ok(pipeline)
}

async fn slack_command(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refused> {
    let started = Instant::now();
    let slack = verified_slack(&state, &headers, &body)?;
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refused> {
    let started = Instant::now();
    let slack = verified_slack(&state, &headers, &body)?;
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refused> {
    let started = Instant::now();
    let (pipeline, verifier) = state
        .discord
        .as_ref()
        .ok_or(Refused::NotConfigured("discord"))?;
    verifier
        .check(&headers, &body, chrono::Utc::now().timestamp())
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
