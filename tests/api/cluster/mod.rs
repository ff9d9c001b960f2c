//! Cluster operations against the fake Kubernetes API server and the fake helm.

mod action;
mod assess;
mod bench;
mod calls;
mod diagnose;
mod faults;
mod mitigate;

use crate::helpers::ClusterApp;
use crate::support::objects;

/// A firewatch on a broken Freightliner with incident #1 open about it.
async fn broken_with_incident() -> ClusterApp {
    let c = ClusterApp::spawn(&[]).await;
    objects::broken(&c.kube);
    let out =
        c.t.say("/incident-assess checkout errors for some users")
            .await;
    assert!(out.contains("INCIDENT DETECTED"), "{out}");
    c
}
