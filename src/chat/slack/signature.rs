//! Slack request signing: HMAC-SHA256 with the app's signing secret over `v0:{ts}:{body}`,
//! compared in constant time, with the timestamp within five minutes of now.
//!
//! # Guarantees
//! A request that fails here is answered 401 and never reaches the inbox or the engine; one
//! whose headers already fail ([`Verifier::check_headers`]) is refused before its body is read.
//! Rejections never contain the secret.

use axum::http::HeaderMap;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::chat::signing::{Scheme, Unsigned};
use crate::config::Secret;

/// The header with `v0=<hex HMAC>`.
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// The header with the Unix time the request was signed at.
pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
/// Slack's signing headers, and how far a request's timestamp may be from now (5 minutes).
const SCHEME: Scheme = Scheme {
    signature: SIGNATURE_HEADER,
    timestamp: TIMESTAMP_HEADER,
    window_seconds: 5 * 60,
};

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
    Invalid(&'static str),
}

/// Checks requests against one signing secret.
pub struct Verifier {
    /// The HMAC keyed with the secret, cloned for each request; `None` when the secret is
    /// empty, which Slack never signs with.
    keyed: Option<Hmac<Sha256>>,
}

impl Verifier {
    /// A verifier for `secret`.
    pub fn new(secret: &Secret) -> Self {
        let secret = secret.expose().as_bytes();
        Self {
            keyed: (!secret.is_empty())
                .then(|| Hmac::new_from_slice(secret).expect("HMAC takes keys of any size")),
        }
    }

    /// Checks what can be checked before the body is read: both signing headers are present
    /// and the timestamp is within five minutes of now. A request that passes still needs
    /// [`Verifier::check`] once its body is in.
    ///
    /// # Errors
    /// [`Rejection`] saying what is wrong.
    pub fn check_headers(&self, headers: &HeaderMap) -> Result<(), Rejection> {
        signing_headers(headers, chrono::Utc::now().timestamp()).map(|_| ())
    }

    /// Checks the `X-Slack-Signature` and `X-Slack-Request-Timestamp` headers against `body`:
    /// the headers as [`Verifier::check_headers`] does, then the signature in constant time.
    ///
    /// # Errors
    /// [`Rejection`] saying what is wrong (without the secret).
    pub fn check(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), Rejection> {
        self.check_at(headers, body, chrono::Utc::now().timestamp())
    }

    fn check_at(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), Rejection> {
        let (signature, timestamp) = signing_headers(headers, now)?;
        std::str::from_utf8(body).map_err(|_| Rejection::Body)?;
        let mut mac = self
            .keyed
            .clone()
            .ok_or(Rejection::Invalid("the signing secret is empty"))?;
        let mismatch = Rejection::Invalid("the signature does not match the body");
        let mut claimed = [0; 32];
        let hex = signature.strip_prefix("v0=").ok_or(mismatch.clone())?;
        hex::decode_to_slice(hex, &mut claimed).map_err(|_| mismatch.clone())?;
        mac.update(b"v0:");
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(body);
        mac.verify_slice(&claimed).map_err(|_| mismatch)
    }
}

/// The signature and the timestamp, once both are present and the timestamp is within the
/// window at `now`.
fn signing_headers(headers: &HeaderMap, now: i64) -> Result<(&str, &str), Rejection> {
    SCHEME
        .headers(headers, now)
        .map_err(|unsigned| match unsigned {
            Unsigned::Missing(name) => Rejection::Missing(name),
            Unsigned::Stale => {
                Rejection::Invalid("the timestamp is expired or not within 5 minutes of now")
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Signs like Slack does, with the real HMAC (the test is the counterpart of Slack).
    fn signed(secret: &str, ts: i64, body: &str) -> HeaderMap {
        signed_at(secret, &ts.to_string(), body)
    }

    /// [`signed`] with the timestamp as the header carries it.
    fn signed_at(secret: &str, ts: &str, body: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let signature = crate::chat::slack::sign_text(secret, ts, body);
        headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
        headers.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
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

    #[test]
    fn a_malformed_signature_an_empty_secret_and_the_window_edges_are_judged_like_slack() {
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let verifier = Verifier::new(&Secret::new(secret));
        let body = "command=%2Fincident-status&text=";
        let at = 1_700_000_000;
        let good = signed(secret, at, body);
        let invalid = |headers: &HeaderMap, now: i64| match verifier.check_at(
            headers,
            body.as_bytes(),
            now,
        ) {
            Err(Rejection::Invalid(reason)) => reason,
            other => panic!("{other:?}"),
        };
        // Five minutes either way pass, a second more does not.
        assert_eq!(verifier.check_at(&good, body.as_bytes(), at + 300), Ok(()));
        assert_eq!(verifier.check_at(&good, body.as_bytes(), at - 300), Ok(()));
        assert!(invalid(&good, at + 301).contains("expired"));
        assert!(invalid(&good, at - 301).contains("expired"));
        // A timestamp that is not a number, or as far from now as an i64 goes, is refused
        // (signed with the secret, so only the window can refuse it).
        for ts in ["soon", "-9223372036854775808"] {
            let mut headers = good.clone();
            let signature = crate::chat::slack::sign_text(secret, ts, body);
            headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
            headers.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
            assert!(invalid(&headers, at).contains("expired"), "{ts}");
        }
        let signature = good[SIGNATURE_HEADER].to_str().unwrap().to_owned();
        let with = |signature: &str| {
            let mut headers = good.clone();
            headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
            headers
        };
        // The same MAC in capitals is the same signature; anything else is not.
        assert_eq!(
            verifier.check_at(
                &with(&signature.to_uppercase().replace("V0=", "v0=")),
                body.as_bytes(),
                at
            ),
            Ok(())
        );
        for forged in [
            signature.trim_start_matches("v0=").to_owned(),
            signature.replace("v0=", "v1="),
            signature[..signature.len() - 2].to_owned(),
            format!("{signature}00"),
            format!("{}zz", &signature[..signature.len() - 2]),
            "v0=".to_owned(),
        ] {
            assert!(
                invalid(&with(&forged), at).contains("does not match"),
                "{forged}"
            );
        }
        let unkeyed = Verifier::new(&Secret::new(""));
        assert_eq!(
            unkeyed.check_at(&good, body.as_bytes(), at),
            Err(Rejection::Invalid("the signing secret is empty"))
        );
    }

    #[test]
    fn the_headers_are_judged_before_the_body_and_by_the_same_rules_as_the_whole_request() {
        let secret = "8f742231b10e8888abcd99yyyzzz85a5";
        let verifier = Verifier::new(&Secret::new(secret));
        let body = "command=%2Fincident-status&text=";
        // Present and fresh: the headers pass, whatever the signature says (the body decides).
        let forged = signed("another-secret", now(), body);
        assert_eq!(verifier.check_headers(&forged), Ok(()));
        assert!(verifier.check(&forged, body.as_bytes()).is_err());
        let mut unsigned = forged.clone();
        unsigned.remove(SIGNATURE_HEADER);
        let mut untimed = forged.clone();
        untimed.remove(TIMESTAMP_HEADER);
        for (headers, missing) in [
            (&HeaderMap::new(), SIGNATURE_HEADER),
            (&unsigned, SIGNATURE_HEADER),
            (&untimed, TIMESTAMP_HEADER),
        ] {
            assert_eq!(
                verifier.check_headers(headers),
                Err(Rejection::Missing(missing))
            );
            assert_eq!(
                verifier.check(headers, body.as_bytes()),
                Err(Rejection::Missing(missing))
            );
        }
        // Out of the window, or not a time at all: refused before the body, with the reason
        // the whole check gives.
        for ts in [
            (now() - 301).to_string(),
            (now() + 301).to_string(),
            "soon".into(),
            i64::MIN.to_string(),
        ] {
            let mut headers = signed(secret, now(), body);
            headers.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
            let early = verifier.check_headers(&headers).unwrap_err();
            assert!(early.to_string().contains("expired"), "{ts}: {early}");
            let signed = signed_at(secret, &ts, body);
            assert_eq!(verifier.check(&signed, body.as_bytes()), Err(early), "{ts}");
        }
    }
}
