//! The URL sqlx opens a SQLite file with. (Which database a `store.url` names is the
//! configuration's: [`crate::config::sqlite_path`].)

use std::path::Path;

/// The URL sqlx's `Any` driver opens the SQLite file at `path` with, creating it if missing
/// (`mode=rwc`): absolute (a relative path would be read as the URL's host) and with every
/// byte but unreserved ones and `/` percent-encoded, so spaces, `%`, `#` and `?` in names work.
///
/// # Errors
/// The path is not UTF-8 (sqlx decodes the URL's path as UTF-8), or the working directory is
/// unknown.
pub(super) fn sqlite_url(path: &Path) -> Result<String, String> {
    let absolute = std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = absolute
        .to_str()
        .ok_or_else(|| format!("{} is not a UTF-8 path", path.display()))?;
    let mut url = String::from("sqlite://");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    Ok(url)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn a_sqlite_url_keeps_spaces_and_percent_signs_of_the_path() {
        let url = sqlite_url(Path::new("/tmp/on call/50% #1.db")).unwrap();
        assert_eq!(url, "sqlite:///tmp/on%20call/50%25%20%231.db?mode=rwc");
        // As the `Any` driver reads it: parsed as a URL, then as SQLite options.
        let any = sqlx::any::AnyConnectOptions::from_str(&url).unwrap();
        let options = sqlx::sqlite::SqliteConnectOptions::try_from(&any).unwrap();
        assert_eq!(options.get_filename(), Path::new("/tmp/on call/50% #1.db"));
    }
}
