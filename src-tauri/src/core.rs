//! The app core: one task that owns the session, the settings, the
//! notification policy and the stop confirmation, and drives the tray and
//! notifications from the session's state and moments.
//!
//! [`run`] is generic over the Tauri runtime, as Tauri's own examples are, so
//! the IPC commands can be exercised with the mock runtime.

use std::time::Duration;

use onair_engine::config::Settings;
use onair_engine::control::Control;
use onair_engine::hotkeys::HotkeyAction;
use onair_engine::menu::{has_running_clock, menu_model, tray_icon, MenuAction, MenuContext, StopDecision, StopGuard};
use onair_engine::notify::{NotificationPlan, NotificationPolicy, Urgency};
use onair_engine::session::{Session, SessionConfig};
use onair_engine::settings::{Password, Target};
use onair_engine::state::{now_ms, Noticed, OutputActivity, RecordingState, State};
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use tokio::sync::{broadcast, mpsc};

use crate::commands::{self, AppState};
use crate::hotkeys::{self, HotkeyMap};
use crate::notifier::{DesktopNotifier, Notifier};
use crate::tray::{TauriTray, TrayView};

/// Everything the app starts with, decided before the GUI exists.
pub struct AppOptions {
    pub settings: Settings,
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
        .invoke_handler(tauri::generate_handler![commands::get_state, commands::control])
        .setup(move |app| {
            let (Some(options), Some(commands_rx)) = (options.take(), commands_rx.take()) else {
                return Ok(());
            };
            start_core(app.handle().clone(), options, commands_rx, commands_tx.clone());
            if show_at_start {
                open_window(app.handle());
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
    let AppOptions { settings, warnings, target, password, keyring_problem, .. } = options;
    let config = SessionConfig::new(target, password);
    // Session::spawn needs the runtime's context; Tauri's runtime is tokio.
    let session = tauri::async_runtime::block_on(async move { Session::spawn(config).0 });
    app.manage(AppState { session: session.clone() });
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
    for problem in hotkeys::register(&app, &settings.hotkeys) {
        tracing::warn!("{problem}");
        notifier.show(notice("hotkeys", "A hotkey is not available", &problem, Urgency::Normal));
    }
    sync_autostart(&app, settings.start_on_login);
    let tray: Box<dyn TrayView> = Box::new(TauriTray::new(app.clone()));
    let core = Core {
        app: app.clone(),
        session,
        settings,
        policy: NotificationPolicy::new(),
        guard: StopGuard::default(),
        menu_armed: false,
        tray,
        notifier,
        commands_tx,
    };
    tauri::async_runtime::spawn(core.run(commands));
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

/// Opens the window, or brings it forward if it is open.
pub fn open_window<R: Runtime>(app: &AppHandle<R>) {
    let handle = app.clone();
    let result = app.run_on_main_thread(move || {
        if let Some(window) = handle.get_webview_window("main") {
            let _ = window.unminimize();
            let _ = window.show();
            let _ = window.set_focus();
            return;
        }
        let built = WebviewWindowBuilder::new(&handle, "main", WebviewUrl::App("index.html".into()))
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

struct Core<R: Runtime> {
    app: AppHandle<R>,
    session: Session,
    settings: Settings,
    policy: NotificationPolicy,
    guard: StopGuard,
    /// Whether the menu last showed "Press Again to Stop Streaming".
    menu_armed: bool,
    tray: Box<dyn TrayView>,
    notifier: Box<dyn Notifier>,
    commands_tx: mpsc::Sender<AppCommand>,
}

impl<R: Runtime> Core<R> {
    async fn run(mut self, mut commands: mpsc::Receiver<AppCommand>) {
        let mut state = self.session.state();
        let mut moments = self.session.subscribe();
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

    fn on_moment(&mut self, noticed: Noticed) {
        let _ = self.app.emit("onair://moment", &noticed);
        if let Some(plan) = self.policy.plan(&noticed, &self.settings) {
            self.notifier.show(plan);
        }
    }

    /// Handles one command; true means quit.
    fn on_command(&mut self, command: AppCommand) -> bool {
        let state = self.session.state().borrow().clone();
        let action = match command {
            AppCommand::ShowWindow => {
                open_window(&self.app);
                return false;
            }
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
            MenuAction::OpenWindow | MenuAction::OpenSettings => open_window(&self.app),
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
    /// waits for its confirming second press.
    fn control_for(&mut self, action: &MenuAction, state: &State) -> Option<Control> {
        let obs = state.obs.as_ref()?;
        Some(match action {
            MenuAction::ToggleStream => {
                let on_air = obs.stream.is_on_air();
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
            MenuAction::ToggleRecording if obs.recording.is_active() => Control::StopRecording,
            MenuAction::ToggleRecording => Control::StartRecording,
            MenuAction::TogglePause => match obs.recording {
                RecordingState::Paused { .. } => Control::ResumeRecording,
                _ => Control::PauseRecording,
            },
            MenuAction::SaveReplay => Control::SaveReplay,
            MenuAction::ToggleVirtualCamera if obs.virtual_camera == OutputActivity::On => Control::StopVirtualCamera,
            MenuAction::ToggleVirtualCamera => Control::StartVirtualCamera,
            MenuAction::SwitchScene(name) => Control::SwitchScene(name.clone()),
            MenuAction::Reconnect | MenuAction::OpenWindow | MenuAction::OpenSettings | MenuAction::Quit => {
                return None
            }
        })
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
