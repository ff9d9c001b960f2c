//! Cluster operations against the fake Kubernetes API server and the fake helm.

mod action;
mod approval_scope;
mod approvals;
mod assess;
mod bench;
mod calls;
mod diagnose;
mod faults;
mod hostile;
mod jobs;
mod mitigate;
mod paper_trail;
mod roles;

use crate::helpers::ClusterApp;
use crate::support::objects;

/// A firewatch on a broken Freightliner with incident #1 open about it; every change runs
/// without approval.
async fn broken_with_incident() -> ClusterApp {
    broken_with_incident_on(ClusterApp::spawn_unapproved(&[]).await).await
}

/// As [`broken_with_incident`] on an app started with its own settings.
async fn broken_with_incident_on(c: ClusterApp) -> ClusterApp {
    objects::broken(&c.kube);
    let out =
        c.t.say("/incident-assess checkout errors for some users")
            .await;
    assert!(out.contains("INCIDENT DETECTED"), "{out}");
    c
}
