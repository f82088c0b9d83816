//! The window's vocabulary: what it is sent (views, moments, controls, pushed
//! events), what it asks (requests on their own channel to the controller),
//! and the one error type it gets, `{code, message, field?}`.

use std::collections::{BTreeMap, VecDeque};

use onair_headless::control::{Control, ControlError, ControlOutcome};
use onair_headless::desktop::Controls;
use onair_headless::history::StreamRecord;
use onair_headless::state::{Noticed, State};
use onair_headless::text::{moment_text, moment_tone, Tone};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::first_run::ObsOfferView;

/// Every error the window can get: a stable code, a sentence for people, and
/// the form field it is about, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn invalid(field: Option<&str>, message: impl Into<String>) -> ApiError {
        ApiError { code: "invalid-input".into(), message: message.into(), field: field.map(String::from) }
    }

    pub fn gone() -> ApiError {
        ApiError { code: "not-running".into(), message: "OnAir is shutting down".into(), field: None }
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        ApiError { code: e.code().to_string(), message: e.to_string(), field: None }
    }
}

/// The settings as the window shows them. The password itself never leaves
/// the backend: only whether one is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingsView {
    /// The host and port in use (a command-line override included, see `connection_note`).
    pub host: String,
    pub port: u16,
    /// Says which of host and port come from the command line for this run
    /// only, and what the settings file keeps; `None` when nothing is overridden.
    pub connection_note: Option<String>,
    /// Whether the keyring holds a password for `password_target` (false while unknown).
    pub password_stored: bool,
    /// The OBS the password belongs to: `host:port` in use.
    pub password_target: Option<String>,
    /// Why `password_stored` is not known (the keyring has not answered).
    pub password_note: Option<String>,
    pub keyring: KeyringView,
    pub notifications: BTreeMap<String, bool>,
    pub notification_kinds: Vec<NotificationKind>,
    pub hotkeys: HotkeysView,
    pub confirm_stop_stream: bool,
    pub start_on_login: bool,
    /// The first OBS's name and the other OBS OnAir watches.
    pub connections: ConnectionsView,
}

/// The OBS list as the settings show it; the first OBS's host, port and
/// password are the fields above.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionsView {
    pub first_name: Option<String>,
    pub more: Vec<MoreConnectionView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MoreConnectionView {
    pub name: String,
    pub host: String,
    pub port: u16,
    /// Whether this run has a password for it (typed, or from the keyring).
    pub password_stored: bool,
}

/// The OBS list as the window sends it (`save_connections`).
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionsInput {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub more: Vec<ConnectionInput>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConnectionInput {
    #[serde(default)]
    pub name: Option<String>,
    pub host: String,
    pub port: i64,
    /// Write-only: stored in the keyring for this host and port; empty or
    /// absent keeps what the keyring has.
    #[serde(default)]
    pub password: Option<String>,
}

/// One OBS in the window's switcher: its state in the tray's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectionView {
    /// Its index in the settings' connections (0 is the first).
    pub index: usize,
    pub name: String,
    pub target: String,
    /// Its state row, as the tray shows it (without the name).
    pub line: String,
    /// The tray icon its state alone would show (`tray-live`, ...).
    pub icon: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyringView {
    pub available: bool,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotificationKind {
    pub kind: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotkeysView {
    pub enabled: bool,
    /// Why hotkeys cannot work in this session (Wayland), if they cannot.
    pub unavailable: Option<String>,
    pub bindings: Vec<BindingView>,
    /// Bindings that could not be registered, by name.
    pub problems: Vec<String>,
    /// Where the desktop binds the shortcuts (the GlobalShortcuts portal, on
    /// Wayland): what it says each is bound to. `None` where OnAir grabs them.
    pub desktop: Option<DesktopShortcutsView>,
}

/// The shortcuts as the desktop bound them: the bindings above are only
/// OnAir's wishes there, and the user changes them in the desktop's settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesktopShortcutsView {
    pub note: String,
    pub bound: Vec<BoundShortcutView>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoundShortcutView {
    /// The action's wire name (as `bindings` has it).
    pub action: String,
    /// The OBS it acts on when the binding names one; `None`: the first.
    pub connection: Option<String>,
    pub label: String,
    /// What the desktop says it is bound to; empty while it has no trigger.
    pub trigger: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BindingView {
    pub action: String,
    pub label: String,
    pub binding: Option<String>,
    pub default: String,
}

/// The settings form as the window sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct SettingsInput {
    pub host: String,
    pub port: i64,
    /// A new password for the host and port of this form, stored and used in
    /// the same step as the rest (so no attempt is made without it).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub notifications: BTreeMap<String, bool>,
    pub hotkeys: HotkeysInput,
    pub confirm_stop_stream: bool,
    pub start_on_login: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HotkeysInput {
    pub enabled: bool,
    #[serde(default)]
    pub bindings: BTreeMap<String, Option<String>>,
}

/// What "Test connection" found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestResult {
    pub reachable: bool,
    pub authenticated: bool,
    pub obs_version: Option<String>,
    pub websocket_version: Option<String>,
    pub message: String,
}

/// A moment as the window gets it, by event and in the snapshot, with its
/// words and tone from [`onair_headless::text`] (the window does not restate
/// them). `seq` counts this run's moments, so the window tells apart two of
/// one kind in the same millisecond and still drops the copy it gets both ways.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedMoment {
    pub seq: u64,
    #[serde(flatten)]
    pub noticed: Noticed,
    pub title: String,
    pub body: String,
    pub tone: Tone,
}

impl LoggedMoment {
    /// The moment that follows `last` in the log.
    pub fn after(last: Option<&LoggedMoment>, noticed: Noticed) -> LoggedMoment {
        let (title, body) = moment_text(&noticed.moment);
        let tone = moment_tone(&noticed.moment);
        LoggedMoment { seq: last.map_or(1, |m| m.seq + 1), noticed, title, body, tone }
    }
}

/// What the window's status page keeps of one OBS: its moments and its
/// bitrate, each bounded.
#[derive(Debug, Default)]
pub struct WindowFeed {
    pub moments: VecDeque<LoggedMoment>,
    pub bitrate: VecDeque<BitrateSample>,
}

impl WindowFeed {
    /// Logs a moment (dropping the oldest past `kept`) and returns it as logged.
    pub fn log(&mut self, noticed: Noticed, kept: usize) -> LoggedMoment {
        let logged = LoggedMoment::after(self.moments.back(), noticed);
        self.moments.push_back(logged.clone());
        if self.moments.len() > kept {
            self.moments.pop_front();
        }
        logged
    }

    /// Keeps the stream's bitrate of this state, `window_ms` of it.
    pub fn record_bitrate(&mut self, state: &State, window_ms: u64) {
        let Some(health) = state.obs.as_ref().and_then(|o| o.stream_health.as_ref()) else { return };
        let Some(kbps) = health.bitrate_kbps else { return };
        if self.bitrate.back().is_some_and(|last| last.at_ms >= health.polled_at_ms) {
            return;
        }
        self.bitrate.push_back(BitrateSample { at_ms: health.polled_at_ms, kbps });
        while self.bitrate.front().is_some_and(|s| health.polled_at_ms.saturating_sub(s.at_ms) > window_ms) {
            self.bitrate.pop_front();
        }
    }
}

/// Everything the window needs when it opens.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub state: State,
    pub controls: Controls,
    pub moments: Vec<LoggedMoment>,
    pub bitrate_history: Vec<BitrateSample>,
    /// The last few streams that ended, newest first.
    pub history: Vec<HistoryEntry>,
    pub settings: SettingsView,
    /// Every OBS OnAir watches; `state`, `controls`, `moments` and
    /// `bitrate_history` above are the one at `shown_connection`.
    pub connections: Vec<ConnectionView>,
    pub shown_connection: usize,
    /// The first-run offer of OBS's own settings, while it stands.
    pub obs_offer: Option<ObsOfferView>,
}

/// An ended stream as the window's "Recent streams" shows it: the history
/// file's record and its summary in the words of the "Stream ended"
/// notification ([`onair_headless::text::StreamSummary`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryEntry {
    #[serde(flatten)]
    pub record: StreamRecord,
    pub summary: String,
}

impl HistoryEntry {
    pub fn of(record: StreamRecord) -> HistoryEntry {
        let summary = record.summary().line();
        HistoryEntry { record, summary }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BitrateSample {
    pub at_ms: u64,
    pub kbps: f64,
}

/// What a press of one of the window's buttons came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum ControlReply {
    /// OBS did it.
    Done { active: Option<bool>, path: Option<String> },
    /// A stop waits for its confirming second press; nothing was sent.
    Armed { message: String },
    /// The stop this press would have confirmed has nothing left to stop.
    AlreadyStopped { message: String },
}

impl From<ControlOutcome> for ControlReply {
    fn from(outcome: ControlOutcome) -> Self {
        ControlReply::Done { active: outcome.active, path: outcome.path }
    }
}

pub type Reply<T> = oneshot::Sender<Result<T, ApiError>>;

/// A request from the window, answered by the controller on its own channel.
#[derive(Debug)]
pub enum WindowRequest {
    Snapshot(oneshot::Sender<Snapshot>),
    /// A button: goes through the same stop confirmation as the tray and the hotkeys.
    Control(Control, Reply<ControlReply>),
    SaveSettings(SettingsInput, Reply<SettingsView>),
    SetPassword(String, Reply<SettingsView>),
    ClearPassword(Reply<SettingsView>),
    /// The OBS list: the first's name, and the others with their passwords.
    SaveConnections(ConnectionsInput, Reply<SettingsView>),
    /// The window shows this connection (its index) from now on.
    ShowConnection(usize, Reply<Snapshot>),
    /// Yes to the first-run offer: the answer says where OnAir connects now.
    UseObsSettings(Reply<String>),
    TestConnection {
        host: String,
        port: i64,
        password: Option<String>,
        reply: Reply<TestResult>,
    },
}

/// What the controller pushes to the window as it happens (Tauri events).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum WindowPush {
    State(State),
    Moment(LoggedMoment),
    Settings(SettingsView),
    Controls(Controls),
    Connections(Vec<ConnectionView>),
    /// The first-run offer, or `None` once it is taken.
    ObsOffer(Option<ObsOfferView>),
}

impl WindowPush {
    /// The event's name on the window's side.
    pub fn event(&self) -> &'static str {
        match self {
            WindowPush::State(_) => "onair://state",
            WindowPush::Moment(_) => "onair://moment",
            WindowPush::Settings(_) => "onair://settings",
            WindowPush::Controls(_) => "onair://controls",
            WindowPush::Connections(_) => "onair://connections",
            WindowPush::ObsOffer(_) => "onair://obs-offer",
        }
    }
}

/// The window's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Status,
    Settings,
}

#[cfg(test)]
mod tests {
    use super::*;
    use onair_headless::state::Moment;

    #[test]
    fn two_moments_of_one_kind_in_one_millisecond_reach_the_window_as_two() {
        let noticed = Noticed { at_ms: 5, moment: Moment::RecordingPaused };
        let first = LoggedMoment::after(None, noticed.clone());
        let second = LoggedMoment::after(Some(&first), noticed);
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            serde_json::json!({
                "seq": 1, "at_ms": 5, "moment": "recording-paused",
                "title": "Recording paused", "body": "", "tone": "warn"
            })
        );
        assert_eq!(serde_json::to_value(&second).unwrap()["seq"], 2);
    }

    #[test]
    fn a_moment_reaches_the_window_in_the_words_of_its_notification() {
        let noticed = Noticed { at_ms: 9, moment: Moment::Live { since_ms: 1 } };
        let logged = serde_json::to_value(LoggedMoment::after(None, noticed.clone())).unwrap();
        let (title, body) = moment_text(&noticed.moment);
        assert_eq!((logged["title"].as_str(), logged["body"].as_str()), (Some(title.as_str()), Some(body.as_str())));
        assert_eq!(logged["tone"], "good");
    }

    #[test]
    fn a_history_entry_is_its_record_and_the_ended_notifications_words() {
        let moment = Moment::Ended {
            duration_ms: Some(3_723_000),
            bytes: Some(2_300_000_000),
            dropped_frames: Some(2),
            total_frames: Some(1_000),
            reconnects: 2,
            down_ms: 35_000,
            alerts: Vec::new(),
            avg_kbps: Some(4_942.2),
            peak_kbps: Some(6_100.0),
            while_away: false,
        };
        let noticed = Noticed { at_ms: 4_000_000, moment };
        let entry = HistoryEntry::of(StreamRecord::of(&noticed, "localhost:4455").unwrap());
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["summary"].as_str(), Some(moment_text(&noticed.moment).1.as_str()));
        assert_eq!(json["summary"], "1:02:03 live · 2.3 GB · 0.2 % dropped · 2 reconnects (35 s)");
        assert_eq!((json["started_at_ms"].as_u64(), json["ended_at_ms"].as_u64()), (Some(277_000), Some(4_000_000)));
        assert_eq!(json["target"], "localhost:4455");
    }

    #[test]
    fn errors_serialize_as_code_and_message() {
        let e = ApiError::from(ControlError::AlreadyActive(onair_headless::control::Output::Stream));
        assert_eq!(e.field, None);
        assert_eq!(
            serde_json::to_value(e).unwrap(),
            serde_json::json!({"code": "already-active", "message": "the stream is already live"})
        );
    }

    #[test]
    fn control_replies_say_their_outcome() {
        let done = ControlReply::from(ControlOutcome { active: Some(true), path: None });
        assert_eq!(
            serde_json::to_value(done).unwrap(),
            serde_json::json!({"outcome": "done", "active": true, "path": null})
        );
        let armed = ControlReply::Armed { message: "Press again to stop streaming".into() };
        assert_eq!(
            serde_json::to_value(armed).unwrap(),
            serde_json::json!({"outcome": "armed", "message": "Press again to stop streaming"})
        );
    }
}
