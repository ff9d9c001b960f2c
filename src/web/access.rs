//! Who reads the internal pages: the user an authenticating proxy names in `web.user_header`,
//! or a `[[web.users]]` entry signed in with HTTP Basic authentication. Without either the
//! internal pages are off (404); a request without an identity gets 401 (with a Basic
//! challenge when Basic authentication is configured).
//!
//! # Guarantees
//! - A password is checked against its argon2 hash (constant-time); a name not listed is
//!   checked against a hash too, so answers take as long for unknown names as for wrong
//!   passwords. Credentials that matched are remembered by their SHA-256 digest only, so a
//!   browser's repeated requests do not pay for argon2 each time.

use std::collections::HashSet;
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::password;
use crate::config::WebSettings;

/// How many matched credentials are remembered before the memory starts afresh.
const REMEMBERED: usize = 256;

/// How people are identified.
pub enum Access {
    /// The internal pages are off.
    Off,
    /// A proxy names the user in this header.
    Header(axum::http::HeaderName),
    /// HTTP Basic authentication against these users.
    Basic {
        /// Each user's name and hash.
        users: Vec<(String, String)>,
        /// Digests of credentials that matched.
        matched: Mutex<HashSet<[u8; 32]>>,
    },
}

/// Why a request may not read an internal page.
#[derive(Debug)]
pub enum Denied {
    /// The internal pages are off.
    Off,
    /// No identity, or a wrong one.
    Unauthorized {
        /// Whether to ask for Basic credentials.
        challenge: bool,
    },
}

impl IntoResponse for Denied {
    fn into_response(self) -> Response {
        match self {
            Denied::Off => (
                StatusCode::NOT_FOUND,
                "the internal pages are off: set web.user_header or [[web.users]]",
            )
                .into_response(),
            Denied::Unauthorized { challenge } => {
                let mut response =
                    (StatusCode::UNAUTHORIZED, "sign in to read this page").into_response();
                if challenge {
                    response.headers_mut().insert(
                        header::WWW_AUTHENTICATE,
                        HeaderValue::from_static("Basic realm=\"firewatch\", charset=\"UTF-8\""),
                    );
                }
                response
            }
        }
    }
}

impl Access {
    /// From `[web]` (already checked by the config).
    pub fn new(settings: &WebSettings) -> Self {
        if let Some(name) = settings
            .user_header
            .as_deref()
            .and_then(|h| axum::http::HeaderName::from_bytes(h.as_bytes()).ok())
        {
            return Access::Header(name);
        }
        if settings.users.is_empty() {
            return Access::Off;
        }
        Access::Basic {
            users: settings
                .users
                .iter()
                .map(|u| (u.name.clone(), u.password_hash.clone()))
                .collect(),
            matched: Mutex::new(HashSet::new()),
        }
    }

    /// Who sent `headers`.
    ///
    /// # Errors
    /// [`Denied`] when the pages are off or the request names nobody allowed.
    pub async fn user(&self, headers: &HeaderMap) -> Result<String, Denied> {
        match self {
            Access::Off => Err(Denied::Off),
            Access::Header(name) => headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .ok_or(Denied::Unauthorized { challenge: false }),
            Access::Basic { users, matched } => {
                let denied = Denied::Unauthorized { challenge: true };
                let (name, secret) =
                    basic(headers).ok_or(Denied::Unauthorized { challenge: true })?;
                let digest: [u8; 32] = Sha256::digest(format!("{name}:{secret}")).into();
                let remembered = matched.lock().map(|m| m.contains(&digest)).unwrap_or(false);
                if remembered {
                    return Ok(name);
                }
                let listed = users.iter().find(|(n, _)| *n == name);
                // An unknown name is checked against a listed hash, as long as a known one.
                // argon2 takes tens of milliseconds: it runs off the request threads.
                let hash = listed.or(users.first()).map(|(_, h)| h.clone());
                let matched_hash = match hash {
                    Some(hash) => {
                        tokio::task::spawn_blocking(move || password::matches(&secret, &hash))
                            .await
                            .unwrap_or(false)
                    }
                    None => false,
                };
                let ok = matched_hash && listed.is_some();
                if !ok {
                    return Err(denied);
                }
                if let Ok(mut m) = matched.lock() {
                    if m.len() >= REMEMBERED {
                        m.clear();
                    }
                    m.insert(digest);
                }
                Ok(name)
            }
        }
    }
}

/// The name and password of a Basic `Authorization` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, secret) = text.split_once(':')?;
    Some((name.to_owned(), secret.to_owned()))
}
