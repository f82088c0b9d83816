//! The tray app against real OBS in a private headless desktop: its menu read
//! and clicked through com.canonical.dbusmenu, its notifications read off the
//! session bus with their category hints, the password in a real Secret
//! Service (gnome-keyring), a hotkey pressed with xdotool.

use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions, MenuNode};
use onair_system_tests::support::{enabled, onair_in, TrayApp};
use onair_system_tests::world::{ObsWorld, WorldOptions};

const PASSWORD: &str = "tray test password";
const T: Duration = Duration::from_secs(20);

async fn world(options: WorldOptions) -> ObsWorld {
    ObsWorld::start(WorldOptions { password: Some(PASSWORD.into()), ..options }).await.unwrap_or_else(|e| panic!("{e}"))
}

async fn desktop(options: DesktopOptions) -> Desktop {
    Desktop::start(options).await.unwrap_or_else(|e| panic!("{e}"))
}

fn first_row(menu: &MenuNode) -> String {
    menu.children.first().map(|n| n.label.clone()).unwrap_or_default()
}

fn categories(desktop: &Desktop) -> Vec<String> {
    desktop.notifications().all().iter().filter_map(|n| n.category().map(String::from)).collect()
}

/// The moment notifications only (not settings or hotkey notices).
fn moment_categories(desktop: &Desktop) -> Vec<String> {
    categories(desktop).into_iter().filter(|c| c.starts_with("x-onair.")).collect()
}

async fn settle() {
    tokio::time::sleep(Duration::from_secs(2)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_for_live_outage_end_and_obs_restart_exactly_once_each() {
    let mut world = world(WorldOptions::default()).await;
    let mut desktop = desktop(DesktopOptions::default()).await;
    let app = TrayApp::start(&mut desktop, world.ws_port(), &[("ONAIR_PASSWORD", PASSWORD)]).await;
    app.wait_menu(&desktop, "Offline", T, |m| first_row(m) == "Offline").await;

    world.request("StartStream", serde_json::Value::Null).await.unwrap();
    let live = desktop.notifications().wait_for(|n| n.category() == Some("x-onair.live"), T).await.unwrap();
    assert_eq!(live.app_name, "OnAir");
    assert_eq!(live.hint("desktop-entry"), Some("onair"));
    assert_eq!(live.summary, "You're live");

    world.kill_rtmp();
    desktop.notifications().wait_for(|n| n.category() == Some("x-onair.reconnecting"), T).await.unwrap();
    app.wait_menu(&desktop, "RECONNECTING", T, |m| first_row(m).starts_with("RECONNECTING")).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    world.start_rtmp().await.unwrap();
    let reconnected = desktop
        .notifications()
        .wait_for(|n| n.category() == Some("x-onair.reconnected"), Duration::from_secs(40))
        .await
        .unwrap();
    assert_ne!(reconnected.replaces_id, 0, "reconnected replaces the reconnecting notification in place");

    world.request("StopStream", serde_json::Value::Null).await.unwrap();
    let ended = desktop.notifications().wait_for(|n| n.category() == Some("x-onair.ended"), T).await.unwrap();
    // The summary: "0:42 live · 1 MB · 1 reconnect (12 s)".
    assert!(ended.body.contains(" live") && ended.body.contains("1 reconnect"), "{}", ended.body);

    world.request("StartStream", serde_json::Value::Null).await.unwrap();
    desktop.notifications().wait_count("x-onair.live", 2, T).await.unwrap();
    world.kill_obs();
    desktop.notifications().wait_for(|n| n.category() == Some("x-onair.obs-lost"), T).await.unwrap();
    app.wait_menu(&desktop, "waiting for OBS", T, |m| first_row(m).starts_with("Waiting for OBS")).await;
    world.start_obs().await.unwrap();
    let back = desktop.notifications().wait_for(|n| n.category() == Some("x-onair.obs-back"), T).await.unwrap();
    assert_ne!(back.replaces_id, 0, "OBS back replaces lost OBS in place");
    desktop.notifications().wait_count("x-onair.ended", 2, T).await.unwrap();
    settle().await;
    assert_eq!(
        moment_categories(&desktop),
        [
            "x-onair.live",
            "x-onair.reconnecting",
            "x-onair.reconnected",
            "x-onair.ended",
            "x-onair.live",
            "x-onair.obs-lost",
            "x-onair.obs-back",
            "x-onair.ended"
        ],
        "{}",
        desktop.notifications().describe()
    );
}

/// The id the notification server gave the first notification of `category`.
async fn notification_id(desktop: &Desktop, category: &str) -> u32 {
    let found = desktop.notifications().wait_for(|n| n.category() == Some(category) && n.id.is_some(), T).await;
    found.unwrap_or_else(|e| panic!("{e}")).id.unwrap_or_default()
}

async fn wait_closed(desktop: &Desktop, id: u32, what: &str) {
    let deadline = tokio::time::Instant::now() + T;
    while !desktop.notifications().closed().contains(&id) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: notification {id} still on screen; closed: {:?}\n{}",
            desktop.notifications().closed(),
            desktop.notifications().describe()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_is_closed_by_its_recovery_even_when_the_recovery_is_not_shown() {
    let mut world = world(WorldOptions::default()).await;
    let mut desktop = desktop(DesktopOptions::default()).await;
    let config = desktop.home().join(".config/onair");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("settings.toml"), "[notifications]\nreconnected = false\nobs-back = false\n").unwrap();
    let app = TrayApp::start(&mut desktop, world.ws_port(), &[("ONAIR_PASSWORD", PASSWORD)]).await;
    app.wait_menu(&desktop, "Offline", T, |m| first_row(m) == "Offline").await;
    world.request("StartStream", serde_json::Value::Null).await.unwrap();
    app.wait_menu(&desktop, "LIVE", T, |m| first_row(m).contains("LIVE")).await;

    // The ingest goes away: a critical "reconnecting" stays until its answer.
    world.kill_rtmp();
    let reconnecting = notification_id(&desktop, "x-onair.reconnecting").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    world.start_rtmp().await.unwrap();
    app.wait_menu(&desktop, "LIVE again", Duration::from_secs(40), |m| first_row(m).contains("LIVE")).await;
    wait_closed(&desktop, reconnecting, "the stream recovered").await;

    // OBS goes away while live: "lost OBS" stays until OBS is back.
    world.kill_obs();
    let lost = notification_id(&desktop, "x-onair.obs-lost").await;
    world.start_obs().await.unwrap();
    wait_closed(&desktop, lost, "OBS came back").await;
    assert_eq!(desktop.notifications().count("x-onair.reconnected"), 0, "switched off");
    assert_eq!(desktop.notifications().count("x-onair.obs-back"), 0, "switched off");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tray_menu_shows_the_state_and_its_clicks_drive_real_obs() {
    let mut world = world(WorldOptions { start_obs: false, ..WorldOptions::default() }).await;
    let mut desktop = desktop(DesktopOptions::default()).await;
    let app = TrayApp::start(&mut desktop, world.ws_port(), &[("ONAIR_PASSWORD", PASSWORD)]).await;
    let menu =
        app.wait_menu(&desktop, "waiting", T, |m| first_row(m).starts_with("Waiting for OBS at 127.0.0.1:")).await;
    assert!(!enabled(&menu, "Start Streaming"), "nothing to start without OBS:\n{}", menu.render());
    assert!(!enabled(&menu, "Scenes"));
    assert!(enabled(&menu, "Reconnect Now"));
    assert!(enabled(&menu, "Quit OnAir"));

    world.start_obs().await.unwrap();
    let menu = app.wait_menu(&desktop, "offline", T, |m| first_row(m) == "Offline").await;
    assert!(enabled(&menu, "Start Streaming"), "{}", menu.render());
    assert!(enabled(&menu, "Start Recording"));
    assert!(!enabled(&menu, "Pause Recording"));
    assert!(!enabled(&menu, "Save Replay"), "no replay buffer configured");
    assert!(menu.find("Reconnect Now").is_none());
    let scenes = menu.find("Scenes").expect("a Scenes submenu");
    let mut names: Vec<String> = scenes.children.iter().map(|c| c.label.clone()).collect();
    names.sort();
    assert_eq!(names, ["Gameplay", "Scene"]);
    assert_eq!(
        scenes.children.iter().find(|c| c.label == "Scene").and_then(|c| c.toggle_state),
        Some(1),
        "current scene checked"
    );

    app.click(&desktop, "Start Streaming").await;
    world.wait_stream_active(true, T).await.unwrap();
    let menu = app.wait_menu(&desktop, "live", T, |m| first_row(m).starts_with("● LIVE")).await;
    assert!(enabled(&menu, "Stop Streaming"), "{}", menu.render());
    // The clock row updates in place while live.
    let before = first_row(&menu);
    app.wait_menu(&desktop, "the clock ticking", Duration::from_secs(5), |m| first_row(m) != before).await;

    app.click(&desktop, "Gameplay").await;
    world
        .wait_for("GetCurrentProgramScene", serde_json::Value::Null, T, |v| v["currentProgramSceneName"] == "Gameplay")
        .await
        .unwrap();
    app.wait_menu(&desktop, "Scene: Gameplay", T, |m| m.find("Scene: Gameplay").is_some()).await;

    app.click(&desktop, "Stop Streaming").await;
    world.wait_stream_active(false, T).await.unwrap();
    app.wait_menu(&desktop, "offline again", T, |m| first_row(m) == "Offline").await;

    app.click(&desktop, "Start Recording").await;
    world.wait_record_active(true, T).await.unwrap();
    app.wait_menu(&desktop, "recording row", T, |m| m.find("Recording 00:").is_some() && enabled(m, "Pause Recording"))
        .await;
    // Stop a recording that is writing: OBS 29 wedges one stopped within its first frames.
    world
        .wait_for("GetRecordStatus", serde_json::Value::Null, T, |v| v["outputBytes"].as_u64().is_some_and(|b| b > 0))
        .await
        .unwrap();
    app.click(&desktop, "Stop Recording").await;
    world.wait_record_active(false, T).await.unwrap();

    app.click(&desktop, "Quit OnAir").await;
    let status = desktop.wait_tracked(app.pid, T).await.expect("Quit ends the app");
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hotkey_toggles_the_stream_in_real_obs() {
    let world = world(WorldOptions::default()).await;
    let mut desktop = desktop(DesktopOptions::default()).await;
    let config = desktop.home().join(".config/onair");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("settings.toml"), "[hotkeys]\nenabled = true\ntoggle_stream = \"Ctrl+Alt+Shift+S\"\n")
        .unwrap();
    let app = TrayApp::start(&mut desktop, world.ws_port(), &[("ONAIR_PASSWORD", PASSWORD)]).await;
    app.wait_menu(&desktop, "Offline", T, |m| first_row(m) == "Offline").await;

    desktop.key("ctrl+alt+shift+s").await.unwrap();
    world.wait_stream_active(true, T).await.unwrap();
    app.wait_menu(&desktop, "live", T, |m| first_row(m).starts_with("● LIVE")).await;
    desktop.key("ctrl+alt+shift+s").await.unwrap();
    world.wait_stream_active(false, T).await.unwrap();
    assert!(
        !categories(&desktop).iter().any(|c| c == "x-onair.hotkeys"),
        "no hotkey problem reported: {}",
        desktop.notifications().describe()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_password_set_through_the_cli_lands_in_the_secret_service_and_the_app_uses_it() {
    let world = world(WorldOptions::default()).await;
    let mut desktop = desktop(DesktopOptions::default()).await;
    let port = world.ws_port().to_string();
    let (code, stdout, stderr) = onair_in(
        &desktop,
        &["password", "set", "--host", "127.0.0.1", "--port", &port],
        Some(&format!("{PASSWORD}\n")),
    )
    .await;
    assert_eq!(code, 0, "{stdout} {stderr}");
    let user = format!("obs-websocket@127.0.0.1:{port}");
    let stored = desktop.secret_lookup(&[("service", "OnAir"), ("username", &user)]).await;
    assert_eq!(stored.as_deref(), Some(PASSWORD), "the keyring holds it, readable by other tools");
    let settings = std::fs::read_to_string(desktop.home().join(".config/onair/settings.toml")).unwrap_or_default();
    assert!(!settings.contains(PASSWORD), "never in the settings file");

    // The app finds it on its own: no ONAIR_PASSWORD.
    let app = TrayApp::start(&mut desktop, world.ws_port(), &[]).await;
    app.wait_menu(&desktop, "connected", T, |m| first_row(m) == "Offline").await;
    // So does every subcommand.
    let (code, stdout, stderr) = onair_in(&desktop, &["status", "--host", "127.0.0.1", "--port", &port], None).await;
    assert_eq!(code, 0, "{stdout} {stderr}");
    let log = std::fs::read_to_string(desktop.logs_dir().join("onair-app.log")).unwrap_or_default();
    assert!(!log.contains(PASSWORD), "the password is never logged");

    let (code, stdout, _) =
        onair_in(&desktop, &["password", "clear", "--host", "127.0.0.1", "--port", &port], None).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("Cleared"), "{stdout}");
    assert_eq!(desktop.secret_lookup(&[("service", "OnAir"), ("username", &user)]).await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_gives_exactly_one_auth_failed_notification() {
    let world = world(WorldOptions::default()).await;
    let mut desktop = desktop(DesktopOptions::default()).await;
    let app = TrayApp::start(&mut desktop, world.ws_port(), &[("ONAIR_PASSWORD", "not it")]).await;
    let menu =
        app.wait_menu(&desktop, "rejected", T, |m| first_row(m).starts_with("OBS rejected the password: ")).await;
    assert!(enabled(&menu, "Try Again"), "{}", menu.render());
    desktop.notifications().wait_for(|n| n.category() == Some("x-onair.auth-failed"), T).await.unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(moment_categories(&desktop), ["x-onair.auth-failed"], "{}", desktop.notifications().describe());
    // "Try Again" with the same wrong password fails again, quietly (no storm).
    app.click(&desktop, "Try Again").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(desktop.notifications().count("x-onair.auth-failed"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_notification_server_or_a_keyring_the_app_keeps_working() {
    let world = world(WorldOptions::default()).await;
    let mut desktop =
        desktop(DesktopOptions { notification_server: false, keyring: false, ..Default::default() }).await;
    let port = world.ws_port().to_string();
    let (code, _, stderr) = onair_in(&desktop, &["password", "set", "--port", &port], Some("x\n")).await;
    assert_eq!(code, 7, "no keyring: {stderr}");
    assert!(stderr.contains("no keyring"), "{stderr}");

    let app = TrayApp::start(&mut desktop, world.ws_port(), &[("ONAIR_PASSWORD", PASSWORD)]).await;
    app.wait_menu(&desktop, "Offline", T, |m| first_row(m) == "Offline").await;
    world.request("StartStream", serde_json::Value::Null).await.unwrap();
    app.wait_menu(&desktop, "live", T, |m| first_row(m).starts_with("● LIVE")).await;
    // The Notify call still goes out (seen on the bus); nobody answers it, and the app carries on.
    desktop.notifications().wait_for(|n| n.category() == Some("x-onair.live"), T).await.unwrap();
    assert!(desktop.tracked_status(app.pid).is_none(), "the app is still running");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_launch_hands_over_to_the_first() {
    let world = world(WorldOptions::default()).await;
    let mut desktop = desktop(DesktopOptions::default()).await;
    let app = TrayApp::start(&mut desktop, world.ws_port(), &[("ONAIR_PASSWORD", PASSWORD)]).await;
    app.wait_menu(&desktop, "Offline", T, |m| first_row(m) == "Offline").await;
    let mut second = desktop.std_command(onair_system_tests::support::onair_bin());
    second
        .args(["--port", &world.ws_port().to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let second_pid = desktop.spawn_tracked(&mut second).unwrap();
    let status = desktop.wait_tracked(second_pid, T).await.expect("the second launch exits");
    assert!(status.success(), "{status:?}");
    assert!(desktop.tracked_status(app.pid).is_none(), "the first keeps running");
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_can_require_a_second_press() {
    let world = world(WorldOptions::default()).await;
    let mut desktop = desktop(DesktopOptions::default()).await;
    let config = desktop.home().join(".config/onair");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("settings.toml"), "[behaviour]\nconfirm_stop_stream = true\n").unwrap();
    let app = TrayApp::start(&mut desktop, world.ws_port(), &[("ONAIR_PASSWORD", PASSWORD)]).await;
    app.wait_menu(&desktop, "Offline", T, |m| first_row(m) == "Offline").await;
    app.click(&desktop, "Start Streaming").await;
    world.wait_stream_active(true, T).await.unwrap();
    app.wait_menu(&desktop, "live", T, |m| first_row(m).starts_with("● LIVE")).await;

    app.click(&desktop, "Stop Streaming").await;
    app.wait_menu(&desktop, "the confirmation", T, |m| enabled(m, "Press Again to Stop Streaming")).await;
    desktop.notifications().wait_for(|n| n.category() == Some("x-onair.confirm-stop"), T).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        world.request("GetStreamStatus", serde_json::Value::Null).await.unwrap()["outputActive"] == true,
        "one press does not stop"
    );
    app.click(&desktop, "Press Again to Stop Streaming").await;
    world.wait_stream_active(false, T).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hotkey_pressed_while_obs_is_away_says_why_nothing_happened() {
    let world = world(WorldOptions { start_obs: false, ..WorldOptions::default() }).await;
    let mut desktop = desktop(DesktopOptions::default()).await;
    let config = desktop.home().join(".config/onair");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("settings.toml"), "[hotkeys]\nenabled = true\n").unwrap();
    let app = TrayApp::start(&mut desktop, world.ws_port(), &[("ONAIR_PASSWORD", PASSWORD)]).await;
    app.wait_menu(&desktop, "waiting", T, |m| first_row(m).starts_with("Waiting for OBS")).await;
    desktop.key("ctrl+alt+shift+s").await.unwrap();
    let refused =
        desktop.notifications().wait_for(|n| n.category() == Some("x-onair.control-failed"), T).await.unwrap();
    assert_eq!(refused.summary, "Could not start streaming");
    assert!(refused.body.starts_with("not connected to OBS: waiting for OBS"), "{}", refused.body);
}
