//! `onair` against two real OBS at once (one world: each OBS with its own
//! HOME, port and password), both in the settings' `[[connections]]`, each
//! password in a private desktop's real Secret Service under its host and
//! port: `onair watch --json` follows both, a stream started on one is
//! announced for that one alone, and one OBS killed leaves the other's lines
//! going with no false moment; `onair status` has a line for each.

use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions};
use onair_system_tests::support::{onair_bin, onair_in, Watcher};
use onair_system_tests::world::{ObsWorld, WorldOptions};
use serde_json::Value;

const T: Duration = Duration::from_secs(20);
const STREAM_PASSWORD: &str = "stream pc password";
const GAME_PASSWORD: &str = "game pc password";

fn connected(state: &Value) -> bool {
    state["connection"]["state"] == "connected" && !state["obs"].is_null()
}

fn stream_state(state: &Value) -> &str {
    state["obs"]["stream"]["state"].as_str().unwrap_or("unknown")
}

/// The state lines about `name`, as their `state` objects.
fn states_of(watcher: &Watcher, name: &str) -> Vec<Value> {
    watcher.lines_of(name).into_iter().filter(|l| l.get("moment").is_none()).map(|l| l["state"].clone()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_follows_two_real_obs_a_stream_on_one_is_its_own_and_one_killed_leaves_the_other_alone() {
    onair_bin();
    let options = WorldOptions { password: Some(STREAM_PASSWORD.into()), ..WorldOptions::default() };
    let mut world = ObsWorld::start(options).await.unwrap_or_else(|e| panic!("{e}"));
    let game = world.add_obs(Some(GAME_PASSWORD)).await.unwrap_or_else(|e| panic!("{e}"));
    let desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let (stream_port, game_port) = (world.ws_port(), world.instance(game).ws_port());
    let config = desktop.home().join(".config/onair");
    std::fs::create_dir_all(&config).expect("the settings folder");
    let settings = format!(
        "[[connections]]\nname = \"Stream PC\"\nhost = \"127.0.0.1\"\nport = {stream_port}\n\n\
         [[connections]]\nname = \"Game PC\"\nhost = \"127.0.0.1\"\nport = {game_port}\n"
    );
    std::fs::write(config.join("settings.toml"), settings).expect("write the settings");
    // Each password stored for its connection's host and port, picked by name.
    for (name, password) in [("Stream PC", STREAM_PASSWORD), ("game pc", GAME_PASSWORD)] {
        let args = ["password", "set", "--obs", name];
        let (code, stdout, stderr) = onair_in(&desktop, &args, Some(&format!("{password}\n"))).await;
        assert_eq!(code, 0, "{stdout} {stderr}");
    }

    let mut command = desktop.command(onair_bin());
    command.args(["watch", "--json"]).env_remove("ONAIR_PASSWORD").stdin(std::process::Stdio::null());
    let watcher = Watcher::from_command(command);
    watcher.wait_state_of("Stream PC", "connected", T, connected).await;
    watcher.wait_state_of("Game PC", "connected", T, connected).await;
    let (code, stdout, stderr) = onair_in(&desktop, &["status"], None).await;
    assert_eq!(code, 0, "{stdout} {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("Stream PC: Offline") && lines[1].starts_with("Game PC: Offline"), "{stdout}");

    // A stream on the Game PC, started through its name: its moment alone.
    let (code, stdout, stderr) = onair_in(&desktop, &["--obs", "Game PC", "stream", "start"], None).await;
    assert_eq!(code, 0, "{stdout} {stderr}");
    world.instance(game).wait_stream_active(true, T).await.unwrap_or_else(|e| panic!("{e}"));
    let stream_pc_stream = world.request("GetStreamStatus", Value::Null).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stream_pc_stream["outputActive"], false, "the Stream PC was not asked");
    watcher.wait_moment_of("Game PC", "live", 1, T).await;
    watcher.wait_state_of("Game PC", "live", T, |s| stream_state(s) == "live").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(watcher.moments_of("Stream PC"), Vec::<String>::new(), "{:?}", watcher.lines_of("Stream PC"));
    let last = states_of(&watcher, "Stream PC").pop().unwrap_or_default();
    assert_eq!(stream_state(&last), "offline", "{last}");

    // The Stream PC goes live too, then the Game PC is killed.
    world.start_stream(T).await.unwrap_or_else(|e| panic!("{e}"));
    watcher.wait_moment_of("Stream PC", "live", 1, T).await;
    watcher.wait_state_of("Stream PC", "live", T, |s| stream_state(s) == "live").await;
    let before_kill = states_of(&watcher, "Stream PC").len();
    world.kill_instance(game);
    watcher.wait_moment_of("Game PC", "obs-lost", 1, T).await;
    watcher.wait_state_of("Game PC", "not connected", T, |s| s["obs"].is_null()).await;
    // The Stream PC's lines go on (its health is polled while live), all of them
    // connected and live, and it has no moment but its own live.
    let deadline = tokio::time::Instant::now() + T;
    while states_of(&watcher, "Stream PC").len() < before_kill + 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after: Vec<Value> = states_of(&watcher, "Stream PC").split_off(before_kill);
    assert!(after.len() >= 3, "the Stream PC's lines go on after the kill: {after:?}");
    assert!(after.iter().all(|s| connected(s) && stream_state(s) == "live"), "{after:?}");
    assert_eq!(watcher.moments_of("Stream PC"), ["live"], "{:?}", watcher.lines_of("Stream PC"));
    assert_eq!(watcher.moments_of("Game PC"), ["live", "obs-lost"], "{:?}", watcher.lines_of("Game PC"));

    // Status: the Stream PC live, the Game PC gone (its code, the first failing one's).
    let (code, stdout, stderr) = onair_in(&desktop, &["status"], None).await;
    assert_eq!(code, 3, "{stdout} {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.first().is_some_and(|l| l.starts_with("Stream PC: ● LIVE")), "{stdout}");
    assert!(lines.get(1).is_some_and(|l| l.starts_with("Game PC: Waiting for OBS")), "{stdout}");

    world.request("StopStream", Value::Null).await.unwrap_or_else(|e| panic!("{e}"));
    watcher.wait_moment_of("Stream PC", "ended", 1, T).await;
    assert_eq!(watcher.stop().await, Some(0), "watch ends cleanly on SIGTERM");
}

/// The world's own part: a second OBS quit the way a user closes its window
/// goes, cleanly, and the first one (same display) is not asked to close.
#[tokio::test(flavor = "multi_thread")]
async fn quitting_one_obs_of_the_world_closes_its_window_only() {
    let mut world = ObsWorld::start(WorldOptions { with_rtmp: false, ..WorldOptions::default() })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let second = world.add_obs(Some(GAME_PASSWORD)).await.unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(world.instance(second).ws_port(), world.ws_port());
    assert_eq!(world.instance(second).password(), Some(GAME_PASSWORD));
    world.quit_instance(second).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(!world.instance_running(second));
    let log = std::fs::read_to_string(world.instance(second).obs_log()).unwrap_or_default();
    assert!(log.contains("==== Shutting down"), "a clean quit: {}", world.instance(second).obs_log().display());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(world.obs_running(), "the first OBS runs on");
    world.request("GetVersion", Value::Null).await.unwrap_or_else(|e| panic!("the first OBS answers: {e}"));
    // And it comes back on its own port and password.
    world.start_instance(second).await.unwrap_or_else(|e| panic!("{e}"));
    world.instance(second).request("GetVersion", Value::Null).await.unwrap_or_else(|e| panic!("{e}"));
}
