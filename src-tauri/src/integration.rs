//! Every effect the controller has on the desktop, behind one trait: the tray,
//! notifications, the window (opening it and pushing to it), hotkeys, start on
//! login and quitting. [`TauriIntegration`] is the one real implementation; the
//! controller's tests drive the whole loop with a fake that records each call,
//! as Firezone's GUI client does with its `GuiIntegration`.
//!
//! None of these may block the controller's task: the Tauri implementation
//! hands slow work (D-Bus, files, the main thread) to threads of its own.

use onair_headless::desktop::{HotkeyPress, HotkeySettings, MenuEntry, NotificationAction, TrayIcon};
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use tokio::sync::mpsc;

use crate::controller::DesktopInput;
use crate::hotkeys;
use crate::notify::DesktopNotifier;
use crate::tray::TauriTray;
use crate::window::{Page, WindowPush};

pub trait GuiIntegration: Send + 'static {
    /// Shows this icon and menu in the tray (in place where the shape allows).
    fn show_tray(&mut self, icon: TrayIcon, menu: &[MenuEntry]);
    /// Shows, replaces or closes a notification.
    fn notify(&mut self, action: NotificationAction);
    /// Opens the window on a page, or brings it forward and turns to that page.
    fn open_window(&mut self, page: Page);
    /// Sends the window (if open) what just changed.
    fn push(&mut self, push: WindowPush);
    /// Registers these hotkeys in place of the previous ones; one message per
    /// binding that could not be registered (or why none can be).
    fn register_hotkeys(&mut self, settings: &HotkeySettings) -> Vec<String>;
    /// Makes OnAir start (or not) when the user logs in.
    fn set_start_on_login(&mut self, wanted: bool);
    /// Ends the app, after the controller has shut the session down.
    fn quit(&mut self);
    /// Looks once whether a tray shows OnAir's icon; what it finds comes back
    /// as `DesktopInput::TrayHost` (Linux only: elsewhere there is always one).
    fn watch_tray_host(&mut self);
    /// What the desktop portal says each shortcut is bound to, when the
    /// portal binds them (Wayland); `None` where OnAir grabs the keys itself.
    fn desktop_shortcuts(&self) -> Option<Vec<(HotkeyPress, String)>>;
}

/// The desktop as Tauri reaches it.
pub struct TauriIntegration<R: Runtime> {
    app: AppHandle<R>,
    tray: TauriTray<R>,
    notifier: DesktopNotifier,
    /// Where what the bus says about the tray goes (Linux only).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    input: mpsc::Sender<DesktopInput>,
}

impl<R: Runtime> TauriIntegration<R> {
    /// `input` is where the desktop's inputs go: a notification's button
    /// pressed reaches the controller as menu clicks do.
    pub fn new(app: AppHandle<R>, input: mpsc::Sender<DesktopInput>) -> TauriIntegration<R> {
        let own_input = input.clone();
        let pressed = Box::new(move |connection, button| {
            if input.try_send(DesktopInput::NotificationButton(connection, button)).is_err() {
                tracing::warn!("a notification's button was pressed while the app was busy or ending; ignored");
            }
        });
        TauriIntegration {
            tray: TauriTray::new(app.clone()),
            // The packages install the desktop file under the app's identifier.
            notifier: DesktopNotifier::start("OnAir", app.config().identifier.clone(), pressed),
            app,
            input: own_input,
        }
    }
}

impl<R: Runtime> GuiIntegration for TauriIntegration<R> {
    fn show_tray(&mut self, icon: TrayIcon, menu: &[MenuEntry]) {
        self.tray.render(icon, menu);
    }

    fn notify(&mut self, action: NotificationAction) {
        self.notifier.act(action);
    }

    fn open_window(&mut self, page: Page) {
        open_window(&self.app, page);
    }

    fn push(&mut self, push: WindowPush) {
        let event = push.event();
        let sent = match &push {
            WindowPush::State(state) => self.app.emit(event, state),
            WindowPush::Moment(moment) => self.app.emit(event, moment),
            WindowPush::Settings(settings) => self.app.emit(event, settings),
            WindowPush::Controls(controls) => self.app.emit(event, controls),
            WindowPush::Connections(connections) => self.app.emit(event, connections),
            WindowPush::ObsOffer(offer) => self.app.emit(event, offer),
        };
        if let Err(e) = sent {
            tracing::debug!(event, error = %e, "cannot push to the window");
        }
    }

    fn register_hotkeys(&mut self, settings: &HotkeySettings) -> Vec<String> {
        hotkeys::register(&self.app, settings)
    }

    fn set_start_on_login(&mut self, wanted: bool) {
        // It writes a file (or asks launchd, the registry): not on the controller's task.
        let app = self.app.clone();
        std::thread::spawn(move || crate::autostart::sync(&app, wanted));
    }

    fn quit(&mut self) {
        self.app.exit(0);
    }

    fn watch_tray_host(&mut self) {
        #[cfg(target_os = "linux")]
        {
            let input = self.input.clone();
            crate::tray_host::watch(Box::new(move |seen| {
                if input.try_send(DesktopInput::TrayHost(seen)).is_err() {
                    tracing::warn!("whether a tray shows OnAir's icon was found while the app was busy or ending");
                }
            }));
        }
    }

    fn desktop_shortcuts(&self) -> Option<Vec<(HotkeyPress, String)>> {
        self.app.try_state::<crate::portal::PortalShortcuts>().map(|portal| portal.bound())
    }
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

#[cfg(test)]
pub mod fake;
