//! The window with several OBS, through WebDriver against fake OBS servers
//! listed in the settings file (`[[connections]]`): the status page's
//! switcher lists each OBS with its tray icon and its state in the tray's
//! words, choosing one shows its state and moments and points the window's
//! buttons at it (its fake gets the request, the other does not); the
//! settings add, rename and remove an OBS (the file says so after each Save),
//! test a new row's connection, store its password (typed, or from an
//! obsws:// URL) in the keyring only, show a refused row's error at its
//! field, and a removed OBS that was on show gives the page back to the first.
//! Screenshots in `target/screenshots/` (connections, settings-more-obs).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onair_system_tests::desktop::{Desktop, DesktopOptions};
use onair_system_tests::fake::{requests_served, serve_every_connection, FakeObs, ServeHandle};
use onair_system_tests::support::onair_bin;
use onair_system_tests::webdriver::{Driver, Session};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(20);
const STUDIO_PASSWORD: &str = "studio password";
const URL_PASSWORD: &str = "fromtheurl";

fn screenshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target").join("screenshots").join(format!("{name}.png"))
}

/// Takes its newest connection still open, the app's session, out of the
/// list (it goes on serving), to steer it and wait on it.
fn take_session(handles: &Arc<Mutex<Vec<ServeHandle>>>) -> ServeHandle {
    let mut handles = handles.lock().expect("handles lock");
    let at = handles.iter().rposition(|h| !h.is_closed()).expect("the app is connected");
    handles.remove(at)
}

struct Rig {
    desktop: Desktop,
    _driver: Driver,
    session: Session,
}

impl Rig {
    fn settings_file(&self) -> PathBuf {
        self.desktop.home().join(".config/onair/settings.toml")
    }
}

/// A private desktop whose settings list `connections` (name, port on
/// 127.0.0.1), and the app's window (`--show`, no address flags) under WebDriver.
async fn rig(connections: &[(&str, u16)]) -> Rig {
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let dir = desktop.home().join(".config/onair");
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::new();
    for (name, port) in connections {
        text.push_str(&format!("[[connections]]\nname = \"{name}\"\nhost = \"127.0.0.1\"\nport = {port}\n\n"));
    }
    std::fs::write(dir.join("settings.toml"), text).unwrap();
    let driver = Driver::start(&mut desktop).await.unwrap_or_else(|e| panic!("{e}"));
    let session = driver.session(&onair_bin(), &["--show"]).await.unwrap_or_else(|e| panic!("{e}"));
    Rig { desktop, _driver: driver, session }
}

/// The switcher's rows as (name, line, icon, shown).
async fn switcher_rows(s: &Session) -> Vec<(String, String, String, bool)> {
    let script = "return [...document.querySelectorAll('#connection-list button.connection')].map(b => [\
                  b.querySelector('.connection-name').textContent, b.querySelector('.connection-line').textContent,\
                  b.dataset.icon, b.getAttribute('aria-pressed') === 'true'])";
    let rows = s.execute(script, vec![]).await.unwrap();
    rows.as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    let text = |i: usize| r[i].as_str().unwrap_or_default().to_string();
                    (text(0), text(1), text(2), r[3] == Value::Bool(true))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Polls the switcher until `pred` accepts its rows.
async fn wait_rows(
    s: &Session,
    what: &str,
    pred: impl Fn(&[(String, String, String, bool)]) -> bool,
) -> Vec<(String, String, String, bool)> {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let rows = switcher_rows(s).await;
        if pred(&rows) {
            return rows;
        }
        assert!(tokio::time::Instant::now() < deadline, "the switcher never showed {what}: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The switcher's button for the OBS called `name`.
async fn choose(s: &Session, name: &str) {
    let index = wait_rows(s, name, |rows| rows.iter().any(|r| r.0 == name)).await.iter().position(|r| r.0 == name);
    let css = format!("#connection-list button.connection[data-index=\"{}\"]", index.expect("listed"));
    s.find(&css).await.unwrap().click().await.unwrap();
}

async fn value_of(s: &Session, id: &str) -> String {
    s.find(&format!("#{id}")).await.unwrap().property("value").await.unwrap().as_str().unwrap_or_default().to_string()
}

async fn type_into(s: &Session, id: &str, text: &str) {
    let input = s.find(&format!("#{id}")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

async fn save(s: &Session) -> String {
    s.find("#btn-save").await.unwrap().click().await.unwrap();
    let said = |t: &str| ["Settings saved", "Not saved", "The OBS list was saved"].iter().any(|p| t.starts_with(p));
    s.wait_text("#settings-status", T, said).await.unwrap()
}

/// Waits until the settings file satisfies `pred`, and returns it.
async fn wait_file(path: &Path, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if pred(&text) {
            return text;
        }
        assert!(tokio::time::Instant::now() < deadline, "the settings file never had {what}:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs a test's steps on a runtime of its own, on a thread with room: in a
/// debug build their poll frames outgrow a test thread's 2 MiB stack.
fn run<F: Future<Output = ()> + 'static>(steps: fn() -> F) {
    let thread = std::thread::Builder::new().stack_size(STACK).spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
        runtime.block_on(steps());
    });
    if let Err(panic) = thread.expect("a test thread").join() {
        std::panic::resume_unwind(panic);
    }
}

const STACK: usize = 32 << 20;

#[test]
fn the_switcher_shows_each_obs_and_the_chosen_ones_buttons_act_on_it() {
    run(switcher);
}

#[test]
fn the_settings_add_rename_and_remove_an_obs_and_show_a_refusal_at_its_field() {
    run(settings);
}

async fn switcher() {
    let (stream_pc, game_pc) = (FakeObs::start().await, FakeObs::start().await);
    let (stream_port, game_port) = (stream_pc.port(), game_pc.port());
    let (stream, game) = (serve_every_connection(stream_pc), serve_every_connection(game_pc));
    let rig = rig(&[("Stream PC", stream_port), ("Game PC", game_port)]).await;
    let s = &rig.session;

    // Both listed, the first shown, each in the tray's words with its icon.
    let rows = wait_rows(s, "both offline", |rows| {
        rows.len() == 2 && rows.iter().all(|r| r.1 == "Offline" && r.2 == "tray-offline")
    })
    .await;
    assert_eq!((rows[0].0.as_str(), rows[0].3), ("Stream PC", true), "{rows:?}");
    assert_eq!((rows[1].0.as_str(), rows[1].3), ("Game PC", false), "{rows:?}");
    assert!(s.find("#switcher").await.unwrap().displayed().await.unwrap());
    s.wait_text("#shown-obs", T, |t| t.eq_ignore_ascii_case("Stream PC")).await.unwrap();
    s.wait_text("#headline", T, |t| t == "OFFLINE").await.unwrap();
    let detail = s.find("#connection-detail").await.unwrap().text().await.unwrap();
    assert!(detail.contains(&stream_port.to_string()), "{detail}");
    // The tray's own icon, loaded from the window's files (the CSP lets it in).
    let icon = s
        .execute(
            "const i = document.querySelector('#connection-list .connection-icon'); \
             return [i.getAttribute('src'), i.complete && i.naturalWidth > 0]",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(icon, json!(["icons/tray-offline.svg", true]));

    // The Game PC goes live: its row says so, the page still shows the Stream PC.
    let game_obs = take_session(&game);
    game_obs.update_state(|st| st.stream_active = true);
    game_obs
        .send_event(
            "StreamStateChanged",
            json!({ "outputActive": true, "outputState": "OBS_WEBSOCKET_OUTPUT_STARTED" }),
        )
        .await;
    wait_rows(s, "the Game PC live", |rows| {
        rows.len() == 2 && rows[1].1.starts_with("● LIVE") && rows[1].2 == "tray-live" && rows[0].1 == "Offline"
    })
    .await;
    assert_eq!(s.find("#headline").await.unwrap().text().await.unwrap(), "OFFLINE");
    assert!(!s.find("#moments").await.unwrap().text().await.unwrap().contains("You're live"));

    // Chosen, the Game PC is the page's: its state, its moments, its buttons.
    choose(s, "Game PC").await;
    s.wait_text("#headline", T, |t| t == "LIVE").await.unwrap();
    wait_rows(s, "the Game PC shown", |rows| rows.len() == 2 && !rows[0].3 && rows[1].3).await;
    s.wait_text("#shown-obs", T, |t| t.eq_ignore_ascii_case("Game PC")).await.unwrap();
    let detail = s.find("#connection-detail").await.unwrap().text().await.unwrap();
    assert!(detail.contains(&game_port.to_string()), "{detail}");
    s.wait_text("#moments", T, |t| t.contains("You're live")).await.unwrap();
    s.wait_text("#btn-stream", T, |t| t.eq_ignore_ascii_case("stop streaming")).await.unwrap();
    s.screenshot(&screenshot_path("connections")).await.unwrap();
    s.wait_text("#btn-record", T, |t| t.eq_ignore_ascii_case("start recording")).await.unwrap();
    s.find("#btn-record").await.unwrap().click().await.unwrap();
    assert!(game_obs.wait_for_request("StartRecord", T).await.is_some(), "the Game PC was asked");
    s.wait_text("#recording-status", T, |t| t.starts_with("REC")).await.unwrap();
    assert_eq!(requests_served(&stream, "StartRecord"), 0, "the Stream PC was not asked");

    // Back to the Stream PC: its page again, with none of the Game PC's moments.
    choose(s, "Stream PC").await;
    s.wait_text("#headline", T, |t| t == "OFFLINE").await.unwrap();
    wait_rows(s, "the Stream PC shown", |rows| rows.len() == 2 && rows[0].3 && !rows[1].3).await;
    assert!(!s.find("#moments").await.unwrap().text().await.unwrap().contains("You're live"));
    s.wait_text("#btn-stream", T, |t| t.eq_ignore_ascii_case("start streaming")).await.unwrap();
    s.find("#btn-stream").await.unwrap().click().await.unwrap();
    let stream_obs = take_session(&stream);
    assert!(stream_obs.wait_for_request("StartStream", T).await.is_some(), "the Stream PC was asked");
    s.wait_text("#headline", T, |t| t == "LIVE").await.unwrap();
    assert_eq!(
        requests_served(&game, "StartStream") + game_obs.request_count("StartStream"),
        0,
        "the Game PC was not asked"
    );
}

async fn settings() {
    let (stream_pc, game_pc, studio) = (FakeObs::start().await, FakeObs::start().await, FakeObs::start().await);
    let (stream_port, game_port, studio_port) = (stream_pc.port(), game_pc.port(), studio.port());
    let _stream = serve_every_connection(stream_pc);
    let _game = serve_every_connection(game_pc);
    let studio = serve_every_connection(studio);
    let rig = rig(&[("Stream PC", stream_port), ("Game PC", game_port)]).await;
    let s = &rig.session;
    let file = rig.settings_file();
    wait_rows(s, "both", |rows| rows.len() == 2).await;

    s.find("#tab-settings").await.unwrap().click().await.unwrap();
    s.wait_for("#more-0-name", T).await.unwrap();
    assert_eq!(value_of(s, "first-name").await, "Stream PC");
    assert_eq!(value_of(s, "more-0-name").await, "Game PC");
    assert_eq!(value_of(s, "more-0-host").await, "127.0.0.1");
    assert_eq!(value_of(s, "more-0-port").await, game_port.to_string());
    assert!(s.find("#more-1-name").await.is_err(), "one other OBS, one row");

    // A third OBS: added, tested, refused while a port is wrong, then saved.
    s.find("#btn-add-obs").await.unwrap().click().await.unwrap();
    let focused = s.execute("return document.activeElement.id", vec![]).await.unwrap();
    assert_eq!(focused, "more-1-name", "the new row's name takes the focus");
    type_into(s, "more-1-name", "Studio").await;
    type_into(s, "more-1-host", "127.0.0.1").await;
    type_into(s, "more-1-port", &studio_port.to_string()).await;
    s.find("#more-1-password").await.unwrap().send_keys(STUDIO_PASSWORD).await.unwrap();
    s.find("#more-1-test").await.unwrap().click().await.unwrap();
    let tested = s.wait_text("#more-1-test-result", T, |t| !t.is_empty() && !t.starts_with("Testing")).await.unwrap();
    assert!(tested.starts_with("Connected"), "{tested}");

    type_into(s, "more-0-port", "70000").await;
    let said = save(s).await;
    assert!(said.contains("Not saved"), "{said}");
    let error = s.wait_text("#error-more-0-port", T, |t| !t.is_empty()).await.unwrap();
    assert!(error.contains("65535"), "{error}");
    assert_eq!(s.find("#more-0-port").await.unwrap().attribute("aria-invalid").await.unwrap().as_deref(), Some("true"));
    assert!(!std::fs::read_to_string(&file).unwrap().contains("Studio"), "a refused form saves nothing");
    type_into(s, "more-0-port", &game_port.to_string()).await;
    let said = save(s).await;
    assert!(said.starts_with("Settings saved"), "{said}");
    let text = wait_file(&file, "the Studio", |t| t.contains("name = \"Studio\"")).await;
    assert_eq!(text.matches("[[connections]]").count(), 3, "{text}");
    assert!(text.contains(&format!("port = {studio_port}")), "{text}");
    assert!(text.find("Game PC") < text.find("Studio"), "in the form's order:\n{text}");
    // Its password went to the keyring, under its address, and nowhere else.
    assert!(!text.contains(STUDIO_PASSWORD), "{text}");
    let user = format!("obs-websocket@127.0.0.1:{studio_port}");
    // Stored off the app's loop once the list is saved.
    let deadline = tokio::time::Instant::now() + T;
    while rig.desktop.secret_lookup(&[("service", "OnAir"), ("username", &user)]).await.as_deref()
        != Some(STUDIO_PASSWORD)
    {
        assert!(tokio::time::Instant::now() < deadline, "the Secret Service never held the new OBS's password");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    s.wait_text("#more-1-password-status", T, |t| t.contains("is stored")).await.unwrap();
    assert_eq!(value_of(s, "more-1-password").await, "", "the field is emptied");
    let leaked = s
        .execute("return document.documentElement.outerHTML.includes(arguments[0])", vec![STUDIO_PASSWORD.into()])
        .await
        .unwrap();
    assert_eq!(leaked, false, "the password is nowhere in the page");
    s.execute("document.getElementById('more-obs').scrollIntoView()", vec![]).await.unwrap();
    s.screenshot(&screenshot_path("settings-more-obs")).await.unwrap();

    // A name the first OBS already has: the backend's refusal at that row's name.
    s.wait_for("#more-1-name", T).await.unwrap();
    type_into(s, "more-0-name", "stream pc").await;
    let said = save(s).await;
    assert!(said.contains("Not saved"), "{said}");
    let error = s.wait_text("#error-more-0-name", T, |t| !t.is_empty()).await.unwrap();
    assert!(error.contains("Stream PC"), "{error}");
    let focused = s.execute("return document.activeElement.id", vec![]).await.unwrap();
    assert_eq!(focused, "more-0-name");

    // Renamed.
    type_into(s, "more-0-name", "Game Rig").await;
    let said = save(s).await;
    assert!(said.starts_with("Settings saved"), "{said}");
    let text = wait_file(&file, "the new name", |t| t.contains("name = \"Game Rig\"")).await;
    assert!(!text.contains("Game PC"), "{text}");
    s.find("#tab-status").await.unwrap().click().await.unwrap();
    // The app watches the new OBS: its row is in the tray's words once connected.
    wait_rows(s, "three, one renamed", |rows| {
        rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>() == ["Stream PC", "Game Rig", "Studio"]
            && rows[2].1 == "Offline"
    })
    .await;
    choose(s, "Studio").await;
    s.wait_text("#shown-obs", T, |t| t.eq_ignore_ascii_case("Studio")).await.unwrap();

    // Removed while shown: the Studio's row goes, and with it the OBS; the
    // page shows the first OBS again.
    s.find("#tab-settings").await.unwrap().click().await.unwrap();
    s.wait_for("#more-1-remove", T).await.unwrap().click().await.unwrap();
    assert!(s.find("#more-1-name").await.is_err(), "the row is gone");
    let focused = s.execute("return document.activeElement.id", vec![]).await.unwrap();
    assert_eq!(focused, "more-0-name", "the focus stays in the list");
    let said = save(s).await;
    assert!(said.starts_with("Settings saved"), "{said}");
    let text = wait_file(&file, "no Studio", |t| !t.contains("Studio")).await;
    assert_eq!(text.matches("[[connections]]").count(), 2, "{text}");
    assert!(text.contains("name = \"Game Rig\"") && text.contains("name = \"Stream PC\""), "{text}");
    s.find("#tab-status").await.unwrap().click().await.unwrap();
    wait_rows(s, "two again, the first shown", |rows| {
        rows.iter().map(|r| (r.0.as_str(), r.3)).collect::<Vec<_>>() == [("Stream PC", true), ("Game Rig", false)]
    })
    .await;
    s.wait_text("#shown-obs", T, |t| t.eq_ignore_ascii_case("Stream PC")).await.unwrap();
    s.wait_text("#connection-detail", T, |t| t.contains(&stream_port.to_string())).await.unwrap();
    let deadline = tokio::time::Instant::now() + T;
    while studio.lock().expect("handles lock").iter().any(|h| !h.is_closed()) {
        assert!(tokio::time::Instant::now() < deadline, "the removed OBS is still watched");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // OBS's Show Connect Info URL in a row's host: the address and the password it carries.
    s.find("#tab-settings").await.unwrap().click().await.unwrap();
    s.find("#btn-add-obs").await.unwrap().click().await.unwrap();
    type_into(s, "more-1-host", &format!("obsws://127.0.0.1:{studio_port}/{URL_PASSWORD}")).await;
    let said = save(s).await;
    assert!(said.starts_with("Settings saved"), "{said}");
    let text = wait_file(&file, "the URL's OBS", |t| t.matches("[[connections]]").count() == 3).await;
    assert!(text.contains(&format!("port = {studio_port}")) && !text.contains("obsws"), "{text}");
    assert!(!text.contains(URL_PASSWORD), "{text}");
    s.wait_for("#more-1-host", T).await.unwrap();
    assert_eq!(value_of(s, "more-1-host").await, "127.0.0.1");
    assert_eq!(value_of(s, "more-1-port").await, studio_port.to_string());
    let deadline = tokio::time::Instant::now() + T;
    while rig.desktop.secret_lookup(&[("service", "OnAir"), ("username", &user)]).await.as_deref() != Some(URL_PASSWORD)
    {
        assert!(tokio::time::Instant::now() < deadline, "the URL's password never reached the Secret Service");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The switcher draws the tray's own icons: `ui/icons/` holds copies of
/// `icons/tray-*.svg` (the window can only load files of its own folder).
#[test]
fn the_switchers_icons_are_the_trays() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    for entry in std::fs::read_dir(root.join("icons")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !(name.starts_with("tray-") && name.ends_with(".svg")) {
            continue;
        }
        let copy = root.join("ui/icons").join(&name);
        let copied = std::fs::read(&copy).unwrap_or_else(|e| panic!("{}: {e}", copy.display()));
        assert_eq!(copied, std::fs::read(&path).unwrap(), "ui/icons/{name} differs from icons/{name}");
        checked += 1;
    }
    assert_eq!(checked, 8, "the tray has eight icons");
}
