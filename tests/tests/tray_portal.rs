//! The tray app's hotkeys on Wayland, through the desktop portal's
//! GlobalShortcuts: a fake portal on the private desktop's bus
//! (`onair_system_tests::desktop::FakePortal`) records what the app binds and
//! presses a shortcut (`Activated`); the fake OBS sees what that does.
//!
//! The app is told it is on Wayland the way a real session tells it,
//! `WAYLAND_DISPLAY` (naming no compositor), while `GDK_BACKEND=x11` keeps its
//! drawing on the desktop's Xvfb: only OnAir's own choice of the portal sees Wayland.

use std::time::Duration;

use onair_headless::desktop::HotkeyAction;
use onair_system_tests::desktop::{Desktop, DesktopOptions, FakePortal, MenuNode, PortalOptions};
use onair_system_tests::fake::{FakeObs, FakeState, ServeHandle};
use onair_system_tests::support::TrayApp;

const T: Duration = Duration::from_secs(20);
/// A Wayland session as the app sees one, drawn on X all the same.
const WAYLAND: [(&str, &str); 2] = [("WAYLAND_DISPLAY", "wayland-onair-test"), ("GDK_BACKEND", "x11")];
/// The identifier in tauri.conf.json.
const APP_ID: &str = "app.onair.tray";

fn first_row(menu: &MenuNode) -> String {
    menu.children.first().map(|n| n.label.clone()).unwrap_or_default()
}

fn app_log(desktop: &Desktop) -> String {
    std::fs::read_to_string(desktop.logs_dir().join("onair-app.log")).unwrap_or_default()
}

/// Serves the app's first connection that completes the handshake: one made
/// while the app was still starting (before the test accepted it) may have
/// timed out already, and the app tries again.
async fn serve(fake: &mut FakeObs) -> ServeHandle {
    let deadline = tokio::time::Instant::now() + T;
    let mut last_error = String::new();
    while tokio::time::Instant::now() < deadline {
        let Some(mut conn) = fake.accept(T).await else { break };
        match conn.handshake(None).await {
            Ok(_) => return conn.serve_with(FakeState::default()),
            Err(e) => last_error = e,
        }
    }
    panic!("the app made no connection that finished the handshake within {T:?}: {last_error}");
}

/// A desktop whose settings turn hotkeys on, with the stream's moved off its default.
async fn desktop_with_hotkeys() -> Desktop {
    let desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let config = desktop.home().join(".config/onair");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(config.join("settings.toml"), "[hotkeys]\nenabled = true\ntoggle_stream = \"Ctrl+Alt+F9\"\n")
        .unwrap();
    desktop
}

#[tokio::test(flavor = "multi_thread")]
async fn on_wayland_the_hotkeys_are_bound_through_the_portal_and_activated_starts_the_stream() {
    let mut desktop = desktop_with_hotkeys().await;
    let portal = desktop.start_portal(PortalOptions::default()).await.unwrap();
    let mut fake = FakeObs::start().await;
    let app = TrayApp::start(&mut desktop, fake.port(), &WAYLAND).await;
    let obs = serve(&mut fake).await;
    app.wait_menu(&desktop, "Offline", T, |m| first_row(m) == "Offline").await;

    let bound = portal.wait_bound(T).await.unwrap_or_else(|e| panic!("{e}\napp log:\n{}", app_log(&desktop)));
    let record = portal.record();
    assert_eq!(record.registered, [APP_ID], "the app id is registered, once");
    assert!(!record.called_before_register, "registered before any GlobalShortcuts call");
    assert_eq!(record.bind_calls, 1);
    let ids: Vec<&str> = bound.iter().map(|s| s.id.as_str()).collect();
    let wire_names: Vec<&str> = HotkeyAction::ALL.iter().map(|a| a.wire_name()).collect();
    assert_eq!(ids, wire_names, "every action, by its wire name");
    for (shortcut, action) in bound.iter().zip(HotkeyAction::ALL) {
        assert_eq!(shortcut.description, action.label());
    }
    let wish = |id: &str| bound.iter().find(|s| s.id == id).and_then(|s| s.preferred_trigger.clone());
    assert_eq!(wish("toggle-stream").as_deref(), Some("CTRL+ALT+F9"), "the user's binding, in the portal's syntax");
    assert_eq!(wish("previous-scene").as_deref(), Some("CTRL+ALT+SHIFT+Page_Up"), "a default binding");

    portal.activate("toggle-stream").await.unwrap();
    assert!(
        obs.wait_for_request_count("StartStream", 1, T).await,
        "Activated for toggle-stream starts the stream\napp log:\n{}",
        app_log(&desktop)
    );
    // What the desktop says it bound, in its words, is what the app keeps.
    let log = app_log(&desktop);
    let described = FakePortal::describe("CTRL+ALT+F9");
    assert!(log.contains("portal shortcut bound") && log.contains(&described), "{log}");
    // And what the user changes in the desktop's settings later.
    portal.change_trigger("next-scene", "LOGO+N").await.unwrap();
    let changed = FakePortal::describe("LOGO+N");
    let deadline = tokio::time::Instant::now() + T;
    while !app_log(&desktop).contains(&changed) {
        assert!(tokio::time::Instant::now() < deadline, "ShortcutsChanged not taken: {}", app_log(&desktop));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !desktop.notifications().all().iter().any(|n| n.category() == Some("x-onair.hotkeys")),
        "no advice to bind commands by hand: {}",
        desktop.notifications().describe()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn on_wayland_without_global_shortcuts_the_app_keeps_its_advice() {
    let mut desktop = desktop_with_hotkeys().await;
    let portal = desktop.start_portal(PortalOptions { global_shortcuts: false }).await.unwrap();
    let mut fake = FakeObs::start().await;
    let app = TrayApp::start(&mut desktop, fake.port(), &WAYLAND).await;
    let _obs = serve(&mut fake).await;
    app.wait_menu(&desktop, "Offline", T, |m| first_row(m) == "Offline").await;

    let advice = desktop
        .notifications()
        .wait_for(|n| n.category() == Some("x-onair.hotkeys"), T)
        .await
        .unwrap_or_else(|e| panic!("{e}\napp log:\n{}", app_log(&desktop)));
    assert!(advice.body.contains("onair stream toggle"), "{}", advice.body);
    let log = app_log(&desktop);
    assert_eq!(log.matches("no global shortcuts portal").count(), 1, "said once in the log: {log}");
    let record = portal.record();
    assert!(record.sessions.is_empty() && record.bound.is_none(), "{record:?}");
}
