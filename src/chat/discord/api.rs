//! The Discord REST API, as firewatch uses it: interaction callbacks, edits and follow-ups (by
//! interaction token), channel messages and command registration (by bot token). Messages
//! ([`DiscordApi::deliver`]) are sent once here: the outbox ([`super::outbox`]) retries them.
//! The other calls retry 429 answers after Discord's `retry_after`, a bounded number of times.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::chat::cards::Cards;
use crate::config::Secret;
use crate::message::{Attachment, Card, shorten};

/// Why a REST call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Discord answered with an error.
    #[error("discord answered {status}: {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// Discord's message (never the token).
        message: String,
    },
    /// Still rate limited after the retries (none for calls tried once).
    #[error("discord answered 429 (rate limited){}", after_retries(*retries))]
    RateLimited {
        /// How often the call was retried.
        retries: usize,
        /// How long Discord asked to wait (`retry_after`).
        wait: Duration,
    },
    /// Discord could not be reached.
    #[error("discord could not be reached: {0}")]
    Transport(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

fn after_retries(retries: usize) -> String {
    match retries {
        0 => String::new(),
        n => format!(" after {n} retries"),
    }
}

const RETRIES: usize = 3;
const LONGEST_WAIT: Duration = Duration::from_secs(30);
const TIMEOUT: Duration = Duration::from_secs(15);

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A channel, posted as the bot (needs the bot token).
    Channel(String),
    /// The deferred answer of the interaction with this token, replaced.
    Original(String),
    /// A follow-up message of the interaction with this token.
    FollowUp(String),
    /// The deferred answer of the interaction with this token, deleted (a public "thinking…"
    /// whose only answer turned out to be for its author).
    Withdrawn(String),
}

/// What a call sends.
#[derive(Clone, Copy)]
enum Body<'a> {
    /// A JSON body.
    Json(&'a Value),
    /// A message with a file attached (multipart).
    WithFile(&'a Value, &'a Attachment),
}

/// A REST client for one application.
pub struct DiscordApi {
    http: reqwest::Client,
    base: String,
    token: Option<Secret>,
    application_id: String,
    /// Card key → the channel, id and body of its first message.
    cards: Cards,
}

impl DiscordApi {
    /// A client for the API under `api_url` (`https://discord.com`, or `http://…` for a fake).
    ///
    /// # Errors
    /// [`Error::Client`] when the TLS client cannot be built.
    pub fn new(api_url: &str, application_id: &str, token: Option<&Secret>) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent("DiscordBot (https://github.com/firewatch, 0.1)")
            .build()
            .map_err(|e| Error::Client(e.to_string()))?;
        Ok(Self {
            http,
            base: format!("{}/api/v10", api_url.trim_end_matches('/')),
            token: token.cloned(),
            application_id: application_id.to_owned(),
            cards: Cards::default(),
        })
    }

    /// Remembers card messages in `store`, so a step taken on another replica, or after a
    /// restart, edits them too.
    pub fn keep_cards_in(&self, store: std::sync::Arc<dyn crate::store::Store>) {
        self.cards.keep_in(store);
    }

    /// Answers an interaction received over the gateway (over HTTP the answer is the response).
    pub async fn callback(&self, id: &str, token: &str, body: &Value) -> Result<(), Error> {
        let path = format!("/interactions/{id}/{token}/callback");
        self.call(Method::POST, &path, Some(Body::Json(body)), false)
            .await
            .map(drop)
    }

    /// Sends `body` (with `file` attached, if given) to `target` once, without retrying a 429:
    /// returns the message as Discord answers it.
    pub async fn deliver(
        &self,
        target: &Target,
        body: &Value,
        file: Option<&Attachment>,
    ) -> Result<Value, Error> {
        let app = &self.application_id;
        let (method, path, bot) = match target {
            Target::Channel(channel) => {
                (Method::POST, format!("/channels/{channel}/messages"), true)
            }
            Target::Original(token) => (
                Method::PATCH,
                format!("/webhooks/{app}/{token}/messages/@original"),
                false,
            ),
            Target::FollowUp(token) => (Method::POST, format!("/webhooks/{app}/{token}"), false),
            Target::Withdrawn(token) => {
                let path = format!("/webhooks/{app}/{token}/messages/@original");
                return self.calling(Method::DELETE, &path, None, false, 0).await;
            }
        };
        let body = match file {
            Some(file) => Body::WithFile(body, file),
            None => Body::Json(body),
        };
        self.calling(method, &path, Some(body), bot, 0).await
    }

    /// Follows a card (an approval request's progress): remembers the card's first message from
    /// Discord's answer `posted`, and on later steps edits it as the bot — the step added to its
    /// embed, and the buttons removed once `closed`. Cards are remembered in the store
    /// ([`DiscordApi::keep_cards_in`]), so any replica edits them, also after a restart.
    pub async fn card_step(&self, card: &Card, posted: &Value, body: &Value, step: &str) {
        let (Some(channel), Some(id)) = (posted["channel_id"].as_str(), posted["id"].as_str())
        else {
            return;
        };
        let known = self.cards.get(&card.key).await;
        let Some(first) =
            known.and_then(|v| serde_json::from_value::<(String, String, Value)>(v).ok())
        else {
            let first = serde_json::json!([channel, id, body]);
            self.cards.put(&card.key, first).await;
            return;
        };
        let (channel, id, mut updated) = first;
        if self.token.is_none() {
            return;
        }
        let embed = &mut updated["embeds"][0];
        let mut description = embed["description"].as_str().unwrap_or_default().to_owned();
        description.push_str(&format!("\n• {}", super::embed::escape(step)));
        embed["description"] = Value::String(shorten(description.trim_start(), 4_096));
        if card.closed {
            updated["components"] = serde_json::json!([]);
        }
        let path = format!("/channels/{channel}/messages/{id}");
        let edit = serde_json::json!({"embeds": updated["embeds"], "components": updated.get("components").cloned().unwrap_or(serde_json::json!([]))});
        match self
            .call(Method::PATCH, &path, Some(Body::Json(&edit)), true)
            .await
        {
            Ok(_) => {
                let first = serde_json::json!([channel, id, updated]);
                self.cards.put(&card.key, first).await;
            }
            Err(e) => {
                tracing::warn!(card = %card.key, error = %e, "could not update a card message")
            }
        }
    }

    /// Replaces every command of the application (globally, or in one guild); returns what
    /// Discord now has.
    pub async fn overwrite_commands(
        &self,
        guild: Option<&str>,
        commands: &Value,
    ) -> Result<Value, Error> {
        let path = match guild {
            Some(guild) => format!(
                "/applications/{}/guilds/{guild}/commands",
                self.application_id
            ),
            None => format!("/applications/{}/commands", self.application_id),
        };
        self.call(Method::PUT, &path, Some(Body::Json(commands)), true)
            .await
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Body<'_>>,
        bot: bool,
    ) -> Result<Value, Error> {
        self.calling(method, path, body, bot, RETRIES).await
    }

    /// One call, retrying a 429 after Discord's wait up to `most` times.
    async fn calling(
        &self,
        method: Method,
        path: &str,
        body: Option<Body<'_>>,
        bot: bool,
        most: usize,
    ) -> Result<Value, Error> {
        let url = format!("{}{path}", self.base);
        let mut retries = 0;
        loop {
            let mut request = self.http.request(method.clone(), &url);
            if bot {
                let token = self.token.as_ref().ok_or_else(|| Error::Api {
                    status: 401,
                    message: "discord.bot_token is not set".into(),
                })?;
                request = request.header("authorization", format!("Bot {}", token.expose()));
            }
            match body {
                Some(Body::Json(json)) => {
                    request = request
                        .header("content-type", "application/json")
                        .body(json.to_string());
                }
                // Discord's attachment form: the message as payload_json, the file as files[0].
                // Built again for each attempt (a form is consumed by sending it).
                Some(Body::WithFile(json, file)) => {
                    let mut json = json.clone();
                    json["attachments"] = serde_json::json!([{"id": 0, "filename": file.name}]);
                    let part = reqwest::multipart::Part::bytes(file.content.as_bytes().to_vec())
                        .file_name(file.name.clone())
                        .mime_str("text/markdown")
                        .map_err(|e| Error::Client(e.to_string()))?;
                    let form = reqwest::multipart::Form::new()
                        .text("payload_json", json.to_string())
                        .part("files[0]", part);
                    request = request.multipart(form);
                }
                None => {}
            }
            // Errors are described without the URL: it can hold an interaction token.
            let response = request
                .send()
                .await
                .map_err(|e| Error::Transport(e.without_url().to_string()))?;
            let status = response.status();
            let header_wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<f64>().ok());
            let text = response
                .text()
                .await
                .map_err(|e| Error::Transport(e.without_url().to_string()))?;
            let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if status == StatusCode::TOO_MANY_REQUESTS {
                let seconds = json["retry_after"].as_f64().or(header_wait).unwrap_or(1.0);
                let wait = Duration::from_secs_f64(seconds.clamp(0.0, LONGEST_WAIT.as_secs_f64()));
                if retries == most {
                    return Err(Error::RateLimited { retries, wait });
                }
                retries += 1;
                tracing::warn!(
                    wait_ms = wait.as_millis() as u64,
                    retries,
                    "discord rate limited us; waiting"
                );
                tokio::time::sleep(wait).await;
                continue;
            }
            if !status.is_success() {
                let message = json["message"].as_str().map_or_else(
                    || status.canonical_reason().unwrap_or("error").to_owned(),
                    str::to_owned,
                );
                return Err(Error::Api {
                    status: status.as_u16(),
                    message,
                });
            }
            return Ok(json);
        }
    }
}
