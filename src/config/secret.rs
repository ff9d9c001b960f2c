//! Secrets (tokens, signing keys): held so that they never reach a log line or a message.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret string. `Debug`, `Display` and `Serialize` all print `[redacted]`;
/// only [`Secret::expose`] reveals it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call it only where the value goes to its one legitimate use.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[redacted]")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// A store URL (`sqlite://PATH`, `postgres://USER:PASSWORD@HOST/DB`). It reads as the URL
/// (`Deref<Target = str>`), but `Display`, `Debug` and `Serialize` hide the password:
/// `postgres://firewatch:***@db/firewatch`.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreUrl(String);

impl StoreUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }
}

impl std::ops::Deref for StoreUrl {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<&str> for StoreUrl {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for StoreUrl {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&without_password(&self.0))
    }
}

impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({:?})", without_password(&self.0))
    }
}

impl Serialize for StoreUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&without_password(&self.0))
    }
}

impl<'de> Deserialize<'de> for StoreUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(StoreUrl)
    }
}

/// `url` with the password of its `user:password@` part (if any) replaced by `***`; also hides
/// `password=` query parameters. Anything else is left as it is.
pub fn without_password(url: &str) -> std::borrow::Cow<'_, str> {
    let mut shown = std::borrow::Cow::Borrowed(url);
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            shown = std::borrow::Cow::Owned(format!(
                "{scheme}://{}:***{}",
                &authority[..colon],
                &rest[at..]
            ));
        }
    }
    if let Some(start) = shown.find("password=") {
        let value = start + "password=".len();
        let end = shown[value..].find('&').map_or(shown.len(), |i| value + i);
        shown = std::borrow::Cow::Owned(format!("{}***{}", &shown[..value], &shown[end..]));
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_url_never_prints_its_password() {
        let url = StoreUrl::new("postgres://firewatch:hunter2@db.internal:5432/firewatch");
        let shown = format!("{url} {url:?} {}", serde_json::to_string(&url).unwrap());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://firewatch:***@db.internal:5432/firewatch"));
        assert_eq!(
            url,
            "postgres://firewatch:hunter2@db.internal:5432/firewatch"
        );
        assert!(url.starts_with("postgres://"));
        let query =
            StoreUrl::new("postgres://db/firewatch?user=a&password=hunter2&sslmode=require");
        assert_eq!(
            query.to_string(),
            "postgres://db/firewatch?user=a&password=***&sslmode=require"
        );
        assert_eq!(StoreUrl::new("sqlite://x.db").to_string(), "sqlite://x.db");
        assert_eq!(
            without_password("postgres://user@host/db"),
            "postgres://user@host/db"
        );
    }

    #[test]
    fn a_secret_never_prints_itself() {
        let s = Secret::new("xoxb-very-secret");
        let shown = format!("{s} {s:?} {}", serde_json::to_string(&s).unwrap());
        assert!(!shown.contains("very-secret"), "{shown}");
        assert_eq!(s.expose(), "xoxb-very-secret");
    }
}
