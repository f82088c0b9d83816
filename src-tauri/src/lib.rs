//! The OnAir desktop app: the headless crate in the tray.
//!
//! The `onair-tray` binary: with no subcommand it starts the tray app (the
//! lean `onair` command of `onair-cli` execs it); given one, it runs the
//! command line (`onair_headless::cli`) as `onair` does. The app is an
//! actor: one task, the [`controller`], owns the session, the settings and the
//! notification policy; menu clicks, hotkeys and window requests reach it over
//! channels, and it acts on the desktop only through
//! [`integration::GuiIntegration`], whose Tauri implementation is the only code
//! here that touches the tray, notifications and the window.
//!
//! # Layout
//!
//! - `lib.rs`: [`run`], the Tauri builder wiring (plugins, IPC, channels).
//! - `launch.rs`: start-up from the command line: settings, password, logging.
//! - `controller.rs`: the loop (and its tests with a fake desktop);
//!   `other_obs.rs`: the OBS watched besides the first (`[[connections]]`).
//! - `changes.rs`: settings and password changes, "Test connection".
//! - `first_run.rs`: the first start's offer of OBS's own settings.
//! - `integration.rs`: the desktop's effects as one trait, and Tauri's implementation.
//! - `window.rs`: the window's vocabulary; `commands.rs`: its IPC commands.
//! - Adapters, named after the headless policy they carry out: `tray.rs`
//!   (menu model), `notify.rs` (notification policy), `hotkeys.rs` (and
//!   `portal.rs`, the hotkeys through the desktop portal on Wayland),
//!   `tray_host.rs` (whether a tray shows the icon: `tray_host_plan`),
//!   `web_memory.rs` (WebKit's memory given back once the window closed),
//!   and `logging.rs`; the OS keyring as the password store is `onair_cli::secrets`.

mod autostart;
mod changes;
mod commands;
mod controller;
mod first_run;
mod hotkeys;
mod integration;
mod launch;
mod logging;
mod notify;
mod other_obs;
mod portal;
mod tray;
#[cfg(target_os = "linux")]
mod tray_host;
mod web_memory;
mod window;

use std::process::ExitCode;

use onair_headless::desktop::MenuAction;
use onair_headless::obs::{Session, SessionConfig};
use tauri::{Manager, Runtime};
use tokio::sync::mpsc;

use crate::commands::AppState;
use crate::controller::{Controller, ControllerParts, DesktopInput, Inboxes, StartupNotes};
use crate::hotkeys::HotkeyMap;
use crate::integration::TauriIntegration;
use crate::window::{Page, WindowRequest};

/// Entry point of the `onair-tray` binary.
pub fn main() -> ExitCode {
    let store = onair_cli::secrets::KeyringStore;
    onair_headless::cli::main_with(&store, launch::start)
}

/// Everything the app starts with, decided before the GUI exists.
pub struct AppOptions {
    /// What the controller works with.
    pub parts: ControllerParts,
    /// What the user should hear about from the start-up.
    pub notes: StartupNotes,
    pub show_window: bool,
    /// `--mic` for this run, which replaces the settings' `[audio] mics`; empty: the settings'.
    pub run_mics: Vec<String>,
    /// The other OBS to watch besides the first (`[[connections]]`).
    pub others: Vec<other_obs::OtherStart>,
}

/// Builds and runs the app until Quit. Generic over the runtime, as Tauri's
/// own examples are, so the IPC commands can be exercised on the mock runtime.
pub fn run<R: Runtime>(builder: tauri::Builder<R>, options: AppOptions) -> tauri::Result<()> {
    let (desktop_tx, desktop_rx) = mpsc::channel::<DesktopInput>(64);
    let (window_tx, window_rx) = mpsc::channel(64);
    let single_instance_tx = desktop_tx.clone();
    let hotkey_tx = desktop_tx.clone();
    let menu_tx = desktop_tx.clone();
    let portal_tx = desktop_tx.clone();
    let show_at_start = options.show_window;
    let mut start = Some((options, desktop_rx, window_rx, window_tx, desktop_tx));
    let app = builder
        // A second launch hands over to the first, which opens its window.
        .plugin(tauri_plugin_single_instance::init(move |_app, _argv, _cwd| {
            let _ = single_instance_tx.try_send(DesktopInput::SecondLaunch);
        }))
        .plugin(
            tauri_plugin_global_shortcut::Builder::new()
                .with_handler(move |app, shortcut, event| {
                    if event.state() != tauri_plugin_global_shortcut::ShortcutState::Pressed {
                        return;
                    }
                    if let Some(press) = app.state::<HotkeyMap>().press(shortcut) {
                        let _ = hotkey_tx.try_send(DesktopInput::hotkey(press));
                    }
                })
                .build(),
        )
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, None))
        .on_menu_event(move |_app, event| {
            tracing::debug!(id = event.id().as_ref(), "menu clicked");
            // Rows that only show state have ids no action has.
            if let Some(action) = MenuAction::from_id(event.id().as_ref()) {
                let _ = menu_tx.try_send(DesktopInput::Menu(action));
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
            commands::save_connections,
            commands::show_connection,
            commands::test_connection,
            commands::use_obs_settings
        ])
        .setup(move |app| {
            let Some((options, desktop_rx, window_rx, window_tx, desktop_tx)) = start.take() else {
                return Ok(());
            };
            // Before the controller registers the hotkeys, which then go to the portal.
            if let Some(portal) = portal::start(&app.config().identifier, portal_tx) {
                app.manage(portal);
            }
            start_controller(app.handle().clone(), options, (desktop_tx, desktop_rx), window_rx, window_tx);
            if show_at_start {
                integration::open_window(app.handle(), Page::Status);
            }
            Ok(())
        })
        .build(tauri::generate_context!("../tauri.conf.json"))?;
    app.run(|app, event| match event {
        // Closing the window leaves OnAir in the tray; only Quit (exit code set) ends it.
        tauri::RunEvent::ExitRequested { api, code: None, .. } => api.prevent_exit(),
        tauri::RunEvent::WindowEvent { event: tauri::WindowEvent::Destroyed, .. } => {
            web_memory::after_window_closed(app);
        }
        _ => {}
    });
    Ok(())
}

fn start_controller<R: Runtime>(
    app: tauri::AppHandle<R>,
    options: AppOptions,
    (desktop_tx, desktop): (mpsc::Sender<DesktopInput>, mpsc::Receiver<DesktopInput>),
    window: mpsc::Receiver<WindowRequest>,
    window_tx: mpsc::Sender<WindowRequest>,
) {
    let AppOptions { parts, notes, run_mics, others, .. } = options;
    let target = parts.run.target(&parts.settings.host, parts.settings.port);
    let mics = if run_mics.is_empty() { parts.settings.mics.clone() } else { run_mics };
    let alerts = parts.settings.alerts.clone();
    let config = SessionConfig {
        alerts: alerts.clone(),
        mics: mics.clone(),
        ..SessionConfig::new(target, parts.password.clone())
    };
    // Session::spawn needs the runtime's context; Tauri's runtime is tokio.
    let (session, moments, others) = tauri::async_runtime::block_on(async move {
        let (session, moments, _task) = Session::spawn_subscribed(config);
        let others: Vec<_> = others
            .into_iter()
            .enumerate()
            .map(|(i, start)| other_obs::OtherObs::spawn(i + 1, start, &alerts, &mics))
            .collect();
        (session, moments, others)
    });
    app.manage(AppState { session: session.clone(), window: window_tx });
    let mut controller = Controller::new(TauriIntegration::new(app, desktop_tx), session, parts);
    // On this (the main) thread, where the hotkeys and the tray are set up,
    // inside the runtime, where the controller hands off its background work.
    tauri::async_runtime::block_on(async {
        controller.add_others(others);
        controller.start(notes);
    });
    tauri::async_runtime::spawn(controller.run(Inboxes { desktop, window, moments }));
}
