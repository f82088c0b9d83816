//! The tray app against real OBS in a private headless desktop: its menu read
//! and clicked through com.canonical.dbusmenu, its notifications read off the
//! session bus with their category hints, the password in a real Secret
//! Service (gnome-keyring), a hotkey pressed with xdotool.

use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions, MenuNode, SeenNotification};
use onair_system_tests::fake::{FakeObs, FakeState};
use onair_system_tests::support::{enabled, onair_in, TrayApp};
use onair_system_tests::world::{ObsWorld, TestAudio, WorldOptions};
use serde_json::json;

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
    assert_eq!(live.hint("desktop-entry"), Some("app.onair.tray"), "the installed desktop file's id");
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

/// Writes the app's settings file in the desktop's home.
fn write_settings(desktop: &Desktop, text: &str) {
    let config = desktop.home().join(".config/onair");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("settings.toml"), text).unwrap();
}

/// Presses the button of the notification dunst shows first until `done` (dunst may
/// not have moved a notification it just answered onto the screen yet, and then a
/// press does nothing), for up to 5 s: dunst takes a critical notification down after
/// 5 s in the tests.
async fn press_until<F: std::future::Future<Output = bool>>(desktop: &Desktop, what: &str, done: impl Fn() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        desktop.press_notification_button().await.unwrap_or_else(|e| panic!("{e}"));
        for _ in 0..10 {
            if done().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: not done after pressing the button for 5 s");
    }
}

/// The "Unmute" button on a mute alert, pressed through dunst: a watched mic muted while
/// live raises the critical muted-while-live alert with the button (dunst lists the
/// `actions` capability); pressing it unmutes the mic in real OBS, and the alert's
/// clearing replaces it in place.
#[tokio::test(flavor = "multi_thread")]
async fn the_unmute_button_of_a_muted_while_live_alert_unmutes_the_mic_in_obs() {
    let world = world(WorldOptions::default()).await;
    // Silence: a muted mic playing a tone would also raise talking-while-muted.
    world.add_test_audio("Test Mic", TestAudio::Silence).await.expect("a test mic");
    let mut desktop = desktop(DesktopOptions::default()).await;
    write_settings(&desktop, "[audio]\nmics = [\"Test Mic\"]\n");
    let app = TrayApp::start(&mut desktop, world.ws_port(), &[("ONAIR_PASSWORD", PASSWORD)]).await;
    app.wait_menu(&desktop, "Offline", T, |m| first_row(m) == "Offline").await;
    world.start_stream(T).await.unwrap();
    desktop.notifications().wait_for(|n| n.category() == Some("x-onair.live") && n.id.is_some(), T).await.unwrap();
    // Off the screen, so the alert is what dunst shows first.
    desktop.close_all_notifications().await.unwrap();

    world.request("SetInputMute", json!({ "inputName": "Test Mic", "inputMuted": true })).await.unwrap();
    let alert = desktop
        .notifications()
        .wait_for(|n| n.category() == Some("x-onair.muted-while-live") && n.id.is_some(), T)
        .await
        .unwrap();
    assert_eq!(alert.actions, ["unmute", "Unmute"], "{}", desktop.notifications().describe());
    assert_eq!(alert.hint("urgency"), Some("2"));
    let muted = || async {
        world.request("GetInputMute", json!({ "inputName": "Test Mic" })).await.unwrap()["inputMuted"] == true
    };
    assert!(muted().await);

    press_until(&desktop, "the mic unmuted in OBS", || async { !muted().await }).await;
    let cleared = desktop.notifications().wait_for(|n| n.category() == Some("x-onair.alert-cleared"), T).await.unwrap();
    assert_eq!(cleared.replaces_id, alert.id.unwrap_or_default(), "the note takes the alert's place");
    assert_eq!(cleared.actions, Vec::<String>::new(), "nothing left to unmute");
    settle().await;
    assert_eq!(desktop.notifications().count("x-onair.muted-while-live"), 1);
    assert_eq!(desktop.notifications().count("x-onair.alert-cleared"), 1);
}

/// Every notification goes over the one bus connection the app keeps (no connection
/// per notification: the same sender throughout, and the app's connections on the bus
/// do not grow), and when the notification server goes away and comes back the app
/// says so in its log and keeps notifying, Unmute button included.
#[tokio::test(flavor = "multi_thread")]
async fn notifications_share_one_bus_connection_and_outlive_a_restart_of_the_server() {
    let mut desktop = desktop(DesktopOptions::default()).await;
    let mut fake = FakeObs::start().await;
    let app = TrayApp::start(&mut desktop, fake.port(), &[]).await;
    // The app may look at the port before it connects for good: the first
    // connection that says Identify is the session's.
    let mut conn = fake.accept(T).await.expect("the app connects");
    while conn.handshake(None).await.is_err() {
        conn = fake.accept(T).await.expect("the app connects again");
    }
    // The fake's mic slot holds "Mic/Aux".
    let obs = conn.serve_with(FakeState::default());
    app.wait_menu(&desktop, "Offline", T, |m| first_row(m) == "Offline").await;
    let stream = |live: bool| {
        obs.update_state(|s| s.stream_active = live);
        let state = if live { "STARTED" } else { "STOPPED" };
        obs.send_event(
            "StreamStateChanged",
            json!({"outputActive": live, "outputState": format!("OBS_WEBSOCKET_OUTPUT_{state}")}),
        )
    };
    let notifications = desktop.notifications();
    let answered = |category: &'static str, n: usize| {
        let notifications = notifications.clone();
        async move {
            let matching = |x: &SeenNotification| x.category() == Some(category) && x.id.is_some();
            let deadline = tokio::time::Instant::now() + T;
            while notifications.all().iter().filter(|x| matching(x)).count() < n {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{n} answered {category}\n{}",
                    notifications.describe()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let connections_before = desktop.connections_of(app.pid).await.unwrap();

    const ROUNDS: usize = 10;
    for round in 1..=ROUNDS {
        stream(true).await;
        answered("x-onair.live", round).await;
        stream(false).await;
        answered("x-onair.ended", round).await;
    }
    let senders: std::collections::BTreeSet<String> = notifications.all().into_iter().map(|n| n.sender).collect();
    assert_eq!(senders.len(), 1, "{} notifications over {senders:?}", notifications.all().len());
    assert_eq!(desktop.connections_of(app.pid).await.unwrap(), connections_before, "no connection per notification");

    // The server goes away: the Notify still goes out, unanswered, and the app carries on.
    desktop.stop_notification_server().await;
    stream(true).await;
    notifications
        .wait_for(|n| n.category() == Some("x-onair.live") && n.error.is_some(), T)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    desktop.start_notification_server().await.unwrap();
    // A fresh dunst: shown again, over the same connection, with the Unmute button.
    obs.mute_in_obs("Mic/Aux", true).await;
    let alert = notifications
        .wait_for(|n| n.category() == Some("x-onair.muted-while-live") && n.id.is_some(), T)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(alert.actions, ["unmute", "Unmute"]);
    assert_eq!(alert.replaces_id, 0, "nothing of the old server's is replaced");
    let unmuted = || async {
        obs.requests().iter().any(|r| {
            r.request_type == "SetInputMute"
                && r.data.as_ref().is_some_and(|d| d["inputName"] == "Mic/Aux" && d["inputMuted"] == false)
        })
    };
    press_until(&desktop, "the fake OBS asked to unmute", unmuted).await;
    let senders: std::collections::BTreeSet<String> = notifications.all().into_iter().map(|n| n.sender).collect();
    assert_eq!(senders.len(), 1, "{senders:?}");
    let log = std::fs::read_to_string(desktop.logs_dir().join("onair-app.log")).unwrap_or_default();
    assert!(log.contains("the notification server left the bus"), "{log}");
    assert!(log.contains("a notification server took the name"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    assert!(desktop.tracked_status(app.pid).is_none(), "the app is still running");
}

/// Waits until the app's log (stderr) has a line containing `text`.
async fn wait_app_log(desktop: &Desktop, text: &str) {
    let path = desktop.logs_dir().join("onair-app.log");
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        if log.contains(text) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {text:?} in the app's log:\n{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `want` visible windows are titled "OnAir".
async fn wait_windows(desktop: &Desktop, want: usize) {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let seen = desktop.visible_windows("OnAir").await.unwrap_or_else(|e| panic!("{e}"));
        if seen == want {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{seen} windows titled OnAir, not {want}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_tray_the_app_says_so_once_and_opens_its_window() {
    let mut desktop = desktop(DesktopOptions { tray_watcher: false, ..Default::default() }).await;
    let fake = FakeObs::start().await;
    let _app = TrayApp::start(&mut desktop, fake.port(), &[]).await;
    let seen = desktop.notifications().wait_for(|n| n.category() == Some("x-onair.no-tray"), T).await.unwrap();
    assert_eq!(seen.summary, "OnAir has no tray here");
    assert!(seen.body.contains("AppIndicator extension") && seen.body.contains("app launcher"), "{}", seen.body);
    wait_windows(&desktop, 1).await;
    wait_app_log(&desktop, "OnAir has no tray here: no StatusNotifierWatcher").await;
    // A panel that comes later is only logged: no second notice, the window stays.
    desktop.start_tray_watcher().await.unwrap();
    wait_app_log(&desktop, "a StatusNotifierWatcher appeared").await;
    settle().await;
    assert_eq!(desktop.notifications().count("x-onair.no-tray"), 1);
    assert_eq!(desktop.visible_windows("OnAir").await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_tray_the_app_starts_with_no_window_and_its_icon_registers() {
    let mut desktop = desktop(DesktopOptions::default()).await;
    let fake = FakeObs::start().await;
    let app = TrayApp::start(&mut desktop, fake.port(), &[]).await;
    // Logged once the bus was asked: from then on a window would have opened.
    wait_app_log(&desktop, "a StatusNotifierWatcher with a host is on the session bus").await;
    settle().await;
    assert_eq!(desktop.visible_windows("OnAir").await.unwrap(), 0);
    assert_eq!(desktop.notifications().count("x-onair.no-tray"), 0);
    // libayatana registered the icon with the desktop's watcher.
    let items = desktop
        .busctl_json(&[
            "get-property",
            "org.kde.StatusNotifierWatcher",
            "/StatusNotifierWatcher",
            "org.kde.StatusNotifierWatcher",
            "RegisteredStatusNotifierItems",
        ])
        .await
        .unwrap();
    assert!(items.to_string().contains(&app.bus_name), "{items} has the app's {}", app.bus_name);
}

/// The closed window gives WebKit's memory back (src-tauri/src/web_memory.rs): within
/// 5 s of the window closing WebKit's network and web processes are gone, and the
/// window opens again afterwards with WebKit's processes back.
#[tokio::test(flavor = "multi_thread")]
async fn a_closed_window_lets_webkit_go_and_opens_again_with_it() {
    use onair_system_tests::measure::{names, process_tree};
    use onair_system_tests::world::x11;
    const WEBKIT: [&str; 2] = ["WebKitWebProces", "WebKitNetworkPr"];
    let mut desktop = desktop(DesktopOptions::default()).await;
    // Nothing listens there: the app waits for OBS, and its window still opens.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port").port();
    let app = TrayApp::start(&mut desktop, closed_port, &[]).await;
    let webkit_running = |pid: u32| {
        let running = names(&process_tree(pid));
        WEBKIT.iter().filter(|p| running.iter().any(|r| r == *p)).count()
    };
    let wait_for = |what: &'static str, want: usize, windows: usize| {
        let display = desktop.display().to_string();
        let pid = app.pid;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let shown = x11::count_windows(&display, "OnAir").unwrap_or_else(|e| panic!("{e}"));
                if webkit_running(pid) == want && shown == windows {
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{what}: {shown} windows, processes {:?}",
                    names(&process_tree(pid))
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    app.click(&desktop, "Open OnAir").await;
    wait_for("the window open with WebKit's processes", 2, 1).await;
    x11::close_window(desktop.display(), "OnAir").unwrap_or_else(|e| panic!("{e}"));
    wait_for("5 s after the window closed, no WebKit process", 0, 0).await;
    app.click(&desktop, "Open OnAir").await;
    wait_for("the window open again with WebKit's processes back", 2, 1).await;
}
