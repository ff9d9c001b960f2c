//! What Slack's and Discord's request signing share: a signature header, a timestamp header,
//! and a window of time the timestamp must fall in. Both can be judged before the body is read;
//! each platform's `signature` module checks the signature itself once it is.

use axum::http::HeaderMap;

/// Why a request's signing headers were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsigned {
    /// The header named is absent (or not text).
    Missing(&'static str),
    /// The timestamp is not a number within the window.
    Stale,
}

/// A platform's signing headers and window.
pub struct Scheme {
    /// The header holding the signature.
    pub signature: &'static str,
    /// The header holding the Unix time the request was signed at.
    pub timestamp: &'static str,
    /// How far, in seconds, the timestamp may be from now, either way.
    pub window_seconds: u64,
}

impl Scheme {
    /// The signature and the timestamp of a request with `headers`, once both are present and
    /// the timestamp is within the window at `now` (Unix seconds).
    ///
    /// # Errors
    /// [`Unsigned`] saying which is wrong.
    pub fn headers<'h>(
        &self,
        headers: &'h HeaderMap,
        now: i64,
    ) -> Result<(&'h str, &'h str), Unsigned> {
        let header = |name: &'static str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .ok_or(Unsigned::Missing(name))
        };
        let signature = header(self.signature)?;
        let timestamp = header(self.timestamp)?;
        match timestamp.parse::<i64>() {
            Ok(at) if now.abs_diff(at) <= self.window_seconds => Ok((signature, timestamp)),
            _ => Err(Unsigned::Stale),
        }
    }
}
