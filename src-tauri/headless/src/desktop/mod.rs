//! The desktop's pure policy: what the tray shows, which notification a moment
//! deserves, what a hotkey means, and when a stop needs a second press. No GUI
//! toolkit here; the app crate's adapters (`tray`, `notify`, `hotkeys`) carry
//! out what these decide, and tests compare the decisions with `==`.

mod hotkeys;
mod notify;
mod tray;

pub use hotkeys::{grabbing_unavailable, normalize as normalize_hotkey, HotkeyAction, HotkeySettings};
pub use notify::{
    NotificationAction, NotificationPlan, NotificationPolicy, Urgency, COALESCE_MS, OBS_SLOT, STREAM_SLOT,
};
pub use tray::{
    has_running_clock, menu_model, tray_icon, MenuAction, MenuContext, MenuEntry, StopDecision, StopGuard, TrayIcon,
};
