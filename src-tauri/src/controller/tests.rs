//! The controller with a fake desktop: unit steps against a session that
//! finds no OBS, and the whole loop against the system tests' scriptable fake
//! OBS, from moments to notifications and from clicks, hotkeys and window
//! buttons to the requests OBS gets.

use std::collections::BTreeMap;
use std::path::PathBuf;

use onair_headless::desktop::{MenuEntry, TrayIcon, STREAM_SLOT};
use onair_headless::obs::SessionConfig;
use onair_headless::settings::{LockedStore, MemoryStore};
use onair_headless::state::{ConnectionState, Moment, OutputActivity, RecordingState, StreamState};
use onair_system_tests::fake::{FakeObs, FakeState, ServeHandle};
use serde_json::json;
use tokio::task::JoinHandle;

use super::*;
use crate::integration::fake::{buttons, notifications, shown, Call, FakeDesktop};
use crate::window::HotkeysInput;

/// A settings file in a fresh directory, removed on drop.
struct TempDir(PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Rig {
    controller: Controller<FakeDesktop>,
    feedback: mpsc::Receiver<Feedback>,
    desktop: FakeDesktop,
    dir: TempDir,
}

const LIMIT: Duration = Duration::from_millis(300);

/// Port 9 (discard) on loopback: nothing answers, so the session waits for OBS.
const FILE: &str = "[obs]\nhost = \"127.0.0.1\"\nport = 9\n";

fn rig(name: &str, store: Arc<dyn PasswordStore>, run: RunOverride, file_text: &str) -> Rig {
    rig_on(name, store, run, file_text, FakeDesktop::default())
}

fn rig_on(name: &str, store: Arc<dyn PasswordStore>, run: RunOverride, file_text: &str, desktop: FakeDesktop) -> Rig {
    let dir = std::env::temp_dir().join(format!("onair-controller-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("settings.toml");
    std::fs::write(&path, file_text).unwrap();
    let loaded = SettingsFile::load(&path);
    let target = run.target(&loaded.settings.host, loaded.settings.port);
    let (session, _task) = Session::spawn(SessionConfig::new(target, None));
    let parts = ControllerParts {
        settings: loaded.settings,
        settings_file: Some(loaded.file),
        run,
        store: Arc::clone(&store),
        keyring: KeyringWorker::start(store),
        password: None,
        password_stored: Some(false),
        history: Some(dir.join("sessions.jsonl")),
    };
    let mut controller = Controller::new(desktop.clone(), session, parts);
    controller.io_timeout = LIMIT;
    let feedback = controller.feedback.take().expect("a fresh controller has its feedback inbox");
    Rig { controller, feedback, desktop, dir: TempDir(dir) }
}

impl Rig {
    fn file(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("settings.toml")).unwrap()
    }

    fn reconfigured(&self) -> Vec<SessionSettings> {
        self.controller.reconfigured.lock().unwrap().clone()
    }

    /// Plays the loop for the next answer of handed-off work.
    async fn settle(&mut self) {
        let answer = tokio::time::timeout(Duration::from_secs(5), self.feedback.recv())
            .await
            .expect("the controller hears back within 5 s")
            .expect("channel open");
        self.controller.on_feedback(answer).await;
    }

    /// Sends a change and plays the loop until it is answered.
    async fn change(
        &mut self,
        make: impl FnOnce(Reply<SettingsView>) -> WindowRequest,
    ) -> Result<SettingsView, ApiError> {
        let (reply, mut answer) = oneshot::channel();
        self.controller.on_window(make(reply));
        loop {
            if let Ok(result) = answer.try_recv() {
                return result;
            }
            self.settle().await;
        }
    }

    /// Runs the whole loop, as the app does, fed through the returned channels.
    fn run(mut self) -> Running {
        let (desktop_tx, desktop) = mpsc::channel(8);
        let (window_tx, window) = mpsc::channel(8);
        let moments = self.controller.session.subscribe();
        let reconfigured = Arc::clone(&self.controller.reconfigured);
        self.controller.feedback = Some(self.feedback);
        let looping = tokio::spawn(self.controller.run(Inboxes { desktop, window, moments }));
        Running { input: desktop_tx, window: window_tx, desktop: self.desktop, reconfigured, looping, _dir: self.dir }
    }
}

/// The controller's loop running.
struct Running {
    input: mpsc::Sender<DesktopInput>,
    window: mpsc::Sender<WindowRequest>,
    desktop: FakeDesktop,
    reconfigured: Arc<std::sync::Mutex<Vec<SessionSettings>>>,
    looping: JoinHandle<()>,
    _dir: TempDir,
}

impl Running {
    async fn press(&self, input: DesktopInput) {
        self.input.send(input).await.expect("the loop runs");
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> WindowRequest) -> T {
        let (reply, answer) = oneshot::channel();
        self.window.send(make(reply)).await.expect("the loop runs");
        tokio::time::timeout(Duration::from_secs(10), answer).await.expect("answered within 10 s").expect("answered")
    }

    async fn wait_for_icon(&self, icon: TrayIcon) -> Vec<MenuEntry> {
        self.desktop
            .wait_for(&format!("the tray icon {icon:?}"), |c| match c {
                Call::Tray { icon: shown, menu } if *shown == icon => Some(menu.clone()),
                _ => None,
            })
            .await
    }

    async fn wait_for_notification(&self, summary: &str) -> NotificationPlan {
        self.desktop
            .wait_for(&format!("a notification {summary:?}"), |c| match c {
                Call::Notify(NotificationAction::Show(plan)) if plan.summary == summary => Some(plan.clone()),
                _ => None,
            })
            .await
    }

    async fn wait_for_controls(&self, what: &str, pick: impl Fn(&Controls) -> bool) -> Controls {
        self.desktop
            .wait_for(what, |c| match c {
                Call::Push(push) => match &**push {
                    WindowPush::Controls(controls) if pick(controls) => Some(controls.clone()),
                    _ => None,
                },
                _ => None,
            })
            .await
    }
}

/// The fake OBS, serving `state` to OnAir's first connection.
struct Obs {
    port: u16,
    served: JoinHandle<(FakeObs, ServeHandle)>,
}

async fn fake_obs(state: FakeState) -> Obs {
    let mut listener = FakeObs::start().await;
    let port = listener.port();
    let served = tokio::spawn(async move {
        let mut conn = listener.accept(Duration::from_secs(10)).await.expect("OnAir connects");
        conn.handshake(None).await.expect("handshake");
        let handle = conn.serve_with(state);
        (listener, handle)
    });
    Obs { port, served }
}

impl Obs {
    fn file(&self, extra: &str) -> String {
        format!("[obs]\nhost = \"127.0.0.1\"\nport = {}\n{extra}", self.port)
    }

    async fn serving(self) -> (FakeObs, ServeHandle) {
        self.served.await.expect("the fake OBS serves")
    }
}

/// Waits until OBS got a request of this type, and returns its data.
async fn wait_for_request(obs: &ServeHandle, request_type: &str) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(request) = obs.requests().into_iter().find(|r| r.request_type == request_type) {
            return request.data.unwrap_or_default();
        }
        assert!(tokio::time::Instant::now() < deadline, "OBS never got {request_type}: {:?}", obs.requests());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn requested(obs: &ServeHandle, request_type: &str) -> usize {
    obs.requests().iter().filter(|r| r.request_type == request_type).count()
}

fn target(host: &str, port: u16) -> Target {
    Target { host: host.into(), port }
}

fn pw(p: &str) -> Password {
    Password::new(p.into())
}

fn form(host: &str, port: i64, password: Option<&str>) -> SettingsInput {
    SettingsInput {
        host: host.into(),
        port,
        password: password.map(String::from),
        notifications: BTreeMap::new(),
        hotkeys: HotkeysInput { enabled: false, bindings: BTreeMap::new() },
        confirm_stop_stream: false,
        start_on_login: false,
    }
}

fn stream_button(controls: &Controls) -> &onair_headless::desktop::ControlView {
    controls.items.iter().find(|c| c.id == "stream").expect("a stream button")
}

fn stream_item(menu: &[MenuEntry]) -> Option<(&str, bool)> {
    menu.iter().find_map(|e| match e {
        MenuEntry::Item { action: MenuAction::ToggleStream, label, enabled } => Some((label.as_str(), *enabled)),
        _ => None,
    })
}

// ---- the whole loop, against the fake OBS --------------------------------------------------

#[tokio::test]
async fn a_moment_reaches_the_notifications_the_tray_and_the_window() {
    let obs = fake_obs(FakeState::default()).await;
    let running = rig("moments", Arc::new(MemoryStore::default()), RunOverride::default(), &obs.file("")).run();
    let (_listener, served) = obs.serving().await;
    running.wait_for_icon(TrayIcon::Offline).await;

    served.update_state(|s| s.stream_active = true);
    served
        .send_event("StreamStateChanged", json!({"outputActive": true, "outputState": "OBS_WEBSOCKET_OUTPUT_STARTED"}))
        .await;

    let live = running.wait_for_notification("You're live").await;
    assert_eq!(live.kind, "live");
    let menu = running.wait_for_icon(TrayIcon::Live).await;
    assert_eq!(stream_item(&menu), Some(("Stop Streaming", true)));
    let logged = running
        .desktop
        .wait_for("the moment in the window", |c| match c {
            Call::Push(push) => match &**push {
                WindowPush::Moment(m) => Some(m.clone()),
                _ => None,
            },
            _ => None,
        })
        .await;
    assert_eq!((logged.title.as_str(), logged.tone), ("You're live", onair_headless::text::Tone::Good));
    let controls = running.wait_for_controls("a Stop streaming button", |c| stream_button(c).on).await;
    assert_eq!(stream_button(&controls).action, Some("stop-stream"));
    running.looping.abort();
}

#[tokio::test]
async fn clicks_and_hotkeys_become_the_requests_their_labels_promise() {
    let scenes = vec!["Intro".into(), "Game".into(), "Outro".into()];
    let obs = fake_obs(FakeState { scenes, program_scene: "Intro".into(), ..FakeState::default() }).await;
    let running = rig("clicks", Arc::new(MemoryStore::default()), RunOverride::default(), &obs.file("")).run();
    let (_listener, served) = obs.serving().await;
    running.wait_for_icon(TrayIcon::Offline).await;

    running.press(DesktopInput::Menu(MenuAction::ToggleStream)).await;
    wait_for_request(&served, "StartStream").await;
    running.wait_for_notification("You're live").await;

    running.press(DesktopInput::Hotkey(HotkeyAction::NextScene)).await;
    let switched = wait_for_request(&served, "SetCurrentProgramScene").await;
    assert_eq!(switched["sceneName"], "Game", "{switched}");

    running.press(DesktopInput::Menu(MenuAction::ToggleRecording)).await;
    wait_for_request(&served, "StartRecord").await;
    running.wait_for_notification("Recording started").await;
    assert_eq!(requested(&served, "StopStream"), 0);
    running.looping.abort();
}

#[tokio::test]
async fn the_mute_item_the_hotkey_and_the_window_button_mute_and_unmute_the_watched_mic() {
    // The fake OBS's mic slot holds "Mic/Aux", unmuted.
    let obs = fake_obs(FakeState::default()).await;
    let running = rig("mute", Arc::new(MemoryStore::default()), RunOverride::default(), &obs.file("")).run();
    let (_listener, served) = obs.serving().await;
    let mute_item = |checked: bool| MenuEntry::Check {
        action: MenuAction::ToggleMute("Mic/Aux".into()),
        label: "Mute Mic".into(),
        checked,
        enabled: true,
    };
    let menu_with = |item: MenuEntry| {
        move |c: &Call| match c {
            Call::Tray { menu, .. } if menu.contains(&item) => Some(()),
            _ => None,
        }
    };
    running.desktop.wait_for("an unchecked Mute Mic", menu_with(mute_item(false))).await;

    // The tray's item asks for what its check mark does not show.
    running.desktop.take();
    running.press(DesktopInput::Menu(MenuAction::ToggleMute("Mic/Aux".into()))).await;
    let muted = wait_for_request(&served, "SetInputMute").await;
    assert_eq!((&muted["inputName"], &muted["inputMuted"]), (&json!("Mic/Aux"), &json!(true)), "{muted}");
    running.desktop.wait_for("a checked Mute Mic", menu_with(mute_item(true))).await;
    let controls =
        running.wait_for_controls("an Unmute button", |c| c.items.iter().any(|i| i.label == "Unmute Mic/Aux")).await;
    let button = controls.items.iter().find(|i| i.id == "mic:Mic/Aux").expect("the mic's button");
    assert_eq!((button.action, button.input.as_deref(), button.on), (Some("mute-off"), Some("Mic/Aux"), true));

    // The hotkey is the first watched mic's item: now it unmutes.
    running.desktop.take();
    running.press(DesktopInput::Hotkey(HotkeyAction::ToggleMute)).await;
    running.desktop.wait_for("an unchecked Mute Mic again", menu_with(mute_item(false))).await;
    let sent: Vec<_> = served.requests().into_iter().filter(|r| r.request_type == "SetInputMute").collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1].data.as_ref().map(|d| d["inputMuted"].clone()), Some(json!(false)));

    // The window's button sends the word and the input it carries.
    let control = Control::parse("mute-on", Some("Mic/Aux")).expect("a mute");
    running.desktop.take();
    let reply = running.ask(|reply| WindowRequest::Control(control, reply)).await;
    assert!(matches!(reply, Ok(ControlReply::Done { .. })), "{reply:?}");
    running.desktop.wait_for("a checked Mute Mic again", menu_with(mute_item(true))).await;
    assert_eq!(requested(&served, "ToggleInputMute"), 0, "each press said which way");
    running.looping.abort();
}

#[tokio::test]
async fn a_stop_needs_its_second_press_whether_it_comes_from_the_tray_a_hotkey_or_the_window() {
    let obs = fake_obs(FakeState { stream_active: true, ..FakeState::default() }).await;
    let file = obs.file("[behaviour]\nconfirm_stop_stream = true\n");
    let running = rig("confirm", Arc::new(MemoryStore::default()), RunOverride::default(), &file).run();
    let (_listener, served) = obs.serving().await;
    running.wait_for_icon(TrayIcon::Live).await;
    running.desktop.take();

    // The tray arms; the window's button confirms.
    running.press(DesktopInput::Menu(MenuAction::ToggleStream)).await;
    let notice = running.wait_for_notification("Press again to stop streaming").await;
    assert!(notice.replace);
    let armed = running.wait_for_controls("an armed stream button", |c| stream_button(c).armed).await;
    assert_eq!(stream_button(&armed).label, "Press again to stop");
    // (A redraw of the state from before the press may come first: states are drawn a little late.)
    running
        .desktop
        .wait_for("the armed stop item", |c| match c {
            Call::Tray { icon: TrayIcon::Live, menu } => {
                (stream_item(menu) == Some(("Press Again to Stop Streaming", true))).then_some(())
            }
            _ => None,
        })
        .await;
    assert_eq!(requested(&served, "StopStream"), 0, "nothing is sent on the first press");
    let reply = running.ask(|reply| WindowRequest::Control(Control::StopStream, reply)).await;
    assert!(matches!(reply, Ok(ControlReply::Done { .. })), "{reply:?}");
    wait_for_request(&served, "StopStream").await;
    running.wait_for_notification("Stream ended").await;
    assert!(notifications(&running.desktop.take())
        .contains(&NotificationAction::Close { connection: 0, slot: CONFIRM_SLOT }));

    // Live again: the window arms, and a hotkey confirms.
    served.update_state(|s| s.stream_active = true);
    served
        .send_event("StreamStateChanged", json!({"outputActive": true, "outputState": "OBS_WEBSOCKET_OUTPUT_STARTED"}))
        .await;
    running.wait_for_icon(TrayIcon::Live).await;
    let reply = running.ask(|reply| WindowRequest::Control(Control::StopStream, reply)).await;
    assert_eq!(reply, Ok(ControlReply::Armed { message: ARMED_TITLE.into() }));
    assert_eq!(requested(&served, "StopStream"), 1);
    running.press(DesktopInput::Hotkey(HotkeyAction::ToggleStream)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while requested(&served, "StopStream") < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the hotkey confirmed the window's stop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(requested(&served, "StartStream"), 0, "no press became a start");
    running.looping.abort();
}

#[tokio::test]
async fn settings_saved_while_live_leave_the_stream_and_the_connection_alone() {
    let obs = fake_obs(FakeState { stream_active: true, ..FakeState::default() }).await;
    let file = obs.file("");
    let port = obs.port;
    let running = rig("saved-live", Arc::new(MemoryStore::default()), RunOverride::default(), &file).run();
    let (listener, _served) = obs.serving().await;
    running.wait_for_icon(TrayIcon::Live).await;
    running.desktop.take();

    let mut input = form("127.0.0.1", i64::from(port), None);
    input.hotkeys = HotkeysInput {
        enabled: true,
        bindings: BTreeMap::from([("toggle-stream".to_string(), Some("ctrl+alt+f9".to_string()))]),
    };
    input.start_on_login = true;
    let view = running.ask(|reply| WindowRequest::SaveSettings(input, reply)).await.expect("saved");
    assert!(view.start_on_login && view.hotkeys.enabled);

    let calls = running.desktop.take();
    let registered: Vec<_> = calls
        .iter()
        .filter_map(|c| match c {
            Call::RegisterHotkeys(settings) => Some(settings.binding(HotkeyAction::ToggleStream)),
            _ => None,
        })
        .collect();
    assert_eq!(registered, [Some("Ctrl+Alt+F9".to_string())], "the new bindings are registered once");
    assert!(calls.contains(&Call::StartOnLogin(true)), "{calls:?}");
    assert!(
        calls.contains(&Call::Push(Box::new(WindowPush::Settings(view)))),
        "the window hears of the saved settings"
    );
    assert!(shown(&calls).is_empty(), "no notification: {calls:?}");
    // Still the one connection, still live: nothing was reconnected or announced.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(running.reconfigured.lock().unwrap().is_empty());
    assert_eq!(listener.connection_count(), 1);
    assert!(shown(&running.desktop.take()).is_empty());
    running.looping.abort();
}

#[tokio::test]
async fn a_second_launch_opens_the_window_and_quit_ends_the_loop_after_the_session() {
    let running = rig("launch", Arc::new(MemoryStore::default()), RunOverride::default(), FILE).run();
    running.press(DesktopInput::SecondLaunch).await;
    running.desktop.wait_for("the window", |c| (*c == Call::OpenWindow(Page::Status)).then_some(())).await;
    running.press(DesktopInput::Menu(MenuAction::OpenSettings)).await;
    running.desktop.wait_for("the settings", |c| (*c == Call::OpenWindow(Page::Settings)).then_some(())).await;
    running.press(DesktopInput::Menu(MenuAction::Quit)).await;
    tokio::time::timeout(Duration::from_secs(5), running.looping).await.expect("the loop ends").expect("cleanly");
    assert_eq!(running.desktop.take().last(), Some(&Call::Quit));
}

#[tokio::test]
async fn a_control_obs_cannot_take_is_a_notification_naming_what_was_tried() {
    let running = rig("refused", Arc::new(MemoryStore::default()), RunOverride::default(), FILE).run();
    running.press(DesktopInput::Menu(MenuAction::ToggleRecording)).await;
    let refused = running.wait_for_notification("Could not start recording").await;
    assert!(refused.body.starts_with("not connected to OBS"), "{}", refused.body);
    // From the window the refusal is the answer, not a notification.
    let reply = running.ask(|reply| WindowRequest::Control(Control::StartRecording, reply)).await;
    assert_eq!(reply.expect_err("refused").code, "not-connected");
    running.looping.abort();
}

// ---- start-up -------------------------------------------------------------------------------

#[tokio::test]
async fn the_start_tells_what_it_found_and_sets_up_the_desktop() {
    let mut desktop = FakeDesktop::default();
    desktop.hotkey_problems = vec!["Start/stop streaming (Ctrl+Alt+F9) is taken".into()];
    let file = format!("{FILE}[behaviour]\nstart_on_login = true\n");
    let mut rig = rig_on("start", Arc::new(MemoryStore::default()), RunOverride::default(), &file, desktop);
    rig.controller.start(StartupNotes {
        warnings: vec!["settings.toml: [obs] port is not a number".into()],
        keyring_problem: Some("no Secret Service on the bus".into()),
        ..Default::default()
    });
    let calls = rig.desktop.take();
    let summaries: Vec<_> = shown(&calls).iter().map(|p| p.summary.as_str()).collect();
    assert_eq!(summaries, ["OnAir's settings file had a problem", "No keyring available", "A hotkey is not available"]);
    assert!(calls.contains(&Call::StartOnLogin(true)));
    assert!(calls.iter().any(|c| matches!(c, Call::Tray { icon: TrayIcon::NotConnected, .. })), "{calls:?}");
    assert_eq!(rig.controller.settings_view().hotkeys.problems, ["Start/stop streaming (Ctrl+Alt+F9) is taken"]);
}

// ---- settings and the keyring ----------------------------------------------------------------

#[tokio::test]
async fn a_new_host_and_its_password_reach_the_session_in_one_step() {
    let store = Arc::new(MemoryStore::default());
    let mut rig = rig("one-step", store.clone(), RunOverride::default(), FILE);
    let view = rig
        .change(|reply| WindowRequest::SaveSettings(form("127.0.0.2", 9, Some("secret")), reply))
        .await
        .expect("saved");
    // One reconfigure, to the new OBS, with its password: never an attempt without one.
    assert_eq!(rig.reconfigured(), vec![(Ok(target("127.0.0.2", 9)), Some(pw("secret")))]);
    assert_eq!(store.get(&target("127.0.0.2", 9)).unwrap(), Some(pw("secret")), "stored under the new host");
    assert_eq!(store.get(&target("127.0.0.1", 9)).unwrap(), None, "nothing under the old one");
    assert!(view.password_stored);
    assert_eq!(view.password_target.as_deref(), Some("127.0.0.2:9"));
    assert!(rig.file().contains("host = \"127.0.0.2\""), "{}", rig.file());
    assert!(!rig.file().contains("secret"));

    // Another OBS whose password the keyring already holds: one step with it.
    store.set(&target("127.0.0.3", 9), &pw("third")).unwrap();
    rig.change(|reply| WindowRequest::SaveSettings(form("127.0.0.3", 9, None), reply)).await.expect("saved");
    assert_eq!(rig.reconfigured()[1], (Ok(target("127.0.0.3", 9)), Some(pw("third"))));
    // Same OBS, nothing new: the session is left alone.
    rig.change(|reply| WindowRequest::SaveSettings(form("127.0.0.3", 9, None), reply)).await.expect("saved");
    assert_eq!(rig.reconfigured().len(), 2);
}

#[tokio::test]
async fn changes_asked_for_together_are_applied_in_order() {
    let store = Arc::new(MemoryStore::default());
    let mut rig = rig("in-order", store.clone(), RunOverride::default(), FILE);
    let (save_reply, mut saved) = oneshot::channel();
    let (password_reply, mut password_set) = oneshot::channel();
    rig.controller.on_window(WindowRequest::SaveSettings(form("127.0.0.2", 9, None), save_reply));
    rig.controller.on_window(WindowRequest::SetPassword("late".into(), password_reply));
    rig.settle().await;
    assert!(saved.try_recv().expect("the save is answered first").is_ok());
    rig.settle().await;
    assert!(password_set.try_recv().expect("then the password").is_ok());
    assert_eq!(store.get(&target("127.0.0.2", 9)).unwrap(), Some(pw("late")), "under the host saved before it");
    assert_eq!(store.get(&target("127.0.0.1", 9)).unwrap(), None);
}

#[tokio::test]
async fn command_line_host_and_port_apply_to_this_run_only() {
    let run = RunOverride { host: Some("127.0.0.4".into()), port: Some(9), source: "the command line" };
    let file = "[obs]\nhost = \"127.0.0.1\"\nport = 4455\n";
    let mut rig = rig("flags", Arc::new(MemoryStore::default()), run, file);
    // The form shows what is in use, and says where it comes from.
    let view = rig.controller.settings_view();
    assert_eq!((view.host.as_str(), view.port), ("127.0.0.4", 9));
    let note = view.connection_note.expect("a note");
    assert!(note.contains("127.0.0.4:9") && note.contains("127.0.0.1:4455"), "{note}");
    // A Save that leaves them as shown writes the file's own values.
    let mut input = form("127.0.0.4", 9, None);
    input.notifications.insert("recording-paused".into(), false);
    rig.change(|reply| WindowRequest::SaveSettings(input, reply)).await.expect("saved");
    let text = rig.file();
    assert!(text.contains("host = \"127.0.0.1\"") && text.contains("port = 4455"), "{text}");
    assert!(text.contains("recording-paused = false"), "{text}");
    assert!(rig.reconfigured().is_empty(), "the connection did not change");
    // A port changed in the form is saved and used; the host stays the command line's.
    let view = rig.change(|reply| WindowRequest::SaveSettings(form("127.0.0.4", 10, None), reply)).await.unwrap();
    let text = rig.file();
    assert!(text.contains("host = \"127.0.0.1\"") && text.contains("port = 10"), "{text}");
    assert_eq!(rig.reconfigured(), vec![(Ok(target("127.0.0.4", 10)), None)]);
    assert_eq!((view.host.as_str(), view.port), ("127.0.0.4", 10));
    assert!(view.connection_note.expect("still a note").starts_with("Host 127.0.0.4"));
}

#[tokio::test]
async fn a_locked_keyring_never_freezes_the_controller() {
    let locked = Arc::new(LockedStore::default());
    locked.inner.set(&target("127.0.0.2", 9), &pw("stored")).unwrap();
    let mut rig = rig("locked", locked.clone(), RunOverride::default(), FILE);
    rig.controller.on_moment(Noticed { at_ms: 0, moment: Moment::Reconnecting { since_ms: 0 } });
    rig.desktop.take();
    let running = rig.run();

    let (reply, password_answer) = oneshot::channel();
    running.window.send(WindowRequest::SetPassword("new".into(), reply)).await.unwrap();
    // While the keyring holds that call, the window still gets its snapshot at once.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (reply, snapshot) = oneshot::channel();
    let asked = std::time::Instant::now();
    running.window.send(WindowRequest::Snapshot(reply)).await.unwrap();
    let snapshot = tokio::time::timeout(Duration::from_millis(200), snapshot)
        .await
        .expect("a snapshot while the keyring is locked")
        .unwrap();
    assert!(asked.elapsed() < Duration::from_millis(200));
    assert!(!snapshot.settings.password_stored);

    // The password change gives up after its limit and says why.
    let error = tokio::time::timeout(Duration::from_secs(3), password_answer).await.unwrap().unwrap().unwrap_err();
    assert_eq!(error.code, "keyring-timeout");
    assert_eq!(
        error.message,
        "the keyring did not answer within 0.3 s; is it locked? If it answers later, the password is stored and used then."
    );
    assert_eq!(error.field.as_deref(), Some("password"));
    assert!(running.reconfigured.lock().unwrap().is_empty(), "nothing was applied");

    // A new host while locked: saved and connected at once, without a
    // password and saying so; the stored one is used when the keyring answers.
    let view =
        running.ask(|reply| WindowRequest::SaveSettings(form("127.0.0.2", 9, None), reply)).await.expect("saved");
    assert!(view.password_note.is_some(), "{view:?}");
    assert_eq!(*running.reconfigured.lock().unwrap(), vec![(Ok(target("127.0.0.2", 9)), None)]);
    let told = running.desktop.take();
    assert!(shown(&told).iter().any(|p| p.kind == "keyring" && p.body.contains("is it locked?")), "{told:?}");
    locked.unlock();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while running.reconfigured.lock().unwrap().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the late answer was used");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(running.reconfigured.lock().unwrap()[1], (Ok(target("127.0.0.2", 9)), Some(pw("stored"))));
    // The password store that timed out went through late, but the user has
    // since moved to another OBS: it is not applied to this one.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(locked.inner.get(&target("127.0.0.1", 9)).unwrap(), Some(pw("new")));
    assert_eq!(running.reconfigured.lock().unwrap().len(), 2);
    running.looping.abort();
}

#[tokio::test]
async fn a_password_the_keyring_stores_after_its_timeout_is_used_then() {
    let locked = Arc::new(LockedStore::default());
    let mut rig = rig("late-store", locked.clone(), RunOverride::default(), FILE);
    let error = rig.change(|reply| WindowRequest::SetPassword("slow".into(), reply)).await.unwrap_err();
    assert_eq!(error.code, "keyring-timeout");
    assert!(rig.reconfigured().is_empty());
    locked.unlock();
    rig.settle().await;
    assert_eq!(rig.reconfigured(), vec![(Ok(target("127.0.0.1", 9)), Some(pw("slow")))]);
    assert!(rig.controller.settings_view().password_stored);
    let told = rig.desktop.take();
    assert!(shown(&told).iter().any(|p| p.summary == "Password stored"), "{told:?}");
}

// ---- the stop confirmation and OBS away ------------------------------------------------------

fn seen(stream: StreamState) -> Option<ObsStatus> {
    Some(ObsStatus { stream, ..ObsStatus::idle() })
}

/// What the controller tried to do, from the refusal that comes back (the
/// rig's session never reaches OBS, so every control is refused).
async fn refused_control(rig: &mut Rig) -> &'static str {
    let answer = tokio::time::timeout(Duration::from_secs(5), rig.feedback.recv()).await.expect("5 s").expect("open");
    match answer {
        Feedback::Refused { what, .. } => what,
        other => panic!("expected a refused control, got {other:?}"),
    }
}

#[tokio::test]
async fn the_unmute_button_of_a_muted_while_live_alert_unmutes_that_mic_and_the_alert_clears_in_place() {
    // The fake OBS's mic slot holds "Mic/Aux".
    let obs = fake_obs(FakeState::default()).await;
    let running = rig("unmute-button", Arc::new(MemoryStore::default()), RunOverride::default(), &obs.file("")).run();
    let (_listener, served) = obs.serving().await;
    running.wait_for_icon(TrayIcon::Offline).await;
    running.press(DesktopInput::Menu(MenuAction::ToggleStream)).await;
    running.wait_for_notification("You're live").await;

    // Muted in OBS while live: after the guard's 3 s, the alert offers to unmute it.
    served.mute_in_obs("Mic/Aux", true).await;
    let alert = running
        .desktop
        .wait_for("the muted-while-live alert", |c| match c {
            Call::Notify(NotificationAction::Show(plan)) if plan.kind == "muted-while-live" => Some(plan.clone()),
            _ => None,
        })
        .await;
    assert_eq!(alert.urgency, Urgency::Critical);
    let offered = buttons(&running.desktop.take());
    assert_eq!(offered, [("muted-while-live", NotificationButton::Unmute("Mic/Aux".into()))]);
    assert_eq!(requested(&served, "SetInputMute"), 0);

    // The desktop sends the pressed button back: an explicit unmute, as the tray's item sends.
    running.press(DesktopInput::NotificationButton(0, offered[0].1.clone())).await;
    let unmuted = wait_for_request(&served, "SetInputMute").await;
    assert_eq!((&unmuted["inputName"], &unmuted["inputMuted"]), (&json!("Mic/Aux"), &json!(false)), "{unmuted}");
    assert_eq!(requested(&served, "ToggleInputMute"), 0, "never a toggle");
    let note = running
        .desktop
        .wait_for("the alert's clearing", |c| match c {
            Call::Notify(NotificationAction::Show(plan)) if plan.kind == "alert-cleared" => Some(plan.clone()),
            _ => None,
        })
        .await;
    assert_eq!((note.slot, note.replace, note.button), ("muted-while-live", true, None), "in the alert's place");
    running.looping.abort();
}

#[tokio::test]
async fn an_unmute_button_that_obs_refuses_says_why() {
    let mut rig = rig("unmute-refused", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
    rig.controller.on_input(DesktopInput::NotificationButton(0, NotificationButton::Unmute("Mic/Aux".into())));
    assert_eq!(refused_control(&mut rig).await, "unmute the mic");
}

#[tokio::test]
async fn a_stop_armed_while_reconnecting_never_becomes_a_start() {
    let mut rig = rig("stop-guard", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
    rig.controller.settings.confirm_stop_stream = true;
    rig.controller.last_seen = seen(StreamState::Reconnecting { live_since_ms: 0, since_ms: 1 });
    rig.controller.on_input(DesktopInput::Menu(MenuAction::ToggleStream));
    // OBS gives up: the stream ends before the confirming press.
    rig.controller.last_seen = seen(StreamState::Offline);
    rig.controller.on_input(DesktopInput::Menu(MenuAction::ToggleStream));
    let told = rig.desktop.take();
    let summaries: Vec<_> = shown(&told).iter().map(|p| (p.summary.as_str(), p.replace)).collect();
    assert_eq!(summaries, [(ARMED_TITLE, true), (ALREADY_STOPPED_TITLE, true)]);
    assert!(rig.feedback.try_recv().is_err(), "nothing was sent");
    rig.controller.on_input(DesktopInput::Menu(MenuAction::ToggleStream));
    assert_eq!(refused_control(&mut rig).await, "start streaming");
    // Confirming a stop takes the confirmation notice down.
    rig.controller.last_seen = seen(StreamState::Live { since_ms: 0 });
    rig.controller.on_input(DesktopInput::Menu(MenuAction::ToggleStream));
    rig.desktop.take();
    rig.controller.on_input(DesktopInput::Menu(MenuAction::ToggleStream));
    assert_eq!(notifications(&rig.desktop.take()), [NotificationAction::Close { connection: 0, slot: CONFIRM_SLOT }]);
    assert_eq!(refused_control(&mut rig).await, "stop streaming");
}

#[tokio::test]
async fn a_toggle_while_obs_is_away_says_what_it_would_have_done() {
    let mut rig = rig("away", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
    // Never seen: it would have started.
    rig.controller.on_input(DesktopInput::Hotkey(HotkeyAction::ToggleStream));
    assert_eq!(refused_control(&mut rig).await, "start streaming");
    // Last seen live: it would have stopped, and says so when refused.
    rig.controller.last_seen = seen(StreamState::Live { since_ms: 0 });
    rig.controller.on_input(DesktopInput::Hotkey(HotkeyAction::ToggleStream));
    assert_eq!(refused_control(&mut rig).await, "stop streaming");
    // Pointed at another OBS, the old one's state says nothing.
    rig.change(|reply| WindowRequest::SaveSettings(form("127.0.0.2", 9, None), reply)).await.unwrap();
    rig.controller.on_input(DesktopInput::Hotkey(HotkeyAction::ToggleStream));
    assert_eq!(refused_control(&mut rig).await, "start streaming");
}

#[tokio::test]
async fn a_recovery_closes_its_alarm_even_when_its_own_notification_is_off() {
    let mut rig = rig("alarms", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
    rig.controller.settings.notifications.insert("reconnected".into(), false);
    rig.controller.on_moment(Noticed { at_ms: 0, moment: Moment::Reconnecting { since_ms: 0 } });
    rig.controller.on_moment(Noticed { at_ms: 5_000, moment: Moment::Reconnected { down_ms: 5_000 } });
    let told = notifications(&rig.desktop.take());
    assert!(matches!(&told[0], NotificationAction::Show(p) if p.kind == "reconnecting"), "{told:?}");
    assert_eq!(told[1..], [NotificationAction::Close { connection: 0, slot: STREAM_SLOT }]);
}

#[tokio::test]
async fn an_alert_is_a_critical_notification_named_by_its_kind_and_its_clearing_replaces_it_quietly() {
    use onair_headless::guard::{AlertDetail, AlertKind};
    let mut rig = rig("alert", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
    let alert =
        Moment::Alert { alert: AlertKind::Stalled, mic: None, since_ms: 10_000, detail: AlertDetail::default() };
    rig.controller.on_moment(Noticed { at_ms: 15_000, moment: alert });
    let told = rig.desktop.take();
    let raised = shown(&told);
    assert_eq!(raised.len(), 1, "{told:?}");
    let raised = raised[0].clone();
    assert_eq!(
        (raised.kind, raised.category(), raised.urgency),
        ("stalled", "x-onair.stalled".into(), Urgency::Critical)
    );
    assert_eq!(raised.summary, "Stream stalled");
    assert!(!raised.replace, "the first in its slot replaces nothing");
    let cleared = Moment::AlertCleared { alert: AlertKind::Stalled, mic: None, lasted_ms: 42_000 };
    rig.controller.on_moment(Noticed { at_ms: 52_000, moment: cleared });
    let told = rig.desktop.take();
    let over = shown(&told);
    assert_eq!(over.len(), 1, "{told:?}");
    assert_eq!(
        (over[0].kind, over[0].category(), over[0].urgency, over[0].slot, over[0].replace),
        ("alert-cleared", "x-onair.alert-cleared".into(), Urgency::Low, raised.slot, true),
        "the note takes the alert's place"
    );
    assert_eq!(over[0].summary, "The stream is flowing again after 42 s");
}

// ---- the history of streams -----------------------------------------------------------------

fn ended_at(at_ms: u64, reconnects: u32) -> Noticed {
    Noticed {
        at_ms,
        moment: Moment::Ended {
            duration_ms: Some(60_000),
            bytes: Some(45_000_000),
            dropped_frames: Some(0),
            total_frames: Some(1_800),
            reconnects,
            down_ms: 5_000,
            alerts: Vec::new(),
            avg_kbps: Some(6_000.0),
            peak_kbps: Some(6_400.0),
            while_away: false,
        },
    }
}

/// The history file's lines once there are `count` of them (the writes are off the loop).
async fn history_lines(path: &std::path::Path, count: usize) -> Vec<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<serde_json::Value> =
            text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
        if lines.len() >= count {
            return lines;
        }
        assert!(tokio::time::Instant::now() < deadline, "{count} lines in {}: {text:?}", path.display());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn snapshot_of(rig: &mut Rig) -> Snapshot {
    let (reply, mut answer) = oneshot::channel();
    rig.controller.on_window(WindowRequest::Snapshot(reply));
    answer.try_recv().expect("a snapshot at once")
}

#[tokio::test]
async fn an_ended_stream_is_one_line_of_the_history_file_and_the_windows_newest() {
    let mut rig = rig("history", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
    let path = rig.dir.0.join("sessions.jsonl");
    rig.controller.on_moment(Noticed { at_ms: 1_000, moment: Moment::Live { since_ms: 1_000 } });
    rig.controller.on_moment(Noticed { at_ms: 2_000, moment: Moment::Reconnecting { since_ms: 2_000 } });
    rig.controller.on_moment(ended_at(61_000, 1));
    let lines = history_lines(&path, 1).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(history_lines(&path, 1).await.len(), 1, "one line for the one ended stream");
    let line = &lines[0];
    assert_eq!((line["started_at_ms"].as_u64(), line["ended_at_ms"].as_u64()), (Some(1_000), Some(61_000)));
    assert_eq!(line["target"], "127.0.0.1:9");
    assert_eq!((line["reconnects"].as_u64(), line["down_ms"].as_u64()), (Some(1), Some(5_000)));
    assert_eq!(line["alerts"], json!([]));

    let snapshot = snapshot_of(&mut rig);
    let shown: Vec<_> = snapshot.history.iter().map(|e| (e.record.ended_at_ms, e.summary.as_str())).collect();
    assert_eq!(shown, [(61_000, "1:00 live · 45 MB · 0.0 % dropped · 1 reconnect (5 s)")]);
}

#[tokio::test]
async fn the_window_gets_the_newest_streams_of_the_file_and_the_ones_ended_since_each_once() {
    let mut rig = rig("history-load", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
    let path = rig.dir.0.join("sessions.jsonl");
    for at in 1..=6u64 {
        let record = StreamRecord::of(&ended_at(at * 100_000, 0), "127.0.0.1:9").unwrap();
        history::append(&path, &record, history::MAX_STREAMS).unwrap();
    }
    // A stream that ends before the file is read: in the file and in memory, shown once.
    rig.controller.on_moment(ended_at(700_000, 2));
    history_lines(&path, 7).await;
    rig.controller.start(StartupNotes::default());
    rig.settle().await;
    let snapshot = snapshot_of(&mut rig);
    let ended: Vec<u64> = snapshot.history.iter().map(|e| e.record.ended_at_ms).collect();
    assert_eq!(ended, [700_000, 600_000, 500_000, 400_000, 300_000]);
    assert!(snapshot.history[0].summary.ends_with("2 reconnects (5 s)"), "{:?}", snapshot.history[0]);
}

#[tokio::test]
async fn a_history_file_that_cannot_be_written_costs_nothing_but_a_log_line() {
    let mut rig = rig("history-blocked", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
    // A directory where the file should be.
    let path = rig.dir.0.join("sessions.jsonl");
    std::fs::create_dir_all(path.join("x")).unwrap();
    rig.controller.on_moment(ended_at(10_000, 0));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !rig.controller.history_failed.load(Ordering::Relaxed) {
        assert!(tokio::time::Instant::now() < deadline, "the failed write is noticed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rig.controller.on_moment(ended_at(20_000, 0));
    let ended: Vec<u64> = snapshot_of(&mut rig).history.iter().map(|e| e.record.ended_at_ms).collect();
    assert_eq!(ended, [20_000, 10_000], "the window still shows them");
    assert!(rig.controller.history_failed.load(Ordering::Relaxed));
}

/// Twelve hours live in accelerated time through what `Controller::run` does
/// for each published state (tray, window buttons, bitrate history) and each
/// moment (the window's log, notifications): everything the controller keeps
/// stays bounded however long the show. `ONAIR_CORE_SOAK_HOURS` makes it longer.
#[tokio::test]
async fn a_twelve_hour_show_keeps_the_controller_bounded() {
    use onair_headless::state::StreamHealth;
    let mut rig = rig("soak", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
    let hours: u64 = std::env::var("ONAIR_CORE_SOAK_HOURS").ok().and_then(|h| h.parse().ok()).unwrap_or(12);
    let scenes: Vec<String> = ["Starting Soon", "Just Chatting", "Gameplay", "BRB"].map(String::from).to_vec();
    let t0 = 1_800_000_000_000u64;
    let (mut moments, mut notified) = (0usize, 0usize);
    let mut history_max = 0;
    for poll in 0..hours * 1_800 {
        // A health poll every 2 s, a scene switch every 2 min.
        let at = t0 + poll * 2_000;
        let status = ObsStatus {
            stream: StreamState::Live { since_ms: t0 },
            recording: RecordingState::Recording { since_ms: t0 },
            replay_buffer: OutputActivity::On,
            virtual_camera: OutputActivity::Off,
            program_scene: Some(scenes[(poll / 60) as usize % scenes.len()].clone()),
            scenes: scenes.clone(),
            stream_health: Some(StreamHealth {
                bitrate_kbps: Some(6_000.0 + (poll % 7) as f64 * 100.0),
                bytes: poll * 1_500_000,
                duration_ms: poll * 2_000,
                dropped_frames: poll / 100,
                total_frames: poll * 60,
                dropped_ratio: 0.0,
                congestion: 0.0,
                polled_at_ms: at,
            }),
            ..ObsStatus::idle()
        };
        let state = State {
            target: "127.0.0.1:9".into(),
            connection: ConnectionState::Connected { obs_version: "29.0.2".into(), websocket_version: "5.1.0".into() },
            obs: Some(status),
        };
        rig.controller.on_state(state);
        history_max = history_max.max(rig.controller.feed.bitrate.len());
        // A replay saved every 20 s, an outage of the ingest and one of OnAir's link every hour.
        let mut said = Vec::new();
        if poll % 10 == 0 {
            said.push(Moment::ReplaySaved { path: Some(format!("/r/replay-{poll}.mkv")) });
        }
        if poll % 1_800 == 900 {
            said.push(Moment::Reconnecting { since_ms: at });
            said.push(Moment::Reconnected { down_ms: 6_000 });
            said.push(Moment::ObsLost {
                reason: "the connection to OBS dropped".into(),
                was_live: true,
                was_recording: true,
            });
            said.push(Moment::ObsBack { down_ms: 4_000, still_live: true });
        }
        for moment in said {
            moments += 1;
            rig.controller.on_moment(Noticed { at_ms: at, moment });
        }
        notified += notifications(&rig.desktop.take()).len();
        assert!(rig.controller.feed.moments.len() <= MOMENTS_KEPT, "the window's moments log is capped");
    }
    let expected = (hours * 180 + hours * 4) as usize;
    assert_eq!(moments, expected);
    assert_eq!(rig.controller.feed.moments.len(), MOMENTS_KEPT.min(expected));
    assert_eq!(
        rig.controller.feed.moments.back().map(|m| m.seq),
        Some(expected as u64),
        "numbered through the whole show"
    );
    // Five minutes of 2 s polls, give or take the edge.
    assert!(history_max <= (HISTORY_MS / 2_000) as usize + 1, "bitrate history capped: {history_max}");
    // Every moment kind here notifies once (a replay each 20 s is no storm: each is a new file).
    assert!(notified > 0 && notified <= moments + hours as usize * 2, "{notified} for {moments} moments");
}

#[tokio::test]
async fn with_no_tray_to_hide_in_the_start_says_so_once_and_opens_the_window() {
    let mut rig = rig("no-tray", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
    rig.controller.start(StartupNotes::default());
    assert!(rig.desktop.take().contains(&Call::WatchTrayHost), "the start looks for a tray");
    let running = rig.run();
    running.press(DesktopInput::TrayHost(TrayHostSeen::NoWatcher)).await;
    let plan = running.wait_for_notification("OnAir has no tray here").await;
    assert_eq!((plan.category(), plan.urgency), ("x-onair.no-tray".to_string(), Urgency::Normal));
    assert!(plan.body.contains("AppIndicator extension") && plan.body.contains("app launcher"), "{}", plan.body);
    running.desktop.wait_for("the window", |c| (*c == Call::OpenWindow(Page::Status)).then_some(())).await;
}

#[tokio::test]
async fn with_a_tray_host_the_app_stays_in_the_tray() {
    let running = rig("tray-host", Arc::new(MemoryStore::default()), RunOverride::default(), FILE).run();
    running.press(DesktopInput::TrayHost(TrayHostSeen::Watcher { host_registered: Some(true) })).await;
    // Inputs are handled in order: once the settings open, the tray host was weighed.
    running.press(DesktopInput::Menu(MenuAction::OpenSettings)).await;
    running.desktop.wait_for("the settings", |c| (*c == Call::OpenWindow(Page::Settings)).then_some(())).await;
    let calls = running.desktop.take();
    assert!(!calls.contains(&Call::OpenWindow(Page::Status)), "{calls:?}");
    assert!(shown(&calls).iter().all(|p| p.kind != NO_TRAY_KIND), "{calls:?}");
}

// ---- several OBS ---------------------------------------------------------------------------

/// The first OBS's label in a menu of several: its named state row.
fn section_row(menu: &[MenuEntry], id: &str) -> Option<String> {
    menu.iter().find_map(|e| match e {
        MenuEntry::Info { id: shown, label } if shown == id => Some(label.clone()),
        _ => None,
    })
}

fn other_start(name: &str, port: u16) -> crate::other_obs::OtherStart {
    crate::other_obs::OtherStart {
        name: name.into(),
        target: Ok(target("127.0.0.1", port)),
        password: None,
        pending: None,
    }
}

#[tokio::test]
async fn several_obs_each_have_their_section_their_named_notifications_and_their_own_controls() {
    let (running, first, second, _listeners) = two_obs_running("several", Arc::new(MemoryStore::default())).await;
    running.wait_for_icon(TrayIcon::Offline).await;

    // A stream on the second is announced for the second only, and lights the icon.
    second.update_state(|s| s.stream_active = true);
    second
        .send_event("StreamStateChanged", json!({"outputActive": true, "outputState": "OBS_WEBSOCKET_OUTPUT_STARTED"}))
        .await;
    let live = running.wait_for_notification("Game PC: You're live").await;
    assert_eq!(live.connection, 1);
    let menu = running.wait_for_icon(TrayIcon::Live).await;
    assert_eq!(section_row(&menu, "obs0/status").as_deref(), Some("Stream PC: Offline"));
    assert!(section_row(&menu, "obs1/status").is_some_and(|l| l.starts_with("Game PC: ● LIVE")), "{menu:?}");
    let calls = running.desktop.take();
    let told = shown(&calls);
    assert!(!told.iter().any(|p| p.summary.starts_with("Stream PC")), "nothing about the first: {told:?}");

    // Each section's items reach their own OBS.
    let of = |i: usize, a: MenuAction| DesktopInput::Menu(MenuAction::ForConnection(i, Box::new(a)));
    running.press(of(1, MenuAction::ToggleStream)).await;
    wait_for_request(&second, "StopStream").await;
    running.press(of(0, MenuAction::ToggleRecording)).await;
    wait_for_request(&first, "StartRecord").await;
    running.press(of(1, MenuAction::SwitchScene("Gameplay".into()))).await;
    let switched = wait_for_request(&second, "SetCurrentProgramScene").await;
    assert_eq!(switched["sceneName"], "Gameplay");
    assert_eq!(requested(&first, "StopStream") + requested(&first, "SetCurrentProgramScene"), 0);
    assert_eq!(requested(&second, "StartRecord"), 0);
    // A hotkey acts on the first OBS.
    running.press(DesktopInput::Hotkey(HotkeyAction::ToggleStream)).await;
    wait_for_request(&first, "StartStream").await;
    assert_eq!(requested(&second, "StartStream"), 0);
    running.press(DesktopInput::Menu(MenuAction::Quit)).await;
    running.looping.await.expect("the loop ends");
}

#[tokio::test]
async fn another_obs_that_refuses_a_control_is_named_in_the_notice() {
    let obs = fake_obs(FakeState::default()).await;
    let mut rig = rig("several-refused", Arc::new(MemoryStore::default()), RunOverride::default(), &obs.file(""));
    // Nothing listens at port 9: the second OBS is away, and a press says what it would have done.
    let other = crate::other_obs::OtherObs::spawn(1, other_start("Game PC", 9), &Default::default(), &[]);
    rig.controller.add_others(vec![other]);
    let running = rig.run();
    let (_listener, _served) = obs.serving().await;
    // One OBS offline and one not there: the icon says not connected, the rows say which.
    let menu = running
        .desktop
        .wait_for("the first offline", |c| match c {
            Call::Tray { icon: TrayIcon::NotConnected, menu }
                if section_row(menu, "obs0/status").is_some_and(|l| l.ends_with(": Offline")) =>
            {
                Some(menu.clone())
            }
            _ => None,
        })
        .await;
    assert!(section_row(&menu, "obs1/status").is_some_and(|l| l.starts_with("Game PC: Waiting")), "{menu:?}");
    running.press(DesktopInput::Menu(MenuAction::ForConnection(1, Box::new(MenuAction::ToggleStream)))).await;
    let refused = running
        .desktop
        .wait_for("a refusal naming the second OBS", |c| match c {
            Call::Notify(NotificationAction::Show(plan)) if plan.summary.starts_with("Game PC: Could not") => {
                Some(plan.clone())
            }
            _ => None,
        })
        .await;
    assert_eq!((refused.connection, refused.kind), (1, "control-failed"));
    assert!(refused.body.contains("not connected"), "{refused:?}");
}

/// Two fake OBS listed in the settings, the loop running, both seen offline.
async fn two_obs_running(
    name: &str,
    store: Arc<dyn PasswordStore>,
) -> (Running, ServeHandle, ServeHandle, Vec<FakeObs>) {
    let stream_pc = fake_obs(FakeState::default()).await;
    let game_pc = fake_obs(FakeState::default()).await;
    let file = format!(
        "[[connections]]\nname = \"Stream PC\"\nhost = \"127.0.0.1\"\nport = {}\n\n\
         [[connections]]\nname = \"Game PC\"\nhost = \"127.0.0.1\"\nport = {}\n",
        stream_pc.port, game_pc.port
    );
    let mut rig = rig(name, store, RunOverride::default(), &file);
    let more = rig.controller.settings.more_connections.clone();
    assert_eq!(more.len(), 1, "{more:?}");
    let other =
        crate::other_obs::OtherObs::spawn(1, other_start(&more[0].name, more[0].port), &Default::default(), &[]);
    rig.controller.add_others(vec![other]);
    let running = rig.run();
    let (first_listener, first) = stream_pc.serving().await;
    let (second_listener, second) = game_pc.serving().await;
    running
        .desktop
        .wait_for("both connected", |c| match c {
            Call::Tray { menu, .. }
                if section_row(menu, "obs0/status").as_deref() == Some("Stream PC: Offline")
                    && section_row(menu, "obs1/status").as_deref() == Some("Game PC: Offline") =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
    (running, first, second, vec![first_listener, second_listener])
}

#[tokio::test]
async fn the_window_switches_to_another_obs_and_its_buttons_act_on_that_one() {
    let (running, first, second, _listeners) = two_obs_running("window-switch", Arc::new(MemoryStore::default())).await;
    let snapshot = running.ask(WindowRequest::Snapshot).await;
    let names: Vec<(usize, &str, &str)> =
        snapshot.connections.iter().map(|c| (c.index, c.name.as_str(), c.icon)).collect();
    assert_eq!(names, [(0, "Stream PC", "tray-offline"), (1, "Game PC", "tray-offline")]);
    assert_eq!(snapshot.shown_connection, 0);
    assert_eq!(snapshot.connections[1].line, "Offline");

    // The second goes live: the switcher's row says so, the first stays the shown one.
    second.update_state(|s| s.stream_active = true);
    second
        .send_event("StreamStateChanged", json!({"outputActive": true, "outputState": "OBS_WEBSOCKET_OUTPUT_STARTED"}))
        .await;
    running
        .desktop
        .wait_for("the switcher's row of the Game PC live", |c| match c {
            Call::Push(push) => match &**push {
                WindowPush::Connections(rows) if rows[1].icon == "tray-live" => Some(()),
                _ => None,
            },
            _ => None,
        })
        .await;
    let snapshot = running.ask(WindowRequest::Snapshot).await;
    assert!(matches!(snapshot.state.obs.as_ref().map(|o| &o.stream), Some(StreamState::Offline)));

    let shown = running.ask(|reply| WindowRequest::ShowConnection(1, reply)).await.expect("a second OBS");
    assert_eq!(shown.shown_connection, 1);
    assert!(shown.state.obs.as_ref().is_some_and(|o| o.stream.is_on_air()), "{:?}", shown.state);
    assert!(shown.moments.iter().any(|m| m.title == "You're live"), "the second's own log: {:?}", shown.moments);
    assert_eq!(stream_button(&shown.controls).label, "Stop streaming");
    let answer = running.ask(|reply| WindowRequest::Control(Control::StopStream, reply)).await;
    assert!(answer.is_ok(), "{answer:?}");
    wait_for_request(&second, "StopStream").await;
    assert_eq!(requested(&first, "StopStream"), 0);
    // A hotkey that names the Game PC acts on it; one naming the first, on the first.
    running.press(DesktopInput::HotkeyFor("game pc".into(), HotkeyAction::ToggleStream)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while requested(&second, "StartStream") + requested(&second, "StopStream") < 2 {
        assert!(tokio::time::Instant::now() < deadline, "the Game PC never got its hotkey: {:?}", second.requests());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.press(DesktopInput::HotkeyFor("Stream PC".into(), HotkeyAction::ToggleRecording)).await;
    wait_for_request(&first, "StartRecord").await;
    running.press(DesktopInput::HotkeyFor("Laptop".into(), HotkeyAction::ToggleRecording)).await;
    let none = running.ask(|reply| WindowRequest::ShowConnection(2, reply)).await;
    assert_eq!(none.map(|s| s.shown_connection).unwrap_err().code, "invalid-input");
    running.press(DesktopInput::Menu(MenuAction::Quit)).await;
    running.looping.await.expect("the loop ends");
}

#[tokio::test]
async fn the_window_adds_renames_and_removes_obs_and_the_tray_and_the_file_follow() {
    let store = Arc::new(MemoryStore::default());
    let (running, _first, _second, _listeners) = two_obs_running("window-list", store.clone()).await;
    let third = fake_obs(FakeState::default()).await;
    let third_port = third.port;
    let port = i64::from(third_port);
    let row = |name: Option<&str>, port: i64, password: Option<&str>| crate::window::ConnectionInput {
        name: name.map(String::from),
        host: "127.0.0.1".into(),
        port,
        password: password.map(String::from),
    };
    // A bad row is refused with its field, and nothing changes.
    let bad = crate::window::ConnectionsInput { first_name: None, more: vec![row(Some("Laptop"), 70_000, None)] };
    let refused = running.ask(|reply| WindowRequest::SaveConnections(bad, reply)).await.unwrap_err();
    assert_eq!(refused.field.as_deref(), Some("more.0.port"), "{refused:?}");

    // Rename the first, drop the Game PC, add a Laptop with its password.
    let list = crate::window::ConnectionsInput {
        first_name: Some("Studio".into()),
        more: vec![row(Some("Laptop"), port, Some("laptop secret"))],
    };
    let view = running.ask(|reply| WindowRequest::SaveConnections(list, reply)).await.expect("saved");
    assert_eq!(view.connections.first_name.as_deref(), Some("Studio"));
    let (_third_listener, _third_served) = third.serving().await;
    running
        .desktop
        .wait_for("the tray with Studio and Laptop", |c| match c {
            Call::Tray { menu, .. }
                if section_row(menu, "obs0/status").as_deref() == Some("Studio: Offline")
                    && section_row(menu, "obs1/status").as_deref() == Some("Laptop: Offline") =>
            {
                Some(())
            }
            _ => None,
        })
        .await;
    let stored = store.get(&target("127.0.0.1", third_port)).unwrap();
    assert_eq!(stored.as_ref().map(Password::expose), Some("laptop secret"));
    let settings = running
        .desktop
        .wait_for("the settings with the Laptop's password", |c| match c {
            Call::Push(push) => match &**push {
                WindowPush::Settings(view) if view.connections.more.first().is_some_and(|m| m.password_stored) => {
                    Some(view.clone())
                }
                _ => None,
            },
            _ => None,
        })
        .await;
    assert_eq!(settings.connections.more.len(), 1);
    let file = std::fs::read_to_string(running._dir.0.join("settings.toml")).unwrap();
    assert!(file.contains("name = \"Studio\"") && file.contains("name = \"Laptop\""), "{file}");
    assert!(!file.contains("Game PC") && !file.contains("laptop secret"), "{file}");
    running.press(DesktopInput::Menu(MenuAction::Quit)).await;
    running.looping.await.expect("the loop ends");
}

#[tokio::test]
async fn where_the_desktop_binds_the_shortcuts_the_settings_show_what_it_bound_them_to() {
    let desktop = FakeDesktop::default();
    let bound = vec![
        (HotkeyPress::first(HotkeyAction::ToggleStream), "Ctrl+Alt+S".to_string()),
        (HotkeyPress { connection: Some("Game PC".into()), action: HotkeyAction::ToggleStream }, String::new()),
    ];
    *desktop.desktop_shortcuts.lock().unwrap() = Some(bound);
    let mut rig = rig_on("desktop-shortcuts", Arc::new(MemoryStore::default()), RunOverride::default(), FILE, desktop);
    let view = rig.controller.settings_view();
    let shown = view.hotkeys.desktop.expect("the portal's bindings");
    assert!(shown.note.contains("desktop's keyboard shortcut settings"), "{}", shown.note);
    let rows: Vec<(&str, Option<&str>, &str, &str)> = shown
        .bound
        .iter()
        .map(|b| (b.action.as_str(), b.connection.as_deref(), b.label.as_str(), b.trigger.as_str()))
        .collect();
    assert_eq!(
        rows,
        [
            ("toggle-stream", None, "Start/stop streaming", "Ctrl+Alt+S"),
            ("toggle-stream", Some("Game PC"), "Start/stop streaming on Game PC", "")
        ]
    );
    assert_eq!(view.hotkeys.unavailable, None, "the portal's shortcuts work, Wayland or not");
    // The desktop says it bound them anew: the window hears of it.
    rig.desktop.take();
    rig.controller.on_input(DesktopInput::ShortcutsChanged);
    let pushed = rig.desktop.take();
    assert!(
        pushed.iter().any(
            |c| matches!(c, Call::Push(p) if matches!(&**p, WindowPush::Settings(v) if v.hotkeys.desktop.is_some()))
        ),
        "{pushed:?}"
    );
    // Where OnAir grabs the keys itself there is nothing of the desktop's to show.
    *rig.desktop.desktop_shortcuts.lock().unwrap() = None;
    assert_eq!(rig.controller.settings_view().hotkeys.desktop, None);
}

/// Marks the file as changed by another program (a later modification time).
fn touched_later(path: &std::path::Path) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() + Duration::from_secs(5)).unwrap();
}

#[tokio::test]
async fn a_settings_file_changed_elsewhere_is_applied_with_the_new_obss_password_and_not_written_back() {
    let store = Arc::new(MemoryStore::default());
    store.set(&target("127.0.0.4", 9), &pw("from the keyring")).unwrap();
    let mut rig = rig("changed-elsewhere", store, RunOverride::default(), FILE);
    rig.controller.look_at_settings_file();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rig.feedback.try_recv().is_err(), "an unchanged file is left alone");

    // `onair connect` while the app runs: another OBS in the file, and a switched-off kind.
    let path = rig.dir.0.join("settings.toml");
    std::fs::write(&path, "[obs]\nhost = \"127.0.0.4\"\nport = 9\nfuture = 1\n[notifications]\nended = false\n")
        .unwrap();
    touched_later(&path);
    let written = std::fs::read_to_string(&path).unwrap();
    rig.controller.look_at_settings_file();
    rig.settle().await; // the file, read again
    rig.settle().await; // the change, carried out
    assert_eq!(rig.reconfigured(), vec![(Ok(target("127.0.0.4", 9)), Some(pw("from the keyring")))]);
    assert!(!rig.controller.settings.notifies(MomentKind::Ended));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written, "applied, not written back");
    // And the next Save keeps what the other program wrote, rather than the old host.
    let saved = rig.change(|reply| WindowRequest::SaveSettings(form("127.0.0.4", 9, None), reply)).await;
    assert!(saved.is_ok(), "{saved:?}");
    assert!(rig.file().contains("host = \"127.0.0.4\"") && rig.file().contains("future = 1"), "{}", rig.file());
}

#[tokio::test]
async fn with_an_obs_given_for_this_run_a_saved_list_waits_for_the_next_run() {
    let run = RunOverride { host: Some("127.0.0.1".into()), port: Some(9), source: "the command line" };
    let mut rig = rig("list-with-flags", Arc::new(MemoryStore::default()), run, FILE);
    let list = crate::window::ConnectionsInput {
        first_name: None,
        more: vec![crate::window::ConnectionInput {
            name: Some("Laptop".into()),
            host: "127.0.0.9".into(),
            port: 9,
            password: None,
        }],
    };
    let view = rig.change(|reply| WindowRequest::SaveConnections(list, reply)).await.expect("saved");
    assert_eq!(view.connections.more.len(), 1, "the list is saved");
    assert!(rig.file().contains("name = \"Laptop\""), "{}", rig.file());
    rig.settle().await; // the others, ready
    assert!(rig.controller.others.is_empty(), "but only this run's OBS is watched");
}
