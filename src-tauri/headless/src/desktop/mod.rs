//! The desktop's pure policy: what the tray and the window's buttons show,
//! which notification a moment deserves, what a click, a hotkey or a button
//! press sends to OBS, and when a stop needs a second press. No GUI
//! toolkit here; the app crate's adapters (`tray`, `notify`, `hotkeys`) carry
//! out what these decide, and tests compare the decisions with `==`.

mod actions;
pub mod autostart;
mod controls;
mod hotkeys;
mod notify;
mod stop_guard;
mod tray;
mod tray_host;

pub use actions::{hotkey_action, menu_control, press, Press};
pub use controls::{window_controls, ControlView, Controls};
pub use hotkeys::{
    grabbing_unavailable, normalize as normalize_hotkey, portal_shortcuts, portal_trigger, wants_portal, HotkeyAction,
    HotkeyPress, HotkeySettings, PortalShortcut, SHORTCUTS_ENV,
};
pub use notify::{
    NotificationAction, NotificationButton, NotificationPlan, NotificationPolicy, Urgency, COALESCE_MS, OBS_SLOT,
    STREAM_SLOT,
};
pub use stop_guard::{StopDecision, StopGuard};
pub use tray::{
    has_running_clock, menu_model, menu_model_several, tray_icon, tray_icon_of_all, MenuAction, MenuContext, MenuEntry,
    MenuSection, TrayIcon,
};
pub use tray_host::{tray_host_plan, TrayHostPlan, TrayHostSeen, NO_TRAY_KIND};
