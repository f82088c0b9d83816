//! The window's first-run card through WebDriver: at a first start (no OnAir
//! settings file) with OBS's own settings in the desktop's `XDG_CONFIG_HOME`,
//! the card says where they are, the port and that a password is set, and
//! "Use OBS's settings" connects with them. Against real OBS (its own folder),
//! and against the fake OBS with a folder whose server is off, where the card
//! says how to turn it on. Screenshot in `target/screenshots/first-run.png`.

use std::path::PathBuf;
use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions};
use onair_system_tests::fake::{FakeObs, FakeState};
use onair_system_tests::support::onair_bin;
use onair_system_tests::webdriver::Driver;
use onair_system_tests::world::{ObsWorld, WorldOptions};

const PASSWORD: &str = "first run card password";
const T: Duration = Duration::from_secs(20);

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target").join("screenshots").join(format!("{name}.png"))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_run_card_offers_real_obss_settings_and_its_button_connects_with_them() {
    let world =
        ObsWorld::start(WorldOptions { password: Some(PASSWORD.into()), with_rtmp: false, ..Default::default() })
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let obs_folder = desktop.home().join(".config/obs-studio");
    std::os::unix::fs::symlink(world.home().join(".config/obs-studio"), &obs_folder).expect("OBS's folder");
    let driver = Driver::start(&mut desktop).await.unwrap_or_else(|e| panic!("{e}"));
    let s = driver.session(&onair_bin(), &["--show"]).await.unwrap_or_else(|e| panic!("{e}"));
    let port = world.ws_port();

    let found = s.wait_text("#first-run-found", T, |t| !t.is_empty()).await.unwrap();
    assert!(found.contains(&obs_folder.join("global.ini").display().to_string()), "{found}");
    assert!(found.contains(&format!("port {port}, with a password")), "{found}");
    assert!(!found.contains(PASSWORD));
    assert!(s.find("#first-run").await.unwrap().displayed().await.unwrap());
    assert!(!s.find("#first-run-enable").await.unwrap().displayed().await.unwrap(), "the server is on");
    // The page has drawn the snapshot (WebKit may not have painted it yet).
    s.wait_text("#connection-detail", T, |t| t != "Starting OnAir…").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    s.screenshot(&screenshot_path("first-run")).await.unwrap();
    let settings = desktop.home().join(".config/onair/settings.toml");
    assert!(!settings.exists(), "nothing saved before yes");

    s.find("#btn-use-obs").await.unwrap().click().await.unwrap();
    let said = s.wait_text("#first-run-feedback", T, |t| t.starts_with("OnAir connects")).await.unwrap();
    assert!(said.starts_with(&format!("OnAir connects to OBS at localhost:{port}. ")), "{said}");
    s.wait_text("#headline", T, |t| t == "OFFLINE").await.unwrap_or_else(|e| panic!("connected to real OBS: {e}"));
    assert!(!s.find("#btn-use-obs").await.unwrap().displayed().await.unwrap(), "the offer is taken");
    let saved = std::fs::read_to_string(&settings).unwrap_or_default();
    assert!(saved.contains(&format!("port = {port}")), "{saved}");
    let user = format!("obs-websocket@localhost:{port}");
    let stored = desktop.secret_lookup(&[("service", "OnAir"), ("username", &user)]).await;
    assert_eq!(stored.as_deref(), Some(PASSWORD));
}

#[tokio::test(flavor = "multi_thread")]
async fn with_obss_server_off_the_card_says_how_to_turn_it_on() {
    let mut fake = FakeObs::start().await;
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let obs_folder = desktop.home().join(".config/obs-studio");
    std::fs::create_dir_all(&obs_folder).unwrap();
    let ini = format!("[OBSWebSocket]\nServerEnabled=false\nServerPort={}\nAuthRequired=false\n", fake.port());
    std::fs::write(obs_folder.join("global.ini"), ini).unwrap();
    let driver = Driver::start(&mut desktop).await.unwrap_or_else(|e| panic!("{e}"));
    let s = driver.session(&onair_bin(), &["--show"]).await.unwrap_or_else(|e| panic!("{e}"));

    let enable = s.wait_text("#first-run-enable", T, |t| !t.is_empty()).await.unwrap();
    assert_eq!(
        enable,
        "OBS's WebSocket server is off: in OBS, Tools › WebSocket Server Settings › Enable WebSocket server."
    );
    let found = s.find("#first-run-found").await.unwrap().text().await.unwrap();
    assert!(found.ends_with(&format!("port {}, no password asked for.", fake.port())), "{found}");

    // Say yes (as if the server were on now): OnAir connects there.
    s.find("#btn-use-obs").await.unwrap().click().await.unwrap();
    let mut conn = fake.accept(T).await.expect("the app connects to OBS's port");
    while conn.handshake(None).await.is_err() {
        conn = fake.accept(T).await.expect("the app connects again");
    }
    let _serve = conn.serve_with(FakeState::default());
    let said = s.wait_text("#first-run-feedback", T, |t| t.starts_with("OnAir connects")).await.unwrap();
    assert!(said.contains("Enable WebSocket server"), "still said after yes: {said}");
    s.wait_text("#headline", T, |t| t == "OFFLINE").await.unwrap_or_else(|e| panic!("connected: {e}"));
}
