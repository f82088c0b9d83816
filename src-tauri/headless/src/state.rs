//! The one state model every face of OnAir shows, and the moments derived from it.
//!
//! [`State`] is what the session publishes on its `watch` channel. While OnAir is
//! not connected to OBS and synced, `obs` is `None`: OnAir does not know whether
//! the stream is live, and it never pretends to. Times are Unix milliseconds so
//! they serialize plainly for the window and `onair watch --json`.

use serde::{Deserialize, Serialize};

use crate::connect::Cause;
use crate::guard::{AlertDetail, AlertKind, OpenAlert};
use crate::settings::Target;

/// Everything OnAir knows right now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct State {
    /// `host:port` of the OBS this session talks to.
    pub target: String,
    pub connection: ConnectionState,
    /// What OBS is doing; `None` unless connected and synced.
    pub obs: Option<ObsStatus>,
}

impl State {
    pub fn is_live(&self) -> bool {
        self.obs.as_ref().is_some_and(|o| o.stream.is_on_air())
    }
}

/// The session with OBS.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ConnectionState {
    /// Opening the websocket and identifying.
    Connecting,
    /// Identified; asking OBS for its whole state.
    Syncing,
    Connected {
        obs_version: String,
        websocket_version: String,
    },
    /// OBS is not there (not running, websocket server off, ...); retrying.
    /// Serialized flat: `{"state": "waiting-for-obs", "cause": ..., "reason": ...}`.
    WaitingForObs {
        #[serde(flatten)]
        reason: WaitReason,
    },
    /// OBS rejected the password or wants one; no retry until the settings change.
    AuthFailed {
        message: String,
    },
    /// OBS speaks a protocol this OnAir does not; no retry until the settings change.
    Incompatible {
        message: String,
    },
    /// This session was kicked from OBS's session list (4011); no automatic reconnect.
    SessionInvalidated {
        message: String,
    },
    /// The host or port cannot be used; nothing is attempted.
    InvalidSettings {
        message: String,
    },
    /// The session was shut down.
    Stopped,
}

/// Why OnAir waits for OBS: the cause by kind, in words that say what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitReason {
    pub cause: Cause,
    /// The cause and its next step (see [`Cause::explain`]), or, for
    /// [`Cause::Other`], the failure's own words.
    pub reason: String,
    /// The failure as the system reported it, for a post-mortem.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl WaitReason {
    /// A failure of `cause` reaching `target`; `detail` is the system's own message.
    pub fn new(cause: Cause, target: &Target, detail: String) -> WaitReason {
        match cause.explain(target) {
            Some(reason) => WaitReason { cause, reason, detail },
            None => WaitReason { cause, reason: detail, detail: String::new() },
        }
    }
}

/// A reason with no known cause: its words are all there is.
impl From<String> for WaitReason {
    fn from(reason: String) -> WaitReason {
        WaitReason { cause: Cause::Other, reason, detail: String::new() }
    }
}

impl From<&str> for WaitReason {
    fn from(reason: &str) -> WaitReason {
        WaitReason::from(reason.to_string())
    }
}

impl std::fmt::Display for WaitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl ConnectionState {
    /// True for the states that wait for the user rather than retrying.
    pub fn needs_user(&self) -> bool {
        matches!(
            self,
            ConnectionState::AuthFailed { .. }
                | ConnectionState::Incompatible { .. }
                | ConnectionState::SessionInvalidated { .. }
                | ConnectionState::InvalidSettings { .. }
        )
    }
}

/// What OBS is doing, as last synced and followed through events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObsStatus {
    pub stream: StreamState,
    pub recording: RecordingState,
    pub replay_buffer: OutputActivity,
    pub virtual_camera: OutputActivity,
    pub program_scene: Option<String>,
    /// Top first, as OBS's scene dock shows them.
    pub scenes: Vec<String>,
    pub studio_mode: bool,
    /// Present while the stream is on air and at least one poll has come back.
    pub stream_health: Option<StreamHealth>,
    /// OBS's own figures, polled while an output is active.
    pub stats: Option<ObsStats>,
    /// OBS is switching scene collections; requests may misbehave until it ends.
    pub scene_collection_changing: bool,
    /// The stream guard's alerts open now, oldest kind first.
    pub alerts: Vec<OpenAlert>,
    /// The watched mics (OBS's own mic slots, and those named in the settings), in that order.
    pub mics: Vec<MicStatus>,
}

/// A watched mic as OBS has it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MicStatus {
    pub name: String,
    /// obs-websocket 5.4+ names inputs by uuid too, which survives a rename.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    pub muted: bool,
    /// The loudest peak over the last second, in dBFS, after OBS's mute and volume;
    /// `None` while not metered (no stream or recording).
    pub level_dbfs: Option<f64>,
    /// The same before the mute: what the mic hears.
    pub input_level_dbfs: Option<f64>,
}

impl ObsStatus {
    /// An OBS with nothing running: outputs off, no replay buffer set up, the
    /// virtual camera available, no scenes. What fixtures and simulations build on.
    pub fn idle() -> ObsStatus {
        ObsStatus {
            stream: StreamState::Offline,
            recording: RecordingState::Off,
            replay_buffer: OutputActivity::Unavailable,
            virtual_camera: OutputActivity::Off,
            program_scene: None,
            scenes: Vec::new(),
            studio_mode: false,
            stream_health: None,
            stats: None,
            scene_collection_changing: false,
            alerts: Vec::new(),
            mics: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum StreamState {
    Offline,
    Starting,
    Live {
        since_ms: u64,
    },
    /// OBS lost the ingest server and is retrying; the stream is not reaching viewers.
    Reconnecting {
        live_since_ms: u64,
        since_ms: u64,
    },
    /// `live_since_ms` is `None` when the stream never went live (a cancelled start).
    Stopping {
        live_since_ms: Option<u64>,
    },
}

impl StreamState {
    /// Live or reconnecting: a stream session exists, whether or not data flows.
    pub fn is_on_air(&self) -> bool {
        matches!(self, StreamState::Live { .. } | StreamState::Reconnecting { .. })
    }

    pub fn live_since_ms(&self) -> Option<u64> {
        match self {
            StreamState::Live { since_ms } => Some(*since_ms),
            StreamState::Reconnecting { live_since_ms, .. } => Some(*live_since_ms),
            StreamState::Stopping { live_since_ms } => *live_since_ms,
            StreamState::Offline | StreamState::Starting => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum RecordingState {
    Off,
    Starting,
    Recording { since_ms: u64 },
    Paused { since_ms: u64 },
    Stopping { since_ms: Option<u64> },
}

impl RecordingState {
    /// Recording or paused: a file is open.
    pub fn is_active(&self) -> bool {
        matches!(self, RecordingState::Recording { .. } | RecordingState::Paused { .. })
    }

    fn since_ms(&self) -> Option<u64> {
        match self {
            RecordingState::Recording { since_ms } | RecordingState::Paused { since_ms } => Some(*since_ms),
            RecordingState::Stopping { since_ms } => *since_ms,
            RecordingState::Off | RecordingState::Starting => None,
        }
    }

    pub fn started_at_ms(&self) -> Option<u64> {
        self.since_ms()
    }
}

/// Replay buffer and virtual camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputActivity {
    /// Not configured in OBS (OBS answers 604 "not available").
    Unavailable,
    Off,
    Starting,
    On,
    Stopping,
}

impl OutputActivity {
    pub fn is_on(self) -> bool {
        self == OutputActivity::On
    }
}

/// A polled figure older than this (three polls missed) is not shown as current:
/// OBS stopped answering the polls, and the faces say how old it is instead.
pub const FIGURES_STALE_AFTER_MS: u64 = 6_000;

/// Whether a figure polled at `polled_at_ms` is still current at `now_ms`.
pub fn figures_current(polled_at_ms: u64, now_ms: u64) -> bool {
    now_ms.saturating_sub(polled_at_ms) <= FIGURES_STALE_AFTER_MS
}

/// How the stream is doing, from `GetStreamStatus` polls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamHealth {
    /// From the `outputBytes` delta between the last two polls; `None` after the first.
    pub bitrate_kbps: Option<f64>,
    /// The counts below cover the whole stream: OBS restarts its own counters at
    /// every RTMP reconnect, OnAir adds them up across those resets.
    pub bytes: u64,
    /// Frames sent times the frame time (OBS's `outputDuration`), not a clock.
    pub duration_ms: u64,
    pub dropped_frames: u64,
    pub total_frames: u64,
    /// `dropped_frames / total_frames`, 0 when no frame went out yet.
    pub dropped_ratio: f64,
    /// 0 (fine) to 1 (the network cannot keep up).
    pub congestion: f64,
    pub polled_at_ms: u64,
}

/// `GetStats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObsStats {
    pub cpu_percent: Option<f64>,
    pub memory_mb: Option<f64>,
    pub fps: Option<f64>,
    pub render_ms: Option<f64>,
    pub free_disk_mb: Option<f64>,
    pub render_skipped_frames: Option<u64>,
    pub render_total_frames: Option<u64>,
    /// When OBS answered these figures; a figure is only as current as its poll.
    pub polled_at_ms: u64,
}

/// Something a person should hear about, derived from state changes, each once.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "moment", rename_all = "kebab-case")]
pub enum Moment {
    /// The stream went live.
    Live {
        since_ms: u64,
    },
    /// The stream ended, with its summary. `while_away` means it ended while
    /// OnAir could not see OBS.
    Ended {
        duration_ms: Option<u64>,
        bytes: Option<u64>,
        dropped_frames: Option<u64>,
        total_frames: Option<u64>,
        /// The RTMP outages OnAir announced for this stream (its `reconnecting`
        /// moments), across OnAir's own reconnects. An outage that began and
        /// ended while OnAir could not see OBS is not counted: nothing OBS
        /// reports afterwards tells of it.
        reconnects: u32,
        /// How long those outages lasted in all (their `reconnected` `down_ms`,
        /// and one still open when the stream ended, up to the end).
        down_ms: u64,
        /// The alerts raised during the stream and how long each lasted.
        alerts: Vec<AlertLasted>,
        /// The whole stream's bytes over its duration; `None` without both.
        avg_kbps: Option<f64>,
        /// The highest bitrate a health poll measured; `None` before two polls.
        peak_kbps: Option<f64>,
        while_away: bool,
    },
    /// OBS lost the ingest server and is retrying (once per outage).
    Reconnecting {
        since_ms: u64,
    },
    /// The stream is flowing again after `down_ms`.
    Reconnected {
        down_ms: u64,
    },
    /// OBS tried to start the stream and gave up.
    StartFailed {
        message: String,
    },
    /// The connection to OBS ended while live or recording.
    ObsLost {
        reason: String,
        was_live: bool,
        was_recording: bool,
    },
    /// OBS is reachable again after an `obs-lost`.
    ObsBack {
        down_ms: u64,
        still_live: bool,
    },
    RecordingStarted {
        path: Option<String>,
    },
    RecordingStopped {
        path: Option<String>,
        duration_ms: Option<u64>,
    },
    RecordingPaused,
    RecordingResumed,
    /// OBS's automatic file splitting (5.5+) went on in a new file.
    RecordingFileChanged {
        path: String,
    },
    ReplaySaved {
        path: Option<String>,
    },
    /// OBS rejected the password (or wanted one).
    AuthFailed {
        message: String,
    },
    /// The stream guard noticed a problem (once per episode). `since_ms`: when it began.
    Alert {
        alert: AlertKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        mic: Option<String>,
        since_ms: u64,
        #[serde(flatten)]
        detail: AlertDetail,
    },
    /// A guard's problem is over, or no longer matters (the stream ended).
    AlertCleared {
        alert: AlertKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        mic: Option<String>,
        lasted_ms: u64,
    },
}

impl Moment {
    /// Which kind of moment this is.
    pub fn kind(&self) -> MomentKind {
        match self {
            Moment::Live { .. } => MomentKind::Live,
            Moment::Ended { .. } => MomentKind::Ended,
            Moment::Reconnecting { .. } => MomentKind::Reconnecting,
            Moment::Reconnected { .. } => MomentKind::Reconnected,
            Moment::StartFailed { .. } => MomentKind::StartFailed,
            Moment::ObsLost { .. } => MomentKind::ObsLost,
            Moment::ObsBack { .. } => MomentKind::ObsBack,
            Moment::RecordingStarted { .. } => MomentKind::RecordingStarted,
            Moment::RecordingStopped { .. } => MomentKind::RecordingStopped,
            Moment::RecordingPaused => MomentKind::RecordingPaused,
            Moment::RecordingResumed => MomentKind::RecordingResumed,
            Moment::RecordingFileChanged { .. } => MomentKind::RecordingFileChanged,
            Moment::ReplaySaved { .. } => MomentKind::ReplaySaved,
            Moment::AuthFailed { .. } => MomentKind::AuthFailed,
            Moment::Alert { .. } => MomentKind::Alert,
            Moment::AlertCleared { .. } => MomentKind::AlertCleared,
        }
    }
}

/// The kinds of [`Moment`], the one list of them: the settings file switches
/// notifications per kind by wire name, the settings page shows the label, and
/// the notifications carry the wire name in their category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MomentKind {
    Live,
    Ended,
    Reconnecting,
    Reconnected,
    StartFailed,
    ObsLost,
    ObsBack,
    RecordingStarted,
    RecordingStopped,
    RecordingPaused,
    RecordingResumed,
    RecordingFileChanged,
    ReplaySaved,
    AuthFailed,
    Alert,
    AlertCleared,
}

impl MomentKind {
    /// Every kind, in the order the settings page lists them.
    pub const ALL: [MomentKind; 16] = [
        MomentKind::Live,
        MomentKind::Ended,
        MomentKind::Reconnecting,
        MomentKind::Reconnected,
        MomentKind::StartFailed,
        MomentKind::ObsLost,
        MomentKind::ObsBack,
        MomentKind::RecordingStarted,
        MomentKind::RecordingStopped,
        MomentKind::RecordingPaused,
        MomentKind::RecordingResumed,
        MomentKind::RecordingFileChanged,
        MomentKind::ReplaySaved,
        MomentKind::AuthFailed,
        MomentKind::Alert,
        MomentKind::AlertCleared,
    ];

    /// The kebab-case name: `"moment"` of a moment's JSON form, the key in the
    /// settings file's `[notifications]`, the `x-onair.<kind>` category.
    pub const fn wire_name(self) -> &'static str {
        match self {
            MomentKind::Live => "live",
            MomentKind::Ended => "ended",
            MomentKind::Reconnecting => "reconnecting",
            MomentKind::Reconnected => "reconnected",
            MomentKind::StartFailed => "start-failed",
            MomentKind::ObsLost => "obs-lost",
            MomentKind::ObsBack => "obs-back",
            MomentKind::RecordingStarted => "recording-started",
            MomentKind::RecordingStopped => "recording-stopped",
            MomentKind::RecordingPaused => "recording-paused",
            MomentKind::RecordingResumed => "recording-resumed",
            MomentKind::RecordingFileChanged => "recording-file-changed",
            MomentKind::ReplaySaved => "replay-saved",
            MomentKind::AuthFailed => "auth-failed",
            MomentKind::Alert => "alert",
            MomentKind::AlertCleared => "alert-cleared",
        }
    }

    /// The kind with this wire name, if there is one.
    pub fn from_wire_name(name: &str) -> Option<MomentKind> {
        MomentKind::ALL.into_iter().find(|kind| kind.wire_name() == name)
    }

    /// What the settings page calls this kind's notification.
    pub const fn label(self) -> &'static str {
        match self {
            MomentKind::Live => "Went live",
            MomentKind::Ended => "Stream ended",
            MomentKind::Reconnecting => "Stream reconnecting",
            MomentKind::Reconnected => "Stream reconnected",
            MomentKind::StartFailed => "Stream failed to start",
            MomentKind::ObsLost => "Lost OBS while live or recording",
            MomentKind::ObsBack => "OBS is back",
            MomentKind::RecordingStarted => "Recording started",
            MomentKind::RecordingStopped => "Recording stopped",
            MomentKind::RecordingPaused => "Recording paused",
            MomentKind::RecordingResumed => "Recording resumed",
            MomentKind::RecordingFileChanged => "Recording continues in a new file",
            MomentKind::ReplaySaved => "Replay saved",
            MomentKind::AuthFailed => "Password rejected",
            MomentKind::Alert => "Stream guard: a problem starts",
            MomentKind::AlertCleared => "Stream guard: a problem is over",
        }
    }
}

impl std::fmt::Display for MomentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.wire_name())
    }
}

impl Serialize for MomentKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.wire_name())
    }
}

/// Compares with a wire name, so `moment.kind() == "live"` reads as it did.
impl PartialEq<&str> for MomentKind {
    fn eq(&self, name: &&str) -> bool {
        self.wire_name() == *name
    }
}

impl PartialEq<MomentKind> for &str {
    fn eq(&self, kind: &MomentKind) -> bool {
        *self == kind.wire_name()
    }
}

/// An alert of a stream's summary: its kind's wire name and how long it lasted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertLasted {
    pub alert: String,
    pub lasted_ms: u64,
}

/// A moment with the time it was noticed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Noticed {
    pub at_ms: u64,
    #[serde(flatten)]
    pub moment: Moment,
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
impl Moment {
    /// One moment of every kind, in the order of [`MomentKind::ALL`], for the
    /// tests that must cover every kind.
    pub(crate) fn one_of_each() -> Vec<Moment> {
        let all = vec![
            Moment::Live { since_ms: 1 },
            Moment::Ended {
                duration_ms: None,
                bytes: None,
                dropped_frames: None,
                total_frames: None,
                reconnects: 0,
                down_ms: 0,
                alerts: Vec::new(),
                avg_kbps: None,
                peak_kbps: None,
                while_away: false,
            },
            Moment::Reconnecting { since_ms: 1 },
            Moment::Reconnected { down_ms: 1 },
            Moment::StartFailed { message: "x".into() },
            Moment::ObsLost { reason: "x".into(), was_live: true, was_recording: false },
            Moment::ObsBack { down_ms: 1, still_live: true },
            Moment::RecordingStarted { path: None },
            Moment::RecordingStopped { path: None, duration_ms: None },
            Moment::RecordingPaused,
            Moment::RecordingResumed,
            Moment::RecordingFileChanged { path: "/r/b.mkv".into() },
            Moment::ReplaySaved { path: None },
            Moment::AuthFailed { message: "x".into() },
            Moment::Alert { alert: AlertKind::Stalled, mic: None, since_ms: 1, detail: AlertDetail::default() },
            Moment::AlertCleared { alert: AlertKind::Stalled, mic: None, lasted_ms: 1 },
        ];
        // No wildcard: a new moment kind does not compile here until listed above.
        for moment in &all {
            match moment {
                Moment::Live { .. }
                | Moment::Ended { .. }
                | Moment::Reconnecting { .. }
                | Moment::Reconnected { .. }
                | Moment::StartFailed { .. }
                | Moment::ObsLost { .. }
                | Moment::ObsBack { .. }
                | Moment::RecordingStarted { .. }
                | Moment::RecordingStopped { .. }
                | Moment::RecordingPaused
                | Moment::RecordingResumed
                | Moment::RecordingFileChanged { .. }
                | Moment::ReplaySaved { .. }
                | Moment::AuthFailed { .. }
                | Moment::Alert { .. }
                | Moment::AlertCleared { .. } => {}
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_serialize_with_their_kind_in_the_moment_field() {
        let all = Moment::one_of_each();
        for moment in all {
            let noticed = Noticed { at_ms: 5, moment: moment.clone() };
            let json = serde_json::to_value(&noticed).unwrap();
            assert_eq!(json["moment"], moment.kind().wire_name(), "{json}");
            assert_eq!(json["at_ms"], 5);
        }
    }

    #[test]
    fn every_moment_has_its_kind_in_all_and_the_wire_name_is_its_serde_tag() {
        let moments = Moment::one_of_each();
        let kinds: Vec<MomentKind> = moments.iter().map(Moment::kind).collect();
        assert_eq!(kinds, MomentKind::ALL, "one moment of each kind, in the order of ALL");
        for moment in &moments {
            let json = serde_json::to_value(moment).unwrap();
            assert_eq!(json["moment"].as_str(), Some(moment.kind().wire_name()), "{json}");
            assert_eq!(serde_json::to_value(moment.kind()).unwrap(), json["moment"]);
            assert_eq!(MomentKind::from_wire_name(moment.kind().wire_name()), Some(moment.kind()));
        }
        assert_eq!(MomentKind::from_wire_name("Live"), None);
        assert_eq!(MomentKind::from_wire_name("nonsense"), None);
    }

    #[test]
    fn every_kind_has_its_own_label() {
        let mut labels: Vec<&str> = MomentKind::ALL.iter().map(|k| k.label()).collect();
        assert!(labels.iter().all(|l| !l.is_empty()));
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), MomentKind::ALL.len());
        assert_eq!(MomentKind::Live.label(), "Went live");
    }

    #[test]
    fn state_lines_carry_no_moment_field() {
        let state = State { target: "localhost:4455".into(), connection: ConnectionState::Connecting, obs: None };
        let json = serde_json::to_value(&state).unwrap();
        assert!(json.get("moment").is_none());
        assert_eq!(json["connection"]["state"], "connecting");
    }

    #[test]
    fn waiting_for_obs_carries_the_cause_beside_its_words() {
        let target = Target::new("localhost", 4455).unwrap();
        let reason = WaitReason::new(Cause::Refused, &target, "nothing is listening at localhost:4455".into());
        let json = serde_json::to_value(ConnectionState::WaitingForObs { reason }).unwrap();
        assert_eq!(json["state"], "waiting-for-obs");
        assert_eq!(json["cause"], "refused");
        assert!(json["reason"].as_str().unwrap().starts_with("OBS is not running"), "{json}");
        assert_eq!(json["detail"], "nothing is listening at localhost:4455");
        // A reason with no known cause keeps its own words.
        let json =
            serde_json::to_value(ConnectionState::WaitingForObs { reason: "GetStats: no answer".into() }).unwrap();
        assert_eq!((json["cause"].as_str(), json["reason"].as_str()), (Some("other"), Some("GetStats: no answer")));
        assert!(json.get("detail").is_none());
    }
}
