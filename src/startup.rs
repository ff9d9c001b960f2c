//! Builds the whole application from settings: policy, templates, store, engine. Commands of the
//! CLI and the tests start firewatch through here, exactly as production does.

use std::sync::Arc;

use crate::catalog::Catalog;
use crate::chat::Router;
use crate::clock::Clock;
use crate::config::Settings;
use crate::engine::{Engine, Limits, Parts};
use crate::incident::severity::{Policy, PolicyError};
use crate::notify::{self, Templates};
use crate::ops::{self, Cluster};
use crate::store::{self, SqliteStore, Store};

/// Why firewatch could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The severity policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A template is missing, broken, or refers to data it does not get.
    #[error(transparent)]
    Templates(#[from] notify::Error),
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// A running firewatch: the engine and what it is built from.
pub struct App {
    /// The engine every channel talks to.
    pub engine: Arc<Engine>,
    /// The store, for adapters that need dedupe and for tests.
    pub store: Arc<dyn Store>,
    /// Where messages to channels go, by platform.
    pub outbox: Arc<Router>,
    /// The settings it was built from.
    pub settings: Settings,
}

/// What `check-config` found.
#[derive(Debug)]
pub struct Checked {
    /// The severity policy.
    pub policy: Policy,
    /// The templates, each rendered with sample data.
    pub templates: Templates,
}

/// Checks everything that can be checked without opening the store: the severity policy and
/// every template rendered with sample data.
///
/// # Errors
/// The first problem found.
pub fn check(settings: &Settings) -> Result<Checked, Error> {
    let policy = Policy::new(
        settings.severity.levels(),
        &settings.classify,
        settings.incidents.default_severity,
    )?;
    let templates = Templates::load(settings.messages.dir.as_deref())?;
    templates.check(&policy)?;
    Ok(Checked { policy, templates })
}

/// Builds the application: checks the settings, opens and migrates the store.
///
/// # Errors
/// [`Error`] naming what could not be set up.
pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> Result<App, Error> {
    let outbox = Arc::new(Router::new());
    let Checked { policy, templates } = check(&settings)?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&settings.store.url).await?);
    let cluster: Arc<dyn Cluster> = match ops::connect(&settings).await {
        Ok(cluster) => Arc::new(cluster),
        Err(e) => {
            tracing::info!(error = %e, "no cluster: incidents work, cluster commands say why");
            Arc::new(ops::Unavailable::new(reason(e)))
        }
    };
    let engine = Engine::new(Parts {
        store: Arc::clone(&store),
        policy: Arc::new(policy),
        catalog: Arc::new(Catalog::new(&settings)),
        templates: Arc::new(templates),
        clock,
        outbox: outbox.clone(),
        cluster,
        limits: Limits::new(&settings),
        runbook: Arc::new(ops::Runbook::new(&settings.actions)),
        prober: Arc::new(ops::probe::Prober::new(
            std::time::Duration::from_secs(settings.kubernetes.timeout.as_secs()),
            settings.prometheus.clone(),
        )),
    });
    Ok(App {
        engine: Arc::new(engine),
        store,
        outbox,
        settings,
    })
}

/// The reason inside a connect error (which already reads "cluster unavailable: …").
fn reason(e: ops::Error) -> String {
    match e {
        ops::Error::Unavailable(reason) => reason,
        other => other.to_string(),
    }
}
