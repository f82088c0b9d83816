//! Benchmark of a moment's way out, from an event frame on the socket:
//! 1. to the derived moment being published, over 10,000 events, through the
//!    whole engine (socket, client actor, session, model, broadcast);
//! 2. to the tray app's `Notify` call on the session bus, over 500 moments: the
//!    release build of the app in a private desktop (dunst answering), the
//!    call's time being the bus monitor's timestamp of it. Moments are 20 ms
//!    apart, as a stream's are far more, so none waits behind the last one's
//!    tray redraw.
//!
//! Run: `cargo bench -p onair-system-tests --bench moment_latency`
//! (`ONAIR_TRAY_BIN=path` measures another build of the tray app in part 2;
//! `ONAIR_MOMENTS_ONLY=1` skips part 2).
//!
//! The fake OBS sends a cycle of stream events that each make exactly one moment
//! (STARTED: live, RECONNECTING: reconnecting, RECONNECTED: reconnected, STOPPED:
//! ended). The clock starts just before the fake writes the frame, so the figures
//! include the fake's own write: an upper bound on the engine's share.

use std::time::{Duration, Instant};

use onair_headless::obs::Session;
use onair_system_tests::desktop::{Desktop, DesktopOptions};
use onair_system_tests::fake::{FakeObs, FakeState};
use onair_system_tests::support::{fast_config, wait_state, TrayApp};
use serde_json::json;

const EVENTS: usize = 10_000;
const NOTIFIED: usize = 500;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

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
    drop(serve);

    if std::env::var_os("ONAIR_MOMENTS_ONLY").is_none() {
        event_to_notify().await;
    }
}

/// Part 2: the tray app against the fake OBS, each moment's Notify seen on the bus.
async fn event_to_notify() {
    let bin = std::env::var_os("ONAIR_TRAY_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(onair_system_tests::support::onair_release_bin);
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let mut fake = FakeObs::start().await;
    let app = TrayApp::start_binary(&mut desktop, &bin, fake.port(), &[]).await;
    // The app may look at the port before it connects for good: the first
    // connection that says Identify is the session's.
    let mut conn = fake.accept(Duration::from_secs(10)).await.expect("the app connects");
    while conn.handshake(None).await.is_err() {
        conn = fake.accept(Duration::from_secs(10)).await.expect("the app connects again");
    }
    let serve = conn.serve_with(FakeState::default());
    app.wait_menu(&desktop, "Offline", Duration::from_secs(10), |m| {
        m.children.first().is_some_and(|r| r.label == "Offline")
    })
    .await;
    let notifications = desktop.notifications();
    let mut latencies = Vec::with_capacity(NOTIFIED);
    for i in 0..NOTIFIED {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let live = i % 2 == 0;
        let (state, category) = if live { ("STARTED", "x-onair.live") } else { ("STOPPED", "x-onair.ended") };
        serve.update_state(|s| s.stream_active = live);
        let before = notifications.all().len();
        let sent = Instant::now();
        serve
            .send_event(
                "StreamStateChanged",
                json!({"outputActive": live, "outputState": format!("OBS_WEBSOCKET_OUTPUT_{state}")}),
            )
            .await;
        // Answered, so the next moment does not wait behind dunst's answer to this one.
        let seen = notifications
            .wait_for(|n| n.category() == Some(category) && n.at >= sent && n.id.is_some(), Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("moment {i}: {e}"));
        assert_eq!(notifications.all().len(), before + 1, "exactly one Notify per moment");
        latencies.push(seen.at.saturating_duration_since(sent));
    }
    latencies.sort();
    let senders: std::collections::BTreeSet<String> = notifications.all().into_iter().map(|n| n.sender).collect();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("event frame -> Notify on the bus (tray app {}), {NOTIFIED} moments:", bin.display());
    println!("  p50 {:>6.2} ms", ms(percentile(&latencies, 0.50)));
    println!("  p90 {:>6.2} ms", ms(percentile(&latencies, 0.90)));
    println!("  p99 {:>6.2} ms", ms(percentile(&latencies, 0.99)));
    println!("  max {:>6.2} ms", ms(latencies[latencies.len() - 1]));
    println!("  over {} bus connection(s)", senders.len());
    desktop.kill_tracked(app.pid);
}
