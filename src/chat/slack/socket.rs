//! Socket Mode (`slack.app_token` set): the same commands and buttons over Slack's websocket,
//! for teams without a public URL. Deliveries take the same way as over HTTP: inbox, quick
//! acknowledgement, engine in a task.

use std::sync::Arc;

use slack_morphism::prelude::*;

use super::payload::{ACTION_PREFIX, ButtonPress, SlashCommand};
use super::{Delivery, Slack};
use crate::chat::Link;
use crate::chat::Pipeline;
use crate::config::Secret;
use crate::incident::Platform;
use crate::metrics::Metrics;

/// A running Socket Mode connection.
pub struct SocketMode {
    listener: SlackClientSocketModeListener<SlackClientHyperHttpsConnector>,
}

impl SocketMode {
    /// Connects with the app-level token (`xapp-…`) and starts receiving. `link` reports the
    /// connection to `/readyz`: up on Slack's `hello`, down on a socket error until the next
    /// `hello` (slack-morphism reconnects by itself). Acknowledgements are timed into `metrics`.
    ///
    /// # Errors
    /// Slack refused the token or could not be reached.
    pub async fn start(
        slack: Arc<Pipeline<Slack>>,
        app_token: &Secret,
        link: Link,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        let client = slack.adapter().api().client();
        let environment = Arc::new(
            SlackClientEventsListenerEnvironment::new(client)
                .with_error_handler(on_error)
                .with_user_state(Arc::clone(&slack))
                .with_user_state(link)
                .with_user_state(metrics),
        );
        let callbacks = SlackSocketModeListenerCallbacks::new()
            // The hello event's type is not exported by slack-morphism: a closure names it.
            .with_hello_events(|_hello, _client, state| async move { on_hello(state).await })
            .with_command_events(on_command)
            .with_interaction_events(on_interaction);
        let listener = SlackClientSocketModeListener::new(
            &SlackClientSocketModeConfig::new(),
            environment,
            callbacks,
        );
        listener
            .listen_for(&SlackApiToken::new(app_token.expose().into()))
            .await
            .map_err(|e| format!("socket mode: {e}"))?;
        listener.start().await;
        tracing::info!("slack socket mode connected");
        Ok(Self { listener })
    }

    /// Closes the connection.
    pub async fn shutdown(&self) {
        self.listener.shutdown().await;
    }
}

fn on_error(
    error: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> axum::http::StatusCode {
    tracing::warn!(error = %error, "slack socket mode error");
    // A plain `fn` cannot wait for the lock; the state is only ever read after start-up.
    if let Ok(state) = state.try_read()
        && let Some(link) = state.get_user_state::<Link>()
    {
        link.disconnected();
    }
    axum::http::StatusCode::OK
}

async fn on_hello(state: SlackClientEventsUserState) {
    if let Some(link) = state.read().await.get_user_state::<Link>() {
        link.connected();
    }
}

async fn pipeline(state: &SlackClientEventsUserState) -> Option<Arc<Pipeline<Slack>>> {
    state
        .read()
        .await
        .get_user_state::<Arc<Pipeline<Slack>>>()
        .cloned()
}

/// Takes a delivery into the pipeline; the websocket acknowledgement follows at once (timed
/// from the callback's start). What the author is told when it was not taken.
async fn dispatch(
    slack: Arc<Pipeline<Slack>>,
    delivery: Delivery,
    state: &SlackClientEventsUserState,
    started: std::time::Instant,
) -> Option<String> {
    let taken = slack.take(delivery).await;
    if let Some(metrics) = state.read().await.get_user_state::<Arc<Metrics>>() {
        metrics.ack(Platform::Slack, started.elapsed());
    }
    taken.err().map(|refusal| refusal.notice())
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<SlackCommandEventResponse> {
    let started = std::time::Instant::now();
    if let Some(slack) = pipeline(&state).await {
        let command = SlashCommand {
            team_id: event.team_id.0,
            channel_id: event.channel_id.0,
            user_id: event.user_id.0,
            user_name: None,
            command: event.command.0,
            text: event.text.unwrap_or_default(),
            response_url: event.response_url.0.to_string(),
            trigger_id: event.trigger_id.0,
        };
        if let Some(notice) = dispatch(slack, Delivery::Command(command), &state, started).await {
            // A slash command's answer is seen by its author only.
            let answer = SlackMessageContent::new().with_text(notice);
            return Ok(SlackCommandEventResponse::new(answer));
        }
    }
    Ok(SlackCommandEventResponse::new(SlackMessageContent::new()))
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    state: SlackClientEventsUserState,
) -> UserCallbackResult<()> {
    let started = std::time::Instant::now();
    let SlackInteractionEvent::BlockActions(actions) = event else {
        return Ok(());
    };
    let press = (|| {
        let user = actions.user?;
        let channel = actions.channel?;
        let action = actions
            .actions?
            .into_iter()
            .find(|a| a.action_id.0.starts_with(ACTION_PREFIX))?;
        Some(ButtonPress {
            user_id: user.id.0,
            user_name: user.username.or(user.name),
            channel_id: channel.id.0,
            command: action.value?,
            response_url: actions.response_url.map(|u| u.0.to_string()),
            trigger_id: actions.trigger_id.0,
        })
    })();
    if let (Some(press), Some(slack)) = (press, pipeline(&state).await) {
        dispatch(slack, Delivery::Button(press), &state, started).await;
    }
    Ok(())
}
