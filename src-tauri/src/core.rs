//! The app core: one task that owns the session, the settings, the
//! notification policy and the stop confirmation, and drives the tray and
//! notifications from the session's state and moments.
//!
//! [`run`] is generic over the Tauri runtime, as Tauri's own examples are, so
//! the IPC commands can be exercised with the mock runtime.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use onair_engine::client::{self, ClientOptions, ConnectError};
use onair_engine::config::{Settings, SettingsFile, NOTIFICATION_KINDS};
use onair_engine::control::Control;
use onair_engine::hotkeys::HotkeyAction;
use onair_engine::menu::{has_running_clock, menu_model, tray_icon, MenuAction, MenuContext, StopDecision, StopGuard};
use onair_engine::notify::{NotificationPlan, NotificationPolicy, Urgency};
use onair_engine::secrets::{FallbackStore, PasswordStore};
use onair_engine::session::{Session, SessionConfig};
use onair_engine::settings::{validate_host, validate_port, Password, Target};
use onair_engine::state::{now_ms, Noticed, OutputActivity, RecordingState, State};
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use tokio::sync::{broadcast, mpsc};

use crate::commands::{
    self, ApiError, AppState, BindingView, BitrateSample, HotkeysView, KeyringView, LoggedMoment, NotificationKind,
    SettingsInput, SettingsView, Snapshot, TestResult, WindowRequest,
};
use crate::hotkeys::{self, HotkeyMap};
use crate::keyring_store::KeyringStore;
use crate::notifier::{DesktopNotifier, Notifier};
use crate::tray::{TauriTray, TrayView};

/// Everything the app starts with, decided before the GUI exists.
pub struct AppOptions {
    pub settings: Settings,
    /// Where the settings are saved; `None` when the system has no config directory.
    pub settings_file: Option<SettingsFile>,
    pub store: Arc<FallbackStore<KeyringStore>>,
    /// Problems with the settings file to tell the user about.
    pub warnings: Vec<String>,
    pub target: Result<Target, String>,
    pub password: Option<Password>,
    /// Why the keyring cannot be used, if it cannot.
    pub keyring_problem: Option<String>,
    pub show_window: bool,
}

/// What reaches the core from menus, hotkeys and the single-instance hook.
#[derive(Debug)]
pub enum AppCommand {
    Menu(MenuAction),
    Hotkey(HotkeyAction),
    ShowWindow,
    /// OBS refused a control sent from the menu or a hotkey.
    Refused {
        what: &'static str,
        message: String,
    },
    /// The window asks.
    Window(WindowRequest),
}

/// Builds and runs the app until Quit.
pub fn run<R: Runtime>(builder: tauri::Builder<R>, options: AppOptions) -> tauri::Result<()> {
    let (commands_tx, commands_rx) = mpsc::channel::<AppCommand>(64);
    let single_instance_tx = commands_tx.clone();
    let hotkey_tx = commands_tx.clone();
    let menu_tx = commands_tx.clone();
    let show_at_start = options.show_window;
    let mut options = Some(options);
    let mut commands_rx = Some(commands_rx);
    let app = builder
        // A second launch hands over to the first, which opens its window.
        .plugin(tauri_plugin_single_instance::init(move |_app, _argv, _cwd| {
            let _ = single_instance_tx.try_send(AppCommand::ShowWindow);
        }))
        .plugin(
            tauri_plugin_global_shortcut::Builder::new()
                .with_handler(move |app, shortcut, event| {
                    if event.state() != tauri_plugin_global_shortcut::ShortcutState::Pressed {
                        return;
                    }
                    if let Some(action) = app.state::<HotkeyMap>().action(shortcut) {
                        let _ = hotkey_tx.try_send(AppCommand::Hotkey(action));
                    }
                })
                .build(),
        )
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, None))
        .on_menu_event(move |_app, event| {
            tracing::debug!(id = event.id().as_ref(), "menu clicked");
            // Rows that only show state have ids no action has.
            if let Some(action) = MenuAction::from_id(event.id().as_ref()) {
                let _ = menu_tx.try_send(AppCommand::Menu(action));
            }
        })
        .manage(HotkeyMap::default())
        .invoke_handler(tauri::generate_handler![
            commands::get_state,
            commands::get_snapshot,
            commands::control,
            commands::save_settings,
            commands::set_password,
            commands::clear_password,
            commands::test_connection
        ])
        .setup(move |app| {
            let (Some(options), Some(commands_rx)) = (options.take(), commands_rx.take()) else {
                return Ok(());
            };
            start_core(app.handle().clone(), options, commands_rx, commands_tx.clone());
            if show_at_start {
                open_window(app.handle(), Page::Status);
            }
            Ok(())
        })
        .build(tauri::generate_context!("../tauri.conf.json"))?;
    app.run(|_app, event| {
        // Closing the window leaves OnAir in the tray; only Quit (exit code set) ends it.
        if let tauri::RunEvent::ExitRequested { api, code: None, .. } = event {
            api.prevent_exit();
        }
    });
    Ok(())
}

fn start_core<R: Runtime>(
    app: AppHandle<R>,
    options: AppOptions,
    commands: mpsc::Receiver<AppCommand>,
    commands_tx: mpsc::Sender<AppCommand>,
) {
    let AppOptions { settings, settings_file, store, warnings, target, password, keyring_problem, .. } = options;
    let config = SessionConfig::new(target.clone(), password.clone());
    // Session::spawn needs the runtime's context; Tauri's runtime is tokio.
    let (session, moments) = tauri::async_runtime::block_on(async move {
        let (session, moments, _task) = Session::spawn_subscribed(config);
        (session, moments)
    });
    app.manage(AppState { session: session.clone(), core: commands_tx.clone() });
    let mut notifier: Box<dyn Notifier> = Box::new(DesktopNotifier::start("OnAir", "onair"));
    for warning in &warnings {
        tracing::warn!("{warning}");
        notifier.show(notice("settings", "OnAir's settings file had a problem", warning, Urgency::Normal));
    }
    if let Some(problem) = keyring_problem {
        notifier.show(notice(
            "keyring",
            "No keyring available",
            &format!("{problem}. A password is kept for this run only."),
            Urgency::Normal,
        ));
    }
    let hotkey_problems = hotkeys::register(&app, &settings.hotkeys);
    for problem in &hotkey_problems {
        tracing::warn!("{problem}");
        notifier.show(notice("hotkeys", "A hotkey is not available", problem, Urgency::Normal));
    }
    sync_autostart(&app, settings.start_on_login);
    let tray: Box<dyn TrayView> = Box::new(TauriTray::new(app.clone()));
    let core = Core {
        app: app.clone(),
        session,
        settings,
        settings_file,
        store,
        target,
        password,
        hotkey_problems,
        moments_log: Vec::new(),
        bitrate_history: VecDeque::new(),
        policy: NotificationPolicy::new(),
        guard: StopGuard::default(),
        menu_armed: false,
        tray,
        notifier,
        commands_tx,
    };
    tauri::async_runtime::spawn(core.run(commands, moments));
}

fn sync_autostart<R: Runtime>(app: &AppHandle<R>, wanted: bool) {
    use tauri_plugin_autostart::ManagerExt;
    let autolaunch = app.autolaunch();
    let result = match (wanted, autolaunch.is_enabled()) {
        (true, Ok(false)) => autolaunch.enable(),
        (false, Ok(true)) => autolaunch.disable(),
        (_, Err(e)) => Err(e),
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot change start on login");
    }
}

/// A notification that is not a moment (settings, hotkeys, a refused control).
fn notice(kind: &'static str, summary: &str, body: &str, urgency: Urgency) -> NotificationPlan {
    NotificationPlan { kind, summary: summary.to_string(), body: body.to_string(), urgency, slot: kind, replace: false }
}

/// The window's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Status,
    Settings,
}

/// Opens the window on a page, or brings it forward and turns to that page.
pub fn open_window<R: Runtime>(app: &AppHandle<R>, page: Page) {
    let handle = app.clone();
    let (name, url) = match page {
        Page::Status => ("status", "index.html"),
        Page::Settings => ("settings", "index.html#settings"),
    };
    let result = app.run_on_main_thread(move || {
        if let Some(window) = handle.get_webview_window("main") {
            let _ = window.unminimize();
            let _ = window.show();
            let _ = window.set_focus();
            let _ = window.emit("onair://page", name);
            return;
        }
        let built = WebviewWindowBuilder::new(&handle, "main", WebviewUrl::App(url.into()))
            .title("OnAir")
            .inner_size(380.0, 520.0)
            .min_inner_size(320.0, 360.0)
            .build();
        if let Err(e) = built {
            tracing::error!(error = %e, "cannot open the window");
        }
    });
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot reach the main thread to open the window");
    }
}

/// How much bitrate history the window's sparkline gets.
const HISTORY_MS: u64 = 5 * 60 * 1000;
/// How many moments the window's log keeps.
const MOMENTS_KEPT: usize = 500;

struct Core<R: Runtime> {
    app: AppHandle<R>,
    session: Session,
    settings: Settings,
    settings_file: Option<SettingsFile>,
    store: Arc<FallbackStore<KeyringStore>>,
    /// Where the session points now (flags can differ from the file).
    target: Result<Target, String>,
    /// The password the session uses now.
    password: Option<Password>,
    hotkey_problems: Vec<String>,
    moments_log: Vec<LoggedMoment>,
    bitrate_history: VecDeque<BitrateSample>,
    policy: NotificationPolicy,
    guard: StopGuard,
    /// Whether the menu last showed "Press Again to Stop Streaming".
    menu_armed: bool,
    tray: Box<dyn TrayView>,
    notifier: Box<dyn Notifier>,
    commands_tx: mpsc::Sender<AppCommand>,
}

impl<R: Runtime> Core<R> {
    async fn run(mut self, mut commands: mpsc::Receiver<AppCommand>, mut moments: broadcast::Receiver<Noticed>) {
        let mut state = self.session.state();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.render();
        loop {
            tokio::select! {
                changed = state.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let current = state.borrow_and_update().clone();
                    self.render_state(&current);
                    self.record_bitrate(&current);
                    let _ = self.app.emit("onair://state", &current);
                }
                moment = moments.recv() => match moment {
                    Ok(noticed) => self.on_moment(noticed),
                    Err(broadcast::error::RecvError::Lagged(n)) => tracing::warn!(missed = n, "missed moments"),
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = tick.tick() => {
                    let current = self.session.state().borrow().clone();
                    if has_running_clock(&current) || self.menu_armed != self.guard.is_armed(now_ms()) {
                        self.render_state(&current);
                    }
                }
                command = commands.recv() => match command {
                    None => break,
                    Some(AppCommand::Window(request)) => self.on_window(request).await,
                    Some(command) => {
                        if self.on_command(command) {
                            break;
                        }
                    }
                },
            }
        }
        self.session.shutdown().await;
        self.app.exit(0);
    }

    fn render(&mut self) {
        let current = self.session.state().borrow().clone();
        self.render_state(&current);
    }

    fn render_state(&mut self, state: &State) {
        let now = now_ms();
        self.menu_armed = self.guard.is_armed(now);
        let context = MenuContext { stop_armed: self.menu_armed };
        let menu = menu_model(state, &context, now);
        self.tray.render(tray_icon(state), &menu);
    }

    fn record_bitrate(&mut self, state: &State) {
        let Some(health) = state.obs.as_ref().and_then(|o| o.stream_health.as_ref()) else { return };
        let Some(kbps) = health.bitrate_kbps else { return };
        if self.bitrate_history.back().is_some_and(|last| last.at_ms >= health.polled_at_ms) {
            return;
        }
        self.bitrate_history.push_back(BitrateSample { at_ms: health.polled_at_ms, kbps });
        while self.bitrate_history.front().is_some_and(|s| health.polled_at_ms.saturating_sub(s.at_ms) > HISTORY_MS) {
            self.bitrate_history.pop_front();
        }
    }

    fn on_moment(&mut self, noticed: Noticed) {
        let logged = LoggedMoment::after(self.moments_log.last(), noticed.clone());
        let _ = self.app.emit("onair://moment", &logged);
        self.moments_log.push(logged);
        if self.moments_log.len() > MOMENTS_KEPT {
            self.moments_log.remove(0);
        }
        if let Some(plan) = self.policy.plan(&noticed, &self.settings) {
            self.notifier.show(plan);
        }
    }

    /// Handles one command; true means quit.
    fn on_command(&mut self, command: AppCommand) -> bool {
        let state = self.session.state().borrow().clone();
        let action = match command {
            AppCommand::ShowWindow => {
                open_window(&self.app, Page::Status);
                return false;
            }
            AppCommand::Window(_) => return false,
            AppCommand::Refused { what, message } => {
                self.notifier.show(notice("control-failed", &format!("Could not {what}"), &message, Urgency::Normal));
                return false;
            }
            AppCommand::Menu(action) => action,
            AppCommand::Hotkey(hotkey) => match hotkey_action(hotkey, &state) {
                Some(action) => action,
                None => return false,
            },
        };
        match action {
            MenuAction::Quit => return true,
            MenuAction::OpenWindow => open_window(&self.app, Page::Status),
            MenuAction::OpenSettings => open_window(&self.app, Page::Settings),
            MenuAction::Reconnect => {
                let session = self.session.clone();
                tauri::async_runtime::spawn(async move { session.reconnect_now().await });
            }
            other => {
                if let Some(control) = self.control_for(&other, &state) {
                    self.send_control(control);
                }
            }
        }
        false
    }

    /// The control a menu action means in this state, or `None` when a stop
    /// waits for its confirming second press. Without OBS it is still sent: the
    /// session's "not connected to OBS: ..." then reaches the user, which matters
    /// for a hotkey pressed with no menu in sight.
    fn control_for(&mut self, action: &MenuAction, state: &State) -> Option<Control> {
        let obs = state.obs.as_ref();
        Some(match action {
            MenuAction::ToggleStream => {
                let on_air = obs.is_some_and(|o| o.stream.is_on_air());
                match self.guard.press(self.settings.confirm_stop_stream, on_air, now_ms()) {
                    StopDecision::Armed => {
                        self.render_state(state);
                        self.notifier.show(notice(
                            "confirm-stop",
                            "Press again to stop streaming",
                            "OnAir stops the stream on a second press within 3 seconds.",
                            Urgency::Normal,
                        ));
                        return None;
                    }
                    StopDecision::Toggle if on_air => Control::StopStream,
                    StopDecision::Toggle => Control::StartStream,
                }
            }
            MenuAction::ToggleRecording if obs.is_some_and(|o| o.recording.is_active()) => Control::StopRecording,
            MenuAction::ToggleRecording => Control::StartRecording,
            MenuAction::TogglePause => match obs.map(|o| &o.recording) {
                Some(RecordingState::Paused { .. }) => Control::ResumeRecording,
                _ => Control::PauseRecording,
            },
            MenuAction::SaveReplay => Control::SaveReplay,
            MenuAction::ToggleVirtualCamera if obs.is_some_and(|o| o.virtual_camera == OutputActivity::On) => {
                Control::StopVirtualCamera
            }
            MenuAction::ToggleVirtualCamera => Control::StartVirtualCamera,
            MenuAction::SwitchScene(name) => Control::SwitchScene(name.clone()),
            MenuAction::Reconnect | MenuAction::OpenWindow | MenuAction::OpenSettings | MenuAction::Quit => {
                return None
            }
        })
    }

    async fn on_window(&mut self, request: WindowRequest) {
        match request {
            WindowRequest::Snapshot(reply) => {
                let settings = self.settings_view().await;
                let state = self.session.state().borrow().clone();
                let snapshot = Snapshot {
                    state,
                    moments: self.moments_log.clone(),
                    bitrate_history: self.bitrate_history.iter().copied().collect(),
                    settings,
                };
                let _ = reply.send(snapshot);
            }
            WindowRequest::SaveSettings(input, reply) => {
                let result = self.save_settings(input).await;
                let _ = reply.send(result);
            }
            WindowRequest::SetPassword(password, reply) => {
                let result = self.store_password(Some(Password::new(password))).await;
                let _ = reply.send(result);
            }
            WindowRequest::ClearPassword(reply) => {
                let result = self.store_password(None).await;
                let _ = reply.send(result);
            }
            WindowRequest::TestConnection { host, port, password, reply } => {
                let store = Arc::clone(&self.store);
                tauri::async_runtime::spawn(async move {
                    let _ = reply.send(test_connection(store, host, port, password).await);
                });
            }
        }
    }

    /// Reads the keyring off the async threads: a D-Bus call can block.
    async fn stored_password(&self, target: &Target) -> Result<Option<Password>, String> {
        let store = Arc::clone(&self.store);
        let target = target.clone();
        tokio::task::spawn_blocking(move || store.get(&target).map_err(|e| e.to_string()))
            .await
            .map_err(|e| e.to_string())?
    }

    async fn settings_view(&self) -> SettingsView {
        let password_stored = match &self.target {
            Ok(target) => self.stored_password(target).await.ok().flatten().is_some(),
            Err(_) => false,
        };
        let degraded = self.store.degraded();
        let session_type = std::env::var("XDG_SESSION_TYPE").ok();
        let wayland_display = std::env::var("WAYLAND_DISPLAY").ok();
        SettingsView {
            host: self.settings.host.clone(),
            port: self.settings.port,
            password_stored,
            keyring: KeyringView {
                available: degraded.is_none(),
                message: degraded.map(|d| format!("{d}; a password is kept for this run only")),
            },
            notifications: self.settings.notifications.clone(),
            notification_kinds: NOTIFICATION_KINDS
                .iter()
                .map(|k| NotificationKind { kind: k.to_string(), label: notification_label(k).to_string() })
                .collect(),
            hotkeys: HotkeysView {
                enabled: self.settings.hotkeys.enabled,
                unavailable: onair_engine::hotkeys::grabbing_unavailable(
                    session_type.as_deref(),
                    wayland_display.as_deref(),
                ),
                bindings: HotkeyAction::ALL
                    .iter()
                    .map(|a| BindingView {
                        action: a.key().replace('_', "-"),
                        label: a.label().to_string(),
                        binding: self.settings.hotkeys.binding(*a),
                        default: a.default_binding().to_string(),
                    })
                    .collect(),
                problems: self.hotkey_problems.clone(),
            },
            confirm_stop_stream: self.settings.confirm_stop_stream,
            start_on_login: self.settings.start_on_login,
        }
    }

    async fn save_settings(&mut self, input: SettingsInput) -> Result<SettingsView, ApiError> {
        let settings = settings_from_input(&self.settings, input)?;
        let file = self.settings_file.as_mut().ok_or_else(|| ApiError {
            code: "io".into(),
            message: "this system has no config directory to save settings in".into(),
            field: None,
        })?;
        file.save(&settings).map_err(|message| ApiError { code: "io".into(), message, field: None })?;
        let target_changed = settings.host != self.settings.host || settings.port != self.settings.port;
        let hotkeys_changed = settings.hotkeys != self.settings.hotkeys;
        let login_changed = settings.start_on_login != self.settings.start_on_login;
        self.settings = settings;
        if target_changed {
            let target = self.settings.target();
            self.password = match &target {
                Ok(t) => self.stored_password(t).await.ok().flatten(),
                Err(_) => None,
            };
            self.target = target.clone();
            self.session.reconfigure(target, self.password.clone()).await;
        }
        if hotkeys_changed {
            self.hotkey_problems = hotkeys::register(&self.app, &self.settings.hotkeys);
        }
        if login_changed {
            sync_autostart(&self.app, self.settings.start_on_login);
        }
        let view = self.settings_view().await;
        let _ = self.app.emit("onair://settings", &view);
        Ok(view)
    }

    /// Stores (or with `None` clears) the password for the current OBS and
    /// reconnects with it.
    async fn store_password(&mut self, password: Option<Password>) -> Result<SettingsView, ApiError> {
        let target = self.target.clone().map_err(|e| ApiError::invalid(Some("host"), e))?;
        let store = Arc::clone(&self.store);
        let (t, p) = (target.clone(), password.clone());
        let stored = tokio::task::spawn_blocking(move || match &p {
            Some(p) => store.set(&t, p),
            None => store.clear(&t).map(|_| ()),
        })
        .await
        .map_err(|e| ApiError { code: "keyring-failed".into(), message: e.to_string(), field: None })?;
        stored.map_err(|e| ApiError {
            code: "keyring-failed".into(),
            message: e.to_string(),
            field: Some("password".into()),
        })?;
        self.password = password;
        self.session.reconfigure(Ok(target), self.password.clone()).await;
        let view = self.settings_view().await;
        let _ = self.app.emit("onair://settings", &view);
        Ok(view)
    }

    /// Runs a control off the loop; a refusal comes back as a command and
    /// becomes a notification, where the user looks after a hotkey or a click.
    fn send_control(&self, control: Control) {
        let session = self.session.clone();
        let commands = self.commands_tx.clone();
        tauri::async_runtime::spawn(async move {
            if let Err(error) = session.control(control.clone()).await {
                tracing::warn!(?control, %error, "control refused");
                let _ =
                    commands.send(AppCommand::Refused { what: describe(&control), message: error.to_string() }).await;
            }
        });
    }
}

/// What a control was trying to do, for "Could not ...".
fn describe(control: &Control) -> &'static str {
    match control {
        Control::StartStream | Control::ToggleStream => "start streaming",
        Control::StopStream => "stop streaming",
        Control::StartRecording | Control::ToggleRecording => "start recording",
        Control::StopRecording => "stop recording",
        Control::PauseRecording | Control::ToggleRecordingPause => "pause the recording",
        Control::ResumeRecording => "resume the recording",
        Control::SaveReplay => "save the replay",
        Control::StartReplayBuffer | Control::ToggleReplayBuffer => "start the replay buffer",
        Control::StopReplayBuffer => "stop the replay buffer",
        Control::StartVirtualCamera | Control::ToggleVirtualCamera => "start the virtual camera",
        Control::StopVirtualCamera => "stop the virtual camera",
        Control::SwitchScene(_) => "switch scenes",
    }
}

/// What a hotkey means now (scene steps depend on the current scene).
fn hotkey_action(hotkey: HotkeyAction, state: &State) -> Option<MenuAction> {
    Some(match hotkey {
        HotkeyAction::ToggleStream => MenuAction::ToggleStream,
        HotkeyAction::ToggleRecording => MenuAction::ToggleRecording,
        HotkeyAction::PauseRecording => MenuAction::TogglePause,
        HotkeyAction::SaveReplay => MenuAction::SaveReplay,
        HotkeyAction::ToggleVirtualCamera => MenuAction::ToggleVirtualCamera,
        HotkeyAction::PreviousScene | HotkeyAction::NextScene => {
            let obs = state.obs.as_ref()?;
            let count = obs.scenes.len();
            if count == 0 {
                return None;
            }
            let current = obs.program_scene.as_ref().and_then(|p| obs.scenes.iter().position(|s| s == p)).unwrap_or(0);
            // Scenes are listed top first; "previous" goes up the list, wrapping around.
            let next =
                if hotkey == HotkeyAction::NextScene { (current + 1) % count } else { (current + count - 1) % count };
            MenuAction::SwitchScene(obs.scenes[next].clone())
        }
    })
}

fn notification_label(kind: &str) -> &'static str {
    match kind {
        "live" => "Went live",
        "ended" => "Stream ended",
        "reconnecting" => "Stream reconnecting",
        "reconnected" => "Stream reconnected",
        "start-failed" => "Stream failed to start",
        "obs-lost" => "Lost OBS while live or recording",
        "obs-back" => "OBS is back",
        "recording-started" => "Recording started",
        "recording-stopped" => "Recording stopped",
        "recording-paused" => "Recording paused",
        "recording-resumed" => "Recording resumed",
        "replay-saved" => "Replay saved",
        "auth-failed" => "Password rejected",
        _ => "Other",
    }
}

/// Checks the form and builds the settings it asks for; each refusal names its field.
fn settings_from_input(current: &Settings, input: SettingsInput) -> Result<Settings, ApiError> {
    let mut settings = current.clone();
    settings.host = validate_host(&input.host).map_err(|e| ApiError::invalid(Some("host"), e))?;
    settings.port = validate_port(input.port).map_err(|e| ApiError::invalid(Some("port"), e))?;
    for (kind, on) in input.notifications {
        if !NOTIFICATION_KINDS.contains(&kind.as_str()) {
            return Err(ApiError::invalid(
                Some(&format!("notifications.{kind}")),
                format!("{kind:?} is not a notification kind"),
            ));
        }
        settings.notifications.insert(kind, on);
    }
    settings.hotkeys.enabled = input.hotkeys.enabled;
    let mut seen: Vec<(String, HotkeyAction)> = Vec::new();
    for (key, binding) in input.hotkeys.bindings {
        let action = HotkeyAction::ALL.into_iter().find(|a| a.key() == key.replace('-', "_")).ok_or_else(|| {
            ApiError::invalid(Some(&format!("hotkeys.{key}")), format!("{key:?} is not a hotkey action"))
        })?;
        let field = format!("hotkeys.{}", action.key().replace('_', "-"));
        let binding = match binding.filter(|b| !b.trim().is_empty()) {
            None => None,
            Some(b) => Some(onair_engine::hotkeys::normalize(&b).map_err(|e| ApiError::invalid(Some(&field), e))?),
        };
        if let Some(b) = &binding {
            if let Some((_, other)) = seen.iter().find(|(existing, _)| existing == b) {
                return Err(ApiError::invalid(Some(&field), format!("{b} is already used for {}", other.label())));
            }
            seen.push((b.clone(), action));
        }
        settings.hotkeys.bindings.insert(action, binding);
    }
    settings.confirm_stop_stream = input.confirm_stop_stream;
    settings.start_on_login = input.start_on_login;
    Ok(settings)
}

/// "Test connection": can OnAir reach this OBS, and does the password work?
async fn test_connection(
    store: Arc<FallbackStore<KeyringStore>>,
    host: String,
    port: i64,
    password: Option<String>,
) -> Result<TestResult, ApiError> {
    let host = validate_host(&host).map_err(|e| ApiError::invalid(Some("host"), e))?;
    let port = validate_port(port).map_err(|e| ApiError::invalid(Some("port"), e))?;
    let target = Target { host, port };
    let password = match password.filter(|p| !p.is_empty()) {
        Some(p) => Some(Password::new(p)),
        None => {
            let t = target.clone();
            tokio::task::spawn_blocking(move || store.get(&t).ok().flatten()).await.ok().flatten()
        }
    };
    let options = ClientOptions { handshake_timeout: Duration::from_secs(4), ..ClientOptions::default() };
    let failed = |reachable: bool, message: String| TestResult {
        reachable,
        authenticated: false,
        obs_version: None,
        websocket_version: None,
        message,
    };
    Ok(match client::connect(&target.host, target.port, password.as_ref().map(Password::expose), &options).await {
        Ok(connection) => {
            let version = connection
                .client
                .request_as::<onair_engine::protocol::responses::Version>("GetVersion", None)
                .await
                .ok();
            connection.client.close().await;
            let obs_version = version.as_ref().map(|v| v.obs_version.clone());
            let websocket_version = Some(connection.hello.obs_web_socket_version.clone());
            TestResult {
                reachable: true,
                authenticated: true,
                message: format!(
                    "Connected to OBS {} (obs-websocket {}) at {target}",
                    obs_version.clone().unwrap_or_else(|| "?".into()),
                    connection.hello.obs_web_socket_version
                ),
                obs_version,
                websocket_version,
            }
        }
        Err(ConnectError::PasswordRequired) => {
            failed(true, format!("OBS at {target} wants a password and none is set"))
        }
        Err(ConnectError::Closed { code: 4009, .. }) => failed(true, format!("OBS at {target} rejected the password")),
        Err(ConnectError::Closed { code, reason }) => {
            failed(true, format!("OBS at {target} closed the connection ({code} {reason})"))
        }
        Err(ConnectError::Incompatible(m)) => failed(true, m),
        Err(ConnectError::NotObs(m)) => {
            failed(true, format!("something answered at {target}, but not OBS's WebSocket server ({m})"))
        }
        Err(ConnectError::Unreachable(m)) => {
            failed(false, format!("{m}: is OBS running with its WebSocket server enabled?"))
        }
        Err(ConnectError::TimedOut(step)) => {
            failed(false, format!("no answer from {target} (timed out waiting for {step})"))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::HotkeysInput;
    use std::collections::BTreeMap;

    fn input() -> SettingsInput {
        SettingsInput {
            host: "studio.lan".into(),
            port: 4456,
            notifications: BTreeMap::from([("recording-paused".to_string(), false)]),
            hotkeys: HotkeysInput {
                enabled: true,
                bindings: BTreeMap::from([("toggle-stream".to_string(), Some("ctrl+alt+f9".to_string()))]),
            },
            confirm_stop_stream: true,
            start_on_login: false,
        }
    }

    #[test]
    fn a_good_form_becomes_settings_with_canonical_bindings() {
        let settings = settings_from_input(&Settings::default(), input()).unwrap();
        assert_eq!((settings.host.as_str(), settings.port), ("studio.lan", 4456));
        assert!(!settings.notification_enabled("recording-paused"));
        assert!(settings.notification_enabled("live"));
        assert_eq!(settings.hotkeys.binding(HotkeyAction::ToggleStream).as_deref(), Some("Ctrl+Alt+F9"));
        assert!(settings.hotkeys.enabled && settings.confirm_stop_stream);
    }

    #[test]
    fn each_refusal_names_its_field() {
        let field = |f: fn(&mut SettingsInput)| {
            let mut i = input();
            f(&mut i);
            settings_from_input(&Settings::default(), i).unwrap_err().field.unwrap_or_default()
        };
        assert_eq!(field(|i| i.port = 0), "port");
        assert_eq!(field(|i| i.port = 70_000), "port");
        assert_eq!(field(|i| i.host = "ws://x".into()), "host");
        assert_eq!(field(|i| i.host = String::new()), "host");
        assert_eq!(
            field(|i| {
                i.notifications.insert("nonsense".into(), true);
            }),
            "notifications.nonsense"
        );
        assert_eq!(
            field(|i| {
                i.hotkeys.bindings.insert("save-replay".into(), Some("Ctrl+Banana".into()));
            }),
            "hotkeys.save-replay"
        );
        assert_eq!(
            field(|i| {
                i.hotkeys.bindings.insert("launch-rockets".into(), None);
            }),
            "hotkeys.launch-rockets"
        );
    }

    #[test]
    fn two_actions_on_one_binding_are_refused() {
        let mut i = input();
        i.hotkeys.bindings.insert("save-replay".into(), Some("Ctrl+Alt+F9".into()));
        let err = settings_from_input(&Settings::default(), i).unwrap_err();
        assert_eq!(err.code, "invalid-input");
        assert!(err.message.contains("already used"), "{}", err.message);
    }

    #[test]
    fn scene_hotkeys_step_through_the_list_and_wrap() {
        use onair_engine::state::{ConnectionState, ObsStatus, StreamState};
        let state = |current: &str| State {
            target: "localhost:4455".into(),
            connection: ConnectionState::Connected { obs_version: "29".into(), websocket_version: "5.1.0".into() },
            obs: Some(ObsStatus {
                stream: StreamState::Offline,
                recording: RecordingState::Off,
                replay_buffer: OutputActivity::Unavailable,
                virtual_camera: OutputActivity::Off,
                program_scene: Some(current.into()),
                scenes: vec!["A".into(), "B".into(), "C".into()],
                studio_mode: false,
                stream_health: None,
                stats: None,
                scene_collection_changing: false,
            }),
        };
        let go = |hotkey, current| hotkey_action(hotkey, &state(current));
        assert_eq!(go(HotkeyAction::NextScene, "A"), Some(MenuAction::SwitchScene("B".into())));
        assert_eq!(go(HotkeyAction::NextScene, "C"), Some(MenuAction::SwitchScene("A".into())));
        assert_eq!(go(HotkeyAction::PreviousScene, "A"), Some(MenuAction::SwitchScene("C".into())));
        assert_eq!(go(HotkeyAction::ToggleStream, "A"), Some(MenuAction::ToggleStream));
        let offline = State { obs: None, ..state("A") };
        assert_eq!(hotkey_action(HotkeyAction::NextScene, &offline), None, "no scenes to step through without OBS");
    }

    #[test]
    fn an_empty_binding_unbinds() {
        let mut i = input();
        i.hotkeys.bindings.insert("next-scene".into(), Some("  ".into()));
        let settings = settings_from_input(&Settings::default(), i).unwrap();
        assert_eq!(settings.hotkeys.binding(HotkeyAction::NextScene), None);
    }
}
