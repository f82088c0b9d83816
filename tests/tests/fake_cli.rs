//! The lean `onair` command against the fake OBS and a closed port: a refused
//! connection is an answer at once, and the keyring is only asked once OBS has
//! said it wants a password this run was not given. With several OBS in the
//! settings: a status line for each, all asked at once; a watch naming each
//! line's connection; `--obs` picking one.
//!
//! Each run has a session bus address that leads nowhere, so a keyring that is
//! asked fails and says so on stderr: its silence means it was not asked.

use std::time::{Duration, Instant};

use onair_system_tests::fake::{requests_served, serve_every_connection, FakeObs, FakeState};
use onair_system_tests::support::{onair_bin, run_onair, Watcher};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(5);
const KEYRING_WARNING: &str = "cannot read the stored password";

/// Runs `onair ARGS` against 127.0.0.1:`port` with no keyring reachable; returns
/// (exit code, stdout, stderr, how long it ran).
async fn onair_without_keyring(port: u16, args: &[&str]) -> (i32, String, String, Duration) {
    let mut command = tokio::process::Command::new(onair_bin());
    command
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(args)
        .env_remove("ONAIR_PASSWORD")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/onair-test-bus")
        .env("XDG_CONFIG_HOME", std::env::temp_dir().join("onair-tests-no-config"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let (code, stdout, stderr) = run_onair(&mut command).await;
    (code, stdout, stderr, started.elapsed())
}

/// A loopback port nothing listens at (bound, read, released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local address").port()
}

#[tokio::test]
async fn a_refused_port_is_answered_at_once_with_exit_3_and_no_keyring() {
    onair_bin();
    let port = closed_port();
    // Each would wait out the whole --timeout if a refusal were retried.
    for args in [&["status"][..], &["stream", "toggle"], &["audio"], &["mute", "toggle"], &["status", "--json"]] {
        let args: Vec<&str> = args.iter().copied().chain(["--timeout", "20"]).collect();
        let (code, stdout, stderr, took) = onair_without_keyring(port, &args).await;
        assert_eq!(code, 3, "{args:?}: stdout {stdout:?} stderr {stderr:?}");
        assert!(took < Duration::from_secs(2), "{args:?} answered after {took:?}");
        // The words are the session's (what is wrong, what to do); this is about when they come.
        assert!(stderr.starts_with(&format!("onair: Waiting for OBS at 127.0.0.1:{port}: ")), "{args:?}: {stderr:?}");
        assert!(!stderr.contains(KEYRING_WARNING), "no password was needed for this answer: {stderr:?}");
    }
}

#[tokio::test]
async fn obs_without_a_password_is_answered_without_asking_the_keyring() {
    onair_bin();
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    let cli = tokio::spawn(async move { onair_without_keyring(port, &["status"]).await });
    let mut conn = fake.accept(Duration::from_secs(60)).await.expect("onair connects");
    conn.handshake(None).await.expect("handshake");
    let _serve = conn.serve_with(FakeState::default());
    let (code, stdout, stderr, _) = cli.await.expect("onair ran");
    assert_eq!(code, 0, "stdout {stdout:?} stderr {stderr:?}");
    assert!(!stderr.contains(KEYRING_WARNING), "{stderr:?}");
    assert_eq!(fake.connection_count(), 1, "one connection");
}

#[tokio::test]
async fn obs_that_wants_a_password_none_was_given_for_makes_onair_ask_the_keyring() {
    onair_bin();
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    let cli = tokio::spawn(async move { onair_without_keyring(port, &["status"]).await });
    let mut conn = fake.accept(Duration::from_secs(60)).await.expect("onair connects");
    assert!(conn.handshake(Some("secret")).await.is_err(), "no password, no Identify with authentication");
    let (code, stdout, stderr, took) = cli.await.expect("onair ran");
    assert_eq!(code, 4, "stdout {stdout:?} stderr {stderr:?}");
    assert!(stderr.contains(KEYRING_WARNING), "the keyring was asked, and could not answer: {stderr:?}");
    assert!(stderr.contains("wants a password"), "{stderr:?}");
    assert!(took < T, "{took:?}");
    assert_eq!(fake.connection_count(), 1, "no second attempt without a stored password");
}

#[tokio::test]
async fn a_password_given_for_the_run_is_used_without_the_keyring() {
    onair_bin();
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    let cli = tokio::spawn(async move {
        let mut command = tokio::process::Command::new(onair_bin());
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "status"])
            .env("ONAIR_PASSWORD", "secret")
            .env_remove("DISPLAY")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/onair-test-bus")
            .env("XDG_CONFIG_HOME", std::env::temp_dir().join("onair-tests-no-config"))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        command.output().await.expect("run onair")
    });
    let mut conn = fake.accept(Duration::from_secs(60)).await.expect("onair connects");
    conn.handshake(Some("secret")).await.expect("the given password is accepted");
    let _serve = conn.serve_with(FakeState::default());
    let output = cli.await.expect("onair ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains(KEYRING_WARNING), "{stderr:?}");
}

/// A settings file in a fresh folder listing `connections` (name, port on
/// 127.0.0.1) as `[[connections]]`.
fn settings_listing(test: &str, connections: &[(&str, u16)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("onair-fake-cli-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("settings folder");
    let mut text = String::new();
    for (name, port) in connections {
        text.push_str(&format!("[[connections]]\nname = \"{name}\"\nhost = \"127.0.0.1\"\nport = {port}\n\n"));
    }
    let path = dir.join("settings.toml");
    std::fs::write(&path, text).expect("write the settings");
    path
}

/// `onair --config SETTINGS ARGS` with no keyring reachable and no address
/// flags; returns (exit code, stdout, stderr, how long it ran).
fn with_settings(settings: &std::path::Path, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(onair_bin());
    command
        .arg("--config")
        .arg(settings)
        .args(args)
        .env_remove("ONAIR_PASSWORD")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/onair-test-bus")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

async fn onair_with_settings(settings: &std::path::Path, args: &[&str]) -> (i32, String, String, Duration) {
    let started = Instant::now();
    let (code, stdout, stderr) = run_onair(&mut with_settings(settings, args)).await;
    (code, stdout, stderr, started.elapsed())
}

#[tokio::test]
async fn status_of_several_obs_has_a_line_for_each_and_a_refused_one_answers_at_once() {
    onair_bin();
    let fake = FakeObs::start().await;
    let port = fake.port();
    let _served = serve_every_connection(fake);
    let gone = closed_port();
    let settings = settings_listing("status", &[("Gone", gone), ("Studio", port)]);
    let (code, stdout, stderr, took) = onair_with_settings(&settings, &["status", "--timeout", "20"]).await;
    assert_eq!(code, 3, "the first connection that is not connected gives the code: {stdout} {stderr}");
    assert!(took < Duration::from_secs(3), "the refusal is an answer at once: {took:?}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with(&format!("Gone: Waiting for OBS at 127.0.0.1:{gone}: ")), "{stdout}");
    assert!(lines[1].starts_with("Studio: Offline"), "the other one is still reported: {stdout}");
    assert!(stderr.starts_with("onair: Gone: Waiting for OBS"), "{stderr}");
    assert!(!stderr.contains("Studio"), "{stderr}");

    let (code, stdout, _, _) = onair_with_settings(&settings, &["status", "--json", "--timeout", "20"]).await;
    assert_eq!(code, 3);
    let lines: Vec<Value> = stdout.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    // What OBS shows is there for the one that answered (its connection may
    // still say "syncing" for the moment between the sync's answers and it).
    let seen: Vec<(&str, bool)> =
        lines.iter().map(|l| (l["connection"].as_str().unwrap_or(""), !l["state"]["obs"].is_null())).collect();
    assert_eq!(seen, [("Gone", false), ("Studio", true)], "{stdout}");
    assert_eq!(lines[0]["state"]["connection"]["cause"], "refused", "{stdout}");

    // In the other order the first failing one is still the one that counts,
    // and one connected OBS alone is exit 0.
    let swapped = settings_listing("status-swapped", &[("Studio", port), ("Gone", gone)]);
    let (code, stdout, _, _) = onair_with_settings(&swapped, &["status"]).await;
    assert_eq!(code, 3, "{stdout}");
    assert!(stdout.starts_with("Studio: Offline") && stdout.contains("\nGone: Waiting"), "{stdout}");
    let (code, stdout, stderr, _) = onair_with_settings(&swapped, &["status", "--obs", "studio"]).await;
    assert_eq!(code, 0, "{stdout} {stderr}");
    assert!(stdout.starts_with("Offline"), "one OBS: its line as ever: {stdout}");
    let _ = std::fs::remove_dir_all(settings.parent().unwrap_or(&settings));
    let _ = std::fs::remove_dir_all(swapped.parent().unwrap_or(&swapped));
}

#[tokio::test]
async fn status_asks_every_obs_at_once_so_a_silent_one_holds_back_no_other() {
    onair_bin();
    // Accepts connections (the kernel does) and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let silent_port = silent.local_addr().expect("local address").port();
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    let settings = settings_listing("silent", &[("Silent", silent_port), ("Studio", port)]);
    let started = Instant::now();
    let mut command = with_settings(&settings, &["status", "--timeout", "3"]);
    let cli = tokio::spawn(async move { run_onair(&mut command).await });
    let mut conn = fake.accept(Duration::from_secs(60)).await.expect("onair connects to the second OBS");
    let asked_after = started.elapsed();
    conn.handshake(None).await.expect("handshake");
    let _serve = conn.serve_with(FakeState::default());
    let (code, stdout, stderr) = cli.await.expect("onair ran");
    // Asked one after the other, the second would wait out the first's 3 s.
    assert!(asked_after < Duration::from_millis(2500), "the second OBS was asked after {asked_after:?}");
    assert_eq!(code, 3, "{stdout} {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("Silent: "), "{stdout}");
    assert!(lines[1].starts_with("Studio: Offline"), "{stdout}");
    drop(silent);
    let _ = std::fs::remove_dir_all(settings.parent().unwrap_or(&settings));
}

#[tokio::test]
async fn watch_follows_every_obs_naming_each_and_obs_picks_one() {
    onair_bin();
    let (stream_pc, game_pc) = (FakeObs::start().await, FakeObs::start().await);
    let game_port = game_pc.port();
    let settings = settings_listing("watch", &[("Stream PC", stream_pc.port()), ("Game PC", game_port)]);
    let (stream_served, game_served) = (serve_every_connection(stream_pc), serve_every_connection(game_pc));
    let connected = |s: &Value| s["connection"]["state"] == "connected" && !s["obs"].is_null();

    let watcher = Watcher::from_command(with_settings(&settings, &["watch", "--json"]));
    watcher.wait_state_of("Stream PC", "connected", T, connected).await;
    watcher.wait_state_of("Game PC", "connected", T, connected).await;
    // The game PC goes live in OBS: its connection says so, the other does not.
    // Taken out of the list: the requests counted below are the commands'.
    let game = game_served.lock().expect("handles lock").pop().expect("the watch's connection");
    game.update_state(|s| s.stream_active = true);
    game.send_event(
        "StreamStateChanged",
        json!({ "outputActive": true, "outputState": "OBS_WEBSOCKET_OUTPUT_STARTED" }),
    )
    .await;
    watcher.wait_moment_of("Game PC", "live", 1, T).await;
    watcher.wait_state_of("Game PC", "live", T, |s| s["obs"]["stream"]["state"] == "live").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(watcher.moments_of("Stream PC").is_empty(), "{:?}", watcher.lines_of("Stream PC"));
    assert!(watcher.states().len() >= 4, "{:?}", watcher.lines());
    let names: Vec<Value> = watcher.lines().iter().map(|l| l["connection"].clone()).collect();
    assert!(names.iter().all(|n| n == "Stream PC" || n == "Game PC"), "every line names its connection: {names:?}");
    assert_eq!(watcher.stop().await, Some(0));

    // --obs narrows the watch to one OBS, and a control to its OBS.
    let watcher = Watcher::from_command(with_settings(&settings, &["watch", "--json", "--obs", "game pc"]));
    watcher.wait_state_of("Game PC", "connected", T, connected).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(watcher.lines().iter().all(|l| l["connection"] == "Game PC"), "{:?}", watcher.lines());
    assert_eq!(watcher.stop().await, Some(0));
    let stream_starts = requests_served(&stream_served, "StartStream");
    let (code, stdout, stderr, _) = onair_with_settings(&settings, &["--obs", "Game PC", "stream", "start"]).await;
    assert_eq!(code, 0, "{stdout} {stderr}");
    assert_eq!(requests_served(&game_served, "StartStream"), 1, "the game PC was asked");
    assert_eq!(requests_served(&stream_served, "StartStream"), stream_starts, "the stream PC was not");
    // Without --obs a control acts on the first connection.
    let (code, stdout, stderr, _) = onair_with_settings(&settings, &["record", "start"]).await;
    assert_eq!(code, 0, "{stdout} {stderr}");
    assert_eq!((requests_served(&stream_served, "StartRecord"), requests_served(&game_served, "StartRecord")), (1, 0));
    let _ = std::fs::remove_dir_all(settings.parent().unwrap_or(&settings));
}

#[tokio::test]
async fn an_unknown_obs_name_or_obs_beside_an_address_is_bad_usage() {
    onair_bin();
    let settings = settings_listing("unknown", &[("Stream PC", closed_port()), ("Game PC", closed_port())]);
    for args in [&["status"][..], &["watch", "--json"], &["stream", "start"], &["password", "clear"]] {
        let args: Vec<&str> = ["--obs", "Studio"].into_iter().chain(args.iter().copied()).collect();
        let (code, stdout, stderr, took) = onair_with_settings(&settings, &args).await;
        assert_eq!(code, 2, "{args:?}: {stdout} {stderr}");
        assert!(stderr.contains("\"Studio\"") && stderr.contains("\"Stream PC\", \"Game PC\""), "{args:?}: {stderr}");
        assert!(stdout.is_empty() && took < Duration::from_secs(2), "{args:?}: nothing tried: {stdout} {took:?}");
    }
    let (code, _, stderr, _) = onair_with_settings(&settings, &["--obs", "Game PC", "--port", "4455", "status"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--obs") && stderr.contains("--port"), "{stderr}");
    let _ = std::fs::remove_dir_all(settings.parent().unwrap_or(&settings));
}

#[tokio::test]
async fn one_obs_given_by_address_is_called_host_port_on_every_watch_line() {
    onair_bin();
    let fake = FakeObs::start().await;
    let port = fake.port();
    let _served = serve_every_connection(fake);
    let watcher = Watcher::spawn(port, None);
    let name = format!("127.0.0.1:{port}");
    watcher.wait_state_of(&name, "connected", T, |s| !s["obs"].is_null()).await;
    assert!(watcher.lines().iter().all(|l| l["connection"] == name.as_str()), "{:?}", watcher.lines());
    assert_eq!(watcher.stop().await, Some(0));
}

#[tokio::test]
async fn connect_with_obs_saves_into_that_connection_and_an_unknown_one_saves_nothing() {
    onair_bin();
    let fake = FakeObs::start().await;
    let port = fake.port();
    let _served = serve_every_connection(fake);
    let settings = settings_listing("connect", &[("Stream PC", 4455), ("Game PC", 4456)]);
    let before = std::fs::read_to_string(&settings).expect("the settings");
    let url = format!("obsws://127.0.0.1:{port}");
    let (code, stdout, stderr, _) = onair_with_settings(&settings, &["connect", &url, "--obs", "Studio"]).await;
    assert_eq!(code, 2, "{stdout} {stderr}");
    assert!(stderr.contains("\"Stream PC\", \"Game PC\""), "{stderr}");
    assert!(stdout.is_empty(), "nothing looked for: {stdout}");
    assert_eq!(std::fs::read_to_string(&settings).expect("the settings"), before, "nothing saved");

    let (code, stdout, stderr, _) = onair_with_settings(&settings, &["connect", &url, "--obs", "game pc"]).await;
    assert_eq!(code, 0, "{stdout} {stderr}");
    assert!(stdout.contains(&format!("Saved 127.0.0.1:{port} as the connection \"Game PC\"")), "{stdout}");
    let saved = onair_headless::settings::read_connection(&settings);
    let places: Vec<(String, u16)> = saved.connections.into_iter().map(|c| (c.name, c.port)).collect();
    assert_eq!(places, [("Stream PC".to_string(), 4455), ("Game PC".to_string(), port)], "the named one only");
    let _ = std::fs::remove_dir_all(settings.parent().unwrap_or(&settings));
}
