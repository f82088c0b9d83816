//! The tray app's first start against real OBS in a private desktop: OnAir's
//! config folder is empty and the desktop's `XDG_CONFIG_HOME` holds the
//! `obs-studio` folder the world's real OBS runs from (OBS 29's `global.ini`,
//! with a password). The offer is a notification on the bus with its button,
//! pressed through dunst (`dunstctl action 0`); then the app connects to that
//! OBS, the settings file holds its port and the Secret Service its password.

use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions, MenuNode, SeenNotification};
use onair_system_tests::support::{onair_bin, TrayApp};
use onair_system_tests::world::{ObsWorld, WorldOptions};

const PASSWORD: &str = "first run password";
const T: Duration = Duration::from_secs(20);

fn first_row(menu: &MenuNode) -> String {
    menu.children.first().map(|n| n.label.clone()).unwrap_or_default()
}

/// Starts the tray app as a user does: no `--host`, no `--port`, no password given.
fn spawn_bare(desktop: &mut Desktop) -> u32 {
    let mut command = desktop.std_command(onair_bin());
    command
        .env_remove("ONAIR_PASSWORD")
        .env("RUST_LOG", "info,onair_headless=debug,onair_app=debug")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(desktop.logs_dir().join("onair-app.log")).expect("app log file"));
    desktop.spawn_tracked(&mut command).expect("start the tray app")
}

/// The app's menu on the bus (finding it can take seconds: the offer is on
/// screen for 5 s only, so it is pressed first).
async fn tray_app(desktop: &Desktop, pid: u32, started: std::time::Instant) -> TrayApp {
    let (bus_name, menu_path) = desktop.find_menu(pid, Duration::from_secs(30)).await.unwrap_or_else(|e| {
        let log = std::fs::read_to_string(desktop.logs_dir().join("onair-app.log")).unwrap_or_default();
        panic!("{e}\napp log:\n{log}")
    });
    TrayApp { pid, bus_name, menu_path, started }
}

/// OnAir's entry for this OBS in the desktop's Secret Service.
async fn in_keyring(desktop: &Desktop, user: &str) -> Option<String> {
    desktop.secret_lookup(&[("service", "OnAir"), ("username", user)]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_start_offers_obss_own_settings_and_their_button_connects_with_them() {
    let world =
        ObsWorld::start(WorldOptions { password: Some(PASSWORD.into()), with_rtmp: false, ..Default::default() })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let obs_folder = desktop.home().join(".config/obs-studio");
    std::os::unix::fs::symlink(world.home().join(".config/obs-studio"), &obs_folder).expect("OBS's folder");
    let settings = desktop.home().join(".config/onair/settings.toml");
    let port = world.ws_port();
    let user = format!("obs-websocket@localhost:{port}");
    // Also wakes gnome-keyring, whose first answer can take seconds: the offer
    // below is on screen for 5 s only.
    assert_eq!(in_keyring(&desktop, &user).await, None);
    let started = std::time::Instant::now();
    let pid = spawn_bare(&mut desktop);

    let offer = desktop
        .notifications()
        .wait_for(|n| n.category() == Some("x-onair.setup") && n.id.is_some(), T)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(offer.actions, ["use-obs-settings", "Use OBS's settings"], "{}", desktop.notifications().describe());
    assert_eq!(offer.summary, "Use OBS's own settings?");
    let ini = obs_folder.join("global.ini").display().to_string();
    assert!(
        offer.body.contains(&ini) && offer.body.contains(&format!("port {port}, with a password")),
        "{}",
        offer.body
    );
    assert!(!offer.body.contains(PASSWORD));
    // Nothing is taken before yes.
    assert!(!settings.exists(), "no settings file before yes");
    assert_eq!(in_keyring(&desktop, &user).await, None);

    // dunst shows it first (nothing else was said): its one action, pressed. A
    // press dunst cannot act on yet (the notification not on screen yet) is
    // pressed again, until dunst takes it down itself (after 5 s in the tests).
    let offer_id = offer.id.unwrap_or_default();
    let answered = |n: &SeenNotification| n.summary.starts_with("OnAir connects to OBS");
    let deadline = tokio::time::Instant::now() + T;
    while !desktop.notifications().all().iter().any(answered) {
        assert!(
            !desktop.notifications().closed().contains(&offer_id) && tokio::time::Instant::now() < deadline,
            "the offer went before its button was answered: {}\napp log:\n{}",
            desktop.notifications().describe(),
            std::fs::read_to_string(desktop.logs_dir().join("onair-app.log")).unwrap_or_default()
        );
        if let Err(e) = desktop.press_notification_button().await {
            eprintln!("pressing the offer's button: {e}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let app = tray_app(&desktop, pid, started).await;
    let menu = app.wait_menu(&desktop, "connected to the world's OBS", T, |m| first_row(m) == "Offline").await;
    assert!(menu.find("Start Streaming").is_some_and(|n| n.enabled), "{}", menu.render());
    let told = desktop
        .notifications()
        .wait_for(|n| n.summary == format!("OnAir connects to OBS at localhost:{port}"), T)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(told.category(), Some("x-onair.setup"));
    assert!(told.body.contains(&settings.display().to_string()) && told.body.contains("keyring"), "{}", told.body);
    let saved = std::fs::read_to_string(&settings).unwrap_or_default();
    assert!(saved.contains("host = \"localhost\"") && saved.contains(&format!("port = {port}")), "{saved}");
    assert!(!saved.contains(PASSWORD), "{saved}");
    assert_eq!(in_keyring(&desktop, &user).await.as_deref(), Some(PASSWORD), "the password in the Secret Service");
    let log = std::fs::read_to_string(desktop.logs_dir().join("onair-app.log")).unwrap_or_default();
    assert!(!log.contains(PASSWORD), "the password is never logged");
    assert_eq!(desktop.notifications().count("x-onair.setup"), 2, "{}", desktop.notifications().describe());
}
