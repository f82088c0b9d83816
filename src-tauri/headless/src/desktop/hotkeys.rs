//! Global hotkey bindings: which actions exist, their defaults, and checking
//! what the user typed before anything is registered.
//!
//! Hotkeys are off until the user turns them on: a global grab steals the key
//! from every other program, games and OBS included, and a streamer should choose
//! that. The defaults use Ctrl+Alt+Shift with a letter, a chord that OBS (no
//! default hotkeys), GNOME, KDE and common games leave free; M mutes the mic.

use std::collections::BTreeMap;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HotkeyAction {
    ToggleStream,
    ToggleRecording,
    PauseRecording,
    SaveReplay,
    ToggleVirtualCamera,
    PreviousScene,
    NextScene,
    /// Mutes or unmutes the first watched mic.
    ToggleMute,
}

impl HotkeyAction {
    pub const ALL: [HotkeyAction; 8] = [
        HotkeyAction::ToggleStream,
        HotkeyAction::ToggleRecording,
        HotkeyAction::PauseRecording,
        HotkeyAction::SaveReplay,
        HotkeyAction::ToggleVirtualCamera,
        HotkeyAction::PreviousScene,
        HotkeyAction::NextScene,
        HotkeyAction::ToggleMute,
    ];

    /// The key in the settings file's `[hotkeys]` table.
    pub fn key(self) -> &'static str {
        match self {
            HotkeyAction::ToggleStream => "toggle_stream",
            HotkeyAction::ToggleRecording => "toggle_recording",
            HotkeyAction::PauseRecording => "pause_recording",
            HotkeyAction::SaveReplay => "save_replay",
            HotkeyAction::ToggleVirtualCamera => "toggle_virtual_camera",
            HotkeyAction::PreviousScene => "previous_scene",
            HotkeyAction::NextScene => "next_scene",
            HotkeyAction::ToggleMute => "toggle_mute",
        }
    }

    /// Its name towards the window (and in its JSON form): `toggle-stream`.
    pub fn wire_name(self) -> &'static str {
        match self {
            HotkeyAction::ToggleStream => "toggle-stream",
            HotkeyAction::ToggleRecording => "toggle-recording",
            HotkeyAction::PauseRecording => "pause-recording",
            HotkeyAction::SaveReplay => "save-replay",
            HotkeyAction::ToggleVirtualCamera => "toggle-virtual-camera",
            HotkeyAction::PreviousScene => "previous-scene",
            HotkeyAction::NextScene => "next-scene",
            HotkeyAction::ToggleMute => "toggle-mute",
        }
    }

    /// The action with this wire name, if there is one.
    pub fn from_wire_name(name: &str) -> Option<HotkeyAction> {
        HotkeyAction::ALL.into_iter().find(|a| a.wire_name() == name)
    }

    /// How people call it.
    pub fn label(self) -> &'static str {
        match self {
            HotkeyAction::ToggleStream => "Start/stop streaming",
            HotkeyAction::ToggleRecording => "Start/stop recording",
            HotkeyAction::PauseRecording => "Pause/resume recording",
            HotkeyAction::SaveReplay => "Save replay",
            HotkeyAction::ToggleVirtualCamera => "Start/stop virtual camera",
            HotkeyAction::PreviousScene => "Previous scene",
            HotkeyAction::NextScene => "Next scene",
            HotkeyAction::ToggleMute => "Mute/unmute mic",
        }
    }

    pub fn default_binding(self) -> &'static str {
        match self {
            HotkeyAction::ToggleStream => "Ctrl+Alt+Shift+S",
            HotkeyAction::ToggleRecording => "Ctrl+Alt+Shift+E",
            HotkeyAction::PauseRecording => "Ctrl+Alt+Shift+P",
            HotkeyAction::SaveReplay => "Ctrl+Alt+Shift+B",
            HotkeyAction::ToggleVirtualCamera => "Ctrl+Alt+Shift+V",
            HotkeyAction::PreviousScene => "Ctrl+Alt+Shift+PageUp",
            HotkeyAction::NextScene => "Ctrl+Alt+Shift+PageDown",
            HotkeyAction::ToggleMute => "Ctrl+Alt+Shift+M",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotkeySettings {
    pub enabled: bool,
    /// The first OBS's; `None` leaves the action unbound.
    pub bindings: BTreeMap<HotkeyAction, Option<String>>,
    /// Bindings that name another OBS: its name (as `[[connections]]` has it)
    /// -> action -> binding (`[hotkeys."Game PC"]`). No defaults.
    pub for_connection: BTreeMap<String, BTreeMap<HotkeyAction, String>>,
}

/// A hotkey's action and the OBS it acts on: the first, unless its binding
/// names another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HotkeyPress {
    /// The OBS's name; `None` for the first.
    pub connection: Option<String>,
    pub action: HotkeyAction,
}

impl HotkeyPress {
    pub fn first(action: HotkeyAction) -> HotkeyPress {
        HotkeyPress { connection: None, action }
    }

    /// Its id towards the desktop portal, which `Activated` sends back: the
    /// action's wire name, after `NAME/` for a named OBS.
    pub fn portal_id(&self) -> String {
        match &self.connection {
            None => self.action.wire_name().to_string(),
            Some(name) => format!("{name}/{}", self.action.wire_name()),
        }
    }

    /// The press a portal id stands for (names may hold `/`: the action is after the last).
    pub fn from_portal_id(id: &str) -> Option<HotkeyPress> {
        match id.rsplit_once('/') {
            None => Some(HotkeyPress::first(HotkeyAction::from_wire_name(id)?)),
            Some((name, action)) => {
                Some(HotkeyPress { connection: Some(name.to_string()), action: HotkeyAction::from_wire_name(action)? })
            }
        }
    }

    /// How people call it: "Start/stop streaming", or "Start/stop streaming on Game PC".
    pub fn label(&self) -> String {
        match &self.connection {
            None => self.action.label().to_string(),
            Some(name) => format!("{} on {name}", self.action.label()),
        }
    }
}

impl Default for HotkeySettings {
    fn default() -> Self {
        HotkeySettings {
            enabled: false,
            bindings: HotkeyAction::ALL.iter().map(|a| (*a, Some(a.default_binding().to_string()))).collect(),
            for_connection: BTreeMap::new(),
        }
    }
}

impl HotkeySettings {
    pub fn binding(&self, action: HotkeyAction) -> Option<String> {
        self.bindings.get(&action).cloned().unwrap_or_else(|| Some(action.default_binding().to_string()))
    }

    /// Every binding to register, the first OBS's first (unbound actions left out).
    pub fn presses(&self) -> Vec<(HotkeyPress, String)> {
        let first = HotkeyAction::ALL.into_iter().filter_map(|a| Some((HotkeyPress::first(a), self.binding(a)?)));
        let named = self.for_connection.iter().flat_map(|(name, bindings)| {
            bindings.iter().map(|(action, binding)| {
                (HotkeyPress { connection: Some(name.clone()), action: *action }, binding.clone())
            })
        });
        first.chain(named).collect()
    }

    /// Bindings used by more than one action, as (binding, actions).
    pub fn conflicts(&self) -> Vec<(String, Vec<HotkeyAction>)> {
        let mut by_binding: BTreeMap<String, Vec<HotkeyAction>> = BTreeMap::new();
        for action in HotkeyAction::ALL {
            if let Some(binding) = self.binding(action) {
                by_binding.entry(binding).or_default().push(action);
            }
        }
        by_binding.into_iter().filter(|(_, actions)| actions.len() > 1).collect()
    }
}

const NAMED_KEYS: [&str; 22] = [
    "Space",
    "Enter",
    "Tab",
    "Backspace",
    "Delete",
    "Insert",
    "Home",
    "End",
    "PageUp",
    "PageDown",
    "Up",
    "Down",
    "Left",
    "Right",
    "Minus",
    "Equal",
    "Comma",
    "Period",
    "Slash",
    "Semicolon",
    "Quote",
    "Backquote",
];

/// Checks and canonicalises an accelerator such as `ctrl+alt+shift+s` into
/// `Ctrl+Alt+Shift+S`. At least one modifier is required (a bare key grabbed
/// globally would stop the user from typing it), except for F13-F24.
///
/// The window applies the same rule (ui/hotkeys.js); both are checked against
/// one table of cases. So only ASCII whitespace is trimmed, only ASCII letters
/// fold case, and a function key has one or two digits.
pub fn normalize(accelerator: &str) -> Result<String, String> {
    let parts: Vec<&str> = accelerator.split('+').map(|p| p.trim_matches(|c: char| c.is_ascii_whitespace())).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("{accelerator:?} is not a key combination like Ctrl+Alt+Shift+S"));
    }
    let (key, modifiers) = parts.split_last().ok_or_else(|| "the binding is empty".to_string())?;
    let mut ctrl = false;
    let mut alt = false;
    let mut shift = false;
    let mut super_key = false;
    for modifier in modifiers {
        match modifier.to_ascii_lowercase().as_str() {
            "ctrl" | "control" | "commandorcontrol" | "cmdorctrl" => ctrl = true,
            "alt" | "option" => alt = true,
            "shift" => shift = true,
            "super" | "meta" | "cmd" | "command" | "win" => super_key = true,
            other => return Err(format!("{other:?} is not a modifier (use Ctrl, Alt, Shift or Super)")),
        }
    }
    let key = canonical_key(key).ok_or_else(|| format!("{key:?} is not a key OnAir can bind"))?;
    let is_high_function_key = key.strip_prefix('F').and_then(|n| n.parse::<u8>().ok()).is_some_and(|n| n >= 13);
    if !(ctrl || alt || shift || super_key || is_high_function_key) {
        return Err(format!("{key} alone would stop you typing it anywhere; add Ctrl, Alt, Shift or Super"));
    }
    let mut out: Vec<String> = Vec::new();
    for (on, name) in [(ctrl, "Ctrl"), (alt, "Alt"), (shift, "Shift"), (super_key, "Super")] {
        if on {
            out.push(name.to_string());
        }
    }
    out.push(key);
    Ok(out.join("+"))
}

fn canonical_key(key: &str) -> Option<String> {
    if key.len() == 1 {
        let c = key.chars().next()?;
        if c.is_ascii_alphanumeric() {
            return Some(c.to_ascii_uppercase().to_string());
        }
        return None;
    }
    if let Some(digits) = key.strip_prefix(['F', 'f']) {
        if (1..=2).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
            let n: u8 = digits.parse().ok()?;
            return (1..=24).contains(&n).then(|| format!("F{n}"));
        }
    }
    NAMED_KEYS.iter().find(|k| k.eq_ignore_ascii_case(key)).map(|k| k.to_string())
}

/// Why global hotkeys cannot work in this session, if they cannot: on Wayland
/// no application may grab keys.
pub fn grabbing_unavailable(session_type: Option<&str>, wayland_display: Option<&str>) -> Option<String> {
    let wayland = session_type.is_some_and(|t| t.eq_ignore_ascii_case("wayland"))
        || wayland_display.is_some_and(|d| !d.is_empty());
    wayland.then(|| {
        "global hotkeys cannot be grabbed on Wayland; bind commands such as `onair stream toggle` in your desktop's keyboard settings instead".to_string()
    })
}

/// The environment variable that chooses how hotkeys reach OnAir: `portal`
/// (the XDG desktop portal's GlobalShortcuts, even outside Wayland) or `grab`
/// (a global grab, even on Wayland); unset or anything else: decided by the session.
pub const SHORTCUTS_ENV: &str = "ONAIR_SHORTCUTS";

/// Whether to ask the desktop portal for the hotkeys instead of grabbing
/// them: on Wayland, where no application may grab keys, or when asked to.
pub fn wants_portal(session_type: Option<&str>, wayland_display: Option<&str>, shortcuts: Option<&str>) -> bool {
    match shortcuts.map(str::trim) {
        Some(s) if s.eq_ignore_ascii_case("portal") => true,
        Some(s) if s.eq_ignore_ascii_case("grab") => false,
        _ => grabbing_unavailable(session_type, wayland_display).is_some(),
    }
}

/// One action as the portal's `BindShortcuts` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalShortcut {
    pub press: HotkeyPress,
    /// The shortcut's id ([`HotkeyPress::portal_id`]), which `Activated` sends back.
    pub id: String,
    /// What the desktop's shortcut settings show for it.
    pub description: String,
    /// The binding from the settings in the portal's syntax; the desktop may
    /// ask the user or pick another, so this is only a wish.
    pub preferred_trigger: Option<String>,
}

/// The shortcuts to bind through the portal: none while hotkeys are off;
/// otherwise every action, so the user can give a trigger in the desktop's
/// settings even to an action OnAir leaves unbound. A binding that an earlier
/// action already has (or that has no portal spelling) is not wished for twice.
pub fn portal_shortcuts(settings: &HotkeySettings) -> Vec<PortalShortcut> {
    if !settings.enabled {
        return Vec::new();
    }
    let mut wished = std::collections::HashSet::new();
    let mut wish = |binding: Option<String>| {
        binding.and_then(|binding| portal_trigger(&binding)).filter(|trigger| wished.insert(trigger.clone()))
    };
    let mut shortcuts: Vec<PortalShortcut> = HotkeyAction::ALL
        .into_iter()
        .map(|action| {
            let press = HotkeyPress::first(action);
            let preferred_trigger = wish(settings.binding(action));
            PortalShortcut { id: press.portal_id(), description: press.label(), press, preferred_trigger }
        })
        .collect();
    // A named OBS's actions only where a binding names them.
    for (name, bindings) in &settings.for_connection {
        for (action, binding) in bindings {
            let press = HotkeyPress { connection: Some(name.clone()), action: *action };
            let preferred_trigger = wish(Some(binding.clone()));
            shortcuts.push(PortalShortcut {
                id: press.portal_id(),
                description: press.label(),
                press,
                preferred_trigger,
            });
        }
    }
    shortcuts
}

/// A binding such as `Ctrl+Alt+Shift+PageUp` in the syntax of the XDG
/// shortcuts specification, which the portal's `preferred_trigger` uses:
/// upper-case modifiers (`CTRL`, `ALT`, `SHIFT`, `LOGO`) and an XKB key name
/// (`CTRL+ALT+SHIFT+Page_Up`). `None` for what is not a valid binding.
pub fn portal_trigger(binding: &str) -> Option<String> {
    let canonical = normalize(binding).ok()?;
    let mut parts: Vec<&str> = canonical.split('+').collect();
    let key = parts.pop()?;
    let mut out: Vec<&str> = parts
        .into_iter()
        .map(|modifier| match modifier {
            "Ctrl" => "CTRL",
            "Alt" => "ALT",
            "Shift" => "SHIFT",
            _ => "LOGO",
        })
        .collect();
    let key = match key {
        "Space" => "space",
        "Enter" => "Return",
        "Backspace" => "BackSpace",
        "PageUp" => "Page_Up",
        "PageDown" => "Page_Down",
        "Minus" => "minus",
        "Equal" => "equal",
        "Comma" => "comma",
        "Period" => "period",
        "Slash" => "slash",
        "Semicolon" => "semicolon",
        "Quote" => "apostrophe",
        "Backquote" => "grave",
        // Letters, digits, F1-F24 and the rest (Tab, Home, Up...) are their XKB names already.
        other => other,
    };
    out.push(key);
    Some(out.join("+"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_are_the_json_names_and_read_back() {
        for action in HotkeyAction::ALL {
            assert_eq!(serde_json::to_value(action).unwrap(), action.wire_name());
            assert_eq!(HotkeyAction::from_wire_name(action.wire_name()), Some(action));
            assert_eq!(action.key().replace('_', "-"), action.wire_name(), "the file's key in the other spelling");
        }
        assert_eq!(HotkeyAction::from_wire_name("toggle_stream"), None);
        let mute = HotkeyAction::ToggleMute;
        assert_eq!((mute.key(), mute.wire_name(), mute.label()), ("toggle_mute", "toggle-mute", "Mute/unmute mic"));
        assert_eq!(mute.default_binding(), "Ctrl+Alt+Shift+M");
    }

    #[test]
    fn accelerators_are_canonicalised() {
        assert_eq!(normalize("ctrl+alt+shift+s").unwrap(), "Ctrl+Alt+Shift+S");
        assert_eq!(normalize("Shift + Control + pageup").unwrap(), "Ctrl+Shift+PageUp");
        assert_eq!(normalize("super+f5").unwrap(), "Super+F5");
        assert_eq!(normalize("F13").unwrap(), "F13");
    }

    #[test]
    fn bad_accelerators_say_why() {
        assert!(normalize("S").unwrap_err().contains("add Ctrl"));
        assert!(normalize("Ctrl+Banana").unwrap_err().contains("not a key"));
        assert!(normalize("Hyper+S").unwrap_err().contains("not a modifier"));
        assert!(normalize("Ctrl++").is_err());
        assert!(normalize("").is_err());
    }

    #[test]
    fn defaults_are_valid_distinct_and_off() {
        let settings = HotkeySettings::default();
        assert!(!settings.enabled);
        assert!(settings.conflicts().is_empty());
        for action in HotkeyAction::ALL {
            assert_eq!(normalize(action.default_binding()).unwrap(), action.default_binding());
        }
    }

    #[test]
    fn conflicts_are_found() {
        let mut settings = HotkeySettings::default();
        settings.bindings.insert(HotkeyAction::SaveReplay, Some("Ctrl+Alt+Shift+S".into()));
        assert_eq!(
            settings.conflicts(),
            vec![("Ctrl+Alt+Shift+S".to_string(), vec![HotkeyAction::ToggleStream, HotkeyAction::SaveReplay])]
        );
    }

    #[test]
    fn wayland_is_detected() {
        assert!(grabbing_unavailable(Some("wayland"), None).is_some());
        assert!(grabbing_unavailable(Some("x11"), Some("wayland-0")).is_some());
        assert!(grabbing_unavailable(Some("x11"), None).is_none());
        assert!(grabbing_unavailable(None, None).is_none());
    }

    #[test]
    fn portal_triggers_use_the_shortcuts_spec_syntax() {
        assert_eq!(portal_trigger("Ctrl+Alt+Shift+S").as_deref(), Some("CTRL+ALT+SHIFT+S"));
        assert_eq!(portal_trigger("shift+ctrl+pagedown").as_deref(), Some("CTRL+SHIFT+Page_Down"));
        assert_eq!(portal_trigger("Super+Quote").as_deref(), Some("LOGO+apostrophe"));
        assert_eq!(portal_trigger("Alt+Space").as_deref(), Some("ALT+space"));
        assert_eq!(portal_trigger("F13").as_deref(), Some("F13"));
        assert_eq!(portal_trigger("Ctrl+7").as_deref(), Some("CTRL+7"));
        assert_eq!(portal_trigger("Ctrl+Banana"), None);
        assert_eq!(portal_trigger("S"), None);
    }

    #[test]
    fn every_action_is_bound_through_the_portal_with_its_wish() {
        assert!(portal_shortcuts(&HotkeySettings::default()).is_empty(), "off: nothing bound");
        let mut settings = HotkeySettings { enabled: true, ..HotkeySettings::default() };
        settings.bindings.insert(HotkeyAction::SaveReplay, None);
        settings.bindings.insert(HotkeyAction::NextScene, Some("Ctrl+Alt+Shift+S".into()));
        let shortcuts = portal_shortcuts(&settings);
        let ids: Vec<&str> = shortcuts.iter().map(|s| s.id.as_str()).collect();
        let all: Vec<&str> = HotkeyAction::ALL.iter().map(|a| a.wire_name()).collect();
        assert_eq!(ids, all);
        let wish = |action: HotkeyAction| {
            shortcuts.iter().find(|s| s.press == HotkeyPress::first(action)).and_then(|s| s.preferred_trigger.clone())
        };
        assert_eq!(wish(HotkeyAction::ToggleStream).as_deref(), Some("CTRL+ALT+SHIFT+S"));
        assert_eq!(wish(HotkeyAction::PreviousScene).as_deref(), Some("CTRL+ALT+SHIFT+Page_Up"));
        assert_eq!(wish(HotkeyAction::SaveReplay), None, "unbound in the settings: no wish");
        assert_eq!(wish(HotkeyAction::NextScene), None, "taken by an earlier action: no second wish");
        let mute = shortcuts.iter().find(|s| s.press.action == HotkeyAction::ToggleMute).unwrap();
        assert_eq!((mute.id.as_str(), mute.description.as_str()), ("toggle-mute", "Mute/unmute mic"));
    }

    #[test]
    fn the_portal_is_wanted_on_wayland_or_when_asked() {
        assert!(wants_portal(Some("wayland"), None, None));
        assert!(wants_portal(None, Some("wayland-0"), None));
        assert!(!wants_portal(Some("x11"), None, None));
        assert!(wants_portal(Some("x11"), None, Some("portal")));
        assert!(!wants_portal(Some("wayland"), None, Some("grab")));
        assert!(wants_portal(Some("wayland"), None, Some("whatever")));
    }

    #[test]
    fn a_binding_that_names_an_obs_is_its_own_press_and_portal_shortcut() {
        let mut settings = HotkeySettings { enabled: true, ..HotkeySettings::default() };
        let game = BTreeMap::from([(HotkeyAction::ToggleStream, "Ctrl+Alt+Shift+G".to_string())]);
        settings.for_connection.insert("Game PC/2".into(), game);
        let press = HotkeyPress { connection: Some("Game PC/2".into()), action: HotkeyAction::ToggleStream };
        assert_eq!(press.portal_id(), "Game PC/2/toggle-stream");
        assert_eq!(HotkeyPress::from_portal_id(&press.portal_id()), Some(press.clone()), "a name with a slash");
        assert_eq!(HotkeyPress::from_portal_id("toggle-mute"), Some(HotkeyPress::first(HotkeyAction::ToggleMute)));
        assert_eq!(HotkeyPress::from_portal_id("Game PC/launch"), None);
        assert_eq!(press.label(), "Start/stop streaming on Game PC/2");
        let presses = settings.presses();
        assert_eq!(presses.len(), HotkeyAction::ALL.len() + 1);
        assert_eq!(presses.last(), Some(&(press.clone(), "Ctrl+Alt+Shift+G".to_string())));
        let shortcut = portal_shortcuts(&settings).pop().expect("the named one last");
        assert_eq!(shortcut.press, press);
        assert_eq!(shortcut.preferred_trigger.as_deref(), Some("CTRL+ALT+SHIFT+G"));
        assert_eq!(shortcut.description, "Start/stop streaming on Game PC/2");
    }
}
