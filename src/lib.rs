//! firewatch — ChatOps incident response for services on Kubernetes.
//!
//! One engine runs every incident command, whichever chat platform it came from. A request's
//! way: [`app::http`] (or Slack Socket Mode, the Discord gateway) checks its signature → the
//! platform's adapter ([`chat::slack`], [`chat::discord`]) decodes it → [`chat::pipeline`] stores
//! it in the inbox and answers the platform → [`command`] parses the line → [`engine`] checks it
//! against the incident's state ([`incident::lifecycle`]), commits the change to the [`store`]
//! and renders replies from `messages/` ([`notify`]) → the adapter answers the caller, and stores
//! channel posts in the outbox, from which [`delivery`] sends them (retried through an outage).
//! An alert notification takes the same way from [`app::alerts`] (its bearer token checked, the
//! body read into [`alerts::Notification`]) through the pipeline to [`engine`]'s alert path.
//!
//! Where to find a behaviour:
//!
//! | behaviour | module |
//! |---|---|
//! | the command line, start-up, `serve`, HTTP routes, `/healthz` `/readyz` `/metrics`, `check-config`'s warnings | [`app`] (`cli`, `startup`, `serve`, `http`, `health`, `warnings`) |
//! | connection timeouts and cap, body limits, checks before a body is read | [`app::http`] (`connections`, `body`) |
//! | a slash command's grammar and its errors | [`command`] |
//! | what a command does to an incident: states, severity, roles, timers, the report's milestones | [`incident`] (`lifecycle`, `severity`, `roles`, `timers`, `trail`, `timeline`) |
//! | running a command: assess, update, resolve, status, report, follow-ups, roles | [`engine`] (`handlers`, `read`, `report`, `dispatch`, `roles`: who a mention is) |
//! | changes to the cluster and their approvals | [`engine`] `gate` (preview → policy → request or run), `mitigate`, `jobs`, `approve` (votes only from the request's channel); the policy and who is who (`[people.NAME]`) in [`approval`] |
//! | evidence, diagnosis, verification | [`engine`] `evidence`, `diagnose`, `verify`; the cluster side in [`ops`] |
//! | reminders and escalations | [`incident::timers`] (what fires), [`engine`] `timers`, [`scheduler`] (the tick) |
//! | Slack, Discord, the terminal: decoding, rendering, posting; which workspaces and servers are served | [`chat`] (`slack`, `discord`, `console`, `Served`) |
//! | posts that survive a platform outage: the outbox, retries, order per channel, giving up | [`delivery`]; each platform's courier in [`chat::slack`] `outbox`, [`chat::discord`] `outbox` |
//! | action items filed, closed, assigned and read back as GitHub or Jira issues (`[followups] tracker`); the report as a pull request (`[reports] github`) | [`tracker`], [`tracker::report`]; the engine's side in `engine/tracked.rs` |
//! | the inbox: dedupe, replay after a restart, runs again after a failure, bounded runs | [`chat::pipeline`], [`chat::work`], [`chat::replay`] |
//! | alerts from Alertmanager and Grafana: the webhook, grouping, storms, their messages | [`alerts`] (`payload`, `group`, `rules`, `messages`, `setup`); `POST /alerts/alertmanager` in [`app::alerts`]; [`engine`] `alerts` |
//! | paging through PagerDuty and Opsgenie: what a change pages, the couriers, the webhooks back | [`paging`] (`pagerduty`, `opsgenie`, `news`); what a change asks of a pager in [`incident::page`]; [`engine`] `paging`; the routes in [`app::pagers`] |
//! | persistence (SQLite and Postgres, one implementation), whether it takes writes | [`store`] |
//! | Kubernetes and Helm | [`ops`] (`kube`, `helm`, `jobs`, `probe`) |
//! | message templates | [`notify`], `messages/`; neutral messages in [`message`] |
//! | terminal escapes, bidi overrides and invisible characters in text from outside | [`text`] (used by every renderer and the report) |
//! | `bot.toml` | [`config`]; services in [`catalog`] |
//! | what `/metrics` counts | [`metrics`] |
//! | the web pages: active incidents, history, one incident, insights, the public status page and feed; who may read them | [`web`] (`access`, `incidents`, `status`, `page`); its reads in [`store::web`] |

pub mod alerts;
pub mod app;
pub mod approval;
pub mod catalog;
pub mod chat;
pub mod clock;
pub mod command;
pub mod config;
pub mod delivery;
pub mod engine;
pub mod incident;
pub mod interval;
pub mod message;
pub mod metrics;
pub mod notify;
pub mod ops;
pub mod paging;
pub mod scheduler;
pub mod store;
pub mod text;
pub mod tls;
pub mod tracker;
pub mod web;

/// An error and its causes on one line (`cannot open the store at x: unable to open database
/// file`), for logs and the command line. A cause already quoted by its parent is not repeated.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        let next = c.to_string();
        if !text.ends_with(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        cause = c.source();
    }
    text
}
