//! Alerts open incidents: Prometheus Alertmanager and Grafana webhook notifications, read at the
//! edge ([`payload`]), grouped by their `groupKey` into one incident per group while it is
//! active ([`group`]), with the severity, service, description and channel of [`rules`], and the
//! alert lines their messages show ([`messages`]); [`setup`] prints the receiver to paste into
//! `alertmanager.yml`.
//!
//! Pure data and rules: the intake (`POST /alerts/alertmanager`, in `app::alerts`) stores a
//! notification in the request inbox before it answers; the engine (`engine::alerts`) runs it
//! through [`group::plan`] inside the store's transaction and posts what changed. Nothing here
//! does I/O.

pub mod group;
pub mod messages;
pub mod payload;
pub mod rules;
pub mod setup;

pub use group::{AlertState, Change, Decision, Member};
pub use payload::{Alert, AlertStatus, Notification};
pub use rules::Rules;
