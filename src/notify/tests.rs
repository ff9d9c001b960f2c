use super::*;
use crate::message::Block;

fn policy() -> Policy {
    Policy::runbook()
}

fn dir_with(overrides: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for t in Template::ALL {
        let text = overrides
            .iter()
            .find(|(name, _)| *name == t.name())
            .map_or(t.builtin(), |(_, text)| text);
        std::fs::write(dir.path().join(format!("{}.hbs", t.name())), text).expect("write");
    }
    dir
}

#[test]
fn the_builtin_templates_pass_the_check() {
    Templates::builtin()
        .unwrap()
        .check(&policy())
        .expect("built-in templates are valid");
}

#[test]
fn the_messages_folder_matches_the_builtin_copies() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("messages");
    Templates::from_dir(&dir)
        .unwrap()
        .check(&policy())
        .expect("messages/ is valid");
}

#[test]
fn the_runbook_templates_render_their_emoji_headlines_and_fields() {
    let templates = Templates::builtin().unwrap();
    let samples = samples::all(&policy());
    let render = |t: Template| {
        let (_, data) = samples.iter().find(|(s, _)| *s == t).expect("sample");
        templates.render(t, data).expect("renders")
    };
    let detected = render(Template::Detected);
    assert_eq!(detected.headline, "🚨 INCIDENT DETECTED - P1");
    let labels = |m: &Message| -> Vec<String> {
        m.blocks
            .iter()
            .filter_map(|b| match b {
                Block::Field { label, .. } => Some(label.clone()),
                Block::Text(_) => None,
            })
            .collect()
    };
    for label in [
        "Service",
        "Status",
        "Impact",
        "Team",
        "Started",
        "Next Update",
    ] {
        assert!(
            labels(&detected).contains(&label.to_owned()),
            "detected lacks {label}"
        );
    }
    let update = render(Template::Update);
    assert_eq!(update.headline, "📊 INCIDENT UPDATE - P1");
    for label in [
        "Service",
        "Status",
        "Progress",
        "ETA",
        "Users affected",
        "Next Update",
    ] {
        assert!(
            labels(&update).contains(&label.to_owned()),
            "update lacks {label}"
        );
    }
    let resolved = render(Template::Resolved);
    assert_eq!(resolved.headline, "✅ INCIDENT RESOLVED");
    for label in [
        "Service",
        "Duration",
        "Root Cause",
        "Resolution",
        "Post-Mortem",
    ] {
        assert!(
            labels(&resolved).contains(&label.to_owned()),
            "resolved lacks {label}"
        );
    }
    let text = resolved.plain_text();
    assert!(text.contains("Duration: 47m"), "{text}");
    assert!(
        text.contains("Follow-up (open action items):\n• 2. test the flag in staging (bob)\n/incident-followup #42 <text> adds an action item"),
        "the open items, not the done one, and how to add one: {text}"
    );
    let update = update.plain_text();
    assert!(
        update.contains("Actions Taken:\n• ") && update.contains("Users affected: about 2,000"),
        "{update}"
    );
}

#[test]
fn a_misspelt_variable_fails_the_check_naming_the_file() {
    let dir = dir_with(&[("update", "📊 INCIDENT UPDATE\nProgress: {{progres}}\n")]);
    let err = Templates::from_dir(dir.path())
        .unwrap()
        .check(&policy())
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("update.hbs failed to render"), "{text}");
    assert!(text.contains("progres"), "{text}");
}

#[test]
fn a_misspelt_condition_fails_the_check_too() {
    let dir = dir_with(&[("note", "📝 NOTE\n{{#if textt}}{{text}}{{/if}}\n")]);
    let err = Templates::from_dir(dir.path())
        .unwrap()
        .check(&policy())
        .unwrap_err();
    assert!(err.to_string().contains("textt"), "{err}");
}

#[test]
fn a_misspelt_variable_inside_a_rarely_taken_branch_fails_the_check() {
    let status = Template::Status
        .builtin()
        .replace("{{earlier}} earlier", "{{earlyer}} earlier");
    let dir = dir_with(&[("status", &status)]);
    let err = Templates::from_dir(dir.path())
        .unwrap()
        .check(&policy())
        .unwrap_err();
    assert!(err.to_string().contains("earlyer"), "{err}");
}

#[test]
fn a_syntax_error_names_the_file() {
    let dir = dir_with(&[("resolved", "✅ {{#if by}}unclosed\n")]);
    let err = Templates::from_dir(dir.path()).unwrap_err();
    assert!(matches!(err, Error::Syntax { .. }), "{err:?}");
    assert!(
        err.to_string().contains("resolved.hbs has a syntax error"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let dir = dir_with(&[]);
    std::fs::remove_file(dir.path().join("severity.hbs")).unwrap();
    let err = Templates::from_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("severity.hbs"), "{err}");
}

#[test]
fn a_template_that_renders_nothing_is_refused() {
    let dir = dir_with(&[("acknowledged", "{{#if by}}{{/if}}\n")]);
    let err = Templates::from_dir(dir.path())
        .unwrap()
        .check(&policy())
        .unwrap_err();
    assert!(err.to_string().contains("renders to nothing"), "{err}");
}

#[test]
fn text_is_not_html_escaped() {
    let dir = dir_with(&[("note", "📝 {{text}}\n")]);
    let t = Templates::from_dir(dir.path()).unwrap();
    let m = t
        .render(
            Template::Note,
            &serde_json::json!({"text": "a < b & \"c\""}),
        )
        .unwrap();
    assert_eq!(m.headline, "📝 a < b & \"c\"");
}

#[test]
fn a_missing_template_folder_says_how_to_use_the_builtin_templates() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("messages");
    let err = Templates::from_dir(&missing).expect_err("no folder");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "messages.dir {} is not a folder",
            missing.display()
        )),
        "{text}"
    );
    assert!(text.contains("leave messages.dir unset"), "{text}");
    let empty = Templates::from_dir(dir.path()).expect_err("no templates");
    assert!(
        empty
            .to_string()
            .contains("or leave messages.dir unset for the built-in ones"),
        "{empty}"
    );
}
