//! `*_file` keys: a secret read from a file (a Kubernetes Secret mounted as a volume) instead
//! of given in `bot.toml` or the environment. Exactly one of the value and its file may be set;
//! the file's trailing newline is trimmed, and a missing, unreadable or empty file is an error
//! that names the key and the path (never the content).

use std::path::{Path, PathBuf};

use super::sections::DEFAULT_STORE_URL;
use super::{Secret, Settings, StoreUrl};

type Invalid = (String, String);

impl Settings {
    /// Reads every `*_file` key into its value. Relative paths are relative to the config
    /// file's folder (`base`).
    pub(super) fn read_secret_files(&mut self, base: &Path) -> Result<(), Invalid> {
        let slack = &mut self.slack;
        secret_from_file(
            "slack.bot_token",
            &mut slack.bot_token,
            &slack.bot_token_file,
            base,
        )?;
        secret_from_file(
            "slack.signing_secret",
            &mut slack.signing_secret,
            &slack.signing_secret_file,
            base,
        )?;
        secret_from_file(
            "slack.app_token",
            &mut slack.app_token,
            &slack.app_token_file,
            base,
        )?;
        secret_from_file(
            "discord.bot_token",
            &mut self.discord.bot_token,
            &self.discord.bot_token_file,
            base,
        )?;
        secret_from_file(
            "alerts.token",
            &mut self.alerts.token,
            &self.alerts.token_file,
            base,
        )?;
        secret_from_file(
            "github.token",
            &mut self.github.token,
            &self.github.token_file,
            base,
        )?;
        secret_from_file(
            "jira.api_token",
            &mut self.jira.api_token,
            &self.jira.api_token_file,
            base,
        )?;
        secret_from_file(
            "jira.token",
            &mut self.jira.token,
            &self.jira.token_file,
            base,
        )?;
        self.read_paging_files(base)?;
        if let Some(file) = &self.store.url_file {
            // `url` always has a value (its default): "both" means it was changed.
            if *self.store.url != *DEFAULT_STORE_URL {
                return Err(both("store.url"));
            }
            self.store.url = StoreUrl::new(read("store.url_file", file, base)?);
        }
        Ok(())
    }
}

pub(super) fn secret_from_file(
    key: &str,
    value: &mut Option<Secret>,
    file: &Option<PathBuf>,
    base: &Path,
) -> Result<(), Invalid> {
    let Some(file) = file else { return Ok(()) };
    if value.is_some() {
        return Err(both(key));
    }
    *value = Some(Secret::new(read(&format!("{key}_file"), file, base)?));
    Ok(())
}

fn both(key: &str) -> Invalid {
    (
        format!("{key}_file"),
        format!("{key} and {key}_file are both set: give the value or the file, not both"),
    )
}

/// The file's content without its trailing newline.
fn read(key: &str, file: &Path, base: &Path) -> Result<String, Invalid> {
    let path = if file.is_relative() {
        base.join(file)
    } else {
        file.to_owned()
    };
    let content = std::fs::read_to_string(&path).map_err(|e| {
        (
            key.to_owned(),
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let value = content.trim_end_matches(['\n', '\r']);
    if value.trim().is_empty() {
        return Err((key.to_owned(), format!("{} is empty", path.display())));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use crate::config::{Error, Settings};

    const SERVICES: &str =
        "[[services]]\nname = \"freightliner\"\nnamespace = \"freightliner-production\"\n";

    fn load(dir: &tempfile::TempDir, toml: &str) -> Result<Settings, Error> {
        let config = dir.path().join("bot.toml");
        std::fs::write(&config, format!("{toml}\n{SERVICES}")).unwrap();
        Settings::load_with_env(&config, std::iter::empty())
    }

    fn secret_file(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content)
            .unwrap();
        path
    }

    fn invalid(result: Result<Settings, Error>) -> (String, String) {
        match result {
            Err(Error::Invalid { key, message, .. }) => (key, message),
            other => panic!("expected an invalid key, got {other:?}"),
        }
    }

    #[test]
    fn a_secret_file_is_read_with_its_trailing_newline_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let token = secret_file(&dir, "bot-token", b"xoxb-from-a-file\n");
        secret_file(&dir, "signing", b"s3cret-signing\r\n");
        secret_file(&dir, "discord", b"discord-token");
        secret_file(&dir, "app", b"xapp-1\n");
        let s = load(
            &dir,
            &format!(
                "[slack]\nbot_token_file = \"{}\"\nsigning_secret_file = \"signing\"\napp_token_file = \"app\"\n\
                 [discord]\nbot_token_file = \"discord\"\n",
                token.display()
            ),
        )
        .expect("loads");
        assert_eq!(s.slack.bot_token.unwrap().expose(), "xoxb-from-a-file");
        assert_eq!(s.slack.signing_secret.unwrap().expose(), "s3cret-signing");
        assert_eq!(s.slack.app_token.unwrap().expose(), "xapp-1");
        assert_eq!(s.discord.bot_token.unwrap().expose(), "discord-token");
    }

    #[test]
    fn the_store_url_can_come_from_a_file() {
        let dir = tempfile::tempdir().unwrap();
        secret_file(&dir, "url", b"sqlite:///var/lib/firewatch/fw.db\n");
        let s = load(&dir, "[store]\nurl_file = \"url\"\n").expect("loads");
        assert_eq!(s.store.url, "sqlite:///var/lib/firewatch/fw.db");
        let both = load(
            &dir,
            "[store]\nurl = \"sqlite://other.db\"\nurl_file = \"url\"\n",
        );
        assert_eq!(invalid(both).0, "store.url_file");
    }

    #[test]
    fn a_value_and_its_file_together_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        secret_file(&dir, "token", b"xoxb-1\n");
        let (key, message) = invalid(load(
            &dir,
            "[slack]\nbot_token = \"xoxb-2\"\nbot_token_file = \"token\"\n",
        ));
        assert_eq!(key, "slack.bot_token_file");
        assert!(message.contains("both set"), "{message}");
        assert!(!message.contains("xoxb"), "{message}");
    }

    #[test]
    fn a_missing_or_empty_file_is_refused_without_showing_content() {
        let dir = tempfile::tempdir().unwrap();
        let (key, message) = invalid(load(&dir, "[slack]\nbot_token_file = \"nope\"\n"));
        assert_eq!(key, "slack.bot_token_file");
        assert!(
            message.contains("cannot read") && message.contains("nope"),
            "{message}"
        );
        secret_file(&dir, "empty", b"\n");
        let (key, message) = invalid(load(&dir, "[discord]\nbot_token_file = \"empty\"\n"));
        assert_eq!(key, "discord.bot_token_file");
        assert!(message.ends_with("is empty"), "{message}");
        let (key, message) = invalid(load(&dir, "[slack]\nsigning_secret_file = \".\"\n"));
        assert_eq!(key, "slack.signing_secret_file");
        assert!(message.contains("cannot read"), "{message}");
    }
}
