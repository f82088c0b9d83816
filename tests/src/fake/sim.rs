//! [`FakeState`]: the simulated OBS behind the fake, in the shapes of one obs-websocket release
//! ([`Profile`]). It is pure: a request goes in and an [`Answer`] (status, data and the events
//! the change causes) comes out ([`answer_request`]); an OBS-side happening (an RTMP outage, a
//! file split, a rename, ...) is a method that changes the state and returns the events OBS would
//! send. No sockets, no clock: `serve` decides when and to whom the events go, and whether a
//! 5.3+ OBS is ready to answer at all.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::profile::Profile;
use super::wire::{status, FakeRequest};

/// `outputPath` reported for recordings (StopRecord, RecordStateChanged).
pub const FAKE_RECORD_PATH: &str = "/tmp/fake/rec.mkv";
/// `savedReplayPath` reported by ReplayBufferSaved.
pub const FAKE_REPLAY_PATH: &str = "/tmp/fake/replay.mkv";

/// An event OBS would send: its `eventType` and `eventData` (`Null`: none).
pub(super) type Event = (&'static str, Value);

/// A stable uuid for a named scene or input, as obs-websocket 5.4+ reports them (the fake derives
/// it from the name unless [`FakeState::uuids`] fixed one, e.g. to keep it across a rename).
pub fn derived_uuid(name: &str) -> String {
    let digest = Sha256::digest(format!("onair-fake-uuid:{name}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// `HH:MM:SS.mmm`, as obs-websocket formats `outputTimecode`.
fn timecode(ms: u64) -> String {
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// The OBS state the auto-server answers from, in the response shapes of [`FakeState::profile`]
/// (obs-websocket 5.1 by default).
#[derive(Clone, Debug, PartialEq)]
pub struct FakeState {
    /// The obs-websocket release whose behaviour the auto-server imitates. [`FakeState::for_profile`]
    /// also sets the matching version strings.
    pub profile: Profile,
    /// 5.3+ only: every request is answered 207 NotReady for this long after serving began (just
    /// after Identified), as OBS 30+ does while it finishes loading.
    pub not_ready_for: Duration,
    /// 5.3+ only: during a scene collection switch, leave requests unanswered until the switch
    /// ends (then answer them from the new state) instead of answering 207 NotReady. obs-websocket's
    /// source answers 207; this is the "answers nothing" reading of it, for clients that must
    /// survive both.
    pub collection_switch_silent: bool,
    /// How long the output events a control causes (STARTING, STARTED, ...) come after
    /// its answer: real OBS answers StartStream before it says STARTING.
    pub output_events_delay: Duration,
    pub obs_version: String,
    pub ws_version: String,
    pub stream_active: bool,
    pub stream_reconnecting: bool,
    pub stream_duration_ms: u64,
    pub stream_bytes: u64,
    pub stream_skipped: u64,
    pub stream_total: u64,
    /// 0..1
    pub congestion: f64,
    /// GetStats `renderTotalFrames`: frames OBS rendered since it started (only an OBS restart
    /// takes it back).
    pub render_total_frames: u64,
    pub record_active: bool,
    pub record_paused: bool,
    pub record_duration_ms: u64,
    pub record_bytes: u64,
    /// `outputPath` of the current (or last) recording file.
    pub record_path: String,
    /// `false`: replay buffer requests answer 604 "Replay buffer is not available."
    pub replay_available: bool,
    pub replay_active: bool,
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
    /// uuids fixed by scene or input name (5.4+), e.g. kept across a rename; any other name gets
    /// [`derived_uuid`].
    pub uuids: BTreeMap<String, String>,
    pub scene_collection: String,
    /// OBS's own settings profile (Profile menu), not to be confused with [`FakeState::profile`].
    pub current_profile: String,
}

impl FakeState {
    /// A fresh OBS of this release: [`FakeState::default`] with its version strings.
    pub fn for_profile(profile: Profile) -> FakeState {
        FakeState {
            profile,
            obs_version: profile.obs_version().into(),
            ws_version: profile.ws_version().into(),
            ..FakeState::default()
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

    /// The program scene's name as obs-websocket answers it: `null` when there is none (5.7+).
    fn program_scene_value(&self) -> Value {
        if self.program_scene.is_empty() && self.profile.program_scene_may_be_null() {
            Value::Null
        } else {
            json!(self.program_scene)
        }
    }

    /// `{sceneName}` plus `sceneUuid` from 5.4 on: the data of the events about one scene.
    fn scene_event_data(&self, name: &str) -> Value {
        let mut data = json!({ "sceneName": name });
        if self.profile.has_uuids() {
            data["sceneUuid"] = json!(self.uuid_of(name));
        }
        data
    }
}

impl Default for FakeState {
    /// A fresh OBS 29.0.2 / obs-websocket 5.1.0: everything off, scenes "Scene" and "Gameplay",
    /// replay buffer and virtual camera not configured.
    fn default() -> Self {
        FakeState {
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
            congestion: 0.0,
            render_total_frames: 3600,
            record_active: false,
            record_paused: false,
            record_duration_ms: 0,
            record_bytes: 0,
            record_path: FAKE_RECORD_PATH.into(),
            replay_available: false,
            replay_active: false,
            vcam_available: false,
            vcam_active: false,
            scenes: vec!["Scene".into(), "Gameplay".into()],
            program_scene: "Scene".into(),
            studio_mode: false,
            inputs: vec!["Mic/Aux".into(), "Desktop Audio".into()],
            uuids: BTreeMap::new(),
            scene_collection: "Untitled".into(),
            current_profile: "Untitled".into(),
        }
    }
}

/// What OBS does with one request: the response's status and data, and the events the
/// change causes.
pub(super) struct Answer {
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

    pub(super) fn error(code: u32, comment: Option<&str>) -> Answer {
        Answer { code, comment: comment.map(str::to_owned), data: None, events: Vec::new() }
    }

    fn with_events(mut self, events: Vec<Event>) -> Answer {
        self.events.extend(events);
        self
    }
}

const REPLAY_UNAVAILABLE: &str = "Replay buffer is not available.";
const VCAM_UNAVAILABLE: &str = "VirtualCam is not available.";

fn output_state(state: &str) -> String {
    format!("OBS_WEBSOCKET_OUTPUT_{state}")
}

/// `outputActive` as obs-websocket derives it from the state.
fn state_is_active(state: &str) -> bool {
    matches!(state, "STARTED" | "RESUMED" | "RECONNECTED")
}

/// A `*StateChanged` event for one state.
fn state_event(event_type: &'static str, state: &str) -> Event {
    let mut data = json!({ "outputActive": state_is_active(state), "outputState": output_state(state) });
    if event_type == "RecordStateChanged" {
        let path = matches!(state, "STARTED" | "STOPPED").then_some(FAKE_RECORD_PATH);
        data["outputPath"] = json!(path);
    }
    (event_type, data)
}

/// STARTING, STARTED or STOPPING, STOPPED.
fn transition_events(event_type: &'static str, start: bool) -> Vec<Event> {
    let states = if start { ["STARTING", "STARTED"] } else { ["STOPPING", "STOPPED"] };
    states.iter().map(|state| state_event(event_type, state)).collect()
}

/// Start/Stop/Toggle for an output whose on/off state is `active`.
fn start_stop(request_type: &str, active: &mut bool, event_type: &'static str) -> Answer {
    let start = match request_type {
        t if t.starts_with("Start") => true,
        t if t.starts_with("Stop") => false,
        _ => !*active, // Toggle*
    };
    let toggle = request_type.starts_with("Toggle");
    if !toggle && start == *active {
        return Answer::error(if start { status::OUTPUT_RUNNING } else { status::OUTPUT_NOT_RUNNING }, None);
    }
    *active = start;
    let answer = if toggle { Answer::ok(json!({ "outputActive": start })) } else { Answer::ok_empty() };
    answer.with_events(transition_events(event_type, start))
}

/// A required string field of `requestData`, or the error obs-websocket gives.
fn required_string<'a>(req: &'a FakeRequest, field: &str) -> Result<&'a str, Answer> {
    let Some(Value::Object(data)) = &req.data else {
        return Err(Answer::error(
            status::MISSING_REQUEST_DATA,
            Some("Your request data is missing or invalid (non-object)"),
        ));
    };
    match data.get(field) {
        None | Some(Value::Null) => Err(Answer::error(
            status::MISSING_REQUEST_FIELD,
            Some(&format!("Your request is missing the `{field}` field.")),
        )),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Answer::error(
            status::INVALID_REQUEST_FIELD,
            Some(&format!("The field value of `{field}` must be a string.")),
        )),
    }
}

/// The existing scene a request names by `sceneName` (or, from 5.4, `sceneUuid`), or the error
/// obs-websocket gives.
fn scene_named_in(st: &FakeState, req: &FakeRequest) -> Result<String, Answer> {
    if st.profile.has_uuids() {
        if let Some(uuid) = req.data.as_ref().and_then(|d| d.get("sceneUuid")).and_then(Value::as_str) {
            return st.scene_by_uuid(uuid).cloned().ok_or_else(|| {
                Answer::error(
                    status::RESOURCE_NOT_FOUND,
                    Some(&format!("No source was found by the uuid of `{uuid}`.")),
                )
            });
        }
    }
    let name = required_string(req, "sceneName")?;
    if !st.scenes.iter().any(|s| s == name) {
        return Err(Answer::error(
            status::RESOURCE_NOT_FOUND,
            Some(&format!("No source was found by the name of `{name}`.")),
        ));
    }
    Ok(name.to_owned())
}

fn required_bool(req: &FakeRequest, field: &str) -> Result<bool, Answer> {
    let Some(Value::Object(data)) = &req.data else {
        return Err(Answer::error(
            status::MISSING_REQUEST_DATA,
            Some("Your request data is missing or invalid (non-object)"),
        ));
    };
    match data.get(field) {
        None | Some(Value::Null) => Err(Answer::error(
            status::MISSING_REQUEST_FIELD,
            Some(&format!("Your request is missing the `{field}` field.")),
        )),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(Answer::error(
            status::INVALID_REQUEST_FIELD,
            Some(&format!("The field value of `{field}` must be boolean.")),
        )),
    }
}

/// Answers one request from `st`, updating it for requests that change OBS.
pub(super) fn answer_request(st: &mut FakeState, req: &FakeRequest) -> Answer {
    let request_type = req.request_type.as_str();
    match request_type {
        "" => Answer::error(status::MISSING_REQUEST_TYPE, Some("Your request is missing a `requestType`")),

        "GetVersion" => Answer::ok(json!({
            "obsVersion": st.obs_version,
            "obsWebSocketVersion": st.ws_version,
            "rpcVersion": 1,
            "availableRequests": [],
            "supportedImageFormats": ["png", "jpg"],
            "platform": "debian",
            "platformDescription": "Debian GNU/Linux 12 (bookworm)",
        })),
        "GetStats" => Answer::ok(json!({
            "cpuUsage": 2.5,
            "memoryUsage": 180.0,
            "availableDiskSpace": 50_000.0,
            "activeFps": 30.0,
            "averageFrameRenderTime": 0.8,
            "renderSkippedFrames": 0,
            "renderTotalFrames": st.render_total_frames,
            "outputSkippedFrames": st.stream_skipped,
            "outputTotalFrames": st.stream_total,
        })),

        "GetStreamStatus" => Answer::ok(json!({
            "outputActive": st.stream_active,
            "outputReconnecting": st.stream_reconnecting,
            "outputTimecode": timecode(st.stream_duration_ms),
            "outputDuration": st.stream_duration_ms,
            "outputCongestion": st.congestion,
            "outputBytes": st.stream_bytes,
            "outputSkippedFrames": st.stream_skipped,
            "outputTotalFrames": st.stream_total,
        })),
        "StartStream" | "StopStream" | "ToggleStream" => {
            let answer = start_stop(request_type, &mut st.stream_active, "StreamStateChanged");
            if !st.stream_active {
                st.stream_reconnecting = false;
            }
            answer
        }

        "GetRecordStatus" => Answer::ok(json!({
            "outputActive": st.record_active,
            "outputPaused": st.record_paused,
            "outputTimecode": timecode(st.record_duration_ms),
            "outputDuration": st.record_duration_ms,
            "outputBytes": st.record_bytes,
        })),
        "StartRecord" | "StopRecord" | "ToggleRecord" => {
            let mut answer = start_stop(request_type, &mut st.record_active, "RecordStateChanged");
            if !st.record_active {
                st.record_paused = false;
            }
            if request_type == "StopRecord" && answer.code == status::SUCCESS {
                answer.data = Some(json!({ "outputPath": st.record_path }));
            }
            for (_, data) in &mut answer.events {
                if data["outputPath"].is_string() {
                    data["outputPath"] = json!(st.record_path);
                }
            }
            answer
        }
        "PauseRecord" | "ResumeRecord" | "ToggleRecordPause" => {
            if !st.record_active {
                return Answer::error(status::OUTPUT_NOT_RUNNING, None);
            }
            let pause = match request_type {
                "PauseRecord" if st.record_paused => return Answer::error(status::OUTPUT_PAUSED, None),
                "ResumeRecord" if !st.record_paused => return Answer::error(status::OUTPUT_NOT_PAUSED, None),
                "PauseRecord" => true,
                "ResumeRecord" => false,
                _ => !st.record_paused,
            };
            st.record_paused = pause;
            let answer = if request_type == "ToggleRecordPause" {
                Answer::ok(json!({ "outputPaused": pause }))
            } else {
                Answer::ok_empty()
            };
            answer.with_events(vec![state_event("RecordStateChanged", if pause { "PAUSED" } else { "RESUMED" })])
        }

        "GetReplayBufferStatus"
        | "StartReplayBuffer"
        | "StopReplayBuffer"
        | "ToggleReplayBuffer"
        | "SaveReplayBuffer"
        | "GetLastReplayBufferReplay"
            if !st.replay_available =>
        {
            Answer::error(status::INVALID_RESOURCE_STATE, Some(REPLAY_UNAVAILABLE))
        }
        "GetReplayBufferStatus" => Answer::ok(json!({ "outputActive": st.replay_active })),
        "StartReplayBuffer" | "StopReplayBuffer" | "ToggleReplayBuffer" => {
            start_stop(request_type, &mut st.replay_active, "ReplayBufferStateChanged")
        }
        "SaveReplayBuffer" | "GetLastReplayBufferReplay" if !st.replay_active => {
            Answer::error(status::OUTPUT_NOT_RUNNING, None)
        }
        "SaveReplayBuffer" => {
            Answer::ok_empty().with_events(vec![("ReplayBufferSaved", json!({ "savedReplayPath": FAKE_REPLAY_PATH }))])
        }
        "GetLastReplayBufferReplay" => Answer::ok(json!({ "savedReplayPath": FAKE_REPLAY_PATH })),

        "GetVirtualCamStatus" | "StartVirtualCam" | "StopVirtualCam" | "ToggleVirtualCam" if !st.vcam_available => {
            Answer::error(status::INVALID_RESOURCE_STATE, Some(VCAM_UNAVAILABLE))
        }
        "GetVirtualCamStatus" => Answer::ok(json!({ "outputActive": st.vcam_active })),
        "StartVirtualCam" | "StopVirtualCam" | "ToggleVirtualCam" => {
            start_stop(request_type, &mut st.vcam_active, "VirtualcamStateChanged")
        }

        "GetSceneList" => {
            // Index 0 is the BOTTOM of OBS's list; the array is ordered by index.
            let scenes: Vec<Value> =
                st.scenes.iter().rev().enumerate().map(|(index, name)| st.scene_entry(name, index)).collect();
            let program = st.program_scene_value();
            let preview = if st.studio_mode { program.clone() } else { Value::Null };
            let mut data = json!({
                "currentProgramSceneName": program,
                "currentPreviewSceneName": preview,
                "scenes": scenes,
            });
            if st.profile.has_uuids() {
                let program_uuid = program.as_str().map(|name| st.uuid_of(name));
                data["currentProgramSceneUuid"] = json!(program_uuid);
                data["currentPreviewSceneUuid"] = json!(program_uuid.filter(|_| st.studio_mode));
            }
            Answer::ok(data)
        }
        "GetCurrentProgramScene" => {
            let program = st.program_scene_value();
            let mut data = json!({ "currentProgramSceneName": program });
            if st.profile.has_uuids() {
                let uuid = program.as_str().map(|name| st.uuid_of(name));
                data["sceneName"] = program;
                data["sceneUuid"] = json!(uuid);
                data["currentProgramSceneUuid"] = json!(uuid);
            }
            Answer::ok(data)
        }
        "GetCurrentPreviewScene" if !st.studio_mode => {
            Answer::error(status::STUDIO_MODE_NOT_ACTIVE, Some("Studio mode is not active."))
        }
        "GetCurrentPreviewScene" => Answer::ok(json!({ "currentPreviewSceneName": st.program_scene })),
        "SetCurrentProgramScene" => {
            let name = match scene_named_in(st, req) {
                Ok(name) => name,
                Err(answer) => return answer,
            };
            if st.program_scene == name {
                return Answer::ok_empty();
            }
            let data = st.scene_event_data(&name);
            st.program_scene = name;
            Answer::ok_empty().with_events(vec![("CurrentProgramSceneChanged", data)])
        }

        "GetInputList" => {
            let inputs: Vec<Value> = st
                .inputs
                .iter()
                .map(|name| {
                    let mut input = json!({
                        "inputName": name,
                        "inputKind": "pulse_input_capture",
                        "unversionedInputKind": "pulse_input_capture",
                    });
                    if st.profile.has_uuids() {
                        input["inputUuid"] = json!(st.uuid_of(name));
                    }
                    input
                })
                .collect();
            Answer::ok(json!({ "inputs": inputs }))
        }
        "GetSceneCollectionList" => Answer::ok(json!({
            "currentSceneCollectionName": st.scene_collection,
            "sceneCollections": [st.scene_collection],
        })),
        "GetProfileList" => Answer::ok(json!({
            "currentProfileName": st.current_profile,
            "profiles": [st.current_profile],
        })),

        "GetStudioModeEnabled" => Answer::ok(json!({ "studioModeEnabled": st.studio_mode })),
        "SetStudioModeEnabled" => {
            let enabled = match required_bool(req, "studioModeEnabled") {
                Ok(enabled) => enabled,
                Err(answer) => return answer,
            };
            if st.studio_mode == enabled {
                return Answer::ok_empty();
            }
            st.studio_mode = enabled;
            Answer::ok_empty().with_events(vec![("StudioModeStateChanged", json!({ "studioModeEnabled": enabled }))])
        }

        _ => Answer::error(status::UNKNOWN_REQUEST_TYPE, Some("Your request type is not valid.")),
    }
}

/// OBS-side happenings: each changes the state the way OBS would and returns the events it would
/// send, in the release's own words. `serve` filters them by the client's subscriptions.
impl FakeState {
    /// The stream loses its ingest server: `outputReconnecting` turns true and `outputBytes` reads
    /// 0 (as measured on OBS 29); 5.1+ says RECONNECTING, 5.0 nothing.
    pub(super) fn rtmp_outage(&mut self) -> Vec<Event> {
        self.stream_reconnecting = true;
        self.stream_bytes = 0;
        reconnect_event(self.profile, "RECONNECTING")
    }

    /// One more reconnect attempt during an outage: 5.1+ says RECONNECTING again.
    pub(super) fn rtmp_retry(&mut self) -> Vec<Event> {
        reconnect_event(self.profile, "RECONNECTING")
    }

    /// The ingest server is back: `outputReconnecting` turns false and OBS restarts the stream's
    /// counters (duration, bytes, frames) from zero, as measured on OBS 29; 5.1+ says RECONNECTED.
    pub(super) fn rtmp_recovered(&mut self) -> Vec<Event> {
        self.stream_reconnecting = false;
        self.stream_duration_ms = 0;
        self.stream_bytes = 0;
        self.stream_total = 0;
        self.stream_skipped = 0;
        reconnect_event(self.profile, "RECONNECTED")
    }

    /// The recording continues in a new file: 5.5+ says RecordFileChanged `{newOutputPath}`.
    pub(super) fn split_recording(&mut self, new_path: &str) -> Vec<Event> {
        self.record_path = new_path.to_owned();
        if self.profile.has_record_file_changed() {
            vec![("RecordFileChanged", json!({ "newOutputPath": new_path }))]
        } else {
            Vec::new()
        }
    }

    /// Another program scene: CurrentProgramSceneChanged (with `sceneUuid` from 5.4).
    pub(super) fn switch_scene(&mut self, name: &str) -> Vec<Event> {
        self.program_scene = name.to_owned();
        vec![("CurrentProgramSceneChanged", self.scene_event_data(name))]
    }

    /// A scene renamed: SceneNameChanged `{oldSceneName, sceneName}` (and the unchanged
    /// `sceneUuid` from 5.4), then SceneListChanged.
    pub(super) fn rename_scene(&mut self, old: &str, new: &str) -> Vec<Event> {
        let uuid = self.uuid_of(old);
        self.uuids.remove(old);
        self.uuids.insert(new.to_owned(), uuid.clone());
        for scene in self.scenes.iter_mut().filter(|s| *s == old) {
            *scene = new.to_owned();
        }
        if self.program_scene == old {
            self.program_scene = new.to_owned();
        }
        let mut data = json!({ "oldSceneName": old, "sceneName": new });
        if self.profile.has_uuids() {
            data["sceneUuid"] = json!(uuid);
        }
        vec![("SceneNameChanged", data), scene_list_changed(self)]
    }

    /// A scene added at the top of OBS's list: SceneCreated, then SceneListChanged.
    pub(super) fn create_scene(&mut self, name: &str) -> Vec<Event> {
        self.scenes.insert(0, name.to_owned());
        let mut data = self.scene_event_data(name);
        data["isGroup"] = json!(false);
        vec![("SceneCreated", data), scene_list_changed(self)]
    }

    /// A scene removed: SceneRemoved, then SceneListChanged; when it was the program scene, OBS
    /// puts the top remaining scene on program first (CurrentProgramSceneChanged).
    pub(super) fn remove_scene(&mut self, name: &str) -> Vec<Event> {
        let mut data = self.scene_event_data(name);
        data["isGroup"] = json!(false);
        self.scenes.retain(|s| s != name);
        let mut events = Vec::new();
        if self.program_scene == name {
            self.program_scene = self.scenes.first().cloned().unwrap_or_default();
            if !self.program_scene.is_empty() {
                events.push(("CurrentProgramSceneChanged", self.scene_event_data(&self.program_scene)));
            }
        }
        events.push(("SceneRemoved", data));
        events.push(scene_list_changed(self));
        events
    }

    /// An input renamed: InputNameChanged `{oldInputName, inputName}` (and `inputUuid` from 5.4).
    pub(super) fn rename_input(&mut self, old: &str, new: &str) -> Vec<Event> {
        let uuid = self.uuid_of(old);
        self.uuids.remove(old);
        self.uuids.insert(new.to_owned(), uuid.clone());
        for input in self.inputs.iter_mut().filter(|i| *i == old) {
            *input = new.to_owned();
        }
        let mut data = json!({ "oldInputName": old, "inputName": new });
        if self.profile.has_uuids() {
            data["inputUuid"] = json!(uuid);
        }
        vec![("InputNameChanged", data)]
    }

    /// Another OBS settings profile `name`: CurrentProfileChanging, `change` (what depends on the
    /// profile), then CurrentProfileChanged.
    pub(super) fn switch_obs_profile(&mut self, name: &str, change: impl FnOnce(&mut FakeState)) -> Vec<Event> {
        let changing = ("CurrentProfileChanging", json!({ "profileName": self.current_profile }));
        change(self);
        self.current_profile = name.to_owned();
        vec![changing, ("CurrentProfileChanged", json!({ "profileName": name }))]
    }
}

/// A StreamStateChanged for RECONNECTING / RECONNECTED, which 5.0 does not have.
fn reconnect_event(profile: Profile, state: &str) -> Vec<Event> {
    if profile.has_reconnect_events() {
        vec![state_event("StreamStateChanged", state)]
    } else {
        Vec::new()
    }
}

/// SceneListChanged with the scenes as GetSceneList lists them.
fn scene_list_changed(st: &FakeState) -> Event {
    let scenes: Vec<Value> =
        st.scenes.iter().rev().enumerate().map(|(index, name)| st.scene_entry(name, index)).collect();
    ("SceneListChanged", json!({ "scenes": scenes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timecode_format() {
        assert_eq!(timecode(0), "00:00:00.000");
        assert_eq!(timecode(3_723_045), "01:02:03.045");
    }

    #[test]
    fn toggle_stream_reports_new_state_and_emits_events() {
        let mut st = FakeState::default();
        let req = FakeRequest { request_type: "ToggleStream".into(), request_id: "1".into(), data: None };
        let answer = answer_request(&mut st, &req);
        assert_eq!(answer.code, status::SUCCESS);
        assert_eq!(answer.data, Some(json!({ "outputActive": true })));
        assert!(st.stream_active);
        let states: Vec<_> = answer.events.iter().map(|(_, d)| d["outputState"].clone()).collect();
        assert_eq!(states, [json!("OBS_WEBSOCKET_OUTPUT_STARTING"), json!("OBS_WEBSOCKET_OUTPUT_STARTED")]);
        let start = FakeRequest { request_type: "StartStream".into(), ..req };
        assert_eq!(answer_request(&mut st, &start).code, status::OUTPUT_RUNNING);
    }
}
