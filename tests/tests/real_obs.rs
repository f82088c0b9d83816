//! System tests against a real OBS Studio (Debian's obs-studio, obs-websocket
//! 5.1) running headless under Xvfb, streaming to a loopback nginx-rtmp ingest.
//! OnAir is exercised through its binary: `onair watch --json` is the probe, and
//! the controls are the CLI subcommands a user would bind to keys. OBS's real
//! state is checked through an independent admin connection.

use std::time::{Duration, Instant};

use onair_system_tests::support::{onair, Watcher};
use onair_system_tests::world::{ObsWorld, WorldOptions};

const PASSWORD: &str = "correct horse battery staple";
const T: Duration = Duration::from_secs(20);

async fn world(options: WorldOptions) -> ObsWorld {
    ObsWorld::start(WorldOptions { password: Some(PASSWORD.into()), ..options }).await.unwrap_or_else(|e| panic!("{e}"))
}

fn connected(state: &serde_json::Value) -> bool {
    state["connection"]["state"] == "connected" && !state["obs"].is_null()
}

fn stream_state(state: &serde_json::Value) -> String {
    state["obs"]["stream"]["state"].as_str().unwrap_or("unknown").to_string()
}

/// Lets trailing events arrive, so "no more moments than expected" is checked for real.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn going_live_switching_scenes_and_stopping() {
    let world = world(WorldOptions::default()).await;
    let port = world.ws_port();
    let watcher = Watcher::spawn(port, Some(PASSWORD));
    watcher.wait_state("connected", T, connected).await;

    let (code, stdout, stderr) = onair(port, Some(PASSWORD), &["stream", "start"]).await;
    assert_eq!(code, 0, "stream start: {stdout} {stderr}");
    assert!(stdout.contains("LIVE"), "{stdout}");
    world.wait_stream_active(true, T).await.unwrap();
    watcher.wait_moment("live", 1, T).await;
    watcher.wait_state("live", T, |s| stream_state(s) == "live").await;

    let (code, stdout, _) = onair(port, Some(PASSWORD), &["status"]).await;
    assert_eq!(code, 0);
    assert!(stdout.starts_with("● LIVE"), "{stdout}");
    let (code, stdout, _) = onair(port, Some(PASSWORD), &["status", "--json"]).await;
    assert_eq!(code, 0);
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(stream_state(&status), "live");
    let mut scenes: Vec<&str> = status["obs"]["scenes"].as_array().unwrap().iter().filter_map(|s| s.as_str()).collect();
    scenes.sort();
    assert_eq!(scenes, vec!["Gameplay", "Scene"]);

    let (code, _, stderr) = onair(port, Some(PASSWORD), &["scene", "Gameplay"]).await;
    assert_eq!(code, 0, "{stderr}");
    let scene = world.request("GetCurrentProgramScene", serde_json::Value::Null).await.unwrap();
    assert_eq!(scene["currentProgramSceneName"], "Gameplay");
    watcher.wait_state("scene switched", T, |s| s["obs"]["program_scene"] == "Gameplay").await;
    let (code, _, stderr) = onair(port, Some(PASSWORD), &["scene", "No Such Scene"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("no scene named"), "{stderr}");

    let (code, _, stderr) = onair(port, Some(PASSWORD), &["stream", "start"]).await;
    assert_eq!(code, 1, "a second start is refused");
    assert!(stderr.contains("already live"), "{stderr}");

    // Health is polled while live: a bitrate appears.
    watcher
        .wait_state("a bitrate", T, |s| s["obs"]["stream_health"]["bitrate_kbps"].as_f64().is_some_and(|b| b > 0.0))
        .await;

    let (code, _, stderr) = onair(port, Some(PASSWORD), &["stream", "stop"]).await;
    assert_eq!(code, 0, "{stderr}");
    world.wait_stream_active(false, T).await.unwrap();
    watcher.wait_moment("ended", 1, T).await;
    settle().await;
    assert_eq!(watcher.moments(), vec!["live", "ended"]);
    let ended = &watcher.moment_lines("ended")[0];
    assert!(ended["duration_ms"].as_u64().unwrap() > 0, "{ended}");
    assert!(ended["bytes"].as_u64().unwrap() > 0, "{ended}");
    assert!(ended["total_frames"].as_u64().is_some(), "{ended}");
    assert_eq!(watcher.stop().await, Some(0), "watch ends cleanly on SIGTERM");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_rtmp_outage_is_one_reconnecting_and_one_reconnected() {
    let mut world = world(WorldOptions::default()).await;
    let port = world.ws_port();
    let watcher = Watcher::spawn(port, Some(PASSWORD));
    watcher.wait_state("connected", T, connected).await;
    world.request("StartStream", serde_json::Value::Null).await.unwrap();
    watcher.wait_moment("live", 1, T).await;

    world.kill_rtmp();
    watcher.wait_moment("reconnecting", 1, T).await;
    watcher.wait_state("reconnecting", T, |s| stream_state(s) == "reconnecting").await;
    // OBS retries with growing waits (about 0.8, 2.8, 5.8 s): let several retries happen.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(watcher.moments(), vec!["live", "reconnecting"], "one outage, one reconnecting, however many retries");
    world.start_rtmp().await.unwrap();
    watcher.wait_moment("reconnected", 1, Duration::from_secs(40)).await;
    watcher.wait_state("live again", T, |s| stream_state(s) == "live").await;
    settle().await;
    assert_eq!(watcher.moments(), vec!["live", "reconnecting", "reconnected"]);
    let reconnected = &watcher.moment_lines("reconnected")[0];
    assert!(reconnected["down_ms"].as_u64().unwrap() >= 5_000, "{reconnected}");

    world.request("StopStream", serde_json::Value::Null).await.unwrap();
    watcher.wait_moment("ended", 1, T).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_start_with_no_ingest_fails_clearly() {
    let world = world(WorldOptions { with_rtmp: false, ..WorldOptions::default() }).await;
    let port = world.ws_port();
    let watcher = Watcher::spawn(port, Some(PASSWORD));
    watcher.wait_state("connected", T, connected).await;
    let (code, stdout, stderr) = onair(port, Some(PASSWORD), &["stream", "start"]).await;
    assert_eq!(code, 1, "{stdout} {stderr}");
    assert!(stderr.contains("could not start the stream"), "{stderr}");
    watcher.wait_moment("start-failed", 1, T).await;
    settle().await;
    assert_eq!(watcher.moments(), vec!["start-failed"]);
    world.wait_stream_active(false, T).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn recording_starts_and_stops_with_its_file() {
    let world = world(WorldOptions::default()).await;
    let port = world.ws_port();
    let watcher = Watcher::spawn(port, Some(PASSWORD));
    watcher.wait_state("connected", T, connected).await;
    let (code, _, stderr) = onair(port, Some(PASSWORD), &["record", "start"]).await;
    assert_eq!(code, 0, "{stderr}");
    world.wait_record_active(true, T).await.unwrap();
    watcher.wait_moment("recording-started", 1, T).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (code, stdout, stderr) = onair(port, Some(PASSWORD), &["record", "stop"]).await;
    assert_eq!(code, 0, "{stderr}");
    watcher.wait_moment("recording-stopped", 1, T).await;
    let stopped = &watcher.moment_lines("recording-stopped")[0];
    let path = stopped["path"].as_str().expect("the stopped recording names its file").to_string();
    assert!(stdout.contains(&path), "record stop prints the file: {stdout}");
    assert!(path.starts_with(world.recordings_dir().to_str().unwrap()), "{path}");
    assert!(std::fs::metadata(&path).map(|m| m.len() > 0).unwrap_or(false), "{path} exists and has data");
    let (code, _, stderr) = onair(port, Some(PASSWORD), &["record", "stop"]).await;
    assert_eq!(code, 1);
    assert!(stderr.contains("not recording"), "{stderr}");
    settle().await;
    assert_eq!(watcher.moments(), vec!["recording-started", "recording-stopped"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn obs_killed_while_live_then_restarted() {
    let mut world = world(WorldOptions::default()).await;
    let port = world.ws_port();
    let watcher = Watcher::spawn(port, Some(PASSWORD));
    watcher.wait_state("connected", T, connected).await;
    world.request("StartStream", serde_json::Value::Null).await.unwrap();
    watcher.wait_moment("live", 1, T).await;

    let killed_at = Instant::now();
    world.kill_obs();
    watcher.wait_moment("obs-lost", 1, T).await;
    eprintln!("obs-lost {:?} after the kill", killed_at.elapsed());
    let lost_state = watcher.wait_state("not connected", T, |s| s["obs"].is_null()).await;
    assert_ne!(lost_state["connection"]["state"], "connected");
    let (code, stdout, _) = onair(port, Some(PASSWORD), &["status"]).await;
    assert_eq!(code, 3, "OBS is away: {stdout}");
    assert!(!stdout.contains("LIVE"), "never claims live while OBS is away: {stdout}");

    world.start_obs().await.unwrap();
    watcher.wait_moment("obs-back", 1, T).await;
    watcher.wait_moment("ended", 1, T).await;
    settle().await;
    assert_eq!(watcher.moments(), vec!["live", "obs-lost", "obs-back", "ended"]);
    let ended = &watcher.moment_lines("ended")[0];
    assert_eq!(ended["while_away"], true);
    let back = &watcher.moment_lines("obs-back")[0];
    assert_eq!(back["still_live"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_one_clear_error_without_a_retry_storm() {
    let world = world(WorldOptions::default()).await;
    let port = world.ws_port();
    let watcher = Watcher::spawn(port, Some("not the password"));
    let state = watcher.wait_state("auth failed", T, |s| s["connection"]["state"] == "auth-failed").await;
    assert_eq!(state["connection"]["message"], "OBS rejected the password");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(watcher.moments(), vec!["auth-failed"]);
    let attempts = watcher.states().iter().filter(|s| s["connection"]["state"] == "connecting").count();
    assert_eq!(attempts, 1, "one attempt, no retries: {:?}", watcher.states());

    let (code, _, stderr) = onair(port, Some("not the password"), &["status"]).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("rejected the password"), "{stderr}");
    let (code, _, stderr) = onair(port, None, &["status"]).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("wants a password"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn obs_started_after_the_client_is_found_within_about_a_second() {
    let mut world = world(WorldOptions { start_obs: false, ..WorldOptions::default() }).await;
    let port = world.ws_port();
    let watcher = Watcher::spawn(port, Some(PASSWORD));
    watcher.wait_state("waiting for OBS", T, |s| s["connection"]["state"] == "waiting-for-obs").await;
    let (code, _, stderr) = onair(port, Some(PASSWORD), &["status", "--timeout", "1"]).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("Waiting for OBS"), "{stderr}");

    // start_obs returns once OBS answers an Identify: the port is open by then.
    world.start_obs().await.unwrap();
    let open_at = Instant::now();
    watcher.wait_state("connected", T, connected).await;
    let took = open_at.elapsed();
    eprintln!("connected {took:?} after OBS's port was confirmed open");
    assert!(took < Duration::from_millis(2500), "found OBS {took:?} after it came up");
    settle().await;
    assert!(watcher.moments().is_empty(), "starting OBS is not a moment: {:?}", watcher.moments());
}

#[tokio::test(flavor = "multi_thread")]
async fn obs_quit_on_purpose_while_live_and_recording_ends_both_without_an_alarm() {
    let mut world = world(WorldOptions::default()).await;
    let port = world.ws_port();
    let watcher = Watcher::spawn(port, Some(PASSWORD));
    watcher.wait_state("connected", T, connected).await;
    world.request("StartStream", serde_json::Value::Null).await.unwrap();
    world.request("StartRecord", serde_json::Value::Null).await.unwrap();
    watcher.wait_moment("live", 1, T).await;
    watcher.wait_moment("recording-started", 1, T).await;

    world.quit_obs().await.unwrap();
    watcher.wait_moment("ended", 1, T).await;
    watcher.wait_moment("recording-stopped", 1, T).await;
    watcher.wait_state("waiting for OBS", T, |s| s["connection"]["state"] == "waiting-for-obs").await;
    world.start_obs().await.unwrap();
    watcher.wait_state("connected again", T, connected).await;
    settle().await;
    let mut moments = watcher.moments();
    moments[..2].sort();
    moments[2..].sort();
    assert_eq!(moments, vec!["live", "recording-started", "ended", "recording-stopped"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_frozen_obs_is_noticed_within_seconds_and_found_again() {
    let mut world = world(WorldOptions::default()).await;
    let port = world.ws_port();
    let watcher = Watcher::spawn(port, Some(PASSWORD));
    watcher.wait_state("connected", T, connected).await;
    world.request("StartStream", serde_json::Value::Null).await.unwrap();
    watcher.wait_moment("live", 1, T).await;

    // SIGSTOP: the socket stays open but nothing answers, like a hung OBS.
    world.signal_obs("STOP");
    let frozen_at = Instant::now();
    watcher.wait_moment("obs-lost", 1, T).await;
    let noticed = frozen_at.elapsed();
    eprintln!("frozen OBS noticed after {noticed:?}");
    assert!(noticed < Duration::from_secs(7), "noticed after {noticed:?}");
    let state = watcher.wait_state("not claiming live", T, |s| s["obs"].is_null()).await;
    assert_ne!(state["connection"]["state"], "connected");

    world.signal_obs("CONT");
    watcher.wait_moment("obs-back", 1, T).await;
    settle().await;
    let back = &watcher.moment_lines("obs-back")[0];
    assert_eq!(back["still_live"], true, "{back}");
    assert_eq!(watcher.moments(), vec!["live", "obs-lost", "obs-back"], "the same stream is not a new 'live'");
    world.request("StopStream", serde_json::Value::Null).await.unwrap();
    watcher.wait_moment("ended", 1, T).await;
}
