//! Benchmarks against a real OBS Studio (headless, loopback RTMP):
//! - from OBS's websocket port opening to a waiting session being identified and
//!   synced (OBS restarted under a session that retries, as a streamer would do it);
//! - a fresh session's connect + identify + sync against a running OBS;
//! - peak and current resident memory of `onair watch --json` (release build)
//!   holding a session through 30 s of a live stream.
//!
//! Run: `cargo bench -p onair-system-tests --bench real_obs`.

use std::time::{Duration, Instant};

use onair_headless::obs::Session;
use onair_system_tests::support::{fast_config, wait_state};
use onair_system_tests::world::{ObsWorld, WorldOptions};

const RESTARTS: usize = 5;
const FRESH_SESSIONS: usize = 30;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

async fn port_open(port: u16) -> Instant {
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut world = ObsWorld::start(WorldOptions { password: Some("bench".into()), ..WorldOptions::default() })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = world.ws_port();

    // 1. OBS comes back under a session that is waiting for it.
    let (session, _task) = Session::spawn(fast_config(port, Some("bench")));
    wait_state(&session, "connected", Duration::from_secs(10), |s| s.obs.is_some()).await;
    let mut comebacks = Vec::new();
    for _ in 0..RESTARTS {
        world.kill_obs();
        wait_state(&session, "lost", Duration::from_secs(10), |s| s.obs.is_none()).await;
        let mut state = session.state();
        let synced = async {
            let _ = state.wait_for(|s| s.obs.is_some()).await;
            Instant::now()
        };
        let (opened, started, synced) = tokio::join!(port_open(port), world.start_obs(), synced);
        started.unwrap_or_else(|e| panic!("{e}"));
        comebacks.push(synced.saturating_duration_since(opened));
    }
    session.shutdown().await;
    println!("OBS port open -> waiting session synced, {RESTARTS} OBS restarts:");
    println!(
        "  median {}  min {}  max {}",
        ms(median(comebacks.clone())),
        ms(*comebacks.iter().min().unwrap()),
        ms(*comebacks.iter().max().unwrap())
    );

    // 2. A fresh session against a running OBS: connect, Hello, Identify (auth), sync.
    let mut fresh = Vec::new();
    for _ in 0..FRESH_SESSIONS {
        let started = Instant::now();
        let (session, task) = Session::spawn(fast_config(port, Some("bench")));
        wait_state(&session, "connected", Duration::from_secs(10), |s| s.obs.is_some()).await;
        fresh.push(started.elapsed());
        session.shutdown().await;
        let _ = task.await;
    }
    println!("fresh session connect + identify + sync, {FRESH_SESSIONS} runs:");
    println!(
        "  median {}  min {}  max {}",
        ms(median(fresh.clone())),
        ms(*fresh.iter().min().unwrap()),
        ms(*fresh.iter().max().unwrap())
    );

    // 3. Memory of the watcher holding a session through a live stream.
    let bin = onair_system_tests::support::onair_release_bin();
    let mut watcher = tokio::process::Command::new(bin)
        .args(["watch", "--json", "--host", "127.0.0.1", "--port", &port.to_string()])
        .env("ONAIR_PASSWORD", "bench")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start onair watch");
    let pid = watcher.id().expect("watcher pid");
    tokio::time::sleep(Duration::from_secs(2)).await;
    world.request("StartStream", serde_json::Value::Null).await.unwrap_or_else(|e| panic!("{e}"));
    tokio::time::sleep(Duration::from_secs(30)).await;
    let proc_status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        proc_status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
            .unwrap_or_default()
    };
    println!("onair watch (release) through 30 s live, polling health every 2 s:");
    println!(
        "  peak RSS (VmHWM) {} kB, RSS now {} kB, threads {}",
        field("VmHWM:"),
        field("VmRSS:"),
        field("Threads:")
    );
    world.request("StopStream", serde_json::Value::Null).await.ok();
    let _ = watcher.kill().await;
}
