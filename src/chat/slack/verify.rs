//! Slack request signing: HMAC-SHA256 with the app's signing secret over `v0:{ts}:{body}`,
//! compared in constant time, with the timestamp within five minutes of now.
//!
//! # Guarantees
//! A request that fails here is answered 401 and never reaches the inbox or the engine.
//! Rejections never contain the secret.

use axum::http::HeaderMap;
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::{
    SlackEventSignatureVerifier, SlackEventSignatureVerifierError,
};

use crate::config::Secret;

/// Why a request was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A signing header is absent (or not text).
    #[error("missing {0} header")]
    Missing(&'static str),
    /// The body is not text, so it cannot have been signed by Slack.
    #[error("the body is not UTF-8")]
    Body,
    /// The signature does not match the body, or the timestamp is outside the window.
    #[error("{0}")]
    Invalid(String),
}

/// Checks requests against one signing secret.
pub struct Verifier {
    inner: SlackEventSignatureVerifier,
}

impl Verifier {
    /// A verifier for `secret`.
    pub fn new(secret: &Secret) -> Self {
        Self {
            inner: SlackEventSignatureVerifier::new(&SlackSigningSecret::new(
                secret.expose().to_owned(),
            )),
        }
    }

    /// Checks the `X-Slack-Signature` and `X-Slack-Request-Timestamp` headers against `body`.
    ///
    /// # Errors
    /// [`Rejection`] saying what is wrong (without the secret).
    pub fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(Rejection::Missing(name))
        };
        let signature = header(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER)?;
        let timestamp = header(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP)?;
        let body = std::str::from_utf8(body).map_err(|_| Rejection::Body)?;
        self.inner.verify(signature, body, timestamp).map_err(|e| {
            Rejection::Invalid(
                match e {
                    SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_) => {
                        "the timestamp is expired or not within 5 minutes of now"
                    }
                    SlackEventSignatureVerifierError::CryptoInitError(_) => {
                        "the signing secret is empty"
                    }
                    SlackEventSignatureVerifierError::AbsentSignatureError(_)
                    | SlackEventSignatureVerifierError::WrongSignatureError(_) => {
                        "the signature does not match the body"
                    }
                }
                .into(),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signs like Slack does, with the real HMAC (the test is the counterpart of Slack).
    fn signed(secret: &str, ts: i64, body: &str) -> HeaderMap {
        use slack_morphism::signature_verifier::SlackEventSignatureVerifier as V;
        let signature = crate::chat::slack::sign(secret, ts, body);
        let mut headers = HeaderMap::new();
        headers.insert(V::SLACK_SIGNED_HASH_HEADER, signature.parse().unwrap());
        headers.insert(V::SLACK_SIGNED_TIMESTAMP, ts.to_string().parse().unwrap());
        headers
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn a_request_signed_with_the_secret_passes_and_everything_else_fails() {
        let verifier = Verifier::new(&Secret::new("8f742231b10e8888abcd99yyyzzz85a5"));
        let body = "command=%2Fincident-status&text=";
        let good = signed("8f742231b10e8888abcd99yyyzzz85a5", now(), body);
        assert_eq!(verifier.check(&good, body.as_bytes()), Ok(()));

        let forged = signed("another-secret", now(), body);
        assert!(matches!(
            verifier.check(&forged, body.as_bytes()),
            Err(Rejection::Invalid(_))
        ));
        let tampered = format!("{body}x");
        assert!(verifier.check(&good, tampered.as_bytes()).is_err());
        let stale = signed("8f742231b10e8888abcd99yyyzzz85a5", now() - 301, body);
        let err = verifier.check(&stale, body.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
        assert!(!err.to_string().contains("8f742231"), "{err}");
        let future = signed("8f742231b10e8888abcd99yyyzzz85a5", now() + 301, body);
        assert!(verifier.check(&future, body.as_bytes()).is_err());
        assert_eq!(
            verifier.check(&HeaderMap::new(), body.as_bytes()),
            Err(Rejection::Missing("x-slack-signature"))
        );
        assert_eq!(verifier.check(&good, &[0xff, 0xfe]), Err(Rejection::Body));
    }
}
