//! `onair --demo`: the app against its built-in simulated OBS, which plays a
//! scripted show. Checks that every main state, its notifications and the
//! tray menu appear, and takes the README's screenshots on the way
//! (`target/screenshots/demo-*.png`, the tray menu as text in
//! `target/screenshots/demo-tray-menu.txt`).

use std::path::PathBuf;
use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions};
use onair_system_tests::support::onair_bin;
use onair_system_tests::webdriver::Driver;

const T: Duration = Duration::from_secs(30);

fn shot(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target").join("screenshots").join(name)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_plays_every_main_state_with_its_notifications() {
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let driver = Driver::start(&mut desktop).await.unwrap_or_else(|e| panic!("{e}"));
    let bin = onair_bin();
    let s = driver.session(&bin, &["--demo", "--show"]).await.unwrap_or_else(|e| panic!("{e}"));
    let pid = driver.app_processes(&bin).first().map(|(pid, _)| *pid).expect("the app runs");
    let (bus, path) = desktop.find_menu(pid, T).await.unwrap_or_else(|e| panic!("{e}"));

    s.wait_text("#headline", T, |t| t == "LIVE").await.unwrap();
    s.wait_text("#bitrate", T, |t| t.contains("Mb/s")).await.unwrap();
    s.wait_text("#recording-status", T, |t| t.contains("REC")).await.unwrap();
    s.screenshot(&shot("demo-live.png")).await.unwrap();
    let menu = desktop.menu_layout(&bus, &path).await.unwrap();
    std::fs::write(shot("demo-tray-menu.txt"), menu.render()).unwrap();
    assert!(menu.children.first().is_some_and(|r| r.label.starts_with("● LIVE")), "{}", menu.render());

    s.wait_text("#headline", T, |t| t == "RECONNECTING").await.unwrap();
    s.screenshot(&shot("demo-reconnecting.png")).await.unwrap();
    s.wait_text("#headline", T, |t| t == "LIVE").await.unwrap();

    let notifications = desktop.notifications();
    for kind in ["live", "recording-started", "reconnecting", "reconnected"] {
        notifications
            .wait_for(|n| n.category() == Some(&format!("x-onair.{kind}")), T)
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    // The controls work against the simulated OBS too.
    s.find("#tab-settings").await.unwrap().click().await.unwrap();
    s.wait_for("#settings-form", T).await.unwrap();
    s.screenshot(&shot("demo-settings.png")).await.unwrap();
    s.find("#tab-status").await.unwrap().click().await.unwrap();
    s.wait_text("#headline", Duration::from_secs(60), |t| t == "OFFLINE").await.unwrap();
    notifications.wait_for(|n| n.category() == Some("x-onair.ended"), T).await.unwrap();
    s.screenshot(&shot("demo-offline.png")).await.unwrap();
    s.find("#btn-stream").await.unwrap().click().await.unwrap();
    s.wait_text("#headline", T, |t| t == "LIVE").await.unwrap();
}
