//! Discord request signing: Ed25519 over `timestamp ‖ body` with the application's public key
//! (serenity's `Verifier`), plus a freshness window the Verifier does not check.
//!
//! # Guarantees
//! A request that fails here is answered 401 (Discord sends bad signatures on purpose and drops
//! endpoints that accept them) and never reaches the inbox or the engine; one whose headers
//! already fail ([`Verifier::check_headers`]) is refused before its body is read.

use axum::http::HeaderMap;
use serenity::interactions_endpoint::Verifier as Ed25519;

use crate::chat::signing::{Scheme, Unsigned};

/// The oldest (or most future) request timestamp accepted.
pub const WINDOW_SECONDS: i64 = 300;
/// The header with the hex Ed25519 signature.
pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
/// The header with the timestamp the request was signed at.
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
const SCHEME: Scheme = Scheme {
    signature: SIGNATURE_HEADER,
    timestamp: TIMESTAMP_HEADER,
    window_seconds: WINDOW_SECONDS.unsigned_abs(),
};

/// Why a request was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// A signing header is absent.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// The signature does not verify.
    #[error("the signature does not match the body")]
    Signature,
    /// The timestamp is not a number within the window.
    #[error("the timestamp is not within {WINDOW_SECONDS} seconds of now")]
    Stale,
}

/// Why a public key is unusable.
#[derive(Debug, thiserror::Error)]
#[error("discord.public_key must be the application's 64-digit hex Ed25519 public key")]
pub struct BadKey;

/// Checks requests against the application's public key.
#[derive(Clone)]
pub struct Verifier {
    key: Ed25519,
}

impl Verifier {
    /// A verifier for the hex public key from the Developer Portal.
    ///
    /// # Errors
    /// [`BadKey`] when it is not 32 bytes of hex or not a valid Ed25519 point.
    pub fn new(public_key_hex: &str) -> Result<Self, BadKey> {
        let bytes: [u8; 32] = hex::decode(public_key_hex.trim())
            .map_err(|_| BadKey)?
            .try_into()
            .map_err(|_| BadKey)?;
        Ok(Self {
            key: Ed25519::try_new(bytes).map_err(|_| BadKey)?,
        })
    }

    /// Checks what can be checked before the body is read, at `now` (Unix seconds): both
    /// signing headers are present and the timestamp is within the window. A request that
    /// passes still needs [`Verifier::check`] once its body is in.
    ///
    /// # Errors
    /// [`Rejection`] saying what is wrong.
    pub fn check_headers(&self, headers: &HeaderMap, now: i64) -> Result<(), Rejection> {
        signing_headers(headers, now).map(|_| ())
    }

    /// Checks `X-Signature-Ed25519` and `X-Signature-Timestamp` against `body` at `now`
    /// (Unix seconds): the headers as [`Verifier::check_headers`] does, then the signature.
    ///
    /// # Errors
    /// [`Rejection`] saying what is wrong.
    pub fn check(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), Rejection> {
        let (signature, timestamp) = signing_headers(headers, now)?;
        self.key
            .verify(signature, timestamp, body)
            .map_err(|()| Rejection::Signature)
    }
}

/// The signature and the timestamp, once both are present and the timestamp is within the
/// window at `now`.
fn signing_headers(headers: &HeaderMap, now: i64) -> Result<(&str, &str), Rejection> {
    SCHEME
        .headers(headers, now)
        .map_err(|unsigned| match unsigned {
            Unsigned::Missing(name) => Rejection::Missing(name),
            Unsigned::Stale => Rejection::Stale,
        })
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer, SigningKey};

    use super::*;

    const NOW: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"type":1}"#;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn verifier() -> Verifier {
        Verifier::new(&hex::encode(key().verifying_key().as_bytes())).unwrap()
    }

    /// Headers as Discord sends them: the timestamp, and the signature of `timestamp ‖ body`
    /// by `key`.
    fn signed(key: &SigningKey, ts: &str, body: &[u8]) -> HeaderMap {
        let signature = key.sign(&[ts.as_bytes(), body].concat());
        let mut headers = HeaderMap::new();
        headers.insert(
            SIGNATURE_HEADER,
            hex::encode(signature.to_bytes()).parse().unwrap(),
        );
        headers.insert(TIMESTAMP_HEADER, ts.parse().unwrap());
        headers
    }

    #[test]
    fn a_signed_fresh_request_passes_and_a_forged_or_tampered_one_fails_after_its_body() {
        let good = signed(&key(), &NOW.to_string(), BODY);
        assert_eq!(verifier().check(&good, BODY, NOW), Ok(()));
        let forged = signed(&SigningKey::from_bytes(&[8; 32]), &NOW.to_string(), BODY);
        // The headers alone cannot tell: both pass before the body, and only one after.
        assert_eq!(verifier().check_headers(&forged, NOW), Ok(()));
        assert_eq!(
            verifier().check(&forged, BODY, NOW),
            Err(Rejection::Signature)
        );
        assert_eq!(
            verifier().check(&good, br#"{"type":2}"#, NOW),
            Err(Rejection::Signature)
        );
    }

    #[test]
    fn missing_headers_and_stale_timestamps_are_refused_before_the_body_as_after_it() {
        let good = signed(&key(), &NOW.to_string(), BODY);
        let without = |name: &str| {
            let mut headers = good.clone();
            headers.remove(name);
            headers
        };
        for (headers, missing) in [
            (without(SIGNATURE_HEADER), SIGNATURE_HEADER),
            (without(TIMESTAMP_HEADER), TIMESTAMP_HEADER),
        ] {
            assert_eq!(
                verifier().check_headers(&headers, NOW),
                Err(Rejection::Missing(missing))
            );
            assert_eq!(
                verifier().check(&headers, BODY, NOW),
                Err(Rejection::Missing(missing))
            );
        }
        // The window's edges pass; a second past them, a word, or the furthest i64 does not
        // (the last without overflowing).
        for at in [NOW - WINDOW_SECONDS, NOW + WINDOW_SECONDS] {
            let headers = signed(&key(), &at.to_string(), BODY);
            assert_eq!(verifier().check_headers(&headers, NOW), Ok(()));
            assert_eq!(verifier().check(&headers, BODY, NOW), Ok(()));
        }
        let far = [
            (NOW - WINDOW_SECONDS - 1).to_string(),
            (NOW + WINDOW_SECONDS + 1).to_string(),
            "soon".into(),
            i64::MIN.to_string(),
        ];
        for ts in far {
            let headers = signed(&key(), &ts, BODY);
            assert_eq!(
                verifier().check_headers(&headers, NOW),
                Err(Rejection::Stale),
                "{ts}"
            );
            assert_eq!(
                verifier().check(&headers, BODY, NOW),
                Err(Rejection::Stale),
                "{ts}"
            );
        }
    }
}
