//! Message templates: `messages/*.hbs`, rendered with handlebars in strict mode into
//! platform-neutral [`Message`]s.
//!
//! Templates are loaded and checked once, at start: each is rendered with sample data built by
//! the same code that builds real data, so a misspelt variable fails `check-config`, not an
//! incident. Owns nothing but templates; it neither reads the store nor posts anything.

pub mod context;
pub mod markdown;
mod samples;

use std::path::{Path, PathBuf};

use handlebars::{
    Context, Handlebars, Helper, HelperDef, HelperResult, JsonTruthy, Output, RenderContext,
    RenderErrorReason, Renderable,
};
use serde::Serialize;

use crate::incident::severity::Policy;
use crate::message::Message;

/// The templates firewatch renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    /// 🚨 the alert when an incident opens.
    Detected,
    /// 📊 a status update.
    Update,
    /// ✅ the resolution.
    Resolved,
    /// 🔺/🔻 a severity change.
    Severity,
    /// 👀 an acknowledgement.
    Acknowledged,
    /// 📝 a note.
    Note,
    /// ℹ️ one incident with its timeline.
    Status,
    /// ℹ️ the list of open incidents.
    Incidents,
    /// ⏰ the promised update is overdue.
    Reminder,
    /// 🔥 nobody acknowledged within the response target.
    Escalation,
    /// 📄 the post-incident report file (Markdown).
    Report,
    /// 📄 the channel message that carries the report.
    Closed,
}

impl Template {
    /// All templates.
    pub const ALL: [Template; 12] = [
        Template::Detected,
        Template::Update,
        Template::Resolved,
        Template::Severity,
        Template::Acknowledged,
        Template::Note,
        Template::Status,
        Template::Incidents,
        Template::Reminder,
        Template::Escalation,
        Template::Report,
        Template::Closed,
    ];

    /// The template's name (its file is `NAME.hbs`; the report's is `report.md.hbs`).
    pub fn name(self) -> &'static str {
        match self {
            Template::Detected => "detected",
            Template::Update => "update",
            Template::Resolved => "resolved",
            Template::Severity => "severity",
            Template::Acknowledged => "acknowledged",
            Template::Note => "note",
            Template::Status => "status",
            Template::Incidents => "incidents",
            Template::Reminder => "reminder",
            Template::Escalation => "escalation",
            Template::Report => "report.md",
            Template::Closed => "closed",
        }
    }

    /// The copy built into the binary.
    fn builtin(self) -> &'static str {
        match self {
            Template::Detected => include_str!("../../messages/detected.hbs"),
            Template::Update => include_str!("../../messages/update.hbs"),
            Template::Resolved => include_str!("../../messages/resolved.hbs"),
            Template::Severity => include_str!("../../messages/severity.hbs"),
            Template::Acknowledged => include_str!("../../messages/acknowledged.hbs"),
            Template::Note => include_str!("../../messages/note.hbs"),
            Template::Status => include_str!("../../messages/status.hbs"),
            Template::Incidents => include_str!("../../messages/incidents.hbs"),
            Template::Reminder => include_str!("../../messages/reminder.hbs"),
            Template::Escalation => include_str!("../../messages/escalation.hbs"),
            Template::Report => include_str!("../../messages/report.md.hbs"),
            Template::Closed => include_str!("../../messages/closed.hbs"),
        }
    }
}

/// Why templates could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `messages.dir` is not a folder.
    #[error(
        "messages.dir {} is not a folder: leave messages.dir unset (comment it out) to use the \
         built-in templates, or copy the repository's messages/ folder there",
        .0.display()
    )]
    MissingDir(PathBuf),
    /// A template file is missing or unreadable.
    #[error(
        "cannot read template {} (messages.dir; a folder there needs every template, or leave \
         messages.dir unset for the built-in ones): {source}",
        .path.display()
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A template does not parse.
    #[error("template {origin} has a syntax error: {reason}")]
    Syntax {
        /// The file or built-in name.
        origin: String,
        /// What the parser said, with line and column.
        reason: String,
    },
    /// A template failed to render, e.g. it names a variable that does not exist.
    #[error("template {origin} failed to render: {reason}")]
    Render {
        /// The file or built-in name.
        origin: String,
        /// What handlebars said.
        reason: String,
    },
}

/// The loaded templates.
#[derive(Debug)]
pub struct Templates {
    registry: Handlebars<'static>,
    origin: Vec<(Template, String)>,
}

impl Templates {
    /// The templates built into the binary.
    ///
    /// # Errors
    /// Only if a built-in template is broken (a test guards against it).
    pub fn builtin() -> Result<Self, Error> {
        Self::from_sources(Template::ALL.map(|t| {
            (
                t,
                format!("(built-in) {}.hbs", t.name()),
                t.builtin().to_owned(),
            )
        }))
    }

    /// Every template from `dir/NAME.hbs`; all must exist.
    ///
    /// # Errors
    /// [`Error::MissingDir`] when `dir` is not a folder, [`Error::Read`] for a missing file,
    /// [`Error::Syntax`] for a broken one.
    pub fn from_dir(dir: &Path) -> Result<Self, Error> {
        if !dir.is_dir() {
            return Err(Error::MissingDir(dir.to_owned()));
        }
        let mut sources = Vec::new();
        for t in Template::ALL {
            let path = dir.join(format!("{}.hbs", t.name()));
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?;
            sources.push((t, path.display().to_string(), text));
        }
        Self::from_sources(sources)
    }

    /// Templates from `dir` when given, otherwise the built-in ones.
    ///
    /// # Errors
    /// As [`Templates::from_dir`].
    pub fn load(dir: Option<&Path>) -> Result<Self, Error> {
        match dir {
            Some(dir) => Self::from_dir(dir),
            None => Self::builtin(),
        }
    }

    fn from_sources(
        sources: impl IntoIterator<Item = (Template, String, String)>,
    ) -> Result<Self, Error> {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(handlebars::no_escape);
        registry.register_helper("if", Box::new(StrictIf { positive: true }));
        registry.register_helper("unless", Box::new(StrictIf { positive: false }));
        let mut origin = Vec::new();
        for (template, from, text) in sources {
            registry
                .register_template_string(template.name(), text)
                .map_err(|e| Error::Syntax {
                    origin: from.clone(),
                    reason: e.to_string(),
                })?;
            origin.push((template, from));
        }
        Ok(Self { registry, origin })
    }

    /// Renders `template` with `data` into a message.
    ///
    /// # Errors
    /// [`Error::Render`] when the template refers to something `data` lacks.
    pub fn render(&self, template: Template, data: &impl Serialize) -> Result<Message, Error> {
        let text = self.render_text(template, data)?;
        Ok(Message::from_rendered(&text))
    }

    /// Renders `template` with `data` as text, for documents (the report) rather than messages.
    ///
    /// # Errors
    /// [`Error::Render`] when the template refers to something `data` lacks.
    pub fn render_text(&self, template: Template, data: &impl Serialize) -> Result<String, Error> {
        self.registry
            .render(template.name(), data)
            .map_err(|e| Error::Render {
                origin: self.origin_of(template),
                reason: e.to_string(),
            })
    }

    /// Renders every template with sample data, as `check-config` and start-up do.
    ///
    /// # Errors
    /// The first template that fails.
    pub fn check(&self, policy: &Policy) -> Result<(), Error> {
        for (template, data) in samples::all(policy) {
            if template == Template::Report {
                if self.render_text(template, &data)?.trim().is_empty() {
                    return Err(Error::Render {
                        origin: self.origin_of(template),
                        reason: "renders to nothing".into(),
                    });
                }
                continue;
            }
            let message = self.render(template, &data)?;
            if message.headline.is_empty() {
                return Err(Error::Render {
                    origin: self.origin_of(template),
                    reason: "renders to nothing: the first line becomes the message headline"
                        .into(),
                });
            }
        }
        Ok(())
    }

    fn origin_of(&self, template: Template) -> String {
        self.origin
            .iter()
            .find(|(t, _)| *t == template)
            .map(|(_, o)| o.clone())
            .unwrap_or_else(|| template.name().to_owned())
    }
}

/// `{{#if x}}` / `{{#unless x}}` that, unlike the built-ins, fail on a variable that does not
/// exist, so a misspelt condition is caught at check time instead of silently being false.
#[derive(Clone, Copy)]
struct StrictIf {
    positive: bool,
}

impl HelperDef for StrictIf {
    fn call<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        r: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        rc: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> HelperResult {
        let name = if self.positive { "if" } else { "unless" };
        let param = h
            .param(0)
            .ok_or(RenderErrorReason::ParamNotFoundForIndex(name, 0))?;
        if param.is_value_missing() {
            let path = param.relative_path().cloned().unwrap_or_default();
            return Err(RenderErrorReason::MissingVariable(Some(path)).into());
        }
        let truthy = param.value().is_truthy(false) == self.positive;
        match if truthy { h.template() } else { h.inverse() } {
            Some(t) => t.render(r, ctx, rc, out),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
