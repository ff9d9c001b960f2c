//! Postgres store URLs: telling them apart from SQLite ones, checking them without connecting,
//! and showing them without their password.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

/// Whether `url` names a Postgres database.
pub fn is_postgres(url: &str) -> bool {
    let url = url.trim();
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Checks a Postgres URL without connecting.
///
/// # Errors
/// Why it cannot be used, without repeating its password.
pub fn check_url(url: &str) -> std::result::Result<(), String> {
    PgConnectOptions::from_str(url.trim())
        .map(drop)
        .map_err(|e| {
            format!(
                "not a usable postgres URL: {}",
                redact_error(&e.to_string(), url)
            )
        })
}

/// `url` with its password (in the user part or a `password=` parameter) replaced by `***`, for
/// messages and logs.
pub fn redact(url: &str) -> String {
    let url = url.trim();
    let (head, query) = match url.split_once('?') {
        Some((head, query)) => (head, Some(query)),
        None => (url, None),
    };
    let head = match head.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let (authority, path) = rest.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{scheme}://{user}:***@{host}{path}"),
                    None => head.to_owned(),
                },
                None => head.to_owned(),
            }
        }
        None => head.to_owned(),
    };
    match query {
        Some(query) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{head}?{}", query.join("&"))
        }
        None => head,
    }
}

pub(super) fn redact_error(message: &str, url: &str) -> String {
    message.replace(url.trim(), &redact(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_a_redacted_url() {
        assert_eq!(
            redact("postgres://fw:s3cret@db:5432/firewatch?sslmode=require"),
            "postgres://fw:***@db:5432/firewatch?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://db/firewatch?user=fw&password=s3cret"),
            "postgresql://db/firewatch?user=fw&password=***"
        );
        assert_eq!(redact("postgres://fw@db/x"), "postgres://fw@db/x");
        assert!(is_postgres(" postgresql://db/x") && !is_postgres("sqlite://x.db"));
    }
}
