//! The tray app watching two real OBS at once (`[[connections]]`), each with
//! its own password in the real Secret Service: a section each in the menu
//! read over dbusmenu, notifications headed with the OBS they are about, a
//! hotkey that names one OBS (pressed with xdotool), and one OBS killed
//! without disturbing the other.

use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions, MenuNode};
use onair_system_tests::support::{onair_bin, onair_in, TrayApp};
use onair_system_tests::world::{ObsWorld, WorldOptions};

const T: Duration = Duration::from_secs(20);
const STREAM_PASSWORD: &str = "stream pc password";
const GAME_PASSWORD: &str = "game pc password";

fn row(menu: &MenuNode, prefix: &str) -> Option<String> {
    menu.children.iter().find(|n| n.label.starts_with(prefix)).map(|n| n.label.clone())
}

/// The item `label` in the submenu named `section`.
fn section_item<'a>(menu: &'a MenuNode, section: &str, label: &str) -> Option<&'a MenuNode> {
    let submenu = menu.children.iter().find(|n| n.label == section && !n.children.is_empty())?;
    submenu.children.iter().find(|n| n.label.starts_with(label))
}

#[tokio::test(flavor = "multi_thread")]
async fn two_obs_have_a_section_each_and_one_going_away_leaves_the_other_alone() {
    let world = WorldOptions { password: Some(STREAM_PASSWORD.into()), ..WorldOptions::default() };
    let mut world = ObsWorld::start(world).await.unwrap_or_else(|e| panic!("{e}"));
    let game = world.add_obs(Some(GAME_PASSWORD)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let (stream_port, game_port) = (world.ws_port(), world.instance(game).ws_port());
    for (port, password) in [(stream_port, STREAM_PASSWORD), (game_port, GAME_PASSWORD)] {
        let port = port.to_string();
        let args = ["password", "set", "--host", "127.0.0.1", "--port", &port];
        let (code, stdout, stderr) = onair_in(&desktop, &args, Some(&format!("{password}\n"))).await;
        assert_eq!(code, 0, "{stdout} {stderr}");
    }
    let config = desktop.home().join(".config/onair");
    std::fs::create_dir_all(&config).unwrap();
    let settings = format!(
        "[[connections]]\nname = \"Stream PC\"\nhost = \"127.0.0.1\"\nport = {stream_port}\n\n\
         [[connections]]\nname = \"Game PC\"\nhost = \"127.0.0.1\"\nport = {game_port}\n\n\
         [hotkeys]\nenabled = true\n\n[hotkeys.\"Game PC\"]\ntoggle_stream = \"Ctrl+Alt+Shift+G\"\n"
    );
    std::fs::write(config.join("settings.toml"), settings).unwrap();

    let app = TrayApp::start_with_args(&mut desktop, &onair_bin(), &[], &[]).await;
    let menu = app
        .wait_menu(&desktop, "both offline", T, |m| {
            row(m, "Stream PC: ").as_deref() == Some("Stream PC: Offline")
                && row(m, "Game PC: ").as_deref() == Some("Game PC: Offline")
        })
        .await;
    assert_eq!(menu.children[0].label, "Stream PC: Offline", "the first OBS first:\n{}", menu.render());
    assert!(section_item(&menu, "Game PC", "Start Streaming").is_some_and(|i| i.enabled), "{}", menu.render());

    // A stream on the Game PC is announced for it alone.
    world.instance(game).start_stream(T).await.unwrap();
    let live = desktop.notifications().wait_for(|n| n.category() == Some("x-onair.live"), T).await.unwrap();
    assert_eq!(live.summary, "Game PC: You're live");
    app.wait_menu(&desktop, "Game PC live", T, |m| {
        row(m, "Game PC: ").is_some_and(|r| r.starts_with("Game PC: ● LIVE"))
            && row(m, "Stream PC: ").as_deref() == Some("Stream PC: Offline")
    })
    .await;

    // The Stream PC's own submenu starts its stream, and only its.
    let menu = app.menu(&desktop).await;
    let start = section_item(&menu, "Stream PC", "Start Streaming").expect("its own Start Streaming").id;
    desktop.menu_click(&app.bus_name, &app.menu_path, start).await.unwrap();
    world.wait_stream_active(true, T).await.unwrap();
    desktop.notifications().wait_for(|n| n.summary == "Stream PC: You're live", T).await.unwrap();

    // The hotkey that names the Game PC stops its stream, and only its.
    desktop.key("ctrl+alt+shift+g").await.unwrap();
    world.instance(game).wait_stream_active(false, T).await.unwrap();
    desktop.notifications().wait_for(|n| n.summary.starts_with("Game PC: Stream ended"), T).await.unwrap();
    assert!(world.request("GetStreamStatus", serde_json::Value::Null).await.unwrap()["outputActive"] == true);

    // The Game PC's OBS dies (nothing on the air there, so no alarm): the
    // Stream PC streams on undisturbed.
    world.kill_instance(game);
    app.wait_menu(&desktop, "Game PC waiting", T, |m| {
        row(m, "Game PC: ").is_some_and(|r| r.starts_with("Game PC: Waiting for OBS"))
            && row(m, "Stream PC: ").is_some_and(|r| r.starts_with("Stream PC: ● LIVE"))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let about_stream_pc: Vec<String> = desktop
        .notifications()
        .all()
        .iter()
        .filter(|n| n.summary.starts_with("Stream PC"))
        .map(|n| n.summary.clone())
        .collect();
    assert_eq!(about_stream_pc, ["Stream PC: You're live"], "{}", desktop.notifications().describe());
    let log = std::fs::read_to_string(desktop.logs_dir().join("onair-app.log")).unwrap_or_default();
    assert!(!log.contains(STREAM_PASSWORD) && !log.contains(GAME_PASSWORD), "no password is logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn onair_connect_while_the_tray_app_runs_moves_it_to_the_new_obs() {
    let world = WorldOptions { password: Some(STREAM_PASSWORD.into()), ..WorldOptions::default() };
    let mut world = ObsWorld::start(world).await.unwrap_or_else(|e| panic!("{e}"));
    let game = world.add_obs(Some(GAME_PASSWORD)).await.unwrap_or_else(|e| panic!("{e}"));
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let (stream_port, game_port) = (world.ws_port(), world.instance(game).ws_port());
    let url = format!("obsws://127.0.0.1:{stream_port}/{}", STREAM_PASSWORD.replace(' ', "%20"));
    let (code, stdout, stderr) = onair_in(&desktop, &["connect", &url], None).await;
    assert_eq!(code, 0, "{stdout} {stderr}");
    let app = TrayApp::start_with_args(&mut desktop, &onair_bin(), &[], &[]).await;
    app.wait_menu(&desktop, "the Stream PC offline", T, |m| m.children.first().is_some_and(|r| r.label == "Offline"))
        .await;

    // Pointed at the Game PC from the command line: the running app follows.
    let url = format!("obsws://127.0.0.1:{game_port}/{}", GAME_PASSWORD.replace(' ', "%20"));
    let (code, stdout, stderr) = onair_in(&desktop, &["connect", &url], None).await;
    assert_eq!(code, 0, "{stdout} {stderr}");
    world.instance(game).start_stream(T).await.unwrap();
    app.wait_menu(&desktop, "the Game PC live", T, |m| {
        m.children.first().is_some_and(|r| r.label.starts_with("● LIVE"))
    })
    .await;
    let settings = std::fs::read_to_string(desktop.home().join(".config/onair/settings.toml")).unwrap();
    assert!(settings.contains(&format!("port = {game_port}")), "{settings}");
}
