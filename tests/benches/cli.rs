//! Benchmark of the `onair` command (release build), process start to exit:
//! - `onair --help`, and `onair status` against a port nothing listens at:
//!   wall time and peak RSS, median of RUNS runs;
//! - `onair stream toggle` against the fake OBS (a new connection each run);
//! - `onair watch --json` holding a live session with the fake OBS: RSS and PSS.
//!
//! Run: `cargo bench -p onair-system-tests --bench cli`. `ONAIR_BENCH_BIN=PATH`
//! measures another build of `onair` instead (e.g. an older one, for a before
//! and after) without building this workspace's. Peak RSS is the kernel's
//! `ru_maxrss` for that one child (wait4), so nothing has to sample it in time.
//! Targets (issue 11): `--help` and refused `status` ≤ 10 ms and ≤ 10 MB peak
//! RSS; `watch --json` live ≤ 10 MB RSS; `stream toggle` ≤ 30 ms. Exits 1 when
//! one is missed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use onair_system_tests::fake::{FakeObs, FakeState};

const RUNS: usize = 25;
const T: Duration = Duration::from_secs(10);

/// One finished run: wall time from spawn to reaped, peak RSS, exit code.
struct Run {
    wall: Duration,
    peak_rss_kb: u64,
    code: i32,
}

/// Starts `bin ARGS` with a quiet, keyring-free environment (as a status bar
/// would run it, without a session bus to wait on).
fn spawn(bin: &Path, args: &[&str]) -> (std::process::Child, Instant) {
    let started = Instant::now();
    let child = std::process::Command::new(bin)
        .args(args)
        .env_remove("ONAIR_PASSWORD")
        .env("XDG_CONFIG_HOME", std::env::temp_dir().join("onair-bench-no-config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
    (child, started)
}

/// Reaps `child` with wait4, which reports that child's own peak RSS.
fn reap(child: std::process::Child, started: Instant) -> Run {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data the kernel fills in; the child is ours and
    // not waited for elsewhere (std's Child is dropped without a wait).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    drop(child);
    let code = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -1 };
    Run { wall, peak_rss_kb: usage.ru_maxrss as u64, code }
}

fn run_once(bin: &Path, args: &[&str]) -> Run {
    let (child, started) = spawn(bin, args);
    reap(child, started)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Median wall ms and median peak RSS MB of `runs`.
fn medians(runs: &[Run]) -> (f64, f64) {
    (
        median(runs.iter().map(|r| r.wall.as_secs_f64() * 1e3).collect()),
        median(runs.iter().map(|r| r.peak_rss_kb as f64 / 1024.0).collect()),
    )
}

fn max_ms(runs: &[Run]) -> f64 {
    runs.iter().map(|r| r.wall.as_secs_f64() * 1e3).fold(0.0, f64::max)
}

/// RSS and PSS of one process from /proc/PID/smaps_rollup, in kB.
fn rss_pss_kb(pid: u32) -> (u64, u64) {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let field = |name: &str| {
        rollup
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (field("Rss:"), field("Pss:"))
}

/// A loopback port nothing listens at (bound, read, released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local address").port()
}

struct Verdict {
    missed: Vec<String>,
}

impl Verdict {
    fn check(&mut self, what: &str, value: f64, target: f64, unit: &str) {
        let mark = if value <= target { "ok" } else { "MISSED" };
        println!("    {what}: {value:.1} {unit} (target <= {target} {unit}) {mark}");
        if value > target {
            self.missed.push(format!("{what} {value:.1} {unit} > {target} {unit}"));
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bin: PathBuf = std::env::var_os("ONAIR_BENCH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(onair_system_tests::support::onair_release_bin);
    println!(
        "binary: {} ({:.1} MB)",
        bin.display(),
        std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
    );
    let mut verdict = Verdict { missed: Vec::new() };
    // Warm the page cache: the first run of a fresh build reads it from disk.
    for _ in 0..3 {
        run_once(&bin, &["--help"]);
    }

    let help: Vec<Run> = (0..RUNS).map(|_| run_once(&bin, &["--help"])).collect();
    assert!(help.iter().all(|r| r.code == 0), "--help exits 0");
    let (wall, rss) = medians(&help);
    println!("onair --help, {RUNS} runs (median; max wall {:.1} ms):", max_ms(&help));
    verdict.check("wall", wall, 10.0, "ms");
    verdict.check("peak RSS", rss, 10.0, "MB");

    let port = closed_port().to_string();
    let status_args = ["status", "--host", "127.0.0.1", "--port", &port];
    let refused: Vec<Run> = (0..RUNS).map(|_| run_once(&bin, &status_args)).collect();
    assert!(refused.iter().all(|r| r.code == 3), "status against a closed port exits 3");
    let (wall, rss) = medians(&refused);
    println!("onair status, nothing listening at the port, {RUNS} runs (median; max wall {:.1} ms):", max_ms(&refused));
    verdict.check("wall", wall, 10.0, "ms");
    verdict.check("peak RSS", rss, 10.0, "MB");

    // A new connection each run, as a hotkey makes one; OBS starts offline so
    // the toggle starts the stream and waits for it to be live.
    let mut fake = FakeObs::start().await;
    let port = fake.port().to_string();
    let mut toggles = Vec::new();
    for _ in 0..RUNS {
        let (child, started) = spawn(&bin, &["stream", "toggle", "--host", "127.0.0.1", "--port", &port]);
        let mut conn = fake.accept(T).await.expect("onair connects");
        conn.handshake(None).await.expect("handshake");
        let serve = conn.serve_with(FakeState::default());
        let run = tokio::task::spawn_blocking(move || reap(child, started)).await.expect("reaped");
        assert_eq!(run.code, 0, "stream toggle exits 0");
        assert!(serve.state().stream_active, "the stream was started");
        toggles.push(run);
    }
    let (wall, rss) = medians(&toggles);
    println!("onair stream toggle against the fake OBS, {RUNS} runs (median; max wall {:.1} ms):", max_ms(&toggles));
    verdict.check("start to exit", wall, 30.0, "ms");
    println!("    peak RSS: {rss:.1} MB");

    // A live session: connected, OBS streaming, health polled every 2 s.
    let mut watch = tokio::process::Command::new(&bin)
        .args(["watch", "--json", "--host", "127.0.0.1", "--port", &port])
        .env_remove("ONAIR_PASSWORD")
        .env("XDG_CONFIG_HOME", std::env::temp_dir().join("onair-bench-no-config"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start onair watch");
    let pid = watch.id().expect("watch pid");
    let stdout = watch.stdout.take().expect("piped stdout");
    let mut conn = fake.accept(T).await.expect("watch connects");
    conn.handshake(None).await.expect("handshake");
    let _serve = conn.serve_with(FakeState { stream_active: true, ..FakeState::default() });
    let lines = tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut reader = tokio::io::BufReader::new(stdout).lines();
        let mut count = 0usize;
        while let Ok(Some(_)) = reader.next_line().await {
            count += 1;
        }
        count
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut samples = Vec::new();
    for _ in 0..10 {
        samples.push(rss_pss_kb(pid));
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = tokio::time::timeout(T, watch.wait()).await;
    let printed = lines.await.unwrap_or(0);
    assert!(printed > 0, "watch printed the live session");
    let rss = median(samples.iter().map(|s| s.0 as f64 / 1024.0).collect());
    let pss = median(samples.iter().map(|s| s.1 as f64 / 1024.0).collect());
    println!("onair watch --json, live session held 3-8 s ({printed} lines), median of {} samples:", samples.len());
    verdict.check("RSS", rss, 10.0, "MB");
    println!("    PSS: {pss:.1} MB");

    if !verdict.missed.is_empty() {
        println!("missed: {}", verdict.missed.join("; "));
        std::process::exit(1);
    }
}
