//! The tray app's footprint against a yardstick, both release builds measured in the
//! same run, alternately, because this machine's absolute figures drift by tens of
//! percent between runs. The yardstick (tests/yardsticks/bare-tray) is a bare Tauri 2
//! tray app with one menu item and OnAir's heavy dependencies; the margin over it is
//! what OnAir's own features cost.
//!
//! Each round starts a fresh private desktop per app and measures the whole process
//! tree (PSS from smaps_rollup; RSS beside it):
//! - the yardstick idle in the tray, 10 s after its menu is on the bus;
//! - OnAir connected to a fake OBS, idle in the tray, 10 s after it shows "Offline";
//! - OnAir with its window open (5 s after "Open OnAir"), then 5 s after the window
//!   closed, and that the window opens again afterwards.
//!
//! Each round also times both apps' launch to their menu on the bus (a fresh
//! desktop each; OnAir with no OBS at its port, as `--bench tray_app` does), the
//! start-up figure the release profiles are compared on.
//!
//! Run: `cargo bench -p onair-system-tests --bench footprint` (ONAIR_FOOTPRINT_ROUNDS,
//! default 5). `ONAIR_BENCH_BIN=PATH/onair` measures another build (its
//! `onair-tray` beside it) instead of building this workspace's, as
//! scripts/compare-profiles does for each release profile it compares.

use std::path::{Path, PathBuf};
use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions};
use onair_system_tests::fake::{FakeObs, FakeState};
use onair_system_tests::measure::{footprint, footprint_by_process, median, names, process_tree, Footprint};
use onair_system_tests::support::TrayApp;
use onair_system_tests::world::x11;

const SETTLE: Duration = Duration::from_secs(10);
const WINDOW_SETTLE: Duration = Duration::from_secs(5);

/// Builds the yardstick (its own workspace, its own target directory under ours).
fn yardstick_bin() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("..").join("target"))
        .join("yardstick");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--release", "--manifest-path"])
        .arg(root.join("yardsticks/bare-tray/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("run cargo build for the yardstick");
    assert!(status.success(), "cargo build of the yardstick failed");
    target.join("release").join("traytest")
}

/// The yardstick idle in the tray, and its launch to its menu on the bus.
async fn measure_yardstick(bin: &Path) -> (Footprint, Duration) {
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let mut command = desktop.std_command(bin);
    command.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null());
    let started = std::time::Instant::now();
    let pid = desktop.spawn_tracked(&mut command).expect("start the yardstick");
    desktop.find_menu(pid, Duration::from_secs(30)).await.unwrap_or_else(|e| panic!("yardstick menu: {e}"));
    let launch = started.elapsed();
    tokio::time::sleep(SETTLE).await;
    let measured = footprint(pid);
    desktop.kill_tracked(pid);
    (measured, launch)
}

/// OnAir's figures for one round: tray-only, window open, window closed.
struct OnAirRound {
    /// Launch to the tray menu on the bus, no OBS.
    launch: Duration,
    tray: Footprint,
    open: Footprint,
    closed: Footprint,
    /// Each process after the window closed: name, PSS anon/file in MB.
    closed_by_process: Vec<(String, f64, f64)>,
}

/// OnAir's launch to its menu on the bus with no OBS (a refused port, as the
/// tray_app bench times it): the start-up alone, in a desktop of its own.
async fn measure_onair_launch(bin: &Path) -> Duration {
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let app = TrayApp::start_binary(&mut desktop, bin, 9, &[]).await;
    let launch = app.started.elapsed();
    desktop.kill_tracked(app.pid);
    launch
}

async fn measure_onair(bin: &Path) -> OnAirRound {
    let launch = measure_onair_launch(bin).await;
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    // The fake answers at once, while the app starts: the app waits 5 s for Hello.
    let serving = tokio::spawn(async move {
        for _ in 0..3 {
            let mut conn = fake.accept(Duration::from_secs(30)).await?;
            if conn.handshake(None).await.is_ok() {
                return Some((fake, conn.serve_with(FakeState::default())));
            }
        }
        None
    });
    let app = TrayApp::start_binary(&mut desktop, bin, port, &[]).await;
    let _serving = serving.await.ok().flatten().expect("a handshake within 3 connections");
    app.wait_menu(&desktop, "Offline", Duration::from_secs(10), |m| {
        m.children.first().is_some_and(|r| r.label == "Offline")
    })
    .await;
    tokio::time::sleep(SETTLE).await;
    let tray = footprint(app.pid);

    app.click(&desktop, "Open OnAir").await;
    wait_windows(&desktop, 1).await;
    tokio::time::sleep(WINDOW_SETTLE).await;
    let open = footprint(app.pid);
    x11::close_window(desktop.display(), "OnAir").unwrap_or_else(|e| panic!("{e}"));
    wait_windows(&desktop, 0).await;
    tokio::time::sleep(WINDOW_SETTLE).await;
    let closed = footprint(app.pid);
    let closed_by_process = footprint_by_process(app.pid)
        .into_iter()
        .map(|(name, f)| (name, f.pss_anon_kb as f64 / 1024.0, f.pss_file_kb as f64 / 1024.0))
        .collect();

    // The window still opens after its processes were let go, with WebKit's back.
    app.click(&desktop, "Open OnAir").await;
    wait_windows(&desktop, 1).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let running = names(&process_tree(app.pid));
        if ["WebKitWebProces", "WebKitNetworkPr"].iter().all(|p| running.iter().any(|r| r == p)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the window reopened without WebKit's processes: {running:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    desktop.kill_tracked(app.pid);
    OnAirRound { launch, tray, open, closed, closed_by_process }
}

async fn wait_windows(desktop: &Desktop, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let count = x11::count_windows(desktop.display(), "OnAir").unwrap_or_else(|e| panic!("{e}"));
        if count == n {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{count} OnAir windows, not {n}, after 20 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn mb(values: &[Footprint], pick: impl Fn(&Footprint) -> f64) -> f64 {
    median(&mut values.iter().map(pick).collect::<Vec<_>>())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::var("ONAIR_FOOTPRINT_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let onair: PathBuf = std::env::var_os("ONAIR_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(onair_system_tests::support::onair_release_bin);
    println!("binary: {}", onair.display());
    let yardstick = yardstick_bin();
    let (mut bare, mut tray, mut open, mut closed) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut bare_launch, mut onair_launch) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so a drift during the run weighs on both alike.
        let ((b, b_launch), o) = if round % 2 == 0 {
            let b = measure_yardstick(&yardstick).await;
            (b, measure_onair(&onair).await)
        } else {
            let o = measure_onair(&onair).await;
            (measure_yardstick(&yardstick).await, o)
        };
        println!(
            "round {}: yardstick PSS {:.1} MB (RSS {:.1}, {} procs); OnAir tray PSS {:.1} MB (RSS {:.1}, {} procs, anon {:.1}), \
             window open {:.1} MB ({} procs), closed {:.1} MB (name, anon MB, file MB: {:.1?}); \
             launch to menu: yardstick {:.0} ms, OnAir {:.0} ms",
            round + 1,
            b.pss_mb(),
            b.rss_mb(),
            b.processes,
            o.tray.pss_mb(),
            o.tray.rss_mb(),
            o.tray.processes,
            o.tray.pss_anon_kb as f64 / 1024.0,
            o.open.pss_mb(),
            o.open.processes,
            o.closed.pss_mb(),
            o.closed_by_process,
            b_launch.as_secs_f64() * 1e3,
            o.launch.as_secs_f64() * 1e3
        );
        bare.push(b);
        bare_launch.push(b_launch.as_secs_f64() * 1e3);
        onair_launch.push(o.launch.as_secs_f64() * 1e3);
        tray.push(o.tray);
        open.push(o.open);
        closed.push(o.closed);
    }
    let (bare_pss, tray_pss) = (mb(&bare, Footprint::pss_mb), mb(&tray, Footprint::pss_mb));
    let (open_pss, closed_pss) = (mb(&open, Footprint::pss_mb), mb(&closed, Footprint::pss_mb));
    println!("medians over {rounds} rounds (PSS, whole process tree, release builds):");
    println!("  yardstick (bare Tauri 2 tray) {bare_pss:.1} MB (RSS {:.1})", mb(&bare, Footprint::rss_mb));
    println!(
        "  OnAir tray-only, connected    {tray_pss:.1} MB (RSS {:.1}): {:+.1} MB over the yardstick (target <= +10)",
        mb(&tray, Footprint::rss_mb),
        tray_pss - bare_pss
    );
    println!("  OnAir window open             {open_pss:.1} MB (RSS {:.1})", mb(&open, Footprint::rss_mb));
    println!(
        "  OnAir 5 s after it closed     {closed_pss:.1} MB (RSS {:.1}): {:+.1} MB over tray-only (target <= +10)",
        mb(&closed, Footprint::rss_mb),
        closed_pss - tray_pss
    );
    println!(
        "launch to the menu on the bus (medians): yardstick {:.0} ms, OnAir {:.0} ms",
        median(&mut bare_launch),
        median(&mut onair_launch)
    );
}
