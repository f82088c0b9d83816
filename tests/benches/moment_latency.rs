//! Benchmark: from an event frame on the socket to the derived moment being
//! published, over 10,000 events, through the whole engine (socket, client actor,
//! session, model, broadcast). Run: `cargo bench -p onair-system-tests --bench moment_latency`.
//!
//! The fake OBS sends a cycle of stream events that each make exactly one moment
//! (STARTED: live, RECONNECTING: reconnecting, RECONNECTED: reconnected, STOPPED:
//! ended). The clock starts just before the fake writes the frame, so the figures
//! include the fake's own write: an upper bound on the engine's share.

use std::time::{Duration, Instant};

use onair_headless::obs::Session;
use onair_system_tests::fake::{FakeObs, FakeState};
use onair_system_tests::support::{fast_config, wait_state};
use serde_json::json;

const EVENTS: usize = 10_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut fake = FakeObs::start().await;
    let mut config = fast_config(fake.port(), None);
    // No polling or pings in the way of the measurement beyond the defaults.
    config.client = Default::default();
    let (session, _task) = Session::spawn(config);
    let mut conn = fake.accept(Duration::from_secs(5)).await.expect("session connects");
    conn.handshake(None).await.expect("handshake");
    let serve = conn.serve_with(FakeState::default());
    wait_state(&session, "connected", Duration::from_secs(5), |s| s.obs.is_some()).await;
    let mut moments = session.subscribe();

    let cycle = [
        ("STARTED", true, "live"),
        ("RECONNECTING", false, "reconnecting"),
        ("RECONNECTED", true, "reconnected"),
        ("STOPPED", false, "ended"),
    ];
    let mut latencies = Vec::with_capacity(EVENTS);
    for i in 0..EVENTS {
        let (state, active, expected) = cycle[i % cycle.len()];
        let data = json!({"outputActive": active, "outputState": format!("OBS_WEBSOCKET_OUTPUT_{state}")});
        let sent = Instant::now();
        serve.send_event("StreamStateChanged", data).await;
        let noticed = tokio::time::timeout(Duration::from_secs(5), moments.recv())
            .await
            .expect("a moment within 5 s")
            .expect("moment channel open");
        latencies.push(sent.elapsed());
        assert_eq!(noticed.moment.kind(), expected, "event {i}");
    }
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!("event frame -> moment published, {EVENTS} events:");
    println!("  p50 {:>8.1} us", pct(0.50).as_secs_f64() * 1e6);
    println!("  p90 {:>8.1} us", pct(0.90).as_secs_f64() * 1e6);
    println!("  p99 {:>8.1} us", pct(0.99).as_secs_f64() * 1e6);
    println!("  max {:>8.1} us", latencies[latencies.len() - 1].as_secs_f64() * 1e6);
    session.shutdown().await;
}
