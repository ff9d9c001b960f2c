//! What recording a figure costs on the ack path, and what a scrape costs.
//!
//! ```sh
//! cargo run --release --example metrics_cost
//! ```
//!
//! Times (1) one acknowledgement recorded (`Metrics::ack`: a bucket search and two atomic adds)
//! from one thread and from two threads hitting the same histogram, (2) one command counted, and
//! (3) rendering the whole registry as Prometheus text, with its size.

use std::sync::Arc;
use std::time::{Duration, Instant};

use firewatch::command::CommandName;
use firewatch::incident::{Platform, Severity};
use firewatch::metrics::{self, Metrics, Outcome};

const RECORDS: u32 = 2_000_000;

fn per_op(took: Duration, ops: u32) -> f64 {
    took.as_nanos() as f64 / f64::from(ops)
}

fn main() {
    let registry = Arc::new(Metrics::default());
    let started = Instant::now();
    for i in 0..RECORDS {
        registry.ack(Platform::Slack, Duration::from_micros(u64::from(i % 5_000)));
    }
    println!(
        "ack recorded, 1 thread:  {:.1} ns each ({RECORDS} records)",
        per_op(started.elapsed(), RECORDS)
    );

    let started = Instant::now();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let registry = Arc::clone(&registry);
            std::thread::spawn(move || {
                for i in 0..RECORDS {
                    registry.ack(Platform::Slack, Duration::from_micros(u64::from(i % 5_000)));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a recording thread");
    }
    println!(
        "ack recorded, 2 threads on one histogram: {:.1} ns each ({} records)",
        per_op(started.elapsed(), 2 * RECORDS),
        2 * RECORDS
    );

    let started = Instant::now();
    for _ in 0..RECORDS {
        registry.command(
            Some(CommandName::Followup),
            Platform::Discord,
            Outcome::Replayed,
        );
    }
    println!(
        "command counted:         {:.1} ns each",
        per_op(started.elapsed(), RECORDS)
    );

    let open = [(Severity::P1, 3), (Severity::P2, 7)];
    let renders = 1_000;
    let started = Instant::now();
    let mut size = 0;
    for _ in 0..renders {
        size = metrics::render(&registry, Some(&open)).len();
    }
    println!(
        "scrape rendered:         {:.1} µs each, {size} bytes",
        per_op(started.elapsed(), renders) / 1_000.0
    );
}
