//! Global hotkeys through tauri-plugin-global-shortcut (X11, macOS, Windows).
//!
//! Each binding is registered on its own so one that is taken by another
//! program is reported by name while the others still work. On Wayland nothing
//! can be grabbed: the desktop portal binds them ([`crate::portal`]) where it
//! can; elsewhere that is detected up front and explained.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;

use onair_headless::desktop::{grabbing_unavailable, HotkeyAction, HotkeySettings};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut};

/// Registered shortcut id -> action, read by the plugin's handler.
#[derive(Default)]
pub struct HotkeyMap(pub Mutex<HashMap<u32, HotkeyAction>>);

impl HotkeyMap {
    pub fn action(&self, shortcut: &Shortcut) -> Option<HotkeyAction> {
        self.0.lock().ok()?.get(&shortcut.id()).copied()
    }
}

/// Registers the enabled bindings; returns one message per binding that could
/// not be, naming it, or why none can be.
pub fn register<R: Runtime>(app: &AppHandle<R>, settings: &HotkeySettings) -> Vec<String> {
    let shortcuts = app.global_shortcut();
    let _ = shortcuts.unregister_all();
    let map = app.state::<HotkeyMap>();
    if let Ok(mut map) = map.0.lock() {
        map.clear();
    }
    // On Wayland with a GlobalShortcuts portal, the desktop binds the keys.
    if let Some(portal) = app.try_state::<crate::portal::PortalShortcuts>() {
        portal.bind(settings);
        return Vec::new();
    }
    if !settings.enabled {
        return Vec::new();
    }
    let session_type = std::env::var("XDG_SESSION_TYPE").ok();
    let wayland_display = std::env::var("WAYLAND_DISPLAY").ok();
    if let Some(reason) = grabbing_unavailable(session_type.as_deref(), wayland_display.as_deref()) {
        return vec![reason];
    }
    let mut problems = Vec::new();
    for (binding, actions) in settings.conflicts() {
        let names: Vec<&str> = actions.iter().map(|a| a.label()).collect();
        problems
            .push(format!("{binding} is bound to more than one action ({}); only the first gets it", names.join(", ")));
    }
    let mut taken = std::collections::HashSet::new();
    for action in HotkeyAction::ALL {
        let Some(binding) = settings.binding(action) else { continue };
        if !taken.insert(binding.clone()) {
            continue;
        }
        let shortcut = match Shortcut::from_str(&binding) {
            Ok(shortcut) => shortcut,
            Err(e) => {
                problems.push(format!("{} ({binding}) is not a valid shortcut: {e}", action.label()));
                continue;
            }
        };
        match shortcuts.register(shortcut) {
            Ok(()) => {
                if let Ok(mut map) = map.0.lock() {
                    map.insert(shortcut.id(), action);
                }
                tracing::info!(action = action.key(), binding, "hotkey registered");
            }
            Err(e) => problems.push(format!("{} ({binding}) could not be registered: {e}", action.label())),
        }
    }
    problems
}
