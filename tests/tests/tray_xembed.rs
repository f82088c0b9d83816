//! The tray app on a desktop with an XEmbed system tray and no StatusNotifier
//! watcher (i3bar, trayer and older panels): libappindicator embeds the icon
//! there, so OnAir stays in the tray instead of opening its window.

use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions};
use onair_system_tests::fake::FakeObs;
use onair_system_tests::support::TrayApp;

const T: Duration = Duration::from_secs(20);

async fn wait_app_log(desktop: &Desktop, text: &str) -> String {
    let path = desktop.logs_dir().join("onair-app.log");
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        if log.contains(text) {
            return log;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {text:?} in the app's log:\n{log}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The X window tree of the desktop's display, as `xwininfo -root -tree` prints it.
fn window_tree(desktop: &Desktop) -> String {
    let output = desktop.std_command("xwininfo").args(["-root", "-tree"]).output().expect("run xwininfo");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn with_an_xembed_tray_and_no_watcher_the_icon_is_embedded_and_no_window_opens() {
    let mut desktop = Desktop::start(DesktopOptions { tray_watcher: false, ..Default::default() })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut trayer = desktop.std_command("trayer");
    trayer.args(["--edge", "top", "--align", "right", "--widthtype", "pixel", "--width", "200", "--height", "24"]);
    trayer.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    desktop.spawn_tracked(&mut trayer).expect("start trayer");
    // trayer owns _NET_SYSTEM_TRAY_S0 once its panel window is up.
    let deadline = tokio::time::Instant::now() + T;
    while !window_tree(&desktop).contains("(\"panel\" \"trayer\")") {
        assert!(tokio::time::Instant::now() < deadline, "trayer's panel never showed:\n{}", window_tree(&desktop));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fake = FakeObs::start().await;
    let _app = TrayApp::start(&mut desktop, fake.port(), &[]).await;
    let log = wait_app_log(&desktop, "an XEmbed system tray is on the X screen").await;
    assert!(!log.contains("OnAir has no tray here"), "{log}");
    // The icon is the app's window embedded in trayer's panel.
    let deadline = tokio::time::Instant::now() + T;
    while !window_tree(&desktop).contains("tray-icon tray app onair") {
        assert!(tokio::time::Instant::now() < deadline, "no embedded icon:\n{}", window_tree(&desktop));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(desktop.visible_windows("OnAir").await.unwrap(), 0, "no window opened");
    assert_eq!(desktop.notifications().count("x-onair.no-tray"), 0);
}
