//! The HTTP server of `firewatch serve`: `POST /slack/commands`, `POST /slack/interactions`,
//! `POST /discord/interactions`, `GET /healthz`, and `GET /readyz` and `GET /metrics` from
//! [`crate::app::health`]. Handlers answer within milliseconds: they verify, store the request in
//! the inbox and hand it to a task; nothing here waits for the engine, the cluster or Slack.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;

use crate::app::health::{self, Health};
use crate::chat::discord::interaction::{self, Interaction};
use crate::chat::discord::{self, Discord};
use crate::chat::slack::payload::{self, CommandRequest};
use crate::chat::slack::signature::Verifier;
use crate::chat::slack::{Delivery, Slack};
use crate::error_chain;
use crate::incident::Platform;
use crate::metrics::Metrics;

/// How long shutdown waits for commands in flight unless told ([`AppState::with_grace`]).
const DRAIN: Duration = Duration::from_secs(10);

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    slack: Option<SlackEndpoint>,
    discord: Option<DiscordEndpoint>,
    tasks: TaskTracker,
    health: Option<Health>,
    /// Where acknowledgements are timed.
    metrics: Arc<Metrics>,
    grace: Duration,
}

#[derive(Clone)]
struct DiscordEndpoint {
    adapter: Arc<Discord>,
    verifier: Arc<discord::signature::Verifier>,
}

#[derive(Clone)]
struct SlackEndpoint {
    adapter: Arc<Slack>,
    verifier: Arc<Verifier>,
}

impl AppState {
    /// State with the Slack endpoints when `slack` is given (otherwise they answer 404).
    pub fn new(slack: Option<(Arc<Slack>, Verifier)>, tasks: TaskTracker) -> Self {
        Self {
            slack: slack.map(|(adapter, verifier)| SlackEndpoint {
                adapter,
                verifier: Arc::new(verifier),
            }),
            discord: None,
            tasks,
            health: None,
            metrics: Arc::new(Metrics::default()),
            grace: DRAIN,
        }
    }

    /// Adds `GET /readyz` and `GET /metrics`; acknowledgements are timed into its metrics.
    pub fn with_health(mut self, health: Health) -> Self {
        self.metrics = Arc::clone(health.metrics());
        self.health = Some(health);
        self
    }

    /// How long [`serve`] waits for commands in flight once told to stop.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Adds the Discord interactions endpoint.
    pub fn with_discord(
        mut self,
        adapter: Arc<Discord>,
        verifier: discord::signature::Verifier,
    ) -> Self {
        self.discord = Some(DiscordEndpoint {
            adapter,
            verifier: Arc::new(verifier),
        });
        self
    }
}

/// The routes, for tests with `oneshot` and for [`serve`].
pub fn router(state: AppState) -> Router {
    let health = state.health.clone();
    let routes = Router::new()
        .route("/slack/commands", post(slack_command))
        .route("/slack/interactions", post(slack_interaction))
        .route("/discord/interactions", post(discord_interaction))
        // Shared behind one `Arc`: axum clones the state for every request, and a clone of
        // `AppState` itself bumps a dozen reference counts that both acknowledging threads share.
        .with_state(Arc::new(state));
    match health {
        Some(health) => routes.merge(health::router(health)),
        None => routes.route("/healthz", get(|| async { "ok" })),
    }
}

/// Serves until `shutdown` completes, then waits (bounded) for commands in flight.
///
/// # Errors
/// The listener failed.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tasks = state.tasks.clone();
    let grace = state.grace;
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
    /// The body could not be read (too large, or the connection failed), as axum's `Bytes`
    /// extractor answers it.
    Body(BytesRejection),
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
            Refused::Body(rejection) => rejection.into_response(),
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

/// A request's headers and body, read as the `HeaderMap` and `Bytes` extractors would (the same
/// body limit and rejection) but without copying the headers: every acknowledgement pays for
/// what this path allocates.
async fn headers_and_body(request: Request) -> Result<(HeaderMap, Bytes), Refused> {
    let (mut parts, body) = request.into_parts();
    let headers = std::mem::take(&mut parts.headers);
    let body = Bytes::from_request(Request::from_parts(parts, body), &())
        .await
        .map_err(Refused::Body)?;
    Ok((headers, body))
}

fn verified<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<&'a SlackEndpoint, Refused> {
    let endpoint = state
        .slack
        .as_ref()
        .ok_or(Refused::NotConfigured("slack"))?;
    endpoint
        .verifier
        .check(headers, body)
        .map_err(|r| Refused::Unsigned(r.to_string()))?;
    Ok(endpoint)
}

async fn slack_command(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, Refused> {
    let started = Instant::now();
    let (headers, body) = headers_and_body(request).await?;
    let endpoint = verified(&state, &headers, &body)?;
    let command = match payload::command_request(&body) {
        Ok(CommandRequest::Command(command)) => command,
        // Slack checks the certificate of a new request URL with a signed `ssl_check=1` request.
        Ok(CommandRequest::CertificateCheck) => return Ok(StatusCode::OK.into_response()),
        Err(e) => return Err(Refused::Unreadable(e.to_string())),
    };
    let answer = take(endpoint, Delivery::Command(command)).await;
    state.metrics.ack(Platform::Slack, started.elapsed());
    Ok(answer)
}

async fn slack_interaction(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, Refused> {
    let started = Instant::now();
    let (headers, body) = headers_and_body(request).await?;
    let endpoint = verified(&state, &headers, &body)?;
    match payload::button_press(&body).map_err(|e| Refused::Unreadable(e.to_string()))? {
        Some(press) => {
            let answer = take(endpoint, Delivery::Button(press)).await;
            state.metrics.ack(Platform::Slack, started.elapsed());
            Ok(answer)
        }
        None => Ok(StatusCode::OK.into_response()),
    }
}

/// Stores the delivery and starts it; the answer to Slack does not wait for it.
async fn take(endpoint: &SlackEndpoint, delivery: Delivery) -> Response {
    match endpoint.adapter.accept(&delivery).await {
        Ok(true) => {
            endpoint.adapter.submit(delivery);
            StatusCode::OK.into_response()
        }
        Ok(false) => {
            tracing::info!(request = %delivery.key(), "redelivered request ignored");
            StatusCode::OK.into_response()
        }
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "could not store a slack request");
            Json(serde_json::json!({
                "response_type": "ephemeral",
                "text": "⚠️ firewatch could not record that (its store is unavailable). \
                         Nothing was changed; try again in a moment.",
            }))
            .into_response()
        }
    }
}

async fn discord_interaction(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, Refused> {
    let started = Instant::now();
    let (headers, body) = headers_and_body(request).await?;
    let endpoint = state
        .discord
        .as_ref()
        .ok_or(Refused::NotConfigured("discord"))?;
    endpoint
        .verifier
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
    let answer = discord::deferral(&call);
    match endpoint.adapter.accept(&call).await {
        Ok(true) => endpoint.adapter.submit(call),
        Ok(false) => tracing::info!(interaction = %call.id, "redelivered interaction ignored"),
        Err(e) => {
            tracing::error!(error = %error_chain(&e), "could not store a discord interaction");
            return Ok(Json(json!({
                "type": 4,
                "data": {
                    "flags": 64,
                    "content": "⚠️ firewatch could not record that (its store is unavailable). \
                                Nothing was changed; try again in a moment.",
                },
            }))
            .into_response());
        }
    }
    state.metrics.ack(Platform::Discord, started.elapsed());
    Ok(Json(answer).into_response())
}
