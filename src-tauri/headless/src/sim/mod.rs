//! A simulated OBS: [`SimObs`] holds what an OBS Studio would report over obs-websocket v5, in
//! the response shapes of one release ([`Profile`]). It is pure: a request goes in and an
//! [`Answer`] (status, data and the events the change causes) comes out ([`SimObs::answer`]); an
//! OBS-side happening (an RTMP outage, a file split, a rename, ...) is a method that changes the
//! state and returns the events OBS would send; time passing is [`SimObs::advance`]. No sockets,
//! no clock: whoever serves it decides when time passes and when and to whom events go.
//!
//! Two servers use it: `onair --demo` ([`crate::demo`]) plays a scripted show on it for someone
//! without OBS, and the system tests' fake OBS serves it with fault injection and the 5.3+
//! not-ready gating, so the engine is tested against the same OBS the demo shows.
//!
//! Layout: `profile` (what differs between releases), `requests` (answering a request),
//! `happenings` (what OBS does on its own, and time passing).

mod happenings;
mod profile;
mod requests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub use profile::Profile;

/// `outputPath` a fresh [`SimObs`] reports for recordings (StopRecord, RecordStateChanged).
pub const DEFAULT_RECORD_PATH: &str = "/tmp/fake/rec.mkv";
/// `savedReplayPath` a fresh [`SimObs`] reports for saved replays.
pub const DEFAULT_REPLAY_PATH: &str = "/tmp/fake/replay.mkv";

/// Request status codes (`requestStatus.code`) by their obs-websocket names: the client's own
/// names, plus the ones only a server answers with.
pub mod status {
    pub use crate::obs::protocol::status::*;

    pub const MISSING_REQUEST_TYPE: u32 = 203;
    pub const UNKNOWN_REQUEST_TYPE: u32 = 204;
    pub const MISSING_REQUEST_FIELD: u32 = 300;
    pub const MISSING_REQUEST_DATA: u32 = 301;
    pub const INVALID_REQUEST_FIELD: u32 = 400;
    pub const STUDIO_MODE_NOT_ACTIVE: u32 = 506;
}

/// An event OBS would send: its `eventType` and `eventData` (`Null`: none).
pub type Event = (&'static str, Value);

/// The `eventIntent` (subscription bit) obs-websocket attaches to an event type.
/// Unknown event types get General (1).
pub fn event_intent(event_type: &str) -> u64 {
    match event_type {
        "InputVolumeMeters" => 1 << 16,
        "InputActiveStateChanged" => 1 << 17,
        "InputShowStateChanged" => 1 << 18,
        "SceneItemTransformChanged" => 1 << 19,
        "StreamStateChanged"
        | "RecordStateChanged"
        | "RecordFileChanged"
        | "ReplayBufferStateChanged"
        | "ReplayBufferSaved"
        | "VirtualcamStateChanged" => 64,
        "StudioModeStateChanged" | "ScreenshotSaved" => 1024,
        "VendorEvent" => 512,
        "ExitStarted" | "CustomEvent" => 1,
        t if t.starts_with("CurrentSceneCollection")
            || t.starts_with("SceneCollection")
            || t.starts_with("CurrentProfile")
            || t.starts_with("Profile") =>
        {
            2
        }
        t if t.starts_with("SceneItem") => 128,
        t if t.starts_with("MediaInput") => 256,
        t if t.starts_with("SourceFilter") => 32,
        t if t.contains("Transition") => 16,
        t if t.starts_with("Scene") || t.starts_with("CurrentProgramScene") || t.starts_with("CurrentPreviewScene") => {
            4
        }
        t if t.starts_with("Input") => 8,
        t if t.starts_with("Canvas") => 2048,
        _ => 1,
    }
}

/// What OBS does with one request: the response's status and data, and the events the
/// change causes.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub code: u32,
    pub comment: Option<String>,
    pub data: Option<Value>,
    pub events: Vec<Event>,
}

impl Answer {
    fn ok(data: Value) -> Answer {
        Answer { code: status::SUCCESS, comment: None, data: Some(data), events: Vec::new() }
    }

    fn ok_empty() -> Answer {
        Answer { code: status::SUCCESS, comment: None, data: None, events: Vec::new() }
    }

    /// A failed request: its status code and, as obs-websocket sends with most, a comment.
    pub fn error(code: u32, comment: Option<&str>) -> Answer {
        Answer { code, comment: comment.map(str::to_owned), data: None, events: Vec::new() }
    }

    fn with_events(mut self, events: Vec<Event>) -> Answer {
        self.events.extend(events);
        self
    }
}

/// A stable uuid for a named scene or input, as obs-websocket 5.4+ reports them (derived from the
/// name unless [`SimObs::uuids`] fixed one, e.g. to keep it across a rename).
pub fn derived_uuid(name: &str) -> String {
    let digest = Sha256::digest(format!("onair-fake-uuid:{name}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// The simulated OBS's state, in the response shapes of [`SimObs::profile`] (obs-websocket 5.1 by
/// default). Every field is public: a test sets up the OBS it needs with
/// `SimObs { stream_active: true, ..SimObs::default() }`.
#[derive(Clone, Debug, PartialEq)]
pub struct SimObs {
    /// The obs-websocket release whose behaviour is imitated. [`SimObs::for_profile`] also sets the
    /// matching version strings.
    pub profile: Profile,
    /// For the server (the simulation has no clock): 5.3+ only, every request is answered 207
    /// NotReady for this long after serving began (just after Identified), as OBS 30+ does while
    /// it finishes loading.
    pub not_ready_for: Duration,
    /// For the server: 5.3+ only, during a scene collection switch, leave requests unanswered
    /// until the switch ends (then answer them from the new state) instead of answering 207
    /// NotReady. obs-websocket's source answers 207; this is the "answers nothing" reading of
    /// it, for clients that must survive both.
    pub collection_switch_silent: bool,
    /// For the server: how long the output events a control causes (STARTING, STARTED, ...) come
    /// after its answer: real OBS answers StartStream before it says STARTING.
    pub output_events_delay: Duration,
    pub obs_version: String,
    pub ws_version: String,
    pub stream_active: bool,
    pub stream_reconnecting: bool,
    pub stream_duration_ms: u64,
    pub stream_bytes: u64,
    pub stream_skipped: u64,
    pub stream_total: u64,
    /// A live stream loses one in this many of its frames on the network (`outputSkippedFrames`
    /// of GetStreamStatus, counted by [`SimObs::advance`]); 0: none.
    pub stream_skip_one_in: u64,
    /// 0..1
    pub congestion: f64,
    /// What the encoder sends while an output runs, in bits per second ([`SimObs::advance`]).
    pub bitrate_bps: u64,
    /// GetStats: `cpuUsage` (percent), `memoryUsage` (MB), `availableDiskSpace` (MB),
    /// `activeFps` (also the rate [`SimObs::advance`] counts frames at), `averageFrameRenderTime`
    /// (ms).
    pub cpu_usage: f64,
    pub memory_usage: f64,
    pub available_disk_space: f64,
    pub active_fps: f64,
    pub average_frame_render_time: f64,
    /// GetStats `renderTotalFrames`: frames OBS rendered since it started (only an OBS restart
    /// takes it back).
    pub render_total_frames: u64,
    /// GetStats `renderSkippedFrames`: frames the renderer missed since OBS started, one in
    /// [`SimObs::render_skip_one_in`] of the rendered ones (0: none).
    pub render_skipped_frames: u64,
    pub render_skip_one_in: u64,
    /// GetStats `outputTotalFrames` and `outputSkippedFrames`: the frames OBS's video output
    /// handed to the encoders since OBS started, and those skipped for encoding lag, one in
    /// [`SimObs::encoder_skip_one_in`] (0: none). Not the stream's counters: those are
    /// GetStreamStatus' and restart at every reconnect.
    pub encoder_total_frames: u64,
    pub encoder_skipped_frames: u64,
    pub encoder_skip_one_in: u64,
    /// How long [`SimObs::advance`] has let OBS run (it renders frames all the while).
    pub uptime_ms: u64,
    pub record_active: bool,
    pub record_paused: bool,
    pub record_duration_ms: u64,
    pub record_bytes: u64,
    /// `outputPath` of the current (or last) recording file.
    pub record_path: String,
    /// `false`: replay buffer requests answer 604 "Replay buffer is not available."
    pub replay_available: bool,
    pub replay_active: bool,
    /// `savedReplayPath` of the replays SaveReplayBuffer saves.
    pub replay_path: String,
    /// `false`: virtual camera requests answer 604 "VirtualCam is not available."
    pub vcam_available: bool,
    pub vcam_active: bool,
    /// Top to bottom as the OBS UI shows them (GetSceneList reverses them).
    pub scenes: Vec<String>,
    /// Empty: OBS has no program scene (5.7+ answers `null`; older releases the empty string).
    pub program_scene: String,
    pub studio_mode: bool,
    /// Input names in OBS's order (GetInputList).
    pub inputs: Vec<String>,
    /// The inputs that have no audio (a colour source, a picture): the mute requests answer them
    /// 604 "The specified input does not support audio."
    pub inputs_without_audio: BTreeSet<String>,
    /// Inputs OBS fails to find by name (as obs-websocket 5.7.1 fails some lookups by name):
    /// a request naming one by `inputName` answers 600 as if it were not there; by `inputUuid` it
    /// is found.
    pub not_found_by_name: BTreeSet<String>,
    /// The program shows nothing (GetSourceScreenshot answers a black picture), as an
    /// empty scene does; otherwise a white one.
    pub program_black: bool,
    /// The inputs whose mute is on.
    pub muted: BTreeSet<String>,
    /// GetSpecialInputs: `mic1`..`mic4`, `desktop1`, `desktop2` -> the input in that slot of
    /// OBS's audio settings; a slot not here answers `null`.
    pub special_inputs: BTreeMap<String, String>,
    /// uuids fixed by scene or input name (5.4+), e.g. kept across a rename; any other name gets
    /// [`derived_uuid`].
    pub uuids: BTreeMap<String, String>,
    pub scene_collection: String,
    /// OBS's own settings profile (Profile menu), not to be confused with [`SimObs::profile`].
    pub current_profile: String,
}

impl SimObs {
    /// A fresh OBS of this release: [`SimObs::default`] with its version strings.
    pub fn for_profile(profile: Profile) -> SimObs {
        SimObs {
            profile,
            obs_version: profile.obs_version().into(),
            ws_version: profile.ws_version().into(),
            ..SimObs::default()
        }
    }

    /// The uuid obs-websocket 5.4+ reports for the scene or input with this name.
    pub fn uuid_of(&self, name: &str) -> String {
        self.uuids.get(name).cloned().unwrap_or_else(|| derived_uuid(name))
    }

    /// The name of the scene with this uuid.
    fn scene_by_uuid(&self, uuid: &str) -> Option<&String> {
        self.scenes.iter().find(|name| self.uuid_of(name) == uuid)
    }

    /// A scene as GetSceneList lists it, with its uuid from 5.4 on.
    fn scene_entry(&self, name: &str, index: usize) -> Value {
        let mut entry = json!({ "sceneName": name, "sceneIndex": index });
        if self.profile.has_uuids() {
            entry["sceneUuid"] = json!(self.uuid_of(name));
        }
        entry
    }

    /// The scenes as GetSceneList and SceneListChanged list them: index 0 is the BOTTOM of OBS's
    /// list, and the array is ordered by index.
    fn scene_entries(&self) -> Vec<Value> {
        self.scenes.iter().rev().enumerate().map(|(index, name)| self.scene_entry(name, index)).collect()
    }

    /// The program scene's name as obs-websocket answers it: `null` when there is none (5.7+).
    fn program_scene_value(&self) -> Value {
        if self.program_scene.is_empty() && self.profile.program_scene_may_be_null() {
            Value::Null
        } else {
            json!(self.program_scene)
        }
    }

    /// `{sceneName}` plus `sceneUuid` from 5.4 on: the data of the events about one scene.
    /// `{inputName}` with `inputUuid` from 5.4, as input events and answers name an input.
    fn input_event_data(&self, name: &str) -> Value {
        let mut data = json!({ "inputName": name });
        if self.profile.has_uuids() {
            data["inputUuid"] = json!(self.uuid_of(name));
        }
        data
    }

    /// Sets an input's mute; the InputMuteStateChanged event when that changed it (OBS says
    /// nothing when the mute already was as asked).
    pub(super) fn set_muted(&mut self, name: &str, muted: bool) -> Vec<Event> {
        let changed = if muted { self.muted.insert(name.to_string()) } else { self.muted.remove(name) };
        if !changed {
            return Vec::new();
        }
        let mut data = self.input_event_data(name);
        data["inputMuted"] = json!(muted);
        vec![("InputMuteStateChanged", data)]
    }

    fn scene_event_data(&self, name: &str) -> Value {
        let mut data = json!({ "sceneName": name });
        if self.profile.has_uuids() {
            data["sceneUuid"] = json!(self.uuid_of(name));
        }
        data
    }

    /// A `*StateChanged` event for one output state (`STARTED`, `RECONNECTING`, ...), with
    /// `outputActive` as obs-websocket derives it and, for the recording, `outputPath` on
    /// STARTED and STOPPED.
    fn state_event(&self, event_type: &'static str, state: &str) -> Event {
        let active = matches!(state, "STARTED" | "RESUMED" | "RECONNECTED");
        let mut data = json!({ "outputActive": active, "outputState": format!("OBS_WEBSOCKET_OUTPUT_{state}") });
        if event_type == "RecordStateChanged" {
            let path = matches!(state, "STARTED" | "STOPPED").then_some(&self.record_path);
            data["outputPath"] = json!(path);
        }
        (event_type, data)
    }
}

impl Default for SimObs {
    /// A fresh OBS 29.0.2 / obs-websocket 5.1.0: everything off, scenes "Scene" and "Gameplay",
    /// replay buffer and virtual camera not configured.
    fn default() -> Self {
        SimObs {
            profile: Profile::V5_1,
            output_events_delay: Duration::ZERO,
            not_ready_for: Duration::ZERO,
            collection_switch_silent: false,
            obs_version: "29.0.2".into(),
            ws_version: "5.1.0".into(),
            stream_active: false,
            stream_reconnecting: false,
            stream_duration_ms: 0,
            stream_bytes: 0,
            stream_skipped: 0,
            stream_total: 0,
            stream_skip_one_in: 1200,
            congestion: 0.0,
            bitrate_bps: 6_000_000,
            cpu_usage: 2.5,
            memory_usage: 180.0,
            available_disk_space: 50_000.0,
            active_fps: 30.0,
            average_frame_render_time: 0.8,
            render_total_frames: 3600,
            render_skipped_frames: 0,
            render_skip_one_in: 0,
            encoder_total_frames: 3600,
            encoder_skipped_frames: 0,
            encoder_skip_one_in: 0,
            uptime_ms: 0,
            record_active: false,
            record_paused: false,
            record_duration_ms: 0,
            record_bytes: 0,
            record_path: DEFAULT_RECORD_PATH.into(),
            replay_available: false,
            replay_active: false,
            replay_path: DEFAULT_REPLAY_PATH.into(),
            vcam_available: false,
            vcam_active: false,
            scenes: vec!["Scene".into(), "Gameplay".into()],
            program_scene: "Scene".into(),
            studio_mode: false,
            inputs: vec!["Mic/Aux".into(), "Desktop Audio".into()],
            inputs_without_audio: BTreeSet::new(),
            not_found_by_name: BTreeSet::new(),
            program_black: false,
            muted: BTreeSet::new(),
            special_inputs: BTreeMap::from([
                ("mic1".to_string(), "Mic/Aux".to_string()),
                ("desktop1".to_string(), "Desktop Audio".to_string()),
            ]),
            uuids: BTreeMap::new(),
            scene_collection: "Untitled".into(),
            current_profile: "Untitled".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents() {
        assert_eq!(event_intent("StreamStateChanged"), 64);
        assert_eq!(event_intent("CurrentProgramSceneChanged"), 4);
        assert_eq!(event_intent("SceneItemEnableStateChanged"), 128);
        assert_eq!(event_intent("SceneTransitionStarted"), 16);
        assert_eq!(event_intent("CurrentSceneCollectionChanging"), 2);
        assert_eq!(event_intent("StudioModeStateChanged"), 1024);
        assert_eq!(event_intent("InputVolumeMeters"), 1 << 16);
        assert_eq!(event_intent("SomethingFromTheFuture"), 1);
    }
}
