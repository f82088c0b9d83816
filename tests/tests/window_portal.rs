//! The window's hotkey settings where the desktop binds the shortcuts (Wayland,
//! the GlobalShortcuts portal; here the fake portal on the private desktop's
//! bus): each action shows what the desktop says it is bound to, the keys are
//! called OnAir's wishes, "cannot be grabbed on Wayland" is not said, and a
//! trigger the user changes in the desktop's settings shows up in the open window.

use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions, FakePortal, PortalOptions};
use onair_system_tests::support::onair_bin;
use onair_system_tests::webdriver::Driver;

const T: Duration = Duration::from_secs(20);
const WAYLAND: [(&str, &str); 2] = [("WAYLAND_DISPLAY", "wayland-onair-test"), ("GDK_BACKEND", "x11")];
/// WebKit's debug build needs more stack than a test thread's 2 MiB.
const STACK: usize = 32 * 1024 * 1024;

async fn steps() {
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let config = desktop.home().join(".config/onair");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("settings.toml"), "[hotkeys]\nenabled = true\ntoggle_stream = \"Ctrl+Alt+F9\"\n")
        .unwrap();
    let portal = desktop.start_portal(PortalOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let driver = Driver::start_with_env(&mut desktop, &WAYLAND).await.unwrap_or_else(|e| panic!("{e}"));
    let session = driver
        .session(&onair_bin(), &["--show", "--host", "127.0.0.1", "--port", "9"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    session.find("#tab-settings").await.unwrap().click().await.unwrap();
    let wished = FakePortal::describe("CTRL+ALT+F9");
    let bound = session
        .wait_text("#hotkey-desktop-toggle-stream", T, |t| t.contains(&wished))
        .await
        .unwrap_or_else(|e| panic!("the desktop's binding: {e}\n{}", driver.log_tail(60)));
    assert_eq!(bound, format!("Your desktop: {wished}"));
    let note = session.wait_text("#hotkeys-desktop", T, |t| !t.is_empty()).await.unwrap();
    assert!(note.contains("only OnAir's wishes"), "{note}");
    let unavailable = session.find("#hotkeys-unavailable").await.unwrap();
    assert!(!unavailable.displayed().await.unwrap(), "no 'cannot be grabbed on Wayland' where the portal binds them");

    // The user picks another trigger in the desktop's settings: the open window shows it.
    portal.change_trigger("toggle-stream", "CTRL+ALT+F10").await.unwrap_or_else(|e| panic!("{e}"));
    let changed = FakePortal::describe("CTRL+ALT+F10");
    session
        .wait_text("#hotkey-desktop-toggle-stream", T, |t| t.contains(&changed))
        .await
        .unwrap_or_else(|e| panic!("the changed binding: {e}"));
    let _ = session.close().await;
}

#[test]
fn where_the_desktop_binds_the_shortcuts_the_settings_show_its_bindings() {
    let thread = std::thread::Builder::new().stack_size(STACK).spawn(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
        runtime.block_on(steps());
    });
    if let Err(panic) = thread.expect("a test thread").join() {
        std::panic::resume_unwind(panic);
    }
}
