//! Global hotkeys through tauri-plugin-global-shortcut (X11, macOS, Windows).
//!
//! Each binding is registered on its own so one that is taken by another
//! program is reported by name while the others still work. On Wayland nothing
//! can be grabbed: the desktop portal binds them ([`crate::portal`]) where it
//! can; elsewhere that is detected up front and explained.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;

use onair_headless::desktop::{grabbing_unavailable, HotkeyPress, HotkeySettings};
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_global_shortcut::{GlobalShortcutExt, Shortcut};

/// Registered shortcut id -> the action and the OBS it acts on, read by the plugin's handler.
#[derive(Default)]
pub struct HotkeyMap(pub Mutex<HashMap<u32, HotkeyPress>>);

impl HotkeyMap {
    pub fn press(&self, shortcut: &Shortcut) -> Option<HotkeyPress> {
        self.0.lock().ok()?.get(&shortcut.id()).cloned()
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
    let mut taken: HashMap<String, HotkeyPress> = HashMap::new();
    for (press, binding) in settings.presses() {
        // The first OBS's own clashes are reported above; one with a named OBS's binding here.
        if let Some(first) = taken.get(&binding) {
            if press.connection.is_some() {
                problems.push(format!(
                    "{binding} is bound to {} already; {} does not get it",
                    first.label(),
                    press.label()
                ));
            }
            continue;
        }
        taken.insert(binding.clone(), press.clone());
        let shortcut = match Shortcut::from_str(&binding) {
            Ok(shortcut) => shortcut,
            Err(e) => {
                problems.push(format!("{} ({binding}) is not a valid shortcut: {e}", press.label()));
                continue;
            }
        };
        match shortcuts.register(shortcut) {
            Ok(()) => {
                tracing::info!(
                    action = press.action.key(),
                    connection = press.connection.as_deref(),
                    binding,
                    "hotkey registered"
                );
                if let Ok(mut map) = map.0.lock() {
                    map.insert(shortcut.id(), press);
                }
            }
            Err(e) => problems.push(format!("{} ({binding}) could not be registered: {e}", press.label())),
        }
    }
    problems
}
