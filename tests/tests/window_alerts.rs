//! The window's open alerts through WebDriver, against the fake OBS: real OBS
//! cannot be made to stall on cue, the fake's stream bytes can simply stand
//! still. The alert shows at the top of the health card in the backend's words,
//! coloured as critical, counts up, and goes when bytes flow again. Screenshot
//! in `target/screenshots/alert.png`.

use std::path::PathBuf;
use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions};
use onair_system_tests::fake::{FakeObs, FakeState};
use onair_system_tests::support::onair_bin;
use onair_system_tests::webdriver::Driver;

const T: Duration = Duration::from_secs(20);

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target").join("screenshots").join(format!("{name}.png"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_stream_is_a_red_alert_at_the_top_of_the_health_card_until_bytes_flow() {
    let mut fake = FakeObs::start().await;
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let dir = desktop.home().join(".config/onair");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("settings.toml"), "[alerts]\nstalled_s = 1\n").unwrap();
    let driver = Driver::start(&mut desktop).await.unwrap_or_else(|e| panic!("{e}"));
    let port = fake.port().to_string();
    let app = ["--show", "--host", "127.0.0.1", "--port", &port];
    let bin = onair_bin();
    let (session, conn) = tokio::join!(driver.session(&bin, &app), fake.accept(T));
    let session = session.unwrap_or_else(|e| panic!("{e}"));
    let mut conn = conn.expect("the app connects to the fake OBS");
    conn.handshake(None).await.expect("handshake");
    // Live, and the stream's bytes stand still.
    let serve = conn.serve_with(FakeState { stream_active: true, stream_bytes: 1_000, ..FakeState::default() });

    let text = session.wait_text("#alerts", T, |t| t.contains("Stream stalled")).await.unwrap();
    assert!(text.contains(" s"), "how long it has been open: {text}");
    let row = session.find("#alerts li").await.unwrap();
    assert_eq!(row.attribute("class").await.unwrap().as_deref(), Some("alert critical"));
    assert!(session.find("#alerts").await.unwrap().displayed().await.unwrap());
    // It counts up with the page's 1 s tick.
    let first = session.find("#alerts .open").await.unwrap().text().await.unwrap();
    session.wait_text("#alerts .open", Duration::from_secs(5), |t| t != first).await.unwrap();
    session.screenshot(&screenshot_path("alert")).await.unwrap();
    session.wait_text("#moments", T, |t| t.contains("Stream stalled")).await.unwrap();

    // Bytes flow again: the alert goes, and the log says so.
    let flowing = async {
        loop {
            serve.update_state(|s| s.stream_bytes += 25_000);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let cleared = session.wait_text("#moments", T, |t| t.contains("flowing again"));
    tokio::select! {
        done = cleared => { done.unwrap(); }
        () = flowing => {}
    }
    // The state without the alert may come a moment after the moment that says so.
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let hidden = session.execute("return document.getElementById('alerts').hidden", vec![]).await.unwrap();
        if hidden == serde_json::Value::Bool(true) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the alert list is still shown");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
