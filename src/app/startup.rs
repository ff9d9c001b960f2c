//! Builds the whole application from settings: policy, templates, store, engine. Commands of the
//! CLI and the tests start firewatch through here, exactly as production does.

use std::sync::Arc;

use crate::alerts;
use crate::app::health::Readiness;
use crate::approval;
use crate::catalog::Catalog;
use crate::chat::Router;
use crate::chat::discord::StatusMirror;
use crate::chat::discord::api::DiscordApi;
use crate::chat::discord::outbox::{self as discord_outbox, DiscordCourier, DiscordOutbox};
use crate::chat::slack::api::SlackApi;
use crate::chat::slack::outbox::{self as slack_outbox, SlackCourier, SlackOutbox};
use crate::clock::Clock;
use crate::config::Settings;
use crate::delivery::Sender;
use crate::engine::outbox::LateOutbox;
use crate::engine::{Engine, Limits, Parts};
use crate::incident::Platform;
use crate::incident::severity::{Policy, PolicyError};
use crate::metrics::Metrics;
use crate::notify::{self, Templates};
use crate::ops::jobs::Verification;
use crate::ops::{self, Cluster};
use crate::paging::{self, opsgenie::OpsgenieCourier, pagerduty::PagerDutyCourier};
use crate::store::{self, Access, Store};
use crate::tracker::report::ReportCourier;
use crate::tracker::{self, TrackerCourier};

/// Why firewatch could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The severity policy is invalid.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A verification job's result format or tolerance is invalid.
    #[error(transparent)]
    Jobs(#[from] ops::jobs::Invalid),
    /// A template is missing, broken, or refers to data it does not get.
    #[error(transparent)]
    Templates(#[from] notify::Error),
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// The Slack Web API client could not be built.
    #[error("slack: {0}")]
    Slack(#[from] crate::chat::slack::api::Error),
    /// The Discord REST client could not be built.
    #[error("discord: {0}")]
    Discord(#[from] crate::chat::discord::api::Error),
    /// `[alerts]` names a severity or a channel that does not exist.
    #[error(transparent)]
    Alerts(#[from] alerts::rules::Invalid),
    /// The tracker's (GitHub's, Jira's) REST client could not be built.
    #[error("tracker: {0}")]
    Tracker(#[from] reqwest::Error),
}

/// A running firewatch: the engine and what it is built from.
pub struct App {
    /// The engine every channel talks to.
    pub engine: Arc<Engine>,
    /// The store, for adapters that need dedupe and for tests.
    pub store: Arc<dyn Store>,
    /// Where messages to channels go, by platform.
    pub outbox: Arc<Router>,
    /// The outbox's sender: Slack and Discord posts are stored, then sent from there (`serve`
    /// and `console` start it).
    pub posts: Arc<Sender>,
    /// The Slack Web API, when `slack.bot_token` is set.
    pub slack_api: Option<Arc<SlackApi>>,
    /// The Discord REST API, when `discord.application_id` is set.
    pub discord_api: Option<Arc<DiscordApi>>,
    /// The time, as the engine reads it.
    pub clock: Arc<dyn Clock>,
    /// The settings it was built from.
    pub settings: Settings,
    /// What `GET /metrics` shows: commands, acks, approvals, cluster calls, milestones.
    pub metrics: Arc<Metrics>,
    /// What `GET /readyz` checks besides the store.
    pub readiness: Readiness,
}

/// What [`check`] builds from the settings.
pub struct Checked {
    /// The severity policy.
    pub policy: Policy,
    /// The templates, each rendered with sample data.
    pub templates: Templates,
    /// The verification jobs.
    pub verification: Verification,
    /// The alert rules (`[alerts]`).
    pub alerts: alerts::Rules,
}

/// Checks everything that can be checked without opening the store: the severity policy, the
/// verification jobs, the alert rules and every template rendered with sample data.
///
/// # Errors
/// The first problem found.
pub fn check(settings: &Settings) -> Result<Checked, Error> {
    let policy = Policy::from_settings(settings)?;
    let verification = Verification::new(settings)?;
    let alerts = alerts::Rules::from_settings(settings)?;
    let templates = Templates::load(settings.messages.dir.as_deref())?;
    templates.check(&policy)?;
    Ok(Checked {
        policy,
        templates,
        verification,
        alerts,
    })
}

/// Builds the application: checks the settings, opens and migrates the store as `access` says
/// (as its writer, [`Access::Exclusive`], for `serve` and `console`; `report` runs beside a
/// serving process with [`Access::Shared`]).
///
/// # Errors
/// [`Error`] naming what could not be set up.
pub async fn build(
    settings: Settings,
    clock: Arc<dyn Clock>,
    access: Access,
) -> Result<App, Error> {
    let Checked {
        policy,
        templates,
        verification,
        alerts,
    } = check(&settings)?;
    let readiness = Readiness::default();
    readiness.templates_loaded();
    let metrics = Arc::new(Metrics::default());
    let roles = Arc::new(approval::roles(&settings.roles, &settings.people));
    let slack_api = match &settings.slack.bot_token {
        Some(token) => Some(Arc::new(SlackApi::new(&settings.slack.api_url, token)?)),
        None => None,
    };
    let discord = &settings.discord;
    let discord_api = match &discord.application_id {
        Some(application) => Some(Arc::new(DiscordApi::new(
            &discord.api_url,
            application,
            discord.bot_token.as_ref(),
        )?)),
        None => None,
    };
    let store = store::open(&settings.store.url, access).await?;
    let mut sender = Sender::new(Arc::clone(&store), Arc::clone(&clock), &settings.outbox);
    let mut router = Router::default();
    if let Some(api) = &slack_api {
        // Card messages (approval requests) are edited by whichever replica takes a step.
        api.keep_cards_in(Arc::clone(&store));
        sender.carry(
            slack_outbox::KIND,
            Arc::new(SlackCourier::new(Arc::clone(api))),
        );
    }
    if let Some(api) = &discord_api {
        api.keep_cards_in(Arc::clone(&store));
        sender.carry(
            discord_outbox::KIND,
            Arc::new(DiscordCourier::new(Arc::clone(api))),
        );
    }
    // Pagers and trackers tell incidents' channels what became of their posts, through the
    // chat outboxes made below.
    let channels = LateOutbox::default();
    let issues = tracker::from_settings(&settings)?;
    if let Some(issues) = &issues {
        let courier = TrackerCourier::new(
            Arc::clone(issues),
            Arc::clone(&store),
            Arc::clone(&clock),
            channels.clone(),
        );
        sender.carry(issues.kind(), Arc::new(courier));
    }
    if settings.reports.github != crate::config::ReportMode::Off
        && let Some(github) = tracker::Github::new(&settings)?
    {
        let courier = ReportCourier::new(
            github,
            Arc::clone(&store),
            Arc::clone(&clock),
            channels.clone(),
        );
        sender.carry(tracker::report::KIND, Arc::new(courier));
    }
    let paging = paging::Plan::new(&settings);
    let notices = paging::Notices::new(Arc::clone(&store), Arc::clone(&clock), channels.clone());
    if paging.any() {
        let shared = Arc::new(settings.clone());
        let pagerduty = PagerDutyCourier::new(Arc::clone(&shared), notices.clone());
        sender.carry(paging::pagerduty::KIND, Arc::new(pagerduty));
        let opsgenie = OpsgenieCourier::new(shared, notices.clone());
        sender.carry(paging::opsgenie::KIND, Arc::new(opsgenie));
    }
    let posts = Arc::new(sender);
    if slack_api.is_some() {
        let outbox = SlackOutbox::new(Arc::clone(&posts), Arc::clone(&roles));
        router.route(Platform::Slack, Arc::new(outbox));
    }
    if discord_api.is_some() && discord.bot_token.is_some() {
        let outbox = DiscordOutbox::new(Arc::clone(&posts), Arc::clone(&roles));
        router.route(Platform::Discord, Arc::new(outbox));
        if let Some(status) = &discord.status_channel_id {
            let mirror = StatusMirror::new(Arc::clone(&posts), roles, status);
            router.add_mirror(Arc::new(mirror));
        }
    }
    let outbox = Arc::new(router);
    channels.connect(Arc::clone(&outbox) as _);
    let cluster = match ops::connect(&settings).await {
        Ok(cluster) => Ok(Arc::new(cluster) as Arc<dyn Cluster>),
        Err(e) => {
            tracing::info!(error = %e, "no cluster: incidents work, cluster commands say why");
            // Every call will say "cluster unavailable: <why>": keep only the why.
            Err(match e {
                ops::Error::Unavailable(why) => why,
                other => other.to_string(),
            })
        }
    };
    let cluster = Arc::new(ops::metered::Metered::new(cluster, Arc::clone(&metrics)));
    let engine = Engine::new(Parts {
        store: Arc::clone(&store),
        policy: Arc::new(policy),
        catalog: Arc::new(Catalog::new(&settings)),
        templates: Arc::new(templates),
        clock: Arc::clone(&clock),
        outbox: outbox.clone(),
        reports: settings.reports.dir.clone(),
        cluster,
        limits: Limits::new(&settings),
        runbook: Arc::new(ops::Runbook::new(&settings.actions)),
        prober: Arc::new(ops::probe::Prober::new(
            std::time::Duration::from_secs(settings.kubernetes.timeout.as_secs()),
            &settings.prometheus,
        )),
        approvals: Arc::new(approval::Policy::new(
            &settings.approvals,
            &settings.roles,
            &settings.people,
        )),
        verification: Arc::new(verification),
        metrics: Arc::clone(&metrics),
        alerts: Arc::new(alerts),
    });
    let engine = match issues {
        Some(issues) => engine.with_tracker(Arc::new(tracker::Tracker::new(
            issues,
            Arc::clone(&posts),
            &settings,
        ))),
        None => engine,
    };
    let mut engine = match tracker::report::Reports::from_settings(&settings, Arc::clone(&posts)) {
        Some(reports) => engine.with_report_publishing(Arc::new(reports)),
        None => engine,
    };
    if paging.any() {
        let pages = paging::Paging::new(
            Arc::clone(&posts),
            Arc::clone(&store),
            Arc::clone(&clock),
            paging,
        );
        engine.page_through(Arc::new(pages));
    }
    Ok(App {
        engine: Arc::new(engine),
        store,
        outbox,
        posts,
        slack_api,
        discord_api,
        clock,
        settings,
        metrics,
        readiness,
    })
}
