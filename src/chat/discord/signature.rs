//! Discord request signing: Ed25519 over `timestamp ‖ body` with the application's public key
//! (serenity's `Verifier`), plus a freshness window the Verifier does not check.
//!
//! # Guarantees
//! A request that fails here is answered 401 (Discord sends bad signatures on purpose and drops
//! endpoints that accept them) and never reaches the inbox or the engine.

use axum::http::HeaderMap;
use serenity::interactions_endpoint::Verifier as Ed25519;

/// The oldest (or most future) request timestamp accepted.
pub const WINDOW_SECONDS: i64 = 300;

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

    /// Checks `X-Signature-Ed25519` and `X-Signature-Timestamp` against `body` at `now`
    /// (Unix seconds).
    ///
    /// # Errors
    /// [`Rejection`] saying what is wrong.
    pub fn check(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), Rejection> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(Rejection::Missing(name))
        };
        let signature = header("x-signature-ed25519")?;
        let timestamp = header("x-signature-timestamp")?;
        self.key
            .verify(signature, timestamp, body)
            .map_err(|()| Rejection::Signature)?;
        let at: i64 = timestamp.parse().map_err(|_| Rejection::Stale)?;
        if (now - at).abs() > WINDOW_SECONDS {
            return Err(Rejection::Stale);
        }
        Ok(())
    }
}
