//! Figures, not timed assertions: `cargo test --test api bench -- --ignored --nocapture`.

use std::time::Instant;

use crate::helpers::ClusterApp;
use crate::support::objects;

#[tokio::test]
#[ignore = "benchmark: prints figures"]
async fn bench_assess_with_evidence_against_many_pods() {
    const PODS: usize = 300;
    const LOG_LINES: usize = 1000;
    const EVENTS: usize = 5000;
    let c = ClusterApp::spawn(&[]).await;
    objects::broken(&c.kube);
    let log: String = (0..LOG_LINES)
        .map(|i| match i % 10 {
            0 => format!("ERROR request {i} failed: upstream timeout\n"),
            _ => format!("INFO request {i} served in 12ms\n"),
        })
        .collect();
    for i in 0..PODS {
        let name = format!("freightliner-{i}");
        c.kube.put(
            &objects::pods(),
            objects::pod("freightliner", &name, 1, None, false),
        );
        c.kube.set_log(&name, &log);
    }
    for i in 0..EVENTS {
        let minute = i % 60;
        c.kube.put(
            &objects::events(),
            objects::warning(
                &format!("freightliner-event-{i}"),
                &format!("freightliner-{}", i % PODS),
                if i % 2 == 0 { "BackOff" } else { "Unhealthy" },
                "Readiness probe failed: HTTP probe failed with statuscode: 503",
                &format!("2026-11-29T02:{minute:02}:00Z"),
            ),
        );
    }
    let mut times = Vec::new();
    for run in 0..5 {
        let started = Instant::now();
        let out =
            c.t.say(&format!("/incident-assess run {run}: checkout errors"))
                .await;
        times.push(started.elapsed());
        assert!(out.contains("Log errors: "), "{out}");
    }
    times.sort();
    println!(
        "assess with evidence, {PODS} pods ({LOG_LINES} log lines each, logs of 20 read), \
         {EVENTS} warning events: \
         min {:?}, median {:?}, max {:?} over {} runs; {} API requests in all",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1],
        times.len(),
        c.kube.seen().len()
    );
}
