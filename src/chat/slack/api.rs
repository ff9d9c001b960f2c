//! The Slack Web API, as firewatch uses it: post into channels, answer through `response_url`,
//! post ephemeral messages, create and join incident channels. Posts into channels and file
//! uploads are tried once here: the outbox ([`super::outbox`]) retries them. The other calls
//! retry 429 answers after Slack's `Retry-After`, a bounded number of times.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnectorBuilder;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

use super::blocks;
use crate::chat::cards::Cards;
use crate::config::Secret;
use crate::message::Card;
use crate::store::Store;

/// Why a Web API call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The HTTPS client could not be built.
    #[error("cannot load the system's CA certificates: {0}")]
    Certificates(#[source] std::io::Error),
    /// Slack answered with an error code (`not_in_channel`, `channel_not_found`, …).
    #[error("slack answered {0}")]
    Api(String),
    /// Still rate limited after the retries (none for calls tried once).
    #[error("slack answered 429 (rate limited){}", after_retries(*retries))]
    RateLimited {
        /// How often the call was retried.
        retries: usize,
        /// How long Slack asked to wait (`Retry-After`).
        wait: Option<Duration>,
    },
    /// Slack (or a proxy in front of it) answered an HTTP error status: a 500, a 503 ….
    #[error("slack answered HTTP {0}")]
    Http(u16),
    /// Slack could not be reached or answered something unreadable.
    #[error("slack could not be reached: {0}")]
    Transport(String),
}

fn after_retries(retries: usize) -> String {
    match retries {
        0 => String::new(),
        n => format!(" after {n} retries"),
    }
}

/// How often a 429 is retried, and the longest wait honoured (a longer one is a failure now).
const RETRIES: usize = 3;
const LONGEST_WAIT: Duration = Duration::from_secs(30);
/// How long one call may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

type Connector = SlackClientHyperHttpsConnector;

/// A Web API client with the bot token.
pub struct SlackApi {
    client: Arc<SlackClient<Connector>>,
    token: SlackApiToken,
    /// The first message of each card (approval requests), to update.
    cards: Cards,
}

/// Where an answer only the caller sees goes: the command's `response_url` (valid 30 minutes),
/// else an ephemeral message to `user` in `channel`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReplyTo {
    /// The command's `response_url`, when it came with one.
    pub response_url: Option<String>,
    /// The channel the command was typed in.
    pub channel: String,
    /// Who typed it.
    pub user: String,
}

/// A posted message, as it can be updated.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Posted {
    channel: String,
    ts: String,
    body: serde_json::Value,
}

impl SlackApi {
    /// A client for the Web API at `api_url` (`https://slack.com/api/`, or `http://…` for a
    /// local fake) with the bot token.
    ///
    /// # Errors
    /// [`Error::Certificates`] when the system's CA certificates cannot be loaded.
    pub fn new(api_url: &str, token: &Secret) -> Result<Self, Error> {
        let https = HttpsConnectorBuilder::new()
            .with_tls_config(crate::tls::native_roots().map_err(Error::Certificates)?)
            .https_or_http()
            .enable_http1()
            .build();
        let connector = SlackClientHyperConnector::with_connector(https)
            .with_slack_api_url(api_url.trim_end_matches('/'));
        Ok(Self {
            client: Arc::new(SlackClient::new(connector)),
            token: SlackApiToken::new(token.expose().into()),
            cards: Cards::default(),
        })
    }

    /// Remembers card messages in `store`, so a step taken on another replica, or after a
    /// restart, edits them too.
    pub fn keep_cards_in(&self, store: Arc<dyn Store>) {
        self.cards.keep_in(store);
    }

    /// The underlying client (Socket Mode runs on it).
    pub fn client(&self) -> Arc<SlackClient<Connector>> {
        Arc::clone(&self.client)
    }

    /// Follows card `card` (an approval request's progress) after its message `json` (saying
    /// `step`) was posted into `channel` as `ts`: the card's first message is remembered, and a
    /// later step is added to it as a status line (a closing step also removes its buttons).
    /// Cards are remembered in the store ([`SlackApi::keep_cards_in`]), so any replica updates
    /// them, also after a restart. Best effort: a failed update is logged.
    pub async fn follow_card(
        &self,
        card: &Card,
        channel: &str,
        ts: &str,
        json: serde_json::Value,
        step: &str,
    ) {
        self.update_card(&card.key, card.closed, channel, ts, json, step)
            .await;
    }

    async fn update_card(
        &self,
        key: &str,
        closed: bool,
        channel: &str,
        ts: &str,
        json: serde_json::Value,
        step: &str,
    ) {
        let known = self.cards.get(key).await;
        let Some(first) = known.and_then(|v| serde_json::from_value::<Posted>(v).ok()) else {
            let posted = Posted {
                channel: channel.to_owned(),
                ts: ts.to_owned(),
                body: json,
            };
            if let Ok(value) = serde_json::to_value(&posted) {
                self.cards.put(key, value).await;
            }
            return;
        };
        if first.channel != channel {
            return;
        }
        let Some(body) = blocks::with_status(&first.body, step, closed) else {
            return;
        };
        let request = SlackApiChatUpdateRequest::new(
            first.channel.as_str().into(),
            blocks::content(body.clone()),
            first.ts.as_str().into(),
        );
        let session = self.client.open_session(&self.token);
        match retrying(|| session.chat_update(&request)).await {
            Ok(_) => {
                if let Ok(value) = serde_json::to_value(Posted { body, ..first }) {
                    self.cards.put(key, value).await;
                }
            }
            Err(e) => tracing::warn!(card = key, error = %e, "could not update a card message"),
        }
    }

    /// Posts into a channel, once; returns the message's `ts`.
    pub async fn post(&self, channel: &str, content: SlackMessageContent) -> Result<String, Error> {
        let request = SlackApiChatPostMessageRequest::new(channel.into(), content);
        let session = self.client.open_session(&self.token);
        let posted = once(|| session.chat_post_message(&request)).await?;
        Ok(posted.ts.0)
    }

    /// Posts a message only `user` sees in `channel`.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        content: SlackMessageContent,
    ) -> Result<(), Error> {
        let request = SlackApiChatPostEphemeralRequest::new(channel.into(), user.into(), content);
        let session = self.client.open_session(&self.token);
        retrying(|| session.chat_post_ephemeral(&request)).await?;
        Ok(())
    }

    /// Shows `content` to the caller only (`response_url`, else an ephemeral message).
    pub async fn answer(&self, to: &ReplyTo, content: SlackMessageContent) -> Result<(), Error> {
        match &to.response_url {
            Some(url) => self.respond(url, content).await,
            None => self.post_ephemeral(&to.channel, &to.user, content).await,
        }
    }

    /// Answers through a command's `response_url`: only the caller sees it.
    pub async fn respond(
        &self,
        response_url: &str,
        content: SlackMessageContent,
    ) -> Result<(), Error> {
        let url = response_url
            .parse()
            .map_err(|e| Error::Transport(format!("response_url is not a URL: {e}")))?;
        // Never replace the message a button sits on: answers are new ephemeral messages.
        let request = SlackApiPostWebhookMessageRequest::new(content).with_replace_original(false);
        retrying(|| self.client.post_webhook_message(&url, &request)).await?;
        Ok(())
    }

    /// Uploads a text file into a channel, each call once (Slack's external-upload flow: get an
    /// upload URL, send the bytes, complete the upload shared to the channel; a file whose
    /// upload is not completed is never shown).
    pub async fn upload(&self, channel: &str, name: &str, content: &str) -> Result<(), Error> {
        let session = self.client.open_session(&self.token);
        let slot_request =
            SlackApiFilesGetUploadUrlExternalRequest::new(name.into(), content.len());
        let slot = once(|| session.get_upload_url_external(&slot_request)).await?;
        let bytes = SlackApiFilesUploadViaUrlRequest::new(
            slot.upload_url.clone(),
            content.as_bytes().to_vec(),
            "text/markdown".into(),
        );
        once(|| session.files_upload_via_url(&bytes)).await?;
        let complete = SlackApiFilesCompleteUploadExternalRequest::new(vec![
            SlackApiFilesComplete::new(slot.file_id.clone()).with_title(name.into()),
        ])
        .with_channel_id(channel.into());
        once(|| session.files_complete_upload_external(&complete)).await?;
        Ok(())
    }

    /// A person's handle (`users.info`), for deliveries that arrive without it (Socket Mode).
    pub async fn user_name(&self, user: &str) -> Result<Option<String>, Error> {
        let request = SlackApiUsersInfoRequest::new(user.into());
        let session = self.client.open_session(&self.token);
        let info = retrying(|| session.users_info(&request)).await?;
        Ok(info.user.name)
    }

    /// Creates a public channel; returns its id.
    pub async fn create_channel(&self, name: &str) -> Result<String, Error> {
        let request = SlackApiConversationsCreateRequest::new(name.into());
        let session = self.client.open_session(&self.token);
        let created = retrying(|| session.conversations_create(&request)).await?;
        Ok(created.channel.id.0)
    }

    /// Invites users into a channel. Slack refuses the whole call when one id is bad, so a
    /// failed call is retried one user at a time; returns who could not be invited, and why.
    pub async fn invite(&self, channel: &str, users: &[String]) -> Vec<(String, Error)> {
        if users.is_empty() {
            return Vec::new();
        }
        let session = self.client.open_session(&self.token);
        let invite = |users: Vec<SlackUserId>| {
            let request = SlackApiConversationsInviteRequest::new(channel.into(), users);
            let session = &session;
            async move { retrying(|| session.conversations_invite(&request)).await }
        };
        if invite(users.iter().map(|u| u.as_str().into()).collect())
            .await
            .is_ok()
        {
            return Vec::new();
        }
        let mut left_out = Vec::new();
        for user in users {
            match invite(vec![user.as_str().into()]).await {
                Ok(_) => {}
                Err(Error::Api(code)) if code == "already_in_channel" => {}
                Err(e) => left_out.push((user.clone(), e)),
            }
        }
        left_out
    }
}

/// Runs a call, sleeping through 429s as Slack asks (bounded).
async fn retrying<T, F, Fut>(call: F) -> Result<T, Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ClientResult<T>>,
{
    calling(call, RETRIES).await
}

/// Runs a call once: a 429 comes back as [`Error::RateLimited`] with Slack's wait.
async fn once<T, F, Fut>(call: F) -> Result<T, Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ClientResult<T>>,
{
    calling(call, 0).await
}

/// Runs a call, retrying a 429 after Slack's wait up to `most` times.
async fn calling<T, F, Fut>(call: F, most: usize) -> Result<T, Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = ClientResult<T>>,
{
    let mut retries = 0;
    loop {
        let Ok(answer) = tokio::time::timeout(CALL_TIMEOUT, call()).await else {
            return Err(Error::Transport(format!(
                "no answer within {} s",
                CALL_TIMEOUT.as_secs()
            )));
        };
        match answer {
            Ok(value) => return Ok(value),
            Err(SlackClientError::RateLimitError(limit)) => {
                let wait = limit.retry_after;
                let sleep = wait.unwrap_or(Duration::from_secs(1));
                if retries == most || sleep > LONGEST_WAIT {
                    return Err(Error::RateLimited { retries, wait });
                }
                retries += 1;
                tracing::warn!(
                    wait_s = sleep.as_secs(),
                    retries,
                    "slack rate limited us; waiting"
                );
                tokio::time::sleep(sleep).await;
            }
            Err(SlackClientError::ApiError(e)) => return Err(Error::Api(e.code)),
            Err(SlackClientError::HttpError(e)) => return Err(Error::Http(e.status_code.as_u16())),
            Err(other) => return Err(Error::Transport(other.to_string())),
        }
    }
}
