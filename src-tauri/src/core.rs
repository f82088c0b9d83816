//! The app core: one task that owns the session, the settings, the
//! notification policy and the stop confirmation, and drives the tray and
//! notifications from the session's state and moments.
//!
//! Nothing that can block runs on this task: the keyring (whose unlock prompt
//! can wait for minutes) and the settings file are worked on elsewhere, with a
//! time limit, and their results come back as commands. So a locked keyring
//! never freezes the tray or delays a moment. A change of the settings or the
//! password is applied to the session in one step, with the password that
//! belongs to the new host and port, and changes run one at a time, in order.
//!
//! [`run`] is generic over the Tauri runtime, as Tauri's own examples are, so
//! the IPC commands can be exercised with the mock runtime.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use onair_headless::control::Control;
use onair_headless::desktop::HotkeyAction;
use onair_headless::desktop::{
    has_running_clock, menu_model, tray_icon, MenuAction, MenuContext, StopDecision, StopGuard,
};
use onair_headless::desktop::{NotificationPlan, NotificationPolicy, Urgency};
use onair_headless::obs::{ClientOptions, ConnectError};
use onair_headless::obs::{Session, SessionConfig};
use onair_headless::settings::{validate_host, validate_port, Password, RunOverride, Target};
use onair_headless::settings::{KeyringWorker, PasswordStore, PendingCall, StoreError, KEYRING_TIMEOUT};
use onair_headless::settings::{Settings, SettingsFile, NOTIFICATION_KINDS};
use onair_headless::state::{now_ms, Noticed, ObsStatus, OutputActivity, RecordingState, State};
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::commands::{
    self, ApiError, AppState, BindingView, BitrateSample, HotkeysView, KeyringView, LoggedMoment, NotificationKind,
    SettingsInput, SettingsView, Snapshot, TestResult, WindowRequest,
};
use crate::hotkeys::{self, HotkeyMap};
use crate::notifier::{DesktopNotifier, Notifier};
use crate::tray::{TauriTray, TrayView};

/// Everything the app starts with, decided before the GUI exists.
pub struct AppOptions {
    /// The settings as the file has them (flags are in `run`).
    pub settings: Settings,
    /// Where the settings are saved; `None` when the system has no config directory.
    pub settings_file: Option<SettingsFile>,
    /// Host and port given for this run only.
    pub run: RunOverride,
    /// For what is not a call (whether the keyring is in use at all).
    pub store: Arc<dyn PasswordStore>,
    /// Every keyring call goes through this, off the core's task.
    pub keyring: KeyringWorker,
    /// Problems with the settings file to tell the user about.
    pub warnings: Vec<String>,
    pub password: Option<Password>,
    /// Whether the keyring holds a password for this run's OBS; `None` when not asked or no answer yet.
    pub password_stored: Option<bool>,
    /// The keyring lookup at start, when it did not answer in time: its answer
    /// is used once it comes.
    pub pending_password: Option<PendingCall<Option<Password>>>,
    /// Why the keyring cannot be used, if it cannot.
    pub keyring_problem: Option<String>,
    /// Something the keyring did at start that the user should hear about.
    pub keyring_warning: Option<String>,
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
    /// A settings or password change finished its keyring and file work.
    ChangeDone(Box<ChangeDone>),
    /// The keyring answered a call that was made in the background or given up on.
    KeyringAnswer {
        /// The core's password epoch when the call was made: an answer for an
        /// older target or password is ignored.
        epoch: u64,
        target: Target,
        late: LateAnswer,
    },
}

/// What the keyring said after its caller stopped waiting.
#[derive(Debug)]
pub enum LateAnswer {
    /// What it holds for the target.
    Lookup {
        answer: Result<Option<Password>, StoreError>,
        /// Connect with it if the session has no password yet.
        use_for_session: bool,
    },
    /// A password whose storing timed out was stored after all.
    Stored(Password),
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
    let AppOptions {
        settings,
        settings_file,
        run,
        store,
        keyring,
        warnings,
        password,
        password_stored,
        pending_password,
        keyring_problem,
        keyring_warning,
        ..
    } = options;
    let target = run.target(&settings.host, settings.port);
    let config = SessionConfig::new(target, password.clone());
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
    if let Some(warning) = keyring_warning {
        tracing::warn!("{warning}");
        notifier.show(notice("keyring", "The keyring did not answer", &warning, Urgency::Normal));
    }
    let hotkey_problems = hotkeys::register(&app, &settings.hotkeys);
    for problem in &hotkey_problems {
        tracing::warn!("{problem}");
        notifier.show(notice("hotkeys", "A hotkey is not available", problem, Urgency::Normal));
    }
    sync_autostart(&app, settings.start_on_login);
    let tray: Box<dyn TrayView> = Box::new(TauriTray::new(app.clone()));
    let parts = CoreParts { settings, settings_file, run, store, keyring, password, password_stored, tray, notifier };
    let mut core = Core::new(app.clone(), session, parts, commands_tx);
    core.hotkey_problems = hotkey_problems;
    core.start_lookups(pending_password);
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

/// The slot of the stop confirmation's notices: each replaces the last, and a
/// confirmed stop closes it.
const CONFIRM_SLOT: &str = "confirm-stop";

fn confirm_notice(summary: &str, body: &str) -> NotificationPlan {
    NotificationPlan { replace: true, ..notice(CONFIRM_SLOT, summary, body, Urgency::Normal) }
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

/// A change of the settings or the password: worked out on the core's task,
/// carried out off it (the keyring and the disk can block), then applied to
/// the session in one step.
#[derive(Debug)]
pub struct Change {
    /// The form's settings, when the form was saved.
    settings: Option<Settings>,
    run: RunOverride,
    /// The OBS after the change.
    target: Result<Target, String>,
    password: PasswordStep,
}

/// What a change does with the password.
#[derive(Debug)]
enum PasswordStep {
    /// Same OBS, no new password: the session keeps its own.
    Keep,
    /// Store this one for the change's OBS, and connect with it.
    Store(Password),
    /// Remove the stored one, and connect without.
    Clear,
    /// Another OBS: connect with what the keyring holds for it.
    LookUp,
}

/// What carrying out a change found.
#[derive(Debug, Default)]
struct Carried {
    /// The settings file as saved.
    file: Option<SettingsFile>,
    /// The password for the change's OBS (unused with [`PasswordStep::Keep`]).
    password: Option<Password>,
    /// Whether the keyring holds one for it, if known.
    stored: Option<bool>,
    /// A lookup the keyring did not answer in time; its answer is used when it comes.
    late: Option<PendingCall<Option<Password>>>,
    /// Something the user should hear about, though the change went through.
    warning: Option<String>,
}

type Reply = oneshot::Sender<Result<SettingsView, ApiError>>;

/// Where the session connects and with which password.
#[cfg(test)]
type SessionSettings = (Result<Target, String>, Option<Password>);

/// A change carried out, back on the core's task.
#[derive(Debug)]
pub struct ChangeDone {
    change: Change,
    outcome: Result<Carried, ApiError>,
    /// A password store that timed out (so the change failed) but may still go through.
    late_store: Option<PendingCall<()>>,
    reply: Reply,
}

/// What [`Core::new`] needs besides the app and the session.
struct CoreParts {
    settings: Settings,
    settings_file: Option<SettingsFile>,
    run: RunOverride,
    store: Arc<dyn PasswordStore>,
    keyring: KeyringWorker,
    password: Option<Password>,
    password_stored: Option<bool>,
    tray: Box<dyn TrayView>,
    notifier: Box<dyn Notifier>,
}

struct Core<R: Runtime> {
    app: AppHandle<R>,
    session: Session,
    /// The settings as in the file (never the command line's values).
    settings: Settings,
    settings_file: Option<SettingsFile>,
    /// Host and port given for this run only.
    run: RunOverride,
    store: Arc<dyn PasswordStore>,
    keyring: KeyringWorker,
    /// How long a keyring call or a settings write may take before the user hears why not.
    io_timeout: Duration,
    /// Where the session points now: the settings with `run` over them.
    target: Result<Target, String>,
    /// The password the session uses now.
    password: Option<Password>,
    /// Whether the keyring holds a password for `target`; `None` while unknown.
    password_stored: Option<bool>,
    /// Counts changes of `target` and `password`, so that a keyring answer
    /// meant for an earlier one is not applied.
    password_epoch: u64,
    /// A change is being carried out; the ones asked for meanwhile wait here, in order.
    changing: bool,
    waiting_changes: VecDeque<WindowRequest>,
    hotkey_problems: Vec<String>,
    moments_log: Vec<LoggedMoment>,
    bitrate_history: VecDeque<BitrateSample>,
    policy: NotificationPolicy,
    guard: StopGuard,
    /// Whether the menu last showed the stop confirmation.
    menu_armed: bool,
    /// OBS as last seen while connected to this target, so a hotkey pressed
    /// while OBS is away says what it would have done.
    last_seen: Option<ObsStatus>,
    tray: Box<dyn TrayView>,
    notifier: Box<dyn Notifier>,
    commands_tx: mpsc::Sender<AppCommand>,
    /// Every (target, password) the session was given, in order, for the tests.
    #[cfg(test)]
    reconfigured: Arc<std::sync::Mutex<Vec<SessionSettings>>>,
}

impl<R: Runtime> Core<R> {
    fn new(app: AppHandle<R>, session: Session, parts: CoreParts, commands_tx: mpsc::Sender<AppCommand>) -> Core<R> {
        let CoreParts { settings, settings_file, run, store, keyring, password, password_stored, tray, notifier } =
            parts;
        Core {
            app,
            session,
            target: run.target(&settings.host, settings.port),
            settings,
            settings_file,
            run,
            store,
            keyring,
            io_timeout: KEYRING_TIMEOUT,
            password,
            password_stored,
            password_epoch: 0,
            changing: false,
            waiting_changes: VecDeque::new(),
            hotkey_problems: Vec::new(),
            moments_log: Vec::new(),
            bitrate_history: VecDeque::new(),
            policy: NotificationPolicy::new(),
            guard: StopGuard::default(),
            menu_armed: false,
            last_seen: None,
            tray,
            notifier,
            commands_tx,
            #[cfg(test)]
            reconfigured: Default::default(),
        }
    }

    /// Asks the keyring in the background what the start did not learn: a
    /// lookup that timed out (its answer is used when it comes), or whether a
    /// password is stored at all when one was given another way.
    fn start_lookups(&mut self, pending: Option<PendingCall<Option<Password>>>) {
        let Ok(target) = self.target.clone() else { return };
        match pending {
            Some(call) => self.await_late_password(call, target, true),
            None if self.password_stored.is_none() => {
                let call = self.keyring.get(&target);
                self.await_late_password(call, target, false);
            }
            None => {}
        }
    }

    /// Waits for a keyring lookup off the loop and hands its answer back as a command.
    fn await_late_password(&self, call: PendingCall<Option<Password>>, target: Target, use_for_session: bool) {
        let commands = self.commands_tx.clone();
        let epoch = self.password_epoch;
        tauri::async_runtime::spawn(async move {
            let late = LateAnswer::Lookup { answer: call.late().await, use_for_session };
            let _ = commands.send(AppCommand::KeyringAnswer { epoch, target, late }).await;
        });
    }

    /// Waits for a store that timed out; if it goes through after all, the
    /// password is used then (the user was told it had not been, so far).
    fn await_late_store(&self, call: PendingCall<()>, target: Target, password: Password) {
        let commands = self.commands_tx.clone();
        let epoch = self.password_epoch;
        tauri::async_runtime::spawn(async move {
            match call.late().await {
                Ok(()) => {
                    let late = LateAnswer::Stored(password);
                    let _ = commands.send(AppCommand::KeyringAnswer { epoch, target, late }).await;
                }
                Err(error) => tracing::warn!(%target, %error, "storing the password failed after all"),
            }
        });
    }

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
                    if let Some(obs) = &current.obs {
                        self.last_seen = Some(obs.clone());
                    }
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
                    Some(AppCommand::Window(request)) => self.on_window(request),
                    Some(AppCommand::ChangeDone(done)) => self.finish_change(*done).await,
                    Some(AppCommand::KeyringAnswer { epoch, target, late }) => {
                        self.on_keyring_answer(epoch, target, late).await
                    }
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
        if let Some(action) = self.policy.plan(&noticed, &self.settings) {
            self.notifier.act(action);
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
            AppCommand::Window(_) | AppCommand::ChangeDone(_) | AppCommand::KeyringAnswer { .. } => return false,
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
    /// waits for its confirming second press (or has nothing left to stop).
    /// Without OBS it is still sent, as OBS was when last seen: the session's
    /// "not connected to OBS: ..." then reaches the user under what the press
    /// would have done ("Could not stop streaming"), which matters for a hotkey
    /// pressed with no menu in sight.
    fn control_for(&mut self, action: &MenuAction, state: &State) -> Option<Control> {
        let obs = state.obs.as_ref().or(self.last_seen.as_ref());
        Some(match action {
            MenuAction::ToggleStream => {
                let on_air = obs.is_some_and(|o| o.stream.is_on_air());
                match self.guard.press(self.settings.confirm_stop_stream, on_air, now_ms()) {
                    StopDecision::Armed => {
                        self.render_state(state);
                        self.notifier.show(confirm_notice(
                            "Press again to stop streaming",
                            "OnAir stops the stream on a second press within 3 seconds.",
                        ));
                        return None;
                    }
                    StopDecision::AlreadyStopped => {
                        self.render_state(state);
                        self.notifier.show(confirm_notice(
                            "The stream has already stopped",
                            "Nothing was sent to OBS. Press again to start streaming.",
                        ));
                        return None;
                    }
                    StopDecision::Stop => {
                        self.notifier.close(CONFIRM_SLOT);
                        Control::StopStream
                    }
                    StopDecision::Start => Control::StartStream,
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

    fn on_window(&mut self, request: WindowRequest) {
        match request {
            WindowRequest::Snapshot(reply) => {
                let snapshot = Snapshot {
                    state: self.session.state().borrow().clone(),
                    moments: self.moments_log.clone(),
                    bitrate_history: self.bitrate_history.iter().copied().collect(),
                    settings: self.settings_view(),
                };
                let _ = reply.send(snapshot);
            }
            WindowRequest::TestConnection { host, port, password, reply } => {
                let (keyring, limit) = (self.keyring.clone(), self.io_timeout);
                tauri::async_runtime::spawn(async move {
                    let _ = reply.send(test_connection(keyring, limit, host, port, password).await);
                });
            }
            change @ (WindowRequest::SaveSettings(..)
            | WindowRequest::SetPassword(..)
            | WindowRequest::ClearPassword(_)) => {
                self.waiting_changes.push_back(change);
                self.next_change();
            }
        }
    }

    /// Starts the next waiting change, unless one is under way. A change the
    /// form got wrong is answered at once.
    fn next_change(&mut self) {
        while !self.changing {
            let Some(request) = self.waiting_changes.pop_front() else { return };
            let (reply, planned) = match request {
                WindowRequest::SaveSettings(input, reply) => (reply, self.plan_save(input)),
                WindowRequest::SetPassword(password, reply) => {
                    (reply, self.plan_password(PasswordStep::Store(Password::new(password))))
                }
                WindowRequest::ClearPassword(reply) => (reply, self.plan_password(PasswordStep::Clear)),
                WindowRequest::Snapshot(_) | WindowRequest::TestConnection { .. } => continue,
            };
            match planned {
                Err(error) => {
                    let _ = reply.send(Err(error));
                }
                Ok(change) => {
                    self.changing = true;
                    let file = change.settings.as_ref().and(self.settings_file.clone());
                    let (keyring, limit, commands) = (self.keyring.clone(), self.io_timeout, self.commands_tx.clone());
                    tauri::async_runtime::spawn(async move {
                        let mut late_store = None;
                        let outcome = carry_out(&keyring, limit, file, &change, &mut late_store).await;
                        let done = ChangeDone { change, outcome, late_store, reply };
                        let _ = commands.send(AppCommand::ChangeDone(Box::new(done))).await;
                    });
                }
            }
        }
    }

    /// A Save of the form: the settings to write, and where to connect with which password.
    fn plan_save(&self, input: SettingsInput) -> Result<Change, ApiError> {
        let typed = input.password.clone().filter(|p| !p.is_empty()).map(Password::new);
        let (settings, run) = settings_from_input(&self.settings, &self.run, input)?;
        if self.settings_file.is_none() {
            return Err(ApiError {
                code: "io".into(),
                message: "this system has no config directory to save settings in".into(),
                field: None,
            });
        }
        let target = run.target(&settings.host, settings.port);
        let password = match typed {
            Some(password) => PasswordStep::Store(password),
            None if target != self.target => PasswordStep::LookUp,
            None => PasswordStep::Keep,
        };
        Ok(Change { settings: Some(settings), run, target, password })
    }

    /// "Save password" and "Clear password": for the OBS in use.
    fn plan_password(&self, password: PasswordStep) -> Result<Change, ApiError> {
        let target = self.target.clone().map_err(|e| ApiError::invalid(Some("host"), e))?;
        Ok(Change { settings: None, run: self.run.clone(), target: Ok(target), password })
    }

    /// Applies a carried-out change in one step, answers the window, and starts the next.
    async fn finish_change(&mut self, done: ChangeDone) {
        let ChangeDone { change, outcome, late_store, reply } = done;
        if let (Some(call), Ok(target), PasswordStep::Store(password)) = (late_store, &change.target, &change.password)
        {
            self.await_late_store(call, target.clone(), password.clone());
        }
        let result = match outcome {
            Ok(carried) => {
                self.apply_change(change, carried).await;
                let view = self.settings_view();
                let _ = self.app.emit("onair://settings", &view);
                Ok(view)
            }
            Err(error) => Err(error),
        };
        let _ = reply.send(result);
        self.changing = false;
        self.next_change();
    }

    async fn apply_change(&mut self, change: Change, carried: Carried) {
        let Change { settings, run, target, password } = change;
        if let Some(file) = carried.file {
            self.settings_file = Some(file);
        }
        if let Some(settings) = settings {
            let hotkeys_changed = settings.hotkeys != self.settings.hotkeys;
            let login_changed = settings.start_on_login != self.settings.start_on_login;
            self.settings = settings;
            if hotkeys_changed {
                self.hotkey_problems = hotkeys::register(&self.app, &self.settings.hotkeys);
            }
            if login_changed {
                // It writes a file (or asks launchd, the registry): not on this task.
                let (app, wanted) = (self.app.clone(), self.settings.start_on_login);
                tauri::async_runtime::spawn_blocking(move || sync_autostart(&app, wanted));
            }
        }
        self.run = run;
        if let Some(warning) = &carried.warning {
            tracing::warn!("{warning}");
            self.notifier.show(notice("keyring", "The keyring did not answer", warning, Urgency::Normal));
        }
        let target_changed = target != self.target;
        if !target_changed && matches!(password, PasswordStep::Keep) {
            return;
        }
        if target_changed {
            // What was seen of the old OBS says nothing about the new one.
            self.last_seen = None;
        }
        self.target = target;
        self.password = carried.password;
        self.password_stored = carried.stored;
        self.password_epoch += 1;
        self.reconfigure().await;
        if let (Some(call), Ok(target)) = (carried.late, self.target.clone()) {
            self.await_late_password(call, target, true);
        }
    }

    /// Points the session at `target` with `password`: the one place that does.
    async fn reconfigure(&mut self) {
        #[cfg(test)]
        if let Ok(mut log) = self.reconfigured.lock() {
            log.push((self.target.clone(), self.password.clone()));
        }
        self.session.reconfigure(self.target.clone(), self.password.clone()).await;
    }

    /// A keyring answer that came in the background or after its caller gave up.
    async fn on_keyring_answer(&mut self, epoch: u64, target: Target, late: LateAnswer) {
        if epoch != self.password_epoch || self.target.as_ref() != Ok(&target) {
            return;
        }
        match late {
            LateAnswer::Lookup { answer: Ok(password), use_for_session } => {
                self.password_stored = Some(password.is_some());
                if use_for_session && self.password.is_none() && password.is_some() {
                    tracing::info!(%target, "the keyring answered at last: connecting with the stored password");
                    self.password = password;
                    self.password_epoch += 1;
                    self.reconfigure().await;
                }
            }
            LateAnswer::Lookup { answer: Err(error), .. } => {
                tracing::warn!(%target, %error, "cannot read the stored password");
            }
            LateAnswer::Stored(password) => {
                self.notifier.show(notice(
                    "keyring",
                    "Password stored",
                    &format!("The keyring answered at last: the password for {target} is stored, and OnAir connects with it."),
                    Urgency::Normal,
                ));
                self.password_stored = Some(true);
                self.password = Some(password);
                self.password_epoch += 1;
                self.reconfigure().await;
            }
        }
        let _ = self.app.emit("onair://settings", &self.settings_view());
    }

    /// The settings as the window shows them. It asks nothing of the keyring:
    /// what is known of the stored password is kept as changes and lookups go.
    fn settings_view(&self) -> SettingsView {
        let (host, port) = self.run.shown(&self.settings.host, self.settings.port);
        let password_note = match (&self.target, self.password_stored) {
            (Ok(_), None) => Some(
                "The keyring has not answered yet (is it locked?), so OnAir cannot tell whether a password is stored."
                    .to_string(),
            ),
            _ => None,
        };
        let degraded = self.store.degraded();
        let session_type = std::env::var("XDG_SESSION_TYPE").ok();
        let wayland_display = std::env::var("WAYLAND_DISPLAY").ok();
        SettingsView {
            host,
            port,
            connection_note: self.run.note(&self.settings.host, self.settings.port),
            password_stored: self.password_stored.unwrap_or(false),
            password_target: self.target.as_ref().ok().map(Target::to_string),
            password_note,
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
                unavailable: onair_headless::desktop::grabbing_unavailable(
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
        Control::StartStream => "start streaming",
        Control::ToggleStream => "start or stop streaming",
        Control::StopStream => "stop streaming",
        Control::StartRecording => "start recording",
        Control::ToggleRecording => "start or stop recording",
        Control::StopRecording => "stop recording",
        Control::PauseRecording => "pause the recording",
        Control::ToggleRecordingPause => "pause or resume the recording",
        Control::ResumeRecording => "resume the recording",
        Control::SaveReplay => "save the replay",
        Control::StartReplayBuffer => "start the replay buffer",
        Control::ToggleReplayBuffer => "start or stop the replay buffer",
        Control::StopReplayBuffer => "stop the replay buffer",
        Control::StartVirtualCamera => "start the virtual camera",
        Control::ToggleVirtualCamera => "start or stop the virtual camera",
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
        "recording-file-changed" => "Recording continues in a new file",
        "replay-saved" => "Replay saved",
        "auth-failed" => "Password rejected",
        _ => "Other",
    }
}

/// Checks the form and builds the settings it asks for, with what stays
/// overridden for this run; each refusal names its field. A host or port the
/// form shows from the command line is not written unless the user changed it.
fn settings_from_input(
    current: &Settings,
    run: &RunOverride,
    input: SettingsInput,
) -> Result<(Settings, RunOverride), ApiError> {
    let mut settings = current.clone();
    let host = validate_host(&input.host).map_err(|e| ApiError::invalid(Some("host"), e))?;
    let port = validate_port(input.port).map_err(|e| ApiError::invalid(Some("port"), e))?;
    let ((host, port), run) = run.after_save((&current.host, current.port), (&host, port));
    (settings.host, settings.port) = (host, port);
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
            Some(b) => {
                Some(onair_headless::desktop::normalize_hotkey(&b).map_err(|e| ApiError::invalid(Some(&field), e))?)
            }
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
    Ok((settings, run))
}

/// Does a change's keyring and file work, each within `limit`. The password
/// comes first: the settings must not point at an OBS whose new password
/// could not be stored.
async fn carry_out(
    keyring: &KeyringWorker,
    limit: Duration,
    file: Option<SettingsFile>,
    change: &Change,
    late_store: &mut Option<PendingCall<()>>,
) -> Result<Carried, ApiError> {
    let mut carried = Carried::default();
    let target = || change.target.clone().map_err(|e| ApiError::invalid(Some("host"), e));
    match &change.password {
        PasswordStep::Keep => {}
        PasswordStep::Store(password) => {
            let mut call = keyring.set(&target()?, password);
            match call.within(limit).await {
                Ok(()) => {}
                Err(error @ StoreError::TimedOut(_)) => {
                    *late_store = Some(call);
                    let mut error = keyring_error(error);
                    error.message.push_str(" If it answers later, the password is stored and used then.");
                    return Err(error);
                }
                Err(error) => return Err(keyring_error(error)),
            }
            carried.password = Some(password.clone());
            carried.stored = Some(true);
        }
        PasswordStep::Clear => {
            keyring.clear(&target()?).within(limit).await.map_err(keyring_error)?;
            carried.stored = Some(false);
        }
        PasswordStep::LookUp => {
            if let Ok(target) = &change.target {
                let mut call = keyring.get(target);
                match call.within(limit).await {
                    Ok(password) => {
                        carried.stored = Some(password.is_some());
                        carried.password = password;
                    }
                    Err(error @ StoreError::TimedOut(_)) => {
                        carried.warning = Some(format!(
                            "Reading the password for {target}: {error} OnAir connects without a password until it answers."
                        ));
                        carried.late = Some(call);
                    }
                    Err(error) => {
                        carried.warning = Some(format!("Cannot read the password for {target}: {error}."));
                    }
                }
            }
        }
    }
    if let (Some(mut file), Some(settings)) = (file, change.settings.clone()) {
        let path = file.path.display().to_string();
        let write = tokio::task::spawn_blocking(move || file.save(&settings).map(|()| file));
        let io = |message: String| ApiError { code: "io".into(), message, field: None };
        carried.file = Some(match tokio::time::timeout(limit, write).await {
            Ok(Ok(Ok(file))) => file,
            Ok(Ok(Err(message))) => return Err(io(message)),
            Ok(Err(e)) => return Err(io(format!("cannot write {path}: {e}"))),
            Err(_) => return Err(io(format!("writing {path} did not finish within {} s", limit.as_secs_f32()))),
        });
    }
    Ok(carried)
}

/// A keyring failure as the window shows it, next to the password field.
fn keyring_error(error: StoreError) -> ApiError {
    let code = if matches!(error, StoreError::TimedOut(_)) { "keyring-timeout" } else { "keyring-failed" };
    ApiError { code: code.into(), message: error.to_string(), field: Some("password".into()) }
}

/// "Test connection": can OnAir reach this OBS, and does the password work?
async fn test_connection(
    keyring: KeyringWorker,
    limit: Duration,
    host: String,
    port: i64,
    password: Option<String>,
) -> Result<TestResult, ApiError> {
    let host = validate_host(&host).map_err(|e| ApiError::invalid(Some("host"), e))?;
    let port = validate_port(port).map_err(|e| ApiError::invalid(Some("port"), e))?;
    let target = Target { host, port };
    let password = match password.filter(|p| !p.is_empty()) {
        Some(p) => Some(Password::new(p)),
        None => keyring.get(&target).within(limit).await.map_err(keyring_error)?,
    };
    let options = ClientOptions { handshake_timeout: Duration::from_secs(4), ..ClientOptions::default() };
    let failed = |reachable: bool, message: String| TestResult {
        reachable,
        authenticated: false,
        obs_version: None,
        websocket_version: None,
        message,
    };
    Ok(
        match onair_headless::obs::connect(&target.host, target.port, password.as_ref().map(Password::expose), &options)
            .await
        {
            Ok(connection) => {
                let version = connection
                    .client
                    .request_as::<onair_headless::obs::protocol::responses::Version>("GetVersion", None)
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
            Err(ConnectError::Closed { code: 4009, .. }) => {
                failed(true, format!("OBS at {target} rejected the password"))
            }
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
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::HotkeysInput;
    use std::collections::BTreeMap;

    fn from_form(input: SettingsInput) -> Result<Settings, ApiError> {
        settings_from_input(&Settings::default(), &RunOverride::default(), input).map(|(settings, _)| settings)
    }

    fn input() -> SettingsInput {
        SettingsInput {
            host: "studio.lan".into(),
            port: 4456,
            password: None,
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
        let settings = from_form(input()).unwrap();
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
            from_form(i).unwrap_err().field.unwrap_or_default()
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
        let err = from_form(i).unwrap_err();
        assert_eq!(err.code, "invalid-input");
        assert!(err.message.contains("already used"), "{}", err.message);
    }

    #[test]
    fn scene_hotkeys_step_through_the_list_and_wrap() {
        use onair_headless::state::{ConnectionState, ObsStatus, StreamState};
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
        let settings = from_form(i).unwrap();
        assert_eq!(settings.hotkeys.binding(HotkeyAction::NextScene), None);
    }
}

/// The core itself, on the mock runtime, with a fake tray and notifier and a
/// session that waits for an OBS that never answers (port 9 on loopback).
#[cfg(test)]
mod core_tests {
    use super::*;
    use crate::commands::HotkeysInput;
    use onair_headless::desktop::{MenuEntry, TrayIcon};
    use onair_headless::desktop::{NotificationAction, STREAM_SLOT};
    use onair_headless::settings::{LockedStore, MemoryStore};
    use onair_headless::state::{ConnectionState, StreamState};
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::sync::Mutex;
    use tauri::test::{mock_builder, MockRuntime};

    struct FakeTray;
    impl TrayView for FakeTray {
        fn render(&mut self, _: TrayIcon, _: &[MenuEntry]) {}
    }

    /// What the core asked of the desktop's notifications, in order.
    #[derive(Clone, Default)]
    struct Notes(Arc<Mutex<Vec<NotificationAction>>>);

    impl Notes {
        fn take(&self) -> Vec<NotificationAction> {
            std::mem::take(&mut *self.0.lock().unwrap())
        }
    }

    impl Notifier for Notes {
        fn show(&mut self, plan: NotificationPlan) {
            self.0.lock().unwrap().push(NotificationAction::Show(plan));
        }
        fn close(&mut self, slot: &'static str) {
            self.0.lock().unwrap().push(NotificationAction::Close { slot });
        }
    }

    /// A settings file in a fresh directory, removed on drop.
    struct TempDir(PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    struct Rig {
        core: Core<MockRuntime>,
        commands: mpsc::Receiver<AppCommand>,
        notes: Notes,
        dir: TempDir,
        _app: tauri::App<MockRuntime>,
    }

    const LIMIT: Duration = Duration::from_millis(300);

    fn rig(name: &str, store: Arc<dyn PasswordStore>, run: RunOverride, file_text: &str) -> Rig {
        let app = mock_builder().build(tauri::generate_context!("../tauri.conf.json")).expect("mock app");
        let dir = std::env::temp_dir().join(format!("onair-core-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("settings.toml");
        std::fs::write(&path, file_text).unwrap();
        let loaded = SettingsFile::load(&path);
        let target = run.target(&loaded.settings.host, loaded.settings.port);
        let (session, _task) = Session::spawn(SessionConfig::new(target, None));
        let (commands_tx, commands) = mpsc::channel(64);
        let notes = Notes::default();
        let parts = CoreParts {
            settings: loaded.settings,
            settings_file: Some(loaded.file),
            run,
            store: Arc::clone(&store),
            keyring: KeyringWorker::start(store),
            password: None,
            password_stored: Some(false),
            tray: Box::new(FakeTray),
            notifier: Box::new(notes.clone()),
        };
        let mut core = Core::new(app.handle().clone(), session, parts, commands_tx);
        core.io_timeout = LIMIT;
        Rig { core, commands, notes, dir: TempDir(dir), _app: app }
    }

    impl Rig {
        fn file(&self) -> String {
            std::fs::read_to_string(self.dir.0.join("settings.toml")).unwrap()
        }

        fn reconfigured(&self) -> Vec<SessionSettings> {
            self.core.reconfigured.lock().unwrap().clone()
        }

        /// Plays the core's loop for the next command that comes back to it.
        async fn settle(&mut self) {
            let command = tokio::time::timeout(Duration::from_secs(5), self.commands.recv())
                .await
                .expect("the core hears back within 5 s")
                .expect("channel open");
            match command {
                AppCommand::ChangeDone(done) => self.core.finish_change(*done).await,
                AppCommand::KeyringAnswer { epoch, target, late } => {
                    self.core.on_keyring_answer(epoch, target, late).await
                }
                other => panic!("unexpected {other:?}"),
            }
        }

        /// Sends a change and plays the loop until it is answered.
        async fn change(&mut self, make: impl FnOnce(Reply) -> WindowRequest) -> Result<SettingsView, ApiError> {
            let (reply, mut answer) = oneshot::channel();
            self.core.on_window(make(reply));
            loop {
                if let Ok(result) = answer.try_recv() {
                    return result;
                }
                self.settle().await;
            }
        }
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

    const FILE: &str = "[obs]\nhost = \"127.0.0.1\"\nport = 9\n";

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
        rig.core.on_window(WindowRequest::SaveSettings(form("127.0.0.2", 9, None), save_reply));
        rig.core.on_window(WindowRequest::SetPassword("late".into(), password_reply));
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
        let view = rig.core.settings_view();
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
    async fn a_locked_keyring_never_freezes_the_core() {
        let locked = Arc::new(LockedStore::default());
        locked.inner.set(&target("127.0.0.2", 9), &pw("stored")).unwrap();
        let mut rig = rig("locked", locked.clone(), RunOverride::default(), FILE);
        rig.core.on_moment(Noticed { at_ms: 0, moment: onair_headless::state::Moment::Reconnecting { since_ms: 0 } });
        rig.notes.take();

        // The whole loop, as the app runs it.
        let Rig { core, commands, notes, dir, _app } = rig;
        let reconfigured = Arc::clone(&core.reconfigured);
        let commands_tx = core.commands_tx.clone();
        let moments = core.session.subscribe();
        let (window_tx, window_rx) = mpsc::channel(8);
        // The rig's own receiver is the core's; forward window requests into it.
        let forward = commands_tx.clone();
        tokio::spawn(async move {
            let mut window_rx = window_rx;
            while let Some(request) = window_rx.recv().await {
                let _ = forward.send(AppCommand::Window(request)).await;
            }
        });
        let looping = tokio::spawn(core.run(commands, moments));

        let (reply, password_answer) = oneshot::channel();
        window_tx.send(WindowRequest::SetPassword("new".into(), reply)).await.unwrap();
        // While the keyring holds that call, the window still gets its snapshot at once.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (reply, snapshot) = oneshot::channel();
        let asked = std::time::Instant::now();
        window_tx.send(WindowRequest::Snapshot(reply)).await.unwrap();
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
        assert!(reconfigured.lock().unwrap().is_empty(), "nothing was applied");

        // A new host while locked: saved and connected at once, without a
        // password and saying so; the stored one is used when the keyring answers.
        let (reply, saved) = oneshot::channel();
        window_tx.send(WindowRequest::SaveSettings(form("127.0.0.2", 9, None), reply)).await.unwrap();
        let view = tokio::time::timeout(Duration::from_secs(3), saved).await.unwrap().unwrap().expect("saved");
        assert!(view.password_note.is_some(), "{view:?}");
        assert_eq!(*reconfigured.lock().unwrap(), vec![(Ok(target("127.0.0.2", 9)), None)]);
        let told = notes.take();
        assert!(
            told.iter().any(
                |n| matches!(n, NotificationAction::Show(p) if p.kind == "keyring" && p.body.contains("is it locked?"))
            ),
            "{told:?}"
        );
        locked.unlock();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while reconfigured.lock().unwrap().len() < 2 {
            assert!(tokio::time::Instant::now() < deadline, "the late answer was used");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(reconfigured.lock().unwrap()[1], (Ok(target("127.0.0.2", 9)), Some(pw("stored"))));
        // The password store that timed out went through late, but the user has
        // since moved to another OBS: it is not applied to this one.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(locked.inner.get(&target("127.0.0.1", 9)).unwrap(), Some(pw("new")));
        assert_eq!(reconfigured.lock().unwrap().len(), 2);
        looping.abort();
        drop(dir);
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
        assert!(rig.core.settings_view().password_stored);
        let told = rig.notes.take();
        assert!(
            told.iter().any(|n| matches!(n, NotificationAction::Show(p) if p.summary == "Password stored")),
            "{told:?}"
        );
    }

    fn state_with(stream: Option<StreamState>) -> State {
        use onair_headless::state::ObsStatus;
        State {
            target: "127.0.0.1:9".into(),
            connection: match stream {
                Some(_) => ConnectionState::Connected { obs_version: "29".into(), websocket_version: "5.1.0".into() },
                None => ConnectionState::WaitingForObs { reason: "refused".into() },
            },
            obs: stream.map(|stream| ObsStatus {
                stream,
                recording: RecordingState::Off,
                replay_buffer: OutputActivity::Unavailable,
                virtual_camera: OutputActivity::Off,
                program_scene: None,
                scenes: Vec::new(),
                studio_mode: false,
                stream_health: None,
                stats: None,
                scene_collection_changing: false,
            }),
        }
    }

    #[tokio::test]
    async fn a_stop_armed_while_reconnecting_never_becomes_a_start() {
        let mut rig = rig("stop-guard", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
        rig.core.settings.confirm_stop_stream = true;
        let reconnecting = state_with(Some(StreamState::Reconnecting { live_since_ms: 0, since_ms: 1 }));
        assert_eq!(rig.core.control_for(&MenuAction::ToggleStream, &reconnecting), None, "armed");
        // OBS gives up: the stream ends before the confirming press.
        let offline = state_with(Some(StreamState::Offline));
        assert_eq!(rig.core.control_for(&MenuAction::ToggleStream, &offline), None, "no StartStream");
        let told = rig.notes.take();
        let summaries: Vec<_> = told
            .iter()
            .filter_map(|n| match n {
                NotificationAction::Show(p) => Some((p.summary.as_str(), p.replace)),
                _ => None,
            })
            .collect();
        assert_eq!(summaries, [("Press again to stop streaming", true), ("The stream has already stopped", true)]);
        assert_eq!(rig.core.control_for(&MenuAction::ToggleStream, &offline), Some(Control::StartStream));
        // Confirming a stop takes the confirmation notice down.
        let live = state_with(Some(StreamState::Live { since_ms: 0 }));
        assert_eq!(rig.core.control_for(&MenuAction::ToggleStream, &live), None);
        rig.notes.take();
        assert_eq!(rig.core.control_for(&MenuAction::ToggleStream, &live), Some(Control::StopStream));
        assert_eq!(rig.notes.take(), [NotificationAction::Close { slot: CONFIRM_SLOT }]);
    }

    #[tokio::test]
    async fn a_toggle_while_obs_is_away_says_what_it_would_have_done() {
        let mut rig = rig("away", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
        let away = state_with(None);
        // Never seen: it would have started.
        assert_eq!(rig.core.control_for(&MenuAction::ToggleStream, &away), Some(Control::StartStream));
        // Last seen live: it would have stopped, and says so when refused.
        rig.core.last_seen = state_with(Some(StreamState::Live { since_ms: 0 })).obs;
        let control = rig.core.control_for(&MenuAction::ToggleStream, &away).unwrap();
        assert_eq!((control.clone(), describe(&control)), (Control::StopStream, "stop streaming"));
        // Pointed at another OBS, the old one's state says nothing.
        rig.change(|reply| WindowRequest::SaveSettings(form("127.0.0.2", 9, None), reply)).await.unwrap();
        assert_eq!(rig.core.control_for(&MenuAction::ToggleStream, &away), Some(Control::StartStream));
    }

    #[tokio::test]
    async fn a_recovery_closes_its_alarm_even_when_its_own_notification_is_off() {
        let mut rig = rig("alarms", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
        rig.core.settings.notifications.insert("reconnected".into(), false);
        use onair_headless::state::Moment;
        rig.core.on_moment(Noticed { at_ms: 0, moment: Moment::Reconnecting { since_ms: 0 } });
        rig.core.on_moment(Noticed { at_ms: 5_000, moment: Moment::Reconnected { down_ms: 5_000 } });
        let told = rig.notes.take();
        assert!(matches!(&told[0], NotificationAction::Show(p) if p.kind == "reconnecting"), "{told:?}");
        assert_eq!(told[1..], [NotificationAction::Close { slot: STREAM_SLOT }]);
    }

    /// Twelve hours live in accelerated time through what `Core::run` does for
    /// each published state (tray render, bitrate history) and each moment (the
    /// window's log, notifications): everything the core keeps stays bounded
    /// however long the show. `ONAIR_CORE_SOAK_HOURS` makes it longer.
    #[tokio::test]
    async fn a_twelve_hour_show_keeps_the_core_bounded() {
        use onair_headless::state::{Moment, ObsStatus, OutputActivity, RecordingState, StreamHealth};
        let mut rig = rig("soak", Arc::new(MemoryStore::default()), RunOverride::default(), FILE);
        let hours: u64 = std::env::var("ONAIR_CORE_SOAK_HOURS").ok().and_then(|h| h.parse().ok()).unwrap_or(12);
        let scenes: Vec<String> = ["Starting Soon", "Just Chatting", "Gameplay", "BRB"].map(String::from).to_vec();
        let t0 = 1_800_000_000_000u64;
        let (mut moments, mut notifications) = (0usize, 0usize);
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
                studio_mode: false,
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
                stats: None,
                scene_collection_changing: false,
            };
            let state = State {
                target: "127.0.0.1:9".into(),
                connection: ConnectionState::Connected {
                    obs_version: "29.0.2".into(),
                    websocket_version: "5.1.0".into(),
                },
                obs: Some(status),
            };
            rig.core.render_state(&state);
            rig.core.record_bitrate(&state);
            history_max = history_max.max(rig.core.bitrate_history.len());
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
                rig.core.on_moment(Noticed { at_ms: at, moment });
            }
            notifications += rig.notes.take().len();
            assert!(rig.core.moments_log.len() <= MOMENTS_KEPT, "the window's moments log is capped");
        }
        let expected = (hours * 180 + hours * 4) as usize;
        assert_eq!(moments, expected);
        assert_eq!(rig.core.moments_log.len(), MOMENTS_KEPT.min(expected));
        assert_eq!(
            rig.core.moments_log.last().map(|m| m.seq),
            Some(expected as u64),
            "numbered through the whole show"
        );
        // Five minutes of 2 s polls, give or take the edge.
        assert!(history_max <= (HISTORY_MS / 2_000) as usize + 1, "bitrate history capped: {history_max}");
        // Every moment kind here notifies once (a replay each 20 s is no storm: each is a new file).
        assert!(
            notifications > 0 && notifications <= moments + hours as usize * 2,
            "{notifications} for {moments} moments"
        );
    }
}
