//! `store.url`: which database it names (a SQLite file or a Postgres database), checked without
//! connecting.

use std::path::Path;
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

use super::without_password;

/// Whether `url` names a Postgres database.
pub fn is_postgres(url: &str) -> bool {
    let url = url.trim();
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Checks a store URL without connecting: which database it names and that it is well formed.
///
/// # Errors
/// Why the URL names no usable store, without repeating its password.
pub fn check_url(url: &str) -> Result<(), String> {
    if !is_postgres(url) {
        return sqlite_path(url).map(drop);
    }
    PgConnectOptions::from_str(url.trim())
        .map(drop)
        .map_err(|e| {
            let message = e.to_string().replace(url.trim(), &without_password(url));
            format!("not a usable postgres URL: {message}")
        })
}

/// The database file a SQLite store URL names: `sqlite://PATH`, `sqlite:PATH` or a plain `PATH`.
///
/// # Errors
/// Why the URL is not a durable SQLite file: another scheme, URL parameters, or an in-memory
/// database (which would lose every incident at exit).
pub fn sqlite_path(url: &str) -> Result<&Path, String> {
    let url = url.trim();
    let path = match url.split_once("://") {
        Some(("sqlite", path)) => path,
        Some((scheme, _)) => {
            return Err(format!(
                "'{scheme}://' is not supported; use sqlite://PATH, a file path or postgres://…"
            ));
        }
        None => url.strip_prefix("sqlite:").unwrap_or(url),
    };
    if path.is_empty() {
        return Err("no database file is given; use sqlite://PATH or a file path".into());
    }
    if path.contains('?') {
        return Err("URL parameters ('?…') are not supported; give only the file path".into());
    }
    if path.starts_with(":memory:") {
        return Err("an in-memory database loses every incident at exit; give a file path".into());
    }
    Ok(Path::new(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_database_and_postgres_passwords_stay_hidden() {
        assert!(is_postgres(" postgresql://db/x") && !is_postgres("sqlite://x.db"));
        assert_eq!(sqlite_path("sqlite://fw.db"), Ok(Path::new("fw.db")));
        assert_eq!(
            sqlite_path("sqlite:/var/fw.db"),
            Ok(Path::new("/var/fw.db"))
        );
        assert!(sqlite_path("sqlite::memory:").is_err());
        assert!(sqlite_path("mysql://db/x").is_err());
        let err = check_url("postgres://fw:s3cret@db:notaport/x").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
    }
}
