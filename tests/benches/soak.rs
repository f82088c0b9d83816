//! Soak: a 12-hour stream against the fake OBS in accelerated time, through a real engine
//! [`Session`]: memory stays flat, moments do not lag more at the end than at the start, and every
//! scripted moment is announced exactly once.
//! Run: `cargo bench -p onair-system-tests --bench soak` (a minute or two; exits 1 on a failure).
//!
//! The script, every simulated hour (obs-websocket 5.5, so recordings can split):
//! * health polls all along (the session's poll interval is shortened), answered from counters
//!   that grow at a 6 Mb/s, 30 fps stream's pace per simulated second;
//! * a replay saved every 20 s and a scene switch every 2 min (sent as OBS events);
//! * recording started, paused, resumed, split into a new file and stopped, then started and
//!   stopped again (the first through the session's controls, as the tray sends them);
//! * an RTMP outage with four reconnect attempts and a recovery that restarts OBS's counters;
//! * OnAir's own link to OBS dropped and restored while live and recording.
//!
//! Memory is read twice over: RSS and its peak from `/proc/self/status` (what the system sees),
//! and the live heap from a counting allocator (what is really held; RSS keeps pages the
//! allocator reuses, so it creeps a little even when nothing accumulates).
//!
//! Simulated time runs about 1,000 times faster than the wall clock, except for OBS's
//! `outputDuration` figures: those follow the wall clock since the output (re)started, because the
//! engine reads them against its own clock to tell one stream from the next.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use onair_headless::control::Control;
use onair_headless::obs::Session;
use onair_headless::state::{Noticed, State};
use onair_system_tests::fake::{FakeObs, FakeState, Profile, ServeHandle};
use onair_system_tests::support::fast_config;
use serde_json::json;
use tokio::sync::broadcast;

/// Simulated hours; `ONAIR_SOAK_HOURS` runs longer (or shorter).
fn hours() -> u64 {
    std::env::var("ONAIR_SOAK_HOURS").ok().and_then(|h| h.parse().ok()).filter(|h| *h >= 2).unwrap_or(12)
}
/// Simulated seconds per step of the script.
const TICK_S: u64 = 10;
/// Wall-clock time per step: what gives the health polls room to run.
const TICK_REAL: Duration = Duration::from_millis(3);
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// How long one expected moment may take before the script counts it missing.
const MOMENT_TIMEOUT: Duration = Duration::from_secs(10);
const BYTES_PER_S: u64 = 6_000_000 / 8;
const FPS: u64 = 30;
const SCENES: [&str; 4] = ["Starting Soon", "Just Chatting", "Gameplay", "BRB"];

/// Bytes allocated and not yet freed, by anyone in the process: unlike RSS, this does not keep
/// what the allocator holds on to after a free, so it tells a leak from a high-water mark.
static LIVE_HEAP: AtomicI64 = AtomicI64::new(0);

struct CountingAllocator;

// SAFETY: every call is forwarded to `System` unchanged; the counter only observes sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_HEAP.fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        unsafe { System.dealloc(p, layout) };
        LIVE_HEAP.fetch_sub(layout.size() as i64, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            LIVE_HEAP.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        }
        q
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Memory of this process (fake OBS, engine and this script): resident and peak from
/// `/proc/self/status`, and the live heap.
#[derive(Clone, Copy, Default)]
struct Memory {
    rss_kb: u64,
    peak_kb: u64,
    heap_kb: u64,
}

fn memory() -> Memory {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
            .unwrap_or(0)
    };
    let heap_kb = (LIVE_HEAP.load(Ordering::Relaxed).max(0) / 1024) as u64;
    Memory { rss_kb: field("VmRSS:"), peak_kb: field("VmHWM:"), heap_kb }
}

/// Latencies of one kind, by simulated hour.
struct Lags {
    by_hour: Vec<Vec<Duration>>,
}

impl Lags {
    fn new(hours: u64) -> Lags {
        // Sized up front, so the script's own records do not show up as growth.
        Lags { by_hour: (0..hours).map(|_| Vec::with_capacity(256)).collect() }
    }

    fn add(&mut self, hour: u64, lag: Duration) {
        self.by_hour[hour as usize].push(lag);
    }

    /// p50, p99 and max of one hour, in microseconds.
    fn summary(&self, hour: usize) -> (f64, f64, f64) {
        let mut v = self.by_hour[hour].clone();
        if v.is_empty() {
            return (0.0, 0.0, 0.0);
        }
        v.sort();
        let at = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e6;
        (at(0.5), at(0.99), at(1.0))
    }
}

/// The moments the script expects and those the session announced.
struct Moments {
    rx: broadcast::Receiver<Noticed>,
    expected: Vec<&'static str>,
    announced: Vec<&'static str>,
    missing: Vec<String>,
}

impl Moments {
    /// Waits for these kinds, in this order; anything else that arrives meanwhile is logged
    /// (and so shows up as an extra in the final count). Returns how long it took.
    async fn expect(&mut self, kinds: &[&'static str], what: &str) -> Duration {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + MOMENT_TIMEOUT;
        for &kind in kinds {
            self.expected.push(kind);
            loop {
                match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                    Ok(Ok(noticed)) => {
                        let got = noticed.moment.kind().wire_name();
                        self.announced.push(got);
                        if got == kind {
                            break;
                        }
                    }
                    Ok(Err(broadcast::error::RecvError::Lagged(n))) => {
                        self.missing.push(format!("{n} moments overran the receiver during {what}"));
                    }
                    Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => {
                        self.missing.push(format!("{kind} ({what})"));
                        break;
                    }
                }
            }
        }
        started.elapsed()
    }

    /// Collects whatever else arrives within `quiet`.
    async fn drain(&mut self, quiet: Duration) {
        while let Ok(Ok(noticed)) = tokio::time::timeout(quiet, self.rx.recv()).await {
            self.announced.push(noticed.moment.kind().wire_name());
        }
    }

    /// `(kind, expected, announced)` for every kind where either is non-zero.
    fn tally(&self) -> Vec<(&'static str, usize, usize)> {
        let mut kinds: Vec<&'static str> = self.expected.clone();
        kinds.extend(self.announced.iter().copied());
        kinds.sort();
        kinds.dedup();
        kinds
            .into_iter()
            .map(|k| {
                let expected = self.expected.iter().filter(|e| **e == k).count();
                let announced = self.announced.iter().filter(|a| **a == k).count();
                (k, expected, announced)
            })
            .collect()
    }
}

/// OBS's side of the simulation: its connection, and the clocks its counters run on.
struct Obs {
    fake: FakeObs,
    serve: ServeHandle,
    connections: usize,
    /// Requests answered so far by type (the fake's log is emptied into it as the run goes, so
    /// the process's memory is the engine's, not a growing test log).
    requests: BTreeMap<String, usize>,
    stream_since: Instant,
    record_since: Option<Instant>,
    outage: bool,
}

impl Obs {
    /// One script step: OBS's counters move on by `TICK_S` simulated seconds.
    fn tick(&mut self) {
        let stream_ms = self.stream_since.elapsed().as_millis() as u64;
        let record_ms = self.record_since.map(|s| s.elapsed().as_millis() as u64);
        let outage = self.outage;
        self.serve.update_state(|st| {
            st.render_total_frames += FPS * TICK_S;
            if !outage {
                st.stream_duration_ms = stream_ms;
                st.stream_bytes += BYTES_PER_S * TICK_S;
                st.stream_total += FPS * TICK_S;
                st.stream_skipped += u64::from(st.stream_total % 7_000 == 0);
            }
            if let Some(ms) = record_ms {
                st.record_duration_ms = ms;
                st.record_bytes += 2 * BYTES_PER_S * TICK_S;
            }
        });
    }

    /// OnAir's link drops; the session reconnects to the same OBS, still live.
    async fn drop_link(&mut self) {
        let state = self.serve.state();
        self.count_requests();
        self.serve.drop_tcp().await;
        let mut conn = self.fake.accept(MOMENT_TIMEOUT).await.expect("the session reconnects");
        conn.handshake_profile(None, state.profile).await.expect("handshake");
        self.serve = conn.serve_with(state);
        self.connections += 1;
    }

    fn count_requests(&mut self) {
        for request in self.serve.take_requests() {
            *self.requests.entry(request.request_type).or_default() += 1;
        }
    }

    /// Requests of this type over every connection.
    fn requests(&mut self, request_type: &str) -> usize {
        self.count_requests();
        self.requests.get(request_type).copied().unwrap_or(0)
    }
}

async fn wait_scene(session: &Session, scene: &str) -> bool {
    let mut rx = session.state();
    let shown = |s: &State| s.obs.as_ref().is_some_and(|o| o.program_scene.as_deref() == Some(scene));
    let reached = matches!(tokio::time::timeout(MOMENT_TIMEOUT, rx.wait_for(shown)).await, Ok(Ok(_)));
    reached
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let wall = Instant::now();
    let hours = hours();
    let mut fake = FakeObs::start().await;
    let mut config = fast_config(fake.port(), None);
    config.poll_interval = POLL_INTERVAL;
    config.moment_capacity = 4096;
    let (session, moments_rx, _task) = Session::spawn_subscribed(config);
    let mut conn = fake.accept(MOMENT_TIMEOUT).await.expect("the session connects");
    conn.handshake_profile(None, Profile::V5_5).await.expect("handshake");
    let state = FakeState {
        replay_available: true,
        replay_active: true,
        scenes: SCENES.iter().map(|s| s.to_string()).collect(),
        program_scene: SCENES[0].into(),
        ..FakeState::for_profile(Profile::V5_5)
    };
    let serve = conn.serve_with(state);
    if session.wait_connected(MOMENT_TIMEOUT).await.is_err() {
        eprintln!("soak: the session did not connect");
        std::process::exit(1);
    }
    let mut obs = Obs {
        fake,
        serve,
        connections: 1,
        requests: BTreeMap::new(),
        stream_since: Instant::now(),
        record_since: None,
        outage: false,
    };
    let capacity = hours as usize * 256;
    let mut moments = Moments {
        rx: moments_rx,
        expected: Vec::with_capacity(capacity),
        announced: Vec::with_capacity(capacity),
        missing: Vec::new(),
    };
    let mut moment_lag = Lags::new(hours);
    let mut scene_lag = Lags::new(hours);
    let mut control_lag = Lags::new(hours);
    let mut control_errors = Vec::new();
    let mut scene_misses = 0;
    let start_memory = memory();
    let mut by_hour = Vec::with_capacity(hours as usize);

    if let Err(e) = session.control(Control::StartStream).await {
        control_errors.push(format!("StartStream: {e:?}"));
    }
    obs.stream_since = Instant::now();
    moments.expect(&["live"], "going live").await;

    let ticks_per_hour = 3600 / TICK_S;
    let mut scene = 0;
    let mut replays = 0u64;
    for hour in 0..hours {
        for tick in 0..ticks_per_hour {
            let t = tick * TICK_S; // simulated second within the hour
            obs.tick();
            if t % 60 == 0 {
                obs.count_requests();
            }
            tokio::time::sleep(TICK_REAL).await;

            if t % 20 == 10 {
                replays += 1;
                let sent = Instant::now();
                obs.serve
                    .send_event(
                        "ReplayBufferSaved",
                        json!({ "savedReplayPath": format!("/tmp/fake/replay-{replays}.mkv") }),
                    )
                    .await;
                moments.expect(&["replay-saved"], "a replay save").await;
                moment_lag.add(hour, sent.elapsed());
            }
            if t % 120 == 60 {
                scene = (scene + 1) % SCENES.len();
                let sent = Instant::now();
                obs.serve.switch_scene(SCENES[scene]).await;
                if wait_scene(&session, SCENES[scene]).await {
                    scene_lag.add(hour, sent.elapsed());
                } else {
                    scene_misses += 1;
                }
            }
            let control = match t {
                300 | 2100 => Some((Control::StartRecording, "recording-started")),
                600 => Some((Control::PauseRecording, "recording-paused")),
                720 => Some((Control::ResumeRecording, "recording-resumed")),
                1500 | 3300 => Some((Control::StopRecording, "recording-stopped")),
                _ => None,
            };
            if let Some((control, kind)) = control {
                let sent = Instant::now();
                let starts = matches!(control, Control::StartRecording);
                let stops = matches!(control, Control::StopRecording);
                if let Err(e) = session.control(control.clone()).await {
                    control_errors.push(format!("hour {hour} {control:?}: {e:?}"));
                }
                if starts {
                    obs.record_since = Some(Instant::now());
                }
                moments.expect(&[kind], kind).await;
                control_lag.add(hour, sent.elapsed());
                if stops {
                    obs.record_since = None;
                }
            }
            match t {
                1200 => {
                    obs.serve.split_recording(&format!("/tmp/fake/rec-{hour}-part2.mkv")).await;
                    moments.expect(&["recording-file-changed"], "a file split").await;
                }
                2400 => {
                    obs.outage = true;
                    obs.serve.rtmp_outage().await;
                    for _ in 0..3 {
                        obs.serve.rtmp_retry().await;
                    }
                    moments.expect(&["reconnecting"], "an RTMP outage").await;
                }
                2430 => {
                    obs.serve.rtmp_recovered().await;
                    obs.outage = false;
                    obs.stream_since = Instant::now();
                    moments.expect(&["reconnected"], "the RTMP recovery").await;
                }
                3000 => {
                    obs.drop_link().await;
                    moments.expect(&["obs-lost", "obs-back"], "OnAir's link dropped and back").await;
                }
                _ => {}
            }
        }
        by_hour.push(memory());
    }
    let (hour_one_memory, hour_last_memory) = (by_hour[0], by_hour[by_hour.len() - 1]);

    if let Err(e) = session.control(Control::StopStream).await {
        control_errors.push(format!("StopStream: {e:?}"));
    }
    moments.expect(&["ended"], "the end of the stream").await;
    moments.drain(Duration::from_millis(500)).await;
    let polls = (obs.requests("GetStats"), obs.requests("GetStreamStatus"), obs.requests("GetRecordStatus"));
    let last_state = session.state().borrow().clone();
    session.shutdown().await;

    // --- Summary ---
    let tally = moments.tally();
    let mismatched: Vec<_> = tally.iter().filter(|(_, e, a)| e != a).collect();
    let (first, last) = (0, hours as usize - 1);
    println!(
        "soak: {hours} simulated hours of a live stream through a real Session, in {:.1} s",
        wall.elapsed().as_secs_f64()
    );
    println!(
        "  {} moments expected, {} announced; {} replay saves, {} scene switches, {} OnAir reconnects",
        moments.expected.len(),
        moments.announced.len(),
        replays,
        hours * 30,
        obs.connections - 1,
    );
    println!(
        "  health polls and syncs answered: GetStats x{}, GetStreamStatus x{}, GetRecordStatus x{}",
        polls.0, polls.1, polls.2
    );
    println!("  moments by kind (expected / announced):");
    for (kind, expected, announced) in &tally {
        let mark = if expected == announced { "" } else { "   <-- MISMATCH" };
        println!("    {kind:<24} {expected:>5} / {announced:<5}{mark}");
    }
    let mb = |kb: u64| kb as f64 / 1024.0;
    println!("  memory (whole process: fake OBS and engine):");
    println!(
        "    after connecting     RSS {:>6.1} MB   peak {:>6.1} MB   live heap {:>6.2} MB",
        mb(start_memory.rss_kb),
        mb(start_memory.peak_kb),
        mb(start_memory.heap_kb)
    );
    println!(
        "    at 1 h simulated     RSS {:>6.1} MB   peak {:>6.1} MB   live heap {:>6.2} MB",
        mb(hour_one_memory.rss_kb),
        mb(hour_one_memory.peak_kb),
        mb(hour_one_memory.heap_kb)
    );
    println!(
        "    at {hours} h simulated    RSS {:>6.1} MB   peak {:>6.1} MB   live heap {:>6.2} MB",
        mb(hour_last_memory.rss_kb),
        mb(hour_last_memory.peak_kb),
        mb(hour_last_memory.heap_kb)
    );
    let rss: Vec<String> = by_hour.iter().map(|m| format!("{:.1}", mb(m.rss_kb))).collect();
    println!("    RSS after each simulated hour (MB): {}", rss.join(" "));
    let heap: Vec<String> = by_hour.iter().map(|m| format!("{:.2}", mb(m.heap_kb))).collect();
    println!("    live heap after each simulated hour (MB): {}", heap.join(" "));
    println!("  lag, first simulated hour vs last (p50 / p99 / max, microseconds):");
    for (what, lags) in [
        ("event frame -> moment (replay saved)", &moment_lag),
        ("event frame -> state (scene switch)", &scene_lag),
        ("control -> moment (recording)", &control_lag),
    ] {
        let (a50, a99, amax) = lags.summary(first);
        let (b50, b99, bmax) = lags.summary(last);
        println!(
            "    {what:<38} hour 1: {a50:>8.0} {a99:>8.0} {amax:>8.0}   hour {hours}: {b50:>8.0} {b99:>8.0} {bmax:>8.0}"
        );
    }

    let mut failures = Vec::new();
    if !mismatched.is_empty() {
        failures.push(format!("moment counts differ from the script: {mismatched:?}"));
    }
    if !moments.missing.is_empty() {
        failures.push(format!("moments that never came: {:?}", moments.missing));
    }
    if !control_errors.is_empty() {
        failures.push(format!("controls that failed: {control_errors:?}"));
    }
    if scene_misses > 0 {
        failures.push(format!("{scene_misses} scene switches never reached the state"));
    }
    if last_state.is_live() {
        failures.push("the state still says live after the stream ended".into());
    }
    // Flat: the hours after the first may not add more than a few MB to what the first needed.
    let growth_kb = hour_last_memory.rss_kb.saturating_sub(hour_one_memory.rss_kb);
    if growth_kb > 8 * 1024 {
        failures.push(format!("RSS grew by {:.1} MB from 1 h to {hours} h", mb(growth_kb)));
    }
    // Nothing the session or the fake holds may accumulate: the live heap stays put (RSS may
    // still creep while the allocator keeps freed pages).
    let heap_growth_kb = hour_last_memory.heap_kb.saturating_sub(hour_one_memory.heap_kb);
    if heap_growth_kb > 256 {
        failures.push(format!("the live heap grew by {heap_growth_kb} KB from 1 h to {hours} h"));
    }
    let (early, _, _) = moment_lag.summary(first);
    let (late, _, _) = moment_lag.summary(last);
    if late > early * 3.0 + 1000.0 {
        failures.push(format!("moment lag grew: p50 {early:.0} us in hour 1, {late:.0} us in hour {hours}"));
    }
    if failures.is_empty() {
        println!("  PASS: every scripted moment announced once, memory flat, no lag growth");
    } else {
        for failure in &failures {
            println!("  FAIL: {failure}");
        }
        std::process::exit(1);
    }
}
