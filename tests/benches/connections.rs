//! What each added OBS costs the tray app: its memory and CPU watching 1, 2
//! and 8 OBS at once (fake obs-websocket servers, `[[connections]]` in the
//! settings), release build, the whole process tree, in a fresh private
//! desktop per run, the counts alternated round by round so drift falls on
//! all of them alike.
//!
//! Per run: PSS and RSS 10 s after every OBS shows in the menu, CPU over 20 s
//! with all of them offline, then over 20 s with all of them live (the menu's
//! clocks tick every second in every section).
//!
//! Run: `cargo bench -p onair-system-tests --bench connections`
//! (ONAIR_CONNECTIONS_ROUNDS, default 3).

use std::path::Path;
use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions, MenuNode};
use onair_system_tests::fake::{FakeObs, FakeState, ServeHandle};
use onair_system_tests::measure::{cpu_percent, footprint, median, Footprint};
use onair_system_tests::support::TrayApp;
use serde_json::json;

const SETTLE: Duration = Duration::from_secs(10);
const CPU_PERIOD: Duration = Duration::from_secs(20);
const COUNTS: [usize; 3] = [1, 2, 8];

struct Run {
    memory: Footprint,
    cpu_offline: f64,
    cpu_live: f64,
}

/// A fake OBS that answers the app's connection as soon as it comes.
async fn fake_obs() -> (u16, tokio::task::JoinHandle<Option<(FakeObs, ServeHandle)>>) {
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    let serving = tokio::spawn(async move {
        for _ in 0..3 {
            let mut conn = fake.accept(Duration::from_secs(60)).await?;
            if conn.handshake(None).await.is_ok() {
                return Some((fake, conn.serve_with(FakeState::default())));
            }
        }
        None
    });
    (port, serving)
}

/// Every OBS's state row in the menu: the first row with one OBS, each
/// section's named row with several.
fn all_show(menu: &MenuNode, count: usize, word: &str) -> bool {
    if count == 1 {
        return menu.children.first().is_some_and(|r| r.label.contains(word));
    }
    (0..count)
        .all(|i| menu.children.iter().any(|r| r.label.starts_with(&format!("OBS {i}: ")) && r.label.contains(word)))
}

async fn measure(bin: &Path, count: usize) -> Run {
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let mut settings = String::new();
    let mut servers = Vec::new();
    for i in 0..count {
        let (port, serving) = fake_obs().await;
        settings.push_str(&format!("[[connections]]\nname = \"OBS {i}\"\nhost = \"127.0.0.1\"\nport = {port}\n\n"));
        servers.push(serving);
    }
    let config = desktop.home().join(".config/onair");
    std::fs::create_dir_all(&config).expect("the app's config folder");
    std::fs::write(config.join("settings.toml"), settings).expect("the app's settings");
    let app = TrayApp::start_with_args(&mut desktop, bin, &[], &[]).await;
    let mut served = Vec::new();
    for serving in servers {
        served.push(serving.await.ok().flatten().expect("every fake OBS gets its connection"));
    }
    app.wait_menu(&desktop, "every OBS offline", Duration::from_secs(30), |m| all_show(m, count, "Offline")).await;
    tokio::time::sleep(SETTLE).await;
    let memory = footprint(app.pid);
    let cpu_offline = cpu_percent(app.pid, CPU_PERIOD).await;
    for (_, handle) in &served {
        handle.update_state(|s| s.stream_active = true);
        handle
            .send_event(
                "StreamStateChanged",
                json!({"outputActive": true, "outputState": "OBS_WEBSOCKET_OUTPUT_STARTED"}),
            )
            .await;
    }
    app.wait_menu(&desktop, "every OBS live", Duration::from_secs(30), |m| all_show(m, count, "LIVE")).await;
    let cpu_live = cpu_percent(app.pid, CPU_PERIOD).await;
    desktop.kill_tracked(app.pid);
    Run { memory, cpu_offline, cpu_live }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::var("ONAIR_CONNECTIONS_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
    let bin = onair_system_tests::support::onair_release_bin();
    let mut runs: Vec<Vec<Run>> = COUNTS.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for (slot, count) in COUNTS.iter().enumerate() {
            let run = measure(&bin, *count).await;
            eprintln!(
                "round {}: {count} OBS: {:.1} MB PSS, {:.1} MB RSS, CPU {:.2} % offline, {:.2} % live",
                round + 1,
                run.memory.pss_mb(),
                run.memory.rss_mb(),
                run.cpu_offline,
                run.cpu_live
            );
            runs[slot].push(run);
        }
    }
    let pick = |runs: &[Run], f: &dyn Fn(&Run) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
    println!("tray app (release, whole process tree) watching several fake OBS, medians of {rounds} rounds:");
    println!("  OBS   PSS MB   RSS MB   CPU offline   CPU live (% of one core)");
    let mut pss = Vec::new();
    for (slot, count) in COUNTS.iter().enumerate() {
        let (p, r) = (pick(&runs[slot], &|r| r.memory.pss_mb()), pick(&runs[slot], &|r| r.memory.rss_mb()));
        let (off, live) = (pick(&runs[slot], &|r| r.cpu_offline), pick(&runs[slot], &|r| r.cpu_live));
        println!("  {count:>3}   {p:>6.1}   {r:>6.1}   {off:>11.2}   {live:>8.2}");
        pss.push(p);
    }
    let per_obs = (pss[2] - pss[0]) / (COUNTS[2] - COUNTS[0]) as f64;
    println!("  each OBS past the first: {per_obs:+.2} MB PSS (from 1 to {} OBS)", COUNTS[2]);
}
