//! The tray menu as data: a pure function from the state to the rows and items
//! the menu shows, compared with `==` in tests and rendered by the tray.
//!
//! Linux tray hosts show no tooltip and send no clicks on the icon, so the
//! first rows carry the state in words. Items that cannot act now are disabled,
//! never hidden, so the menu keeps its shape and the user sees why.
//!
//! While the stream guard has an alert open, the icon turns to a warning and
//! the first row names the oldest alert with its running time, so a glance at
//! the panel says something is wrong even with the notification gone.

use crate::desktop::controls::mic_control_id;
use crate::desktop::window_controls;
use crate::guard::OpenAlert;
use crate::state::{ConnectionState, OutputActivity, RecordingState, State, StreamState};
use crate::text;

/// What a menu item does when clicked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuAction {
    ToggleStream,
    ToggleRecording,
    TogglePause,
    SaveReplay,
    ToggleVirtualCamera,
    SwitchScene(String),
    /// Mutes or unmutes this watched mic (by its name in OBS), whichever the
    /// check item's state says it is not.
    ToggleMute(String),
    Reconnect,
    OpenWindow,
    OpenSettings,
    Quit,
    /// An action for the OBS at this index of the settings' connections (0 is
    /// the first), from its section of a menu with several.
    ForConnection(usize, Box<MenuAction>),
}

impl MenuAction {
    /// A stable id for the toolkit's menu item.
    pub fn id(&self) -> String {
        match self {
            MenuAction::ToggleStream => "stream".into(),
            MenuAction::ToggleRecording => "record".into(),
            MenuAction::TogglePause => "pause".into(),
            MenuAction::SaveReplay => "replay-save".into(),
            MenuAction::ToggleVirtualCamera => "vcam".into(),
            MenuAction::SwitchScene(name) => format!("scene:{name}"),
            MenuAction::ToggleMute(name) => format!("mute:{name}"),
            MenuAction::Reconnect => "reconnect".into(),
            MenuAction::OpenWindow => "open".into(),
            MenuAction::OpenSettings => "settings".into(),
            MenuAction::Quit => "quit".into(),
            MenuAction::ForConnection(index, action) => format!("obs{index}/{}", action.id()),
        }
    }

    pub fn from_id(id: &str) -> Option<MenuAction> {
        if let Some((index, inner)) = id.strip_prefix("obs").and_then(|rest| rest.split_once('/')) {
            if let Ok(index) = index.parse::<usize>() {
                return Some(MenuAction::ForConnection(index, Box::new(MenuAction::from_id(inner)?)));
            }
        }
        if let Some(name) = id.strip_prefix("scene:") {
            return Some(MenuAction::SwitchScene(name.to_string()));
        }
        if let Some(name) = id.strip_prefix("mute:") {
            return Some(MenuAction::ToggleMute(name.to_string()));
        }
        Some(match id {
            "stream" => MenuAction::ToggleStream,
            "record" => MenuAction::ToggleRecording,
            "pause" => MenuAction::TogglePause,
            "replay-save" => MenuAction::SaveReplay,
            "vcam" => MenuAction::ToggleVirtualCamera,
            "reconnect" => MenuAction::Reconnect,
            "open" => MenuAction::OpenWindow,
            "settings" => MenuAction::OpenSettings,
            "quit" => MenuAction::Quit,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MenuEntry {
    /// A disabled row that tells the state; `id` keeps it in place across updates.
    Info {
        id: String,
        label: String,
    },
    Item {
        action: MenuAction,
        label: String,
        enabled: bool,
    },
    Check {
        action: MenuAction,
        label: String,
        checked: bool,
        enabled: bool,
    },
    Submenu {
        id: String,
        label: String,
        enabled: bool,
        entries: Vec<MenuEntry>,
    },
    Separator,
}

/// Things the menu shows that are not OBS's state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MenuContext {
    /// A first press on "Stop Streaming" is waiting for its confirming second press.
    pub stop_armed: bool,
}

/// The whole menu for this state, with one OBS.
pub fn menu_model(state: &State, context: &MenuContext, now_ms: u64) -> Vec<MenuEntry> {
    let mut entries = state_rows(state, now_ms);
    entries.push(MenuEntry::Separator);
    entries.extend(control_entries(state, context));
    entries.push(MenuEntry::Separator);
    entries.extend(reconnect_entry(state));
    entries.extend(app_entries());
    entries
}

/// One OBS's part of the menu when OnAir watches several.
#[derive(Debug, Clone, Copy)]
pub struct MenuSection<'a> {
    /// What the user calls this OBS (`[[connections]] name`, or `HOST:PORT`).
    pub name: &'a str,
    pub state: &'a State,
    pub context: &'a MenuContext,
}

/// The menu with several OBS: a section for each, in the settings' order (its
/// state rows, the first naming it, then its controls and scenes in a submenu
/// named after it), then OnAir's own items. Every id in section `i` is that
/// connection's ([`MenuAction::ForConnection`]), so a click reaches the OBS it
/// was shown for.
pub fn menu_model_several(sections: &[MenuSection<'_>], now_ms: u64) -> Vec<MenuEntry> {
    let mut entries = Vec::new();
    for (index, section) in sections.iter().enumerate() {
        let mut rows = state_rows(section.state, now_ms);
        // The state row says whose state it is; an alert row moves after it.
        if let Some(at) = rows.iter().position(|row| matches!(row, Info { id, .. } if id == "status")) {
            let mut status = rows.remove(at);
            if let Info { label, .. } = &mut status {
                *label = format!("{}: {label}", section.name);
            }
            rows.insert(0, status);
        }
        let mut controls = control_entries(section.state, section.context);
        if let Some(reconnect) = reconnect_entry(section.state) {
            controls.push(MenuEntry::Separator);
            controls.push(reconnect);
        }
        rows.push(MenuEntry::Submenu {
            id: "controls".into(),
            label: section.name.to_string(),
            enabled: true,
            entries: controls,
        });
        entries.extend(for_connection(index, rows));
        entries.push(MenuEntry::Separator);
    }
    entries.extend(app_entries());
    entries
}

/// Entries as connection `index`'s: its ids and actions marked with it.
fn for_connection(index: usize, entries: Vec<MenuEntry>) -> Vec<MenuEntry> {
    let own = |id: String| format!("obs{index}/{id}");
    let action_of = |action: MenuAction| MenuAction::ForConnection(index, Box::new(action));
    entries
        .into_iter()
        .map(|entry| match entry {
            Info { id, label } => Info { id: own(id), label },
            Item { action, label, enabled } => Item { action: action_of(action), label, enabled },
            Check { action, label, checked, enabled } => Check { action: action_of(action), label, checked, enabled },
            MenuEntry::Submenu { id, label, enabled, entries } => {
                MenuEntry::Submenu { id: own(id), label, enabled, entries: for_connection(index, entries) }
            }
            MenuEntry::Separator => MenuEntry::Separator,
        })
        .collect()
}

/// The rows that tell OBS's state in words.
fn state_rows(state: &State, now_ms: u64) -> Vec<MenuEntry> {
    let mut entries = Vec::new();
    let obs = state.obs.as_ref();
    match obs {
        None => entries.push(Info { id: "status".into(), label: text::connection_line(state) }),
        Some(obs) => {
            if let Some(label) = alert_line(&obs.alerts, now_ms) {
                entries.push(Info { id: "alert".into(), label });
            }
            entries.push(Info { id: "status".into(), label: text::stream_line(obs, now_ms) });
            if let Some(line) = text::recording_line(obs, now_ms) {
                entries.push(Info { id: "recording".into(), label: line });
            }
            if let Some(scene) = &obs.program_scene {
                entries.push(Info { id: "scene".into(), label: format!("Scene: {scene}") });
            }
        }
    }
    entries
}

/// OBS's controls, its mics and its scenes.
fn control_entries(state: &State, context: &MenuContext) -> Vec<MenuEntry> {
    let mut entries = Vec::new();
    let obs = state.obs.as_ref();
    // Whether each control can act is the window buttons' rule: computed once.
    let controls = window_controls(state, context.stop_armed);
    let enabled = |id: &str| controls.items.iter().any(|c| c.id == id && c.enabled);

    let label = match obs.map(|o| &o.stream) {
        // A stop waiting for its confirmation never turns into a start.
        Some(StreamState::Offline) if context.stop_armed => "Stream Already Stopped",
        None | Some(StreamState::Offline) => "Start Streaming",
        Some(StreamState::Starting) => "Starting Stream…",
        Some(StreamState::Stopping { .. }) => "Stopping Stream…",
        Some(StreamState::Live { .. } | StreamState::Reconnecting { .. }) if context.stop_armed => {
            "Press Again to Stop Streaming"
        }
        Some(StreamState::Live { .. } | StreamState::Reconnecting { .. }) => "Stop Streaming",
    };
    entries.push(Item { action: MenuAction::ToggleStream, label: label.into(), enabled: enabled("stream") });

    let recording = obs.map(|o| &o.recording);
    let label = match recording {
        None | Some(RecordingState::Off) => "Start Recording",
        Some(RecordingState::Starting) => "Starting Recording…",
        Some(RecordingState::Stopping { .. }) => "Stopping Recording…",
        Some(RecordingState::Recording { .. } | RecordingState::Paused { .. }) => "Stop Recording",
    };
    entries.push(Item { action: MenuAction::ToggleRecording, label: label.into(), enabled: enabled("record") });
    let label = match recording {
        Some(RecordingState::Paused { .. }) => "Resume Recording",
        _ => "Pause Recording",
    };
    entries.push(Item { action: MenuAction::TogglePause, label: label.into(), enabled: enabled("pause") });

    entries.push(Item { action: MenuAction::SaveReplay, label: "Save Replay".into(), enabled: enabled("replay") });

    let label = match obs.map(|o| o.virtual_camera) {
        Some(OutputActivity::On) => "Stop Virtual Camera",
        Some(OutputActivity::Starting) => "Starting Virtual Camera…",
        Some(OutputActivity::Stopping) => "Stopping Virtual Camera…",
        Some(OutputActivity::Off | OutputActivity::Unavailable) | None => "Start Virtual Camera",
    };
    entries.push(Item { action: MenuAction::ToggleVirtualCamera, label: label.into(), enabled: enabled("vcam") });

    // One check item per watched mic, checked while muted. With a single mic
    // "Mute Mic" says it all; with several each names its input.
    let mics = obs.map(|o| o.mics.as_slice()).unwrap_or_default();
    for mic in mics {
        let label = if mics.len() == 1 { "Mute Mic".to_string() } else { format!("Mute {}", mic.name) };
        entries.push(Check {
            action: MenuAction::ToggleMute(mic.name.clone()),
            label,
            checked: mic.muted,
            enabled: enabled(&mic_control_id(&mic.name)),
        });
    }

    let scenes: Vec<MenuEntry> = obs
        .map(|o| {
            o.scenes
                .iter()
                .map(|name| Check {
                    action: MenuAction::SwitchScene(name.clone()),
                    label: name.clone(),
                    checked: o.program_scene.as_deref() == Some(name.as_str()),
                    enabled: !o.scene_collection_changing,
                })
                .collect()
        })
        .unwrap_or_default();
    entries.push(MenuEntry::Submenu {
        id: "scenes".into(),
        label: "Scenes".into(),
        enabled: !scenes.is_empty(),
        entries: scenes,
    });
    entries
}

/// "Reconnect Now" (or "Try Again"), while OBS is not there.
fn reconnect_entry(state: &State) -> Option<MenuEntry> {
    if state.obs.is_some() {
        return None;
    }
    let label = match &state.connection {
        ConnectionState::AuthFailed { .. } | ConnectionState::SessionInvalidated { .. } => "Try Again",
        _ => "Reconnect Now",
    };
    let enabled = !matches!(state.connection, ConnectionState::InvalidSettings { .. } | ConnectionState::Stopped);
    Some(Item { action: MenuAction::Reconnect, label: label.into(), enabled })
}

/// OnAir's own items, at the end of every menu.
fn app_entries() -> Vec<MenuEntry> {
    vec![
        Item { action: MenuAction::OpenWindow, label: "Open OnAir".into(), enabled: true },
        Item { action: MenuAction::OpenSettings, label: "Settings…".into(), enabled: true },
        MenuEntry::Separator,
        Item { action: MenuAction::Quit, label: "Quit OnAir".into(), enabled: true },
    ]
}

use MenuEntry::{Check, Info, Item};

/// The alert row: the oldest open alert, its mic, how long it has been open
/// (in [`text::span`]'s words, as its clearing note will say it), and how many
/// others are open: `⚠ Stream stalled · 42 s (+1 more)`. `None` when all is well.
fn alert_line(alerts: &[OpenAlert], now_ms: u64) -> Option<String> {
    // The guard lists kinds in a fixed order; the tray names the one that began first.
    let oldest = alerts.iter().min_by_key(|a| a.since_ms)?;
    let mut line = format!("⚠ {}", oldest.title);
    if let Some(mic) = &oldest.mic {
        line.push_str(&format!(" ({mic})"));
    }
    line.push_str(&format!(" · {}", text::span(now_ms.saturating_sub(oldest.since_ms))));
    if alerts.len() > 1 {
        line.push_str(&format!(" (+{} more)", alerts.len() - 1));
    }
    Some(line)
}

/// Which tray icon shows this state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayIcon {
    NotConnected,
    Offline,
    Live,
    Reconnecting,
    Recording,
    LiveRecording,
    /// The stream guard has an alert open.
    Alert,
    Error,
}

impl TrayIcon {
    /// The file stem in `icons/`.
    pub fn name(self) -> &'static str {
        match self {
            TrayIcon::NotConnected => "tray-not-connected",
            TrayIcon::Offline => "tray-offline",
            TrayIcon::Live => "tray-live",
            TrayIcon::Reconnecting => "tray-reconnecting",
            TrayIcon::Recording => "tray-recording",
            TrayIcon::LiveRecording => "tray-live-recording",
            TrayIcon::Alert => "tray-alert",
            TrayIcon::Error => "tray-error",
        }
    }
}

/// The icon for this state, the most pressing first: Error (the user must act
/// before OnAir sees anything), NotConnected (no OBS, so no alerts either),
/// Reconnecting (OBS itself says the stream is down, and has said so in its own
/// notification), Alert (live or recording, and something is wrong that OBS does
/// not show), then LiveRecording, Live, Recording, Offline.
pub fn tray_icon(state: &State) -> TrayIcon {
    let Some(obs) = &state.obs else {
        return if state.connection.needs_user() { TrayIcon::Error } else { TrayIcon::NotConnected };
    };
    let recording = obs.recording.is_active();
    match (&obs.stream, recording) {
        (StreamState::Reconnecting { .. }, _) => TrayIcon::Reconnecting,
        _ if !obs.alerts.is_empty() => TrayIcon::Alert,
        (StreamState::Live { .. }, true) => TrayIcon::LiveRecording,
        (StreamState::Live { .. }, false) => TrayIcon::Live,
        (_, true) => TrayIcon::Recording,
        _ => TrayIcon::Offline,
    }
}

/// The icon for several OBS: the most pressing of theirs, in the order a
/// streamer needs to hear it: an error (the user must act), a stream
/// reconnecting, an alert, then live (and recording), recording, not
/// connected, offline. So an OBS that is not running on one machine never
/// hides another's live stream.
pub fn tray_icon_of_all<'a>(states: impl IntoIterator<Item = &'a State>) -> TrayIcon {
    states.into_iter().map(tray_icon).max_by_key(|icon| icon.urgency()).unwrap_or(TrayIcon::NotConnected)
}

impl TrayIcon {
    /// How pressing the icon's news is, for [`tray_icon_of_all`].
    fn urgency(self) -> u8 {
        match self {
            TrayIcon::Offline => 0,
            TrayIcon::NotConnected => 1,
            TrayIcon::Recording => 2,
            TrayIcon::Live => 3,
            TrayIcon::LiveRecording => 4,
            TrayIcon::Alert => 5,
            TrayIcon::Reconnecting => 6,
            TrayIcon::Error => 7,
        }
    }
}

/// Whether the menu's words change with the clock (so it needs a tick): an
/// open alert's row counts its time too.
pub fn has_running_clock(state: &State) -> bool {
    state.obs.as_ref().is_some_and(|o| {
        o.stream.is_on_air() || matches!(o.recording, RecordingState::Recording { .. }) || !o.alerts.is_empty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desktop::{StopDecision, StopGuard};
    use crate::guard::AlertKind;
    use crate::state::{MicStatus, ObsStatus, OutputActivity};

    fn state(obs: Option<ObsStatus>, connection: ConnectionState) -> State {
        State { target: "localhost:4455".into(), connection, obs }
    }

    fn offline() -> ObsStatus {
        ObsStatus {
            program_scene: Some("Scene".into()),
            scenes: vec!["Scene".into(), "Gameplay".into()],
            ..ObsStatus::idle()
        }
    }

    fn connected() -> ConnectionState {
        ConnectionState::Connected { obs_version: "29.0.2".into(), websocket_version: "5.1.0".into() }
    }

    fn item(action: MenuAction, label: &str, enabled: bool) -> MenuEntry {
        Item { action, label: label.into(), enabled }
    }

    #[test]
    fn waiting_for_obs_says_where_and_disables_controls() {
        let s = state(None, ConnectionState::WaitingForObs { reason: "refused".into() });
        let menu = menu_model(&s, &MenuContext::default(), 0);
        assert_eq!(
            menu,
            vec![
                Info { id: "status".into(), label: "Waiting for OBS at localhost:4455".into() },
                MenuEntry::Separator,
                item(MenuAction::ToggleStream, "Start Streaming", false),
                item(MenuAction::ToggleRecording, "Start Recording", false),
                item(MenuAction::TogglePause, "Pause Recording", false),
                item(MenuAction::SaveReplay, "Save Replay", false),
                item(MenuAction::ToggleVirtualCamera, "Start Virtual Camera", false),
                MenuEntry::Submenu { id: "scenes".into(), label: "Scenes".into(), enabled: false, entries: vec![] },
                MenuEntry::Separator,
                item(MenuAction::Reconnect, "Reconnect Now", true),
                item(MenuAction::OpenWindow, "Open OnAir", true),
                item(MenuAction::OpenSettings, "Settings…", true),
                MenuEntry::Separator,
                item(MenuAction::Quit, "Quit OnAir", true),
            ]
        );
        assert_eq!(tray_icon(&s), TrayIcon::NotConnected);
    }

    #[test]
    fn offline_enables_start_and_checks_the_current_scene() {
        let s = state(Some(offline()), connected());
        let menu = menu_model(&s, &MenuContext::default(), 0);
        assert_eq!(menu[0], Info { id: "status".into(), label: "Offline".into() });
        assert_eq!(menu[1], Info { id: "scene".into(), label: "Scene: Scene".into() });
        assert!(menu.contains(&item(MenuAction::ToggleStream, "Start Streaming", true)));
        assert!(menu.contains(&MenuEntry::Submenu {
            id: "scenes".into(),
            label: "Scenes".into(),
            enabled: true,
            entries: vec![
                Check {
                    action: MenuAction::SwitchScene("Scene".into()),
                    label: "Scene".into(),
                    checked: true,
                    enabled: true
                },
                Check {
                    action: MenuAction::SwitchScene("Gameplay".into()),
                    label: "Gameplay".into(),
                    checked: false,
                    enabled: true
                },
            ]
        }));
        assert!(!menu.iter().any(|e| matches!(e, Item { action: MenuAction::Reconnect, .. })));
        assert_eq!(tray_icon(&s), TrayIcon::Offline);
    }

    #[test]
    fn live_and_recording_rows_read_at_a_glance() {
        let mut obs = offline();
        obs.stream = StreamState::Live { since_ms: 0 };
        obs.recording = RecordingState::Recording { since_ms: 60_000 };
        obs.replay_buffer = OutputActivity::On;
        let s = state(Some(obs), connected());
        let menu = menu_model(&s, &MenuContext::default(), 3_723_000);
        assert_eq!(menu[0], Info { id: "status".into(), label: "● LIVE 01:02:03".into() });
        assert_eq!(menu[1], Info { id: "recording".into(), label: "Recording 01:01:03".into() });
        assert!(menu.contains(&item(MenuAction::ToggleStream, "Stop Streaming", true)));
        assert!(menu.contains(&item(MenuAction::ToggleRecording, "Stop Recording", true)));
        assert!(menu.contains(&item(MenuAction::TogglePause, "Pause Recording", true)));
        assert!(menu.contains(&item(MenuAction::SaveReplay, "Save Replay", true)));
        assert_eq!(tray_icon(&s), TrayIcon::LiveRecording);
        assert!(has_running_clock(&s));
    }

    #[test]
    fn transitions_disable_the_item_that_is_moving() {
        let mut obs = offline();
        obs.stream = StreamState::Starting;
        obs.recording = RecordingState::Paused { since_ms: 0 };
        let menu = menu_model(&state(Some(obs), connected()), &MenuContext::default(), 0);
        assert!(menu.contains(&item(MenuAction::ToggleStream, "Starting Stream…", false)));
        assert!(menu.contains(&item(MenuAction::TogglePause, "Resume Recording", true)));
    }

    #[test]
    fn a_rejected_password_shows_the_error_icon_and_try_again() {
        let s = state(None, ConnectionState::AuthFailed { message: "OBS rejected the password".into() });
        let menu = menu_model(&s, &MenuContext::default(), 0);
        let Info { id, label } = &menu[0] else { panic!("the state row first: {menu:?}") };
        assert_eq!(id, "status");
        assert!(label.starts_with("OBS rejected the password: copy it from OBS's Tools › WebSocket Server Settings"));
        assert!(menu.contains(&item(MenuAction::Reconnect, "Try Again", true)));
        assert_eq!(tray_icon(&s), TrayIcon::Error);
    }

    #[test]
    fn reconnecting_has_its_own_icon() {
        let mut obs = offline();
        obs.stream = StreamState::Reconnecting { live_since_ms: 0, since_ms: 1 };
        assert_eq!(tray_icon(&state(Some(obs), connected())), TrayIcon::Reconnecting);
    }

    fn open_alert(kind: AlertKind, mic: Option<&str>, since_ms: u64) -> OpenAlert {
        OpenAlert { kind, mic: mic.map(str::to_string), since_ms, title: kind.title(), critical: kind.is_critical() }
    }

    #[test]
    fn an_open_alert_is_the_first_row_with_its_running_time() {
        let mut obs = offline();
        obs.stream = StreamState::Live { since_ms: 0 };
        obs.alerts = vec![open_alert(AlertKind::Stalled, None, 20_000)];
        let s = state(Some(obs), connected());
        let menu = menu_model(&s, &MenuContext::default(), 62_000);
        assert_eq!(
            menu,
            vec![
                Info { id: "alert".into(), label: "⚠ Stream stalled · 42 s".into() },
                Info { id: "status".into(), label: "● LIVE 00:01:02".into() },
                Info { id: "scene".into(), label: "Scene: Scene".into() },
                MenuEntry::Separator,
                item(MenuAction::ToggleStream, "Stop Streaming", true),
                item(MenuAction::ToggleRecording, "Start Recording", true),
                item(MenuAction::TogglePause, "Pause Recording", false),
                item(MenuAction::SaveReplay, "Save Replay", false),
                item(MenuAction::ToggleVirtualCamera, "Start Virtual Camera", true),
                MenuEntry::Submenu {
                    id: "scenes".into(),
                    label: "Scenes".into(),
                    enabled: true,
                    entries: vec![
                        Check {
                            action: MenuAction::SwitchScene("Scene".into()),
                            label: "Scene".into(),
                            checked: true,
                            enabled: true
                        },
                        Check {
                            action: MenuAction::SwitchScene("Gameplay".into()),
                            label: "Gameplay".into(),
                            checked: false,
                            enabled: true
                        },
                    ]
                },
                MenuEntry::Separator,
                item(MenuAction::OpenWindow, "Open OnAir", true),
                item(MenuAction::OpenSettings, "Settings…", true),
                MenuEntry::Separator,
                item(MenuAction::Quit, "Quit OnAir", true),
            ]
        );
        assert_eq!(tray_icon(&s), TrayIcon::Alert);
        // The row ticks: a minute later it says so.
        let later = menu_model(&s, &MenuContext::default(), 122_000);
        assert_eq!(later[0], Info { id: "alert".into(), label: "⚠ Stream stalled · 1:42".into() });
    }

    #[test]
    fn several_open_alerts_name_the_oldest_and_count_the_rest() {
        let mut obs = offline();
        obs.stream = StreamState::Live { since_ms: 0 };
        // The guard's order (kind first) is not the order they began in.
        obs.alerts = vec![
            open_alert(AlertKind::MutedWhileLive, Some("Mic/Aux"), 30_000),
            open_alert(AlertKind::DroppingFrames, None, 50_000),
            open_alert(AlertKind::Stalled, None, 40_000),
        ];
        let menu = menu_model(&state(Some(obs.clone()), connected()), &MenuContext::default(), 72_000);
        assert_eq!(
            menu[0],
            Info { id: "alert".into(), label: "⚠ Mic muted while live (Mic/Aux) · 42 s (+2 more)".into() }
        );
        assert_eq!(menu[1], Info { id: "status".into(), label: "● LIVE 00:01:12".into() });
        obs.alerts.remove(0);
        let menu = menu_model(&state(Some(obs.clone()), connected()), &MenuContext::default(), 72_000);
        assert_eq!(menu[0], Info { id: "alert".into(), label: "⚠ Stream stalled · 32 s (+1 more)".into() });
        obs.alerts.clear();
        let menu = menu_model(&state(Some(obs), connected()), &MenuContext::default(), 72_000);
        assert_eq!(menu[0], Info { id: "status".into(), label: "● LIVE 00:01:12".into() }, "no alert, no row");
    }

    #[test]
    fn the_alert_icon_wins_over_live_and_recording_but_not_over_reconnecting() {
        let icon = |stream: StreamState, recording: RecordingState, alerts: Vec<OpenAlert>| {
            let mut obs = offline();
            obs.stream = stream;
            obs.recording = recording;
            obs.alerts = alerts;
            tray_icon(&state(Some(obs), connected()))
        };
        let live = || StreamState::Live { since_ms: 0 };
        let recording = || RecordingState::Recording { since_ms: 0 };
        let stalled = || vec![open_alert(AlertKind::Stalled, None, 0)];
        let low_disk = || vec![open_alert(AlertKind::LowDisk, None, 0)];
        assert_eq!(icon(live(), RecordingState::Off, vec![]), TrayIcon::Live);
        assert_eq!(icon(live(), RecordingState::Off, stalled()), TrayIcon::Alert);
        assert_eq!(icon(live(), recording(), vec![]), TrayIcon::LiveRecording);
        assert_eq!(icon(live(), recording(), low_disk()), TrayIcon::Alert);
        assert_eq!(icon(StreamState::Offline, recording(), vec![]), TrayIcon::Recording);
        assert_eq!(icon(StreamState::Offline, recording(), low_disk()), TrayIcon::Alert);
        let reconnecting = || StreamState::Reconnecting { live_since_ms: 0, since_ms: 1 };
        assert_eq!(icon(reconnecting(), RecordingState::Off, stalled()), TrayIcon::Reconnecting);
        // Without OBS there is no state, and so no alert, to show.
        let s = state(None, ConnectionState::WaitingForObs { reason: "refused".into() });
        assert_eq!(tray_icon(&s), TrayIcon::NotConnected);
        assert_eq!(TrayIcon::Alert.name(), "tray-alert");
    }

    #[test]
    fn an_open_alert_keeps_the_clock_running() {
        // A paused recording shows no clock, but its low-disk alert counts up.
        let mut obs = offline();
        obs.recording = RecordingState::Paused { since_ms: 0 };
        assert!(!has_running_clock(&state(Some(obs.clone()), connected())));
        obs.alerts = vec![open_alert(AlertKind::LowDisk, None, 0)];
        assert!(has_running_clock(&state(Some(obs), connected())));
    }

    #[test]
    fn stopping_can_require_a_second_press_within_the_window() {
        let mut guard = StopGuard::default();
        assert_eq!(guard.press(false, true, 0), StopDecision::Stop, "no confirmation by default");
        assert_eq!(guard.press(true, false, 0), StopDecision::Start, "starting never needs confirmation");
        assert_eq!(guard.press(true, true, 1_000), StopDecision::Armed);
        assert!(guard.is_armed(2_000));
        assert_eq!(guard.press(true, true, 2_500), StopDecision::Stop);
        assert_eq!(guard.press(true, true, 10_000), StopDecision::Armed);
        assert!(!guard.is_armed(20_000));
        assert_eq!(guard.press(true, true, 20_000), StopDecision::Armed, "a late second press arms again");
        let mut obs = offline();
        obs.stream = StreamState::Live { since_ms: 0 };
        let menu = menu_model(&state(Some(obs), connected()), &MenuContext { stop_armed: true }, 0);
        assert!(menu.contains(&item(MenuAction::ToggleStream, "Press Again to Stop Streaming", true)));
    }

    #[test]
    fn a_stop_armed_before_the_stream_ended_never_confirms_a_start() {
        // Armed while reconnecting; OBS gives up and the stream ends; the second press comes.
        let mut guard = StopGuard::default();
        assert_eq!(guard.press(true, true, 1_000), StopDecision::Armed);
        assert_eq!(guard.press(true, false, 2_000), StopDecision::AlreadyStopped);
        assert!(!guard.is_armed(2_000), "that press used up the confirmation");
        assert_eq!(guard.press(true, false, 2_500), StopDecision::Start, "the next press starts");
        // Also when no confirmation is asked for any more.
        assert_eq!(guard.press(true, true, 5_000), StopDecision::Armed);
        assert_eq!(guard.press(false, false, 5_500), StopDecision::AlreadyStopped);
        // After the window, a press off the air is a plain start.
        assert_eq!(guard.press(true, true, 10_000), StopDecision::Armed);
        assert_eq!(guard.press(true, false, 10_000 + StopGuard::WINDOW_MS + 1), StopDecision::Start);
        // While it waits, the menu does not offer a start.
        let menu = menu_model(&state(Some(offline()), connected()), &MenuContext { stop_armed: true }, 0);
        assert!(menu.contains(&item(MenuAction::ToggleStream, "Stream Already Stopped", false)));
        let menu = menu_model(&state(Some(offline()), connected()), &MenuContext::default(), 0);
        assert!(menu.contains(&item(MenuAction::ToggleStream, "Start Streaming", true)));
    }

    #[test]
    fn action_ids_round_trip() {
        for action in [
            MenuAction::ToggleStream,
            MenuAction::ToggleRecording,
            MenuAction::TogglePause,
            MenuAction::SaveReplay,
            MenuAction::ToggleVirtualCamera,
            MenuAction::SwitchScene("Just: Chatting".into()),
            MenuAction::ToggleMute("Mic/Aux".into()),
            MenuAction::ToggleMute("mute:scene:x".into()),
            MenuAction::Reconnect,
            MenuAction::OpenWindow,
            MenuAction::OpenSettings,
            MenuAction::Quit,
        ] {
            assert_eq!(MenuAction::from_id(&action.id()), Some(action));
        }
        assert_eq!(MenuAction::from_id("nonsense"), None);
        // A scene and a mic of the same name are two items.
        assert_ne!(MenuAction::SwitchScene("Mic".into()).id(), MenuAction::ToggleMute("Mic".into()).id());
    }

    fn mic(name: &str, muted: bool) -> MicStatus {
        MicStatus { name: name.into(), uuid: None, muted, level_dbfs: Some(-20.0), input_level_dbfs: Some(-20.0) }
    }

    fn mute_check(name: &str, label: &str, checked: bool) -> MenuEntry {
        Check { action: MenuAction::ToggleMute(name.into()), label: label.into(), checked, enabled: true }
    }

    /// The entries between the virtual camera and the scenes.
    fn mic_rows(menu: &[MenuEntry]) -> Vec<MenuEntry> {
        let vcam = menu
            .iter()
            .position(|e| matches!(e, Item { action: MenuAction::ToggleVirtualCamera, .. }))
            .expect("a virtual camera item");
        menu[vcam + 1..].iter().take_while(|e| !matches!(e, MenuEntry::Submenu { .. })).cloned().collect()
    }

    #[test]
    fn one_watched_mic_is_a_mute_mic_check_item_checked_while_muted() {
        let mut obs = offline();
        obs.mics = vec![mic("Mic/Aux", false)];
        let menu = menu_model(&state(Some(obs.clone()), connected()), &MenuContext::default(), 0);
        assert_eq!(mic_rows(&menu), vec![mute_check("Mic/Aux", "Mute Mic", false)]);
        obs.mics[0].muted = true;
        let menu = menu_model(&state(Some(obs), connected()), &MenuContext::default(), 0);
        assert_eq!(mic_rows(&menu), vec![mute_check("Mic/Aux", "Mute Mic", true)]);
    }

    #[test]
    fn several_watched_mics_each_name_their_input_and_none_is_no_item() {
        let mut obs = offline();
        obs.mics = vec![mic("Mic/Aux", true), mic("Podcast Mic", false)];
        let menu = menu_model(&state(Some(obs.clone()), connected()), &MenuContext::default(), 0);
        assert_eq!(
            mic_rows(&menu),
            vec![mute_check("Mic/Aux", "Mute Mic/Aux", true), mute_check("Podcast Mic", "Mute Podcast Mic", false)]
        );
        obs.mics.clear();
        let menu = menu_model(&state(Some(obs), connected()), &MenuContext::default(), 0);
        assert_eq!(mic_rows(&menu), vec![]);
        let waiting = state(None, ConnectionState::WaitingForObs { reason: "refused".into() });
        assert_eq!(mic_rows(&menu_model(&waiting, &MenuContext::default(), 0)), vec![]);
    }

    #[test]
    fn several_obs_get_a_section_each_whose_clicks_name_their_connection() {
        let mut live = offline();
        live.stream = StreamState::Live { since_ms: 0 };
        let stream_pc = state(Some(live), connected());
        let game_pc = State {
            target: "10.0.0.2:4455".into(),
            ..state(None, ConnectionState::WaitingForObs { reason: "refused".into() })
        };
        let context = MenuContext::default();
        let sections = [
            MenuSection { name: "Stream PC", state: &stream_pc, context: &context },
            MenuSection { name: "Game PC", state: &game_pc, context: &context },
        ];
        let menu = menu_model_several(&sections, 62_000);
        let ids: Vec<String> = menu
            .iter()
            .map(|e| match e {
                Info { id, .. } | MenuEntry::Submenu { id, .. } => id.clone(),
                Item { action, .. } | Check { action, .. } => action.id(),
                MenuEntry::Separator => "-".into(),
            })
            .collect();
        assert_eq!(
            ids,
            [
                "obs0/status",
                "obs0/scene",
                "obs0/controls",
                "-",
                "obs1/status",
                "obs1/controls",
                "-",
                "open",
                "settings",
                "-",
                "quit"
            ]
        );
        assert_eq!(menu[0], Info { id: "obs0/status".into(), label: "Stream PC: ● LIVE 00:01:02".into() });
        assert_eq!(
            menu[4],
            Info { id: "obs1/status".into(), label: "Game PC: Waiting for OBS at 10.0.0.2:4455".into() }
        );
        let MenuEntry::Submenu { label, entries: first, .. } = &menu[2] else { panic!("{menu:?}") };
        assert_eq!(label, "Stream PC");
        let of = |i: usize, a: MenuAction| MenuAction::ForConnection(i, Box::new(a));
        assert_eq!(first[0], item(of(0, MenuAction::ToggleStream), "Stop Streaming", true));
        let MenuEntry::Submenu { label, entries: second, .. } = &menu[5] else { panic!("{menu:?}") };
        assert_eq!(label, "Game PC");
        assert_eq!(second[0], item(of(1, MenuAction::ToggleStream), "Start Streaming", false));
        assert_eq!(second.last(), Some(&item(of(1, MenuAction::Reconnect), "Reconnect Now", true)));
        // Every click comes back as the action it was shown as, scenes inside submenus too.
        fn actions(entries: &[MenuEntry], out: &mut Vec<MenuAction>) {
            for e in entries {
                match e {
                    Item { action, .. } | Check { action, .. } => out.push(action.clone()),
                    MenuEntry::Submenu { entries, .. } => actions(entries, out),
                    _ => {}
                }
            }
        }
        let mut all = Vec::new();
        actions(&menu, &mut all);
        assert!(all.contains(&of(0, MenuAction::SwitchScene("Gameplay".into()))), "{all:?}");
        for action in all {
            assert_eq!(MenuAction::from_id(&action.id()), Some(action));
        }
    }

    #[test]
    fn an_alert_row_follows_the_named_state_row_of_its_obs() {
        let mut obs = offline();
        obs.stream = StreamState::Live { since_ms: 0 };
        obs.alerts = vec![open_alert(AlertKind::Stalled, None, 20_000)];
        let one = state(Some(obs), connected());
        let context = MenuContext::default();
        let menu = menu_model_several(&[MenuSection { name: "A", state: &one, context: &context }], 62_000);
        assert_eq!(menu[0], Info { id: "obs0/status".into(), label: "A: ● LIVE 00:01:02".into() });
        assert_eq!(menu[1], Info { id: "obs0/alert".into(), label: "⚠ Stream stalled · 42 s".into() });
    }

    #[test]
    fn the_icon_of_several_obs_is_the_most_pressing_and_not_running_never_hides_live() {
        let waiting = state(None, ConnectionState::WaitingForObs { reason: "refused".into() });
        let failed = state(None, ConnectionState::AuthFailed { message: "rejected".into() });
        let idle = state(Some(offline()), connected());
        let mut on_air = offline();
        on_air.stream = StreamState::Live { since_ms: 0 };
        let live = state(Some(on_air.clone()), connected());
        on_air.stream = StreamState::Reconnecting { live_since_ms: 0, since_ms: 0 };
        let reconnecting = state(Some(on_air), connected());
        assert_eq!(tray_icon_of_all([&waiting, &live]), TrayIcon::Live);
        assert_eq!(tray_icon_of_all([&idle, &waiting]), TrayIcon::NotConnected);
        assert_eq!(tray_icon_of_all([&idle, &idle]), TrayIcon::Offline);
        assert_eq!(tray_icon_of_all([&live, &reconnecting]), TrayIcon::Reconnecting);
        assert_eq!(tray_icon_of_all([&reconnecting, &failed, &live]), TrayIcon::Error);
        assert_eq!(tray_icon_of_all([&live]), tray_icon(&live), "one OBS: its own icon");
    }
}
