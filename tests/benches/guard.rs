//! The stream guard on a healthy stream, against real OBS (headless, loopback RTMP):
//! a picture on the program, a watched mic playing a tone, a steady ingest. For
//! `ONAIR_GUARD_MINUTES` (default 10) it counts the alerts `onair watch --json`
//! (release build) raises, which should be none, and measures the CPU the watcher
//! uses while live (volume meters subscribed, the program screenshotted every 2 s)
//! against the same watcher connected while the stream is offline, for 60 s. The
//! tray app (release build, in a private headless desktop, watching the same mic from
//! its settings) is measured over the same periods, its whole process tree.
//!
//! Run: `cargo bench -p onair-system-tests --bench guard` (ten minutes and more);
//! `ONAIR_GUARD_MINUTES=2` for a shorter look.

use std::io::BufRead;
use std::time::{Duration, Instant};

use onair_system_tests::desktop::{Desktop, DesktopOptions};
use onair_system_tests::measure::cpu_percent;
use onair_system_tests::support::TrayApp;
use onair_system_tests::world::{ObsWorld, TestAudio, WorldOptions};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let minutes: u64 = std::env::var("ONAIR_GUARD_MINUTES").ok().and_then(|m| m.parse().ok()).unwrap_or(10);
    let world = ObsWorld::start(WorldOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    world.add_test_audio("Test Mic", TestAudio::Tone).await.unwrap_or_else(|e| panic!("{e}"));
    let bin = onair_system_tests::support::onair_release_bin();
    let output = std::env::temp_dir().join(format!("onair-guard-bench-{}.jsonl", std::process::id()));
    let file = std::fs::File::create(&output).expect("an output file");
    let mut watcher = tokio::process::Command::new(&bin)
        .args(["watch", "--json", "--host", "127.0.0.1", "--port", &world.ws_port().to_string(), "--mic", "Test Mic"])
        .env("XDG_CONFIG_HOME", std::env::temp_dir().join("onair-guard-bench-no-config"))
        .stdout(file)
        .kill_on_drop(true)
        .spawn()
        .expect("start onair watch");
    let pid = watcher.id().expect("watcher pid");
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let config = desktop.home().join(".config/onair");
    std::fs::create_dir_all(&config).expect("the tray app's config folder");
    std::fs::write(config.join("settings.toml"), "[audio]\nmics = [\"Test Mic\"]\n").expect("the tray app's settings");
    let app = TrayApp::start_binary(&mut desktop, &bin, world.ws_port(), &[]).await;
    app.wait_menu(&desktop, "Offline", Duration::from_secs(20), |m| {
        m.children.first().is_some_and(|r| r.label == "Offline")
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (idle, app_idle) =
        tokio::join!(cpu_percent(pid, Duration::from_secs(60)), cpu_percent(app.pid, Duration::from_secs(60)));

    world.start_stream(Duration::from_secs(30)).await.unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    // The first minute settles the guard's own baselines (low-bitrate waits 30 s).
    let period = Duration::from_secs(60 * minutes);
    let (live, app_live) = tokio::join!(cpu_percent(pid, period), cpu_percent(app.pid, period));
    let live_for = started.elapsed();
    let app_menu = app.menu(&desktop).await;
    desktop.kill_tracked(app.pid);
    world.request("StopStream", serde_json::Value::Null).await.unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let _ = watcher.kill().await;

    let lines: Vec<serde_json::Value> = std::io::BufReader::new(std::fs::File::open(&output).expect("the output"))
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    let _ = std::fs::remove_file(&output);
    let alerts: Vec<&serde_json::Value> = lines.iter().filter(|l| l["moment"] == "alert").collect();
    let metered = lines.iter().any(|l| l["state"]["obs"]["mics"][0]["input_level_dbfs"].as_f64().is_some());
    println!(
        "stream guard on a healthy real-OBS stream ({:.0} s live, a picture, a talking mic):",
        live_for.as_secs_f64()
    );
    println!("  alerts raised: {} {:?}", alerts.len(), alerts.iter().map(|a| a["alert"].clone()).collect::<Vec<_>>());
    println!("  the mic was metered: {metered}");
    println!("  onair watch --json (release) CPU: {live:.2} % of one core live, {idle:.2} % connected with the stream offline");
    println!(
        "  tray app (release, whole tree) CPU: {app_live:.2} % of one core live, {app_idle:.2} % connected with the \
         stream offline; its menu's first row at the end: {:?}",
        app_menu.children.first().map(|r| r.label.clone()).unwrap_or_default()
    );
}
