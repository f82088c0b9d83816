//! A desktop that records what the controller asks of it, for tests that
//! drive the controller's whole loop without a display.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use onair_headless::desktop::{
    HotkeyPress, HotkeySettings, MenuEntry, NotificationAction, NotificationButton, NotificationPlan, TrayIcon,
};

use super::GuiIntegration;
use crate::window::{Page, WindowPush};

/// What a desktop portal says each shortcut is bound to.
type BoundShortcuts = Vec<(HotkeyPress, String)>;

/// One thing the controller asked of the desktop.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Tray { icon: TrayIcon, menu: Vec<MenuEntry> },
    Notify(NotificationAction),
    OpenWindow(Page),
    Push(Box<WindowPush>),
    RegisterHotkeys(HotkeySettings),
    StartOnLogin(bool),
    Quit,
    WatchTrayHost,
}

/// Cloned handles share one record, so a test keeps one while the controller owns another.
#[derive(Clone, Default)]
pub struct FakeDesktop {
    calls: Arc<Mutex<Vec<Call>>>,
    /// What registering hotkeys answers, as a desktop where some are taken would.
    pub hotkey_problems: Vec<String>,
    /// What a desktop portal says the shortcuts are bound to; `None`: no portal.
    pub desktop_shortcuts: Arc<Mutex<Option<BoundShortcuts>>>,
}

impl FakeDesktop {
    fn record(&self) -> MutexGuard<'_, Vec<Call>> {
        self.calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every call since the last `take`, in order.
    pub fn take(&self) -> Vec<Call> {
        std::mem::take(&mut *self.record())
    }

    /// Waits until a call since the last `take` matches, and returns it (the
    /// calls stay recorded); fails the test after 10 s, naming what it waited for.
    pub async fn wait_for<T>(&self, what: &str, find: impl Fn(&Call) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(found) = self.record().iter().find_map(&find) {
                return found;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited 10 s for {what}; the desktop got {:#?}",
                self.record()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The notifications shown among `calls`.
pub fn shown(calls: &[Call]) -> Vec<&NotificationPlan> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Notify(NotificationAction::Show(plan)) => Some(plan),
            _ => None,
        })
        .collect()
}

/// The buttons the notifications among `calls` offer, with the slot of each:
/// what a user could press, which the real desktop sends back as
/// `DesktopInput::NotificationButton`.
pub fn buttons(calls: &[Call]) -> Vec<(&'static str, NotificationButton)> {
    shown(calls).into_iter().filter_map(|plan| Some((plan.slot, plan.button.clone()?))).collect()
}

/// The notification actions among `calls`, shown and closed.
pub fn notifications(calls: &[Call]) -> Vec<NotificationAction> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Notify(action) => Some(action.clone()),
            _ => None,
        })
        .collect()
}

impl GuiIntegration for FakeDesktop {
    fn show_tray(&mut self, icon: TrayIcon, menu: &[MenuEntry]) {
        self.record().push(Call::Tray { icon, menu: menu.to_vec() });
    }

    fn notify(&mut self, action: NotificationAction) {
        self.record().push(Call::Notify(action));
    }

    fn open_window(&mut self, page: Page) {
        self.record().push(Call::OpenWindow(page));
    }

    fn push(&mut self, push: WindowPush) {
        self.record().push(Call::Push(Box::new(push)));
    }

    fn register_hotkeys(&mut self, settings: &HotkeySettings) -> Vec<String> {
        self.record().push(Call::RegisterHotkeys(settings.clone()));
        self.hotkey_problems.clone()
    }

    fn set_start_on_login(&mut self, wanted: bool) {
        self.record().push(Call::StartOnLogin(wanted));
    }

    fn quit(&mut self) {
        self.record().push(Call::Quit);
    }

    fn watch_tray_host(&mut self) {
        self.record().push(Call::WatchTrayHost);
    }

    fn desktop_shortcuts(&self) -> Option<Vec<(HotkeyPress, String)>> {
        self.desktop_shortcuts.lock().map(|s| s.clone()).unwrap_or_default()
    }
}
