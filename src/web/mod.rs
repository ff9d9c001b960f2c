//! The web side of `firewatch serve`: read-only pages over the store, rendered on the server
//! with no script. Internal pages — `/` (active incidents), `/incidents` (history with filters
//! and paging), `/incidents/ID` (one incident in full), `/insights` (response times per week
//! and severity, `/insights.csv`) — need an identity ([`access`]); the status page
//! (`/status`, `/status.json`, `/status.atom`) is public and shows only what was posted with
//! `--public`.
//!
//! Owns rendering and access; it reads the store and the engine's report, and changes nothing.
//!
//! # Guarantees
//! - Every response carries a Content-Security-Policy that allows no script, no frame and only
//!   this site's stylesheet, plus `X-Content-Type-Options: nosniff` and a Referrer-Policy.
//! - Text people typed is escaped by the templates (maud); a report's Markdown is rendered
//!   with raw HTML shown as text.
//! - Reads are bounded: history pages by a limit and keyset paging, the status page by a window
//!   and a limit, insights by a window of weeks.

mod access;
mod chart;
mod incidents;
mod insights;
pub mod page;
pub mod password;
mod status;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::clock::Clock;
use crate::config::Settings;
use crate::engine::Engine;
use crate::error_chain;
use crate::store::Store;
use crate::store::web::WebReads;

pub use access::Access;

/// The Content-Security-Policy of every response.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                       form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// What the pages read.
pub struct Web {
    store: Arc<dyn Store>,
    engine: Arc<Engine>,
    clock: Arc<dyn Clock>,
    settings: Arc<Settings>,
    access: Access,
    stylesheet: String,
}

impl Web {
    /// The web side over `store`, with reports rendered by `engine`, when `[web]` enables it.
    pub fn new(
        store: Arc<dyn Store>,
        engine: Arc<Engine>,
        clock: Arc<dyn Clock>,
        settings: &Settings,
    ) -> Option<Self> {
        if !settings.web.enabled {
            return None;
        }
        Some(Self {
            store,
            engine,
            clock,
            access: Access::new(&settings.web),
            stylesheet: page::stylesheet(&settings.severity),
            settings: Arc::new(settings.clone()),
        })
    }

    /// The store's web reads.
    fn reads(&self) -> Result<&dyn WebReads, Failure> {
        self.store
            .web()
            .ok_or_else(|| Failure::Internal("this store serves no web pages".into()))
    }
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum Failure {
    /// The request is wrong (a bad filter): 400 with what is wrong.
    BadRequest(String),
    /// Nothing there: 404.
    NotFound(String),
    /// Reading failed: logged, 500.
    Internal(String),
}

impl From<crate::store::Error> for Failure {
    fn from(e: crate::store::Error) -> Self {
        Failure::Internal(error_chain(&e))
    }
}

impl From<crate::engine::Error> for Failure {
    fn from(e: crate::engine::Error) -> Self {
        Failure::Internal(error_chain(&e))
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::BadRequest(text) => (StatusCode::BAD_REQUEST, text).into_response(),
            Failure::NotFound(text) => (StatusCode::NOT_FOUND, text).into_response(),
            Failure::Internal(cause) => {
                tracing::error!(%cause, "a web page could not be read");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be read; the server log says why",
                )
                    .into_response()
            }
        }
    }
}

/// The web routes, to merge into the server's.
pub fn router(web: Web) -> Router {
    let web = Arc::new(web);
    Router::new()
        .route("/", get(incidents::active))
        .route("/incidents", get(incidents::history))
        .route("/incidents/{id}", get(incidents::one))
        .route("/insights", get(insights::page))
        .route("/insights.csv", get(insights::download))
        .route("/status", get(status::page))
        .route("/status.json", get(status::json))
        .route("/status.atom", get(status::atom))
        .route("/static/style.css", get(stylesheet))
        .with_state(web)
        .layer(middleware::from_fn(secure))
}

async fn stylesheet(State(web): State<Arc<Web>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        web.stylesheet.clone(),
    )
        .into_response()
}

/// Adds the security headers to every answer.
async fn secure(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// An HTML answer.
fn html(markup: maud::Markup) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        markup.into_string(),
    )
        .into_response()
}
