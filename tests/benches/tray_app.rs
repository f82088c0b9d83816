//! Benchmarks of the tray app (release build) in a private headless desktop:
//! - launch to the tray menu existing on the session bus;
//! - an event frame from (fake) OBS to the Notify call seen on the bus;
//! - resident memory of the app and all its processes idle in the tray, and
//!   after its window was opened and closed; CPU used over a minute idle.
//!
//! Run: `cargo bench -p onair-system-tests --bench tray_app`.

use std::time::{Duration, Instant};

use onair_system_tests::desktop::{Desktop, DesktopOptions};
use onair_system_tests::fake::{FakeObs, FakeState};
use onair_system_tests::measure::{footprint, names, process_tree, tree_cpu_ticks};
use onair_system_tests::support::TrayApp;
use serde_json::json;

const LAUNCHES: usize = 5;
const EVENTS: usize = 100;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn tree_rss_kb(root: u32) -> (u64, Vec<String>) {
    let measured = footprint(root);
    (measured.rss_kb, names(&process_tree(root)))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bin = onair_system_tests::support::onair_release_bin();

    // 1. Launch to menu on the bus (no OBS: the menu must not wait for it).
    let mut launches = Vec::new();
    for _ in 0..LAUNCHES {
        let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
        let app = TrayApp::start_binary(&mut desktop, &bin, 9, &[]).await;
        launches.push(app.started.elapsed());
        desktop.kill_tracked(app.pid);
    }
    launches.sort();
    println!(
        "launch -> tray menu on the bus, {LAUNCHES} launches: median {}  min {}  max {}",
        ms(percentile(&launches, 0.5)),
        ms(launches[0]),
        ms(launches[LAUNCHES - 1])
    );

    // 2. Event frame -> Notify on the bus, against a fake OBS.
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let mut fake = FakeObs::start().await;
    let app = TrayApp::start_binary(&mut desktop, &bin, fake.port(), &[]).await;
    let mut conn = fake.accept(Duration::from_secs(10)).await.expect("the app connects");
    conn.handshake(None).await.expect("handshake");
    let serve = conn.serve_with(FakeState::default());
    app.wait_menu(&desktop, "Offline", Duration::from_secs(10), |m| {
        m.children.first().is_some_and(|r| r.label == "Offline")
    })
    .await;
    let notifications = desktop.notifications();
    let mut latencies = Vec::new();
    for i in 0..EVENTS {
        let (state, category) = if i % 2 == 0 { ("STARTED", "x-onair.live") } else { ("STOPPED", "x-onair.ended") };
        let before = notifications.all().len();
        let sent = Instant::now();
        serve
            .send_event(
                "StreamStateChanged",
                json!({"outputActive": i % 2 == 0, "outputState": format!("OBS_WEBSOCKET_OUTPUT_{state}")}),
            )
            .await;
        let seen = notifications
            .wait_for(|n| n.category() == Some(category) && n.at >= sent, Duration::from_secs(5))
            .await
            .unwrap_or_else(|e| panic!("event {i}: {e}"));
        assert_eq!(notifications.all().len(), before + 1, "exactly one Notify per moment");
        latencies.push(seen.at.saturating_duration_since(sent));
    }
    latencies.sort();
    println!(
        "event frame -> Notify on the bus, {EVENTS} moments: p50 {}  p99 {}  max {}",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies[EVENTS - 1])
    );

    // 3. Memory and idle CPU, connected, no window.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (idle_rss, names) = tree_rss_kb(app.pid);
    println!("idle in the tray, no window: RSS {} kB over {} processes {:?}", idle_rss, names.len(), names);
    let ticks_per_second = 100.0; // USER_HZ on Linux
    let cpu_before = tree_cpu_ticks(app.pid);
    let wall = Instant::now();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let cpu = (tree_cpu_ticks(app.pid) - cpu_before) as f64 / ticks_per_second;
    println!(
        "CPU over {:.0} s idle: {:.2} s ({:.2}% of one core)",
        wall.elapsed().as_secs_f64(),
        cpu,
        cpu * 100.0 / wall.elapsed().as_secs_f64()
    );

    app.click(&desktop, "Open OnAir").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (open_rss, names) = tree_rss_kb(app.pid);
    println!("window open: RSS {} kB over {} processes {:?}", open_rss, names.len(), names);
    onair_system_tests::world::x11::close_window(desktop.display(), "OnAir").unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (closed_rss, names) = tree_rss_kb(app.pid);
    println!("after the window was closed: RSS {} kB over {} processes {:?}", closed_rss, names.len(), names);
}
