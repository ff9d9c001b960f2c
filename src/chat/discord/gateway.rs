//! Gateway mode (`discord.mode = "gateway"`): interactions arrive over serenity's websocket
//! client instead of the HTTP endpoint, for teams without a public URL. No intents are needed
//! for interactions, so none are requested. Each interaction then takes the same way as over
//! HTTP: read, inbox, deferred answer (here through the REST callback), engine in a task.

use std::sync::Arc;

use serenity::all::{
    ClientBuilder, ConnectionStage, Context, EventHandler, GatewayIntents, HttpBuilder,
    Interaction, Ready, ShardStageUpdateEvent,
};
use serenity::async_trait;

use super::Discord;
use super::interaction::{self, Interaction as Read};
use crate::chat::Link;
use crate::chat::Pipeline;
use crate::config::Secret;
use crate::incident::Platform;
use crate::metrics::Metrics;

struct Handler {
    discord: Arc<Pipeline<Discord>>,
    link: Link,
    metrics: Arc<Metrics>,
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, _ctx: Context, _ready: Ready) {
        self.link.connected();
    }

    async fn shard_stage_update(&self, _ctx: Context, event: ShardStageUpdateEvent) {
        match event.new {
            ConnectionStage::Connected => self.link.connected(),
            _ => self.link.disconnected(),
        }
    }

    async fn interaction_create(&self, _ctx: Context, event: Interaction) {
        let started = std::time::Instant::now();
        // serenity serialises the interaction without its `type`; put it back for the reader.
        let kind = match &event {
            Interaction::Command(_) => 2,
            Interaction::Component(_) => 3,
            _ => return,
        };
        let raw = match serde_json::to_value(&event) {
            Ok(mut value) => {
                value["type"] = kind.into();
                value.to_string().into_bytes()
            }
            Err(e) => return tracing::warn!(error = %e, "unreadable gateway interaction"),
        };
        let call = match interaction::read(&raw) {
            Ok(Read::Call(call)) => call,
            Ok(_) => return,
            Err(e) => return tracing::warn!(error = %e, "unreadable gateway interaction"),
        };
        match self.discord.accept(&call).await {
            Ok(Some(claim)) => {
                // Deferred before the engine runs: its answer edits the deferral.
                let deferral = super::deferral(&call);
                if let Err(e) = self
                    .discord
                    .adapter()
                    .api()
                    .callback(&call.id, &call.token, &deferral)
                    .await
                {
                    tracing::warn!(error = %e, "could not defer the interaction");
                }
                self.metrics.ack(Platform::Discord, started.elapsed());
                self.discord.start(claim, call);
            }
            Ok(None) => tracing::info!(interaction = %call.id, "redelivered; ignored"),
            Err(refusal) => {
                let answer = super::refusal(&refusal.notice());
                let api = self.discord.adapter().api();
                if let Err(e) = api.callback(&call.id, &call.token, &answer).await {
                    tracing::warn!(error = %e, "could not tell why an interaction was not taken");
                }
            }
        }
    }
}

/// Connects to the gateway with the bot token and handles interactions until the process ends
/// (or the task is aborted at shutdown). `link` reports the connection to `/readyz`: up on
/// `READY`, down while serenity reconnects. Deferrals are timed into `metrics`.
///
/// # Errors
/// The client could not be built or the gateway refused the token.
pub async fn run(
    discord: Arc<Pipeline<Discord>>,
    token: &Secret,
    api_url: &str,
    link: Link,
    metrics: Arc<Metrics>,
) -> Result<(), String> {
    let mut http = HttpBuilder::new(token.expose());
    if api_url.trim_end_matches('/') != "https://discord.com" {
        // serenity's rate limiter ignores a proxy unless it is disabled (API-NOTES).
        http = http
            .proxy(api_url.trim_end_matches('/'))
            .ratelimiter_disabled(true);
    }
    let mut client = ClientBuilder::new_with_http(http.build(), GatewayIntents::empty())
        .event_handler(Handler {
            discord,
            link: link.clone(),
            metrics,
        })
        .await
        .map_err(|e| format!("discord gateway: {e}"))?;
    let ended = client
        .start()
        .await
        .map_err(|e| format!("discord gateway: {e}"));
    link.disconnected();
    ended
}
