//! Smoke test of the WebDriver harness: tauri-driver and WebKitWebDriver in a private
//! desktop drive the real app's window. No OBS: the app points at 127.0.0.1:9 where
//! nothing listens, so the window says NOT CONNECTED.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use onair_system_tests::desktop::{processes_mentioning, Desktop, DesktopOptions};
use onair_system_tests::support::onair_bin;
use onair_system_tests::webdriver::Driver;

/// A variable given to the driver only: the app must see it (the app's environment is
/// the driver's).
const MARKER: (&str, &str) = ("ONAIR_WEBDRIVER_SMOKE", "marker-7f3a");

/// The environment of a live process, as (key, value) pairs.
fn environ(pid: u32) -> Vec<(String, String)> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    raw.split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_window_answers_through_webdriver() {
    let app = onair_bin();
    let mut desktop = Desktop::start(DesktopOptions::default()).await.expect("start the desktop");
    let dir = desktop.home().to_path_buf();
    let display = desktop.display().to_string();

    let driver = Driver::start_with_env(&mut desktop, &[MARKER, ("RUST_LOG", "info,onair_app=debug")])
        .await
        .expect("start tauri-driver");
    let started = Instant::now();
    let session = driver
        .session(&app, &["--show", "--host", "127.0.0.1", "--port", "9"])
        .await
        .unwrap_or_else(|e| panic!("create a session: {e}"));
    eprintln!("session {} up after {:?}", session.id(), started.elapsed());

    // The app runs in the driver's process group, with the desktop's environment and
    // what the driver was started with.
    let apps = driver.app_processes(&app);
    assert_eq!(apps.len(), 1, "one app process in the driver's group; group: {:#?}", driver.processes());
    let (app_pid, app_cmdline) = apps[0].clone();
    eprintln!("app: {app_pid} {app_cmdline}");
    let env = environ(app_pid);
    let get = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    assert_eq!(get("DISPLAY"), Some(display.as_str()), "the app lives on the desktop's display");
    assert_eq!(get("HOME"), Some(dir.to_str().unwrap()), "the app's HOME is the desktop's");
    assert_eq!(get("DBUS_SESSION_BUS_ADDRESS"), Some(desktop.bus_address()), "the app uses the desktop's bus");
    assert_eq!(get(MARKER.0), Some(MARKER.1), "the driver's extra env reaches the app");
    assert_eq!(get("TAURI_WEBVIEW_AUTOMATION"), Some("true"), "tauri-driver enables webview automation");
    let fd = |n: u32| std::fs::read_link(format!("/proc/{app_pid}/fd/{n}")).map(|p| p.display().to_string());
    eprintln!("app stdout -> {:?}, stderr -> {:?}", fd(1), fd(2));

    let headline = session.wait_for("#headline", Duration::from_secs(20)).await.unwrap_or_else(|e| panic!("{e}"));
    let text = session
        .wait_text("#headline", Duration::from_secs(20), |t| t.trim() == "NOT CONNECTED")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(text.trim(), "NOT CONNECTED");
    assert_eq!(headline.text().await.expect("headline text").trim(), "NOT CONNECTED");
    assert_eq!(headline.attribute("id").await.expect("id attribute").as_deref(), Some("headline"));
    assert!(headline.attribute("data-no-such-attribute").await.expect("absent attribute").is_none());
    assert!(headline.enabled().await.expect("enabled"));
    assert!(session.find_all("#headline").await.expect("find_all").len() == 1);
    assert!(session.find_all("#no-such-element").await.expect("find_all none").is_empty());
    let missing = session.find("#no-such-element").await.expect_err("a missing element is an error");
    assert!(missing.contains("no such element"), "the error names the WebDriver error: {missing}");

    let shot = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots/webdriver-smoke.png");
    session.screenshot(&shot).await.unwrap_or_else(|e| panic!("{e}"));
    let png = std::fs::read(&shot).expect("read the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 1000, "a PNG: {} bytes", png.len());
    eprintln!("screenshot: {}", shot.display());

    let state = session
        .execute("return document.body.dataset.state || document.title", vec![])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("body state or title: {state}");
    assert!(state.as_str().is_some_and(|s| !s.is_empty()), "a non-empty string: {state}");
    let echoed = session
        .execute("return arguments[0].id + ':' + arguments[1]", vec![headline.to_json(), serde_json::json!(42)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(echoed, serde_json::json!("headline:42"));
    let title = session.title().await.unwrap_or_else(|e| panic!("{e}"));
    eprintln!("title: {title:?}");

    // Many quick commands in a row: none may die on the way through tauri-driver (see
    // the module docs of `webdriver` on `Connection: close`).
    for i in 0..100 {
        session.title().await.unwrap_or_else(|e| panic!("command {i} of 100: {e}"));
    }

    // Ending the session ends the app.
    let closing = Instant::now();
    session.close().await.unwrap_or_else(|e| panic!("close the session: {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !driver.app_processes(&app).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        driver.app_processes(&app).is_empty(),
        "the app still runs 10 s after DELETE /session; group: {:#?}",
        driver.processes()
    );
    eprintln!("app gone {:?} after DELETE /session", closing.elapsed());

    drop(driver);
    drop(desktop);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut left = processes_mentioning(&dir);
    while !left.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = processes_mentioning(&dir);
    }
    assert!(left.is_empty(), "processes of the desktop survived: {left:#?}");
}
