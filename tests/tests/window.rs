//! The window driven through WebDriver (tauri-driver + WebKitWebDriver) against
//! real OBS in a private headless desktop. Each main state is screenshotted
//! into `target/screenshots/` for a reviewer to look at.

use std::path::PathBuf;
use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions};
use onair_system_tests::support::onair_bin;
use onair_system_tests::webdriver::{Driver, Session};
use onair_system_tests::world::{ObsWorld, WorldOptions};

const PASSWORD: &str = "window test password";
const T: Duration = Duration::from_secs(20);

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target").join("screenshots").join(format!("{name}.png"))
}

struct Rig {
    world: ObsWorld,
    desktop: Desktop,
    _driver: Driver,
    session: Session,
}

/// Real OBS, a private desktop, and the app's window (`--show`) under WebDriver.
async fn rig(env: &[(&str, &str)]) -> Rig {
    rig_with_settings(env, "").await
}

/// The same, with this in the app's settings file.
async fn rig_with_settings(env: &[(&str, &str)], settings: &str) -> Rig {
    let world = ObsWorld::start(WorldOptions { password: Some(PASSWORD.into()), ..WorldOptions::default() })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    if !settings.is_empty() {
        let dir = desktop.home().join(".config/onair");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("settings.toml"), settings).unwrap();
    }
    let driver = Driver::start_with_env(&mut desktop, env).await.unwrap_or_else(|e| panic!("{e}"));
    let port = world.ws_port().to_string();
    let session = driver
        .session(&onair_bin(), &["--show", "--host", "127.0.0.1", "--port", &port])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Rig { world, desktop, _driver: driver, session }
}

async fn headline(session: &Session, want: &str) -> String {
    session.wait_text("#headline", T, |t| t == want).await.unwrap_or_else(|e| panic!("headline {want}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_header_follows_real_obs_and_stop_stops_it() {
    let rig = rig(&[("ONAIR_PASSWORD", PASSWORD)]).await;
    let s = &rig.session;
    headline(s, "OFFLINE").await;
    s.screenshot(&screenshot_path("offline")).await.unwrap();

    rig.world.request("StartStream", serde_json::Value::Null).await.unwrap();
    headline(s, "LIVE").await;
    s.wait_text("#timecode", T, |t| t.starts_with("00:00:")).await.unwrap();
    // Health arrives with the polls: a bitrate once two polls are in.
    s.wait_text("#bitrate", T, |t| t.contains("b/s")).await.unwrap();
    s.screenshot(&screenshot_path("live")).await.unwrap();

    let stop = s.find("#btn-stream").await.unwrap();
    assert_eq!(stop.text().await.unwrap().to_lowercase(), "stop streaming");
    stop.click().await.unwrap();
    rig.world.wait_stream_active(false, T).await.unwrap();
    headline(s, "OFFLINE").await;
    s.wait_text("#moments", T, |t| t.contains("Stream ended")).await.unwrap();
    let record = s.find("#btn-record").await.unwrap();
    assert_eq!(record.text().await.unwrap().to_lowercase(), "start recording");
    assert!(record.enabled().await.unwrap());
}

/// The stop confirmation is the backend's one rule: the window's button arms
/// it, shows it, lets it run out, and confirms it, as the tray does.
#[tokio::test(flavor = "multi_thread")]
async fn a_stop_from_the_window_needs_the_second_press_the_settings_ask_for() {
    let rig = rig_with_settings(&[("ONAIR_PASSWORD", PASSWORD)], "[behaviour]\nconfirm_stop_stream = true\n").await;
    let s = &rig.session;
    headline(s, "OFFLINE").await;
    rig.world.request("StartStream", serde_json::Value::Null).await.unwrap();
    headline(s, "LIVE").await;
    let stream_button = |want: &'static str| s.wait_text("#btn-stream", T, move |t| t.to_lowercase() == want);

    // A first press arms, shows it, and sends nothing; left alone it runs out.
    stream_button("stop streaming").await.unwrap();
    s.find("#btn-stream").await.unwrap().click().await.unwrap();
    stream_button("press again to stop").await.unwrap();
    let armed = s.execute("return document.querySelector('#btn-stream').classList.contains('armed')", vec![]).await;
    assert_eq!(armed.unwrap(), true);
    s.screenshot(&screenshot_path("stop-armed")).await.unwrap();
    stream_button("stop streaming").await.unwrap();
    rig.world.wait_stream_active(true, Duration::from_millis(10)).await.unwrap();

    // Two presses within the window stop the stream.
    s.find("#btn-stream").await.unwrap().click().await.unwrap();
    stream_button("press again to stop").await.unwrap();
    s.find("#btn-stream").await.unwrap().click().await.unwrap();
    rig.world.wait_stream_active(false, T).await.unwrap();
    headline(s, "OFFLINE").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scene_click_switches_the_program_scene() {
    let rig = rig(&[("ONAIR_PASSWORD", PASSWORD)]).await;
    let s = &rig.session;
    headline(s, "OFFLINE").await;
    let gameplay = s.wait_for("button.scene[data-scene=\"Gameplay\"]", T).await.unwrap();
    assert_eq!(gameplay.attribute("aria-pressed").await.unwrap().as_deref(), Some("false"));
    gameplay.click().await.unwrap();
    rig.world
        .wait_for("GetCurrentProgramScene", serde_json::Value::Null, T, |v| v["currentProgramSceneName"] == "Gameplay")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let pressed =
            s.find("button.scene[data-scene=\"Gameplay\"]").await.unwrap().attribute("aria-pressed").await.unwrap();
        if pressed.as_deref() == Some("true") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the scene list never marked Gameplay");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_settings_form_refuses_a_bad_port_and_stores_a_new_password_write_only() {
    // No ONAIR_PASSWORD: the password comes from the keyring once stored.
    let rig = rig(&[]).await;
    let s = &rig.session;
    s.wait_for("body[data-state=\"auth-failed\"]", T).await.unwrap();
    s.find("#tab-settings").await.unwrap().click().await.unwrap();
    s.wait_for("#settings-form", T).await.unwrap();
    let status = s.wait_text("#password-status", T, |t| !t.is_empty()).await.unwrap();
    assert!(status.contains("No password"), "{status}");

    let port = s.find("#port").await.unwrap();
    port.clear().await.unwrap();
    port.send_keys("70000").await.unwrap();
    s.find("#btn-save").await.unwrap().click().await.unwrap();
    let error = s.wait_text("#error-port", T, |t| !t.is_empty()).await.unwrap();
    assert!(error.contains("65535"), "{error}");
    let settings = rig.desktop.home().join(".config/onair/settings.toml");
    assert!(!std::fs::read_to_string(&settings).unwrap_or_default().contains("70000"), "a refused form saves nothing");
    s.screenshot(&screenshot_path("settings-bad-port")).await.unwrap();

    let password = s.find("#password").await.unwrap();
    password.send_keys(PASSWORD).await.unwrap();
    s.find("#btn-save-password").await.unwrap().click().await.unwrap();
    s.wait_text("#password-status", T, |t| t.contains("stored") && !t.contains("No password")).await.unwrap();
    let user = format!("obs-websocket@127.0.0.1:{}", rig.world.ws_port());
    let stored = rig.desktop.secret_lookup(&[("service", "OnAir"), ("username", &user)]).await;
    assert_eq!(stored.as_deref(), Some(PASSWORD), "the Secret Service holds the new password");
    // "Test connection" first wants the port fixed, then says what it found,
    // using the stored password.
    s.find("#btn-test").await.unwrap().click().await.unwrap();
    s.wait_text("#test-result", T, |t| t.contains("host or port")).await.unwrap();
    let port = s.find("#port").await.unwrap();
    port.clear().await.unwrap();
    port.send_keys(&rig.world.ws_port().to_string()).await.unwrap();
    s.find("#btn-test").await.unwrap().click().await.unwrap();
    let result = s
        .wait_text("#test-result", T, |t| t.contains("Connected") || t.contains("rejected") || t.contains("not"))
        .await
        .unwrap();
    assert!(result.contains("Connected") && result.contains("OBS 29.0.2") && result.contains("5.1.0"), "{result}");
    // The app reconnects with it.
    s.find("#tab-status").await.unwrap().click().await.unwrap();
    headline(s, "OFFLINE").await;

    // The field never shows the stored password, and nothing in the page holds it.
    s.find("#tab-settings").await.unwrap().click().await.unwrap();
    assert_eq!(s.find("#password").await.unwrap().property("value").await.unwrap(), "");
    let leaked = s
        .execute("return document.documentElement.outerHTML.includes(arguments[0]) || JSON.stringify(window.localStorage).includes(arguments[0])", vec![PASSWORD.into()])
        .await
        .unwrap();
    assert_eq!(leaked, false, "the stored password is nowhere in the page");
    s.screenshot(&screenshot_path("settings")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn reconnecting_and_not_connected_are_shown_as_such() {
    let mut rig = rig(&[("ONAIR_PASSWORD", PASSWORD)]).await;
    headline(&rig.session, "OFFLINE").await;
    rig.world.request("StartStream", serde_json::Value::Null).await.unwrap();
    headline(&rig.session, "LIVE").await;
    rig.world.kill_rtmp();
    headline(&rig.session, "RECONNECTING").await;
    rig.session.screenshot(&screenshot_path("reconnecting")).await.unwrap();
    rig.world.kill_obs();
    headline(&rig.session, "NOT CONNECTED").await;
    let body_state = rig.session.execute("return document.body.dataset.state", vec![]).await.unwrap();
    assert_ne!(body_state, "live", "never claims live while it cannot see OBS");
    rig.session.screenshot(&screenshot_path("not-connected")).await.unwrap();
}
