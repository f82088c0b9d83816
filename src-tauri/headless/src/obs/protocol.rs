//! Typed obs-websocket v5 messages (RPC version 1).
//!
//! Everything OBS sends is parsed leniently: fields added between obs-websocket
//! 5.0 and 5.7 are optional, unknown ops, events, output states and status codes
//! parse into catch-all variants, so a newer or older OBS never crashes the client.
//! Field names follow the protocol exactly (camelCase on the wire).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Opcodes of the `{"op": .., "d": ..}` envelope.
pub mod op {
    pub const HELLO: u64 = 0;
    pub const IDENTIFY: u64 = 1;
    pub const IDENTIFIED: u64 = 2;
    pub const REIDENTIFY: u64 = 3;
    pub const EVENT: u64 = 5;
    pub const REQUEST: u64 = 6;
    pub const REQUEST_RESPONSE: u64 = 7;
    pub const REQUEST_BATCH: u64 = 8;
    pub const REQUEST_BATCH_RESPONSE: u64 = 9;
}

/// The RPC version this client speaks.
pub const RPC_VERSION: u32 = 1;

/// The websocket subprotocol for JSON text frames.
pub const SUBPROTOCOL: &str = "obswebsocket.json";

/// Event subscription bits a status tray needs: General | Config | Scenes | Inputs | Outputs | Ui.
/// The high-volume events (volume meters, transforms) stay off.
/// Inputs (8) too, for the watched mics' mutes and names.
pub const TRAY_EVENT_SUBSCRIPTIONS: u32 = 1 | 2 | 4 | 8 | 64 | 1024;

/// Event subscription bits, by obs-websocket's names (`EventSubscription`).
pub mod subscription {
    /// InputCreated, InputRemoved, InputNameChanged, InputMuteStateChanged, ...
    pub const INPUTS: u32 = 8;
    /// InputVolumeMeters, about every 50 ms: high-volume, never in "All".
    pub const INPUT_VOLUME_METERS: u32 = 1 << 16;
}

/// A frame from OBS, sorted by opcode.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerMessage {
    Hello(Hello),
    Identified(Identified),
    Event(RawEvent),
    RequestResponse(RequestResponse),
    /// An opcode this client does not use (batch responses, or one from a future version).
    Other {
        op: u64,
    },
}

/// Why a text frame from OBS could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(pub String);

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl ServerMessage {
    /// Parses one text frame. Malformed JSON, or a known opcode whose body lacks a
    /// required field, is an error the caller logs and skips; it never panics.
    pub fn parse(text: &str) -> Result<ServerMessage, FrameError> {
        let mut frame: serde_json::Map<String, Value> =
            serde_json::from_str(text).map_err(|e| FrameError(format!("not an obs-websocket frame: {e}")))?;
        let op = frame
            .get("op")
            .and_then(Value::as_u64)
            .ok_or_else(|| FrameError("frame without a numeric \"op\"".into()))?;
        let body = frame.remove("d").unwrap_or(Value::Null);
        let parsed = match op {
            op::HELLO => serde_json::from_value(body).map(ServerMessage::Hello),
            op::IDENTIFIED => serde_json::from_value(body).map(ServerMessage::Identified),
            op::EVENT => serde_json::from_value(body).map(ServerMessage::Event),
            op::REQUEST_RESPONSE => serde_json::from_value(body).map(ServerMessage::RequestResponse),
            other => Ok(ServerMessage::Other { op: other }),
        };
        parsed.map_err(|e| FrameError(format!("bad body for op {op}: {e}")))
    }
}

/// op 0, the first thing OBS says.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hello {
    pub obs_web_socket_version: String,
    pub rpc_version: u32,
    #[serde(default)]
    pub authentication: Option<AuthChallenge>,
    /// Only sent from obs-websocket 5.6 on.
    #[serde(default)]
    pub obs_studio_version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AuthChallenge {
    pub challenge: String,
    pub salt: String,
}

/// op 2, the session is ready.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identified {
    pub negotiated_rpc_version: u32,
}

/// op 5 as it came off the wire; [`ObsEvent::from_raw`] gives it a type.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawEvent {
    pub event_type: String,
    #[serde(default)]
    pub event_intent: Option<u64>,
    #[serde(default)]
    pub event_data: Option<Value>,
}

/// op 7.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestResponse {
    pub request_type: String,
    pub request_id: String,
    pub request_status: RequestStatus,
    #[serde(default)]
    pub response_data: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RequestStatus {
    pub result: bool,
    /// Kept raw so codes from future versions still parse; see [`status_code_name`].
    pub code: u32,
    #[serde(default)]
    pub comment: Option<String>,
}

/// Request status codes this client acts on.
pub mod status {
    pub const SUCCESS: u32 = 100;
    pub const NOT_READY: u32 = 207;
    pub const OUTPUT_RUNNING: u32 = 500;
    pub const OUTPUT_NOT_RUNNING: u32 = 501;
    pub const OUTPUT_PAUSED: u32 = 502;
    pub const OUTPUT_NOT_PAUSED: u32 = 503;
    pub const OUTPUT_DISABLED: u32 = 504;
    pub const RESOURCE_NOT_FOUND: u32 = 600;
    pub const INVALID_RESOURCE_STATE: u32 = 604;
}

/// WebSocket close codes: obs-websocket's own (`WebSocketCloseCode`), and the
/// RFC 6455 one OnAir reports when a close frame carried no code.
pub mod close {
    /// RFC 6455 "No Status Rcvd".
    pub const NO_STATUS: u16 = 1005;
    pub const UNKNOWN_REASON: u16 = 4000;
    pub const MESSAGE_DECODE_ERROR: u16 = 4002;
    pub const MISSING_DATA_FIELD: u16 = 4003;
    pub const INVALID_DATA_FIELD_TYPE: u16 = 4004;
    pub const INVALID_DATA_FIELD_VALUE: u16 = 4005;
    pub const UNKNOWN_OP_CODE: u16 = 4006;
    pub const NOT_IDENTIFIED: u16 = 4007;
    pub const ALREADY_IDENTIFIED: u16 = 4008;
    pub const AUTHENTICATION_FAILED: u16 = 4009;
    pub const UNSUPPORTED_RPC_VERSION: u16 = 4010;
    pub const SESSION_INVALIDATED: u16 = 4011;
    pub const UNSUPPORTED_FEATURE: u16 = 4012;
}

/// The protocol's name for a status code, or "Unknown" for codes newer than this client.
pub fn status_code_name(code: u32) -> &'static str {
    match code {
        0 => "Unknown",
        10 => "NoError",
        100 => "Success",
        203 => "MissingRequestType",
        204 => "UnknownRequestType",
        205 => "GenericError",
        206 => "UnsupportedRequestBatchExecutionType",
        207 => "NotReady",
        300 => "MissingRequestField",
        301 => "MissingRequestData",
        400 => "InvalidRequestField",
        401 => "InvalidRequestFieldType",
        402 => "RequestFieldOutOfRange",
        403 => "RequestFieldEmpty",
        404 => "TooManyRequestFields",
        500 => "OutputRunning",
        501 => "OutputNotRunning",
        502 => "OutputPaused",
        503 => "OutputNotPaused",
        504 => "OutputDisabled",
        505 => "StudioModeActive",
        506 => "StudioModeNotActive",
        600 => "ResourceNotFound",
        601 => "ResourceAlreadyExists",
        602 => "InvalidResourceType",
        603 => "NotEnoughResources",
        604 => "InvalidResourceState",
        605 => "InvalidInputKind",
        606 => "ResourceNotConfigurable",
        607 => "InvalidFilterKind",
        700 => "ResourceCreationFailed",
        701 => "ResourceActionFailed",
        702 => "RequestProcessingFailed",
        703 => "CannotAct",
        _ => "Unknown",
    }
}

/// op 1.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identify {
    pub rpc_version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authentication: Option<String>,
    pub event_subscriptions: u32,
}

/// op 3: new event subscriptions for the session; OBS answers with op 2 Identified.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reidentify {
    pub event_subscriptions: u32,
}

/// op 6. `requestId` is always present: OBS closes the whole session (4003) without it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Request<'a> {
    pub request_type: &'a str,
    pub request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_data: Option<&'a Value>,
}

/// Wraps a client message in its envelope.
pub fn client_frame<T: Serialize>(op: u64, body: &T) -> String {
    #[derive(Serialize)]
    struct Out<'a, T> {
        op: u64,
        d: &'a T,
    }
    // Serializing plain structs of strings and numbers into a String cannot fail.
    serde_json::to_string(&Out { op, d: body }).unwrap_or_default()
}

/// `OBS_WEBSOCKET_OUTPUT_*`. Decisions are driven by this, never by `outputActive`,
/// which is false while reconnecting or paused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputState {
    Starting,
    Started,
    Stopping,
    Stopped,
    Reconnecting,
    Reconnected,
    Paused,
    Resumed,
    /// `OBS_WEBSOCKET_OUTPUT_UNKNOWN` or a state from a future version.
    Unknown(String),
}

impl OutputState {
    pub fn from_wire(s: &str) -> OutputState {
        match s.strip_prefix("OBS_WEBSOCKET_OUTPUT_").unwrap_or(s) {
            "STARTING" => OutputState::Starting,
            "STARTED" => OutputState::Started,
            "STOPPING" => OutputState::Stopping,
            "STOPPED" => OutputState::Stopped,
            "RECONNECTING" => OutputState::Reconnecting,
            "RECONNECTED" => OutputState::Reconnected,
            "PAUSED" => OutputState::Paused,
            "RESUMED" => OutputState::Resumed,
            _ => OutputState::Unknown(s.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for OutputState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(OutputState::from_wire(&s))
    }
}

/// One scene as OBS lists it. `sceneIndex` 0 is the BOTTOM of OBS's list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SceneEntry {
    pub scene_name: String,
    #[serde(default)]
    pub scene_index: Option<i64>,
}

/// Scene names in the order OBS's scene dock shows them, top first.
pub fn scenes_top_first(entries: &[SceneEntry]) -> Vec<String> {
    let mut sorted: Vec<&SceneEntry> = entries.iter().collect();
    // Entries without an index keep their relative order at the end.
    sorted.sort_by_key(|e| std::cmp::Reverse(e.scene_index.unwrap_or(i64::MIN)));
    sorted.into_iter().map(|e| e.scene_name.clone()).collect()
}

/// The events the engine acts on; everything else is `Other`.
#[derive(Debug, Clone, PartialEq)]
pub enum ObsEvent {
    StreamStateChanged {
        state: OutputState,
    },
    RecordStateChanged {
        state: OutputState,
        output_path: Option<String>,
    },
    ReplayBufferStateChanged {
        state: OutputState,
    },
    ReplayBufferSaved {
        path: Option<String>,
    },
    VirtualcamStateChanged {
        state: OutputState,
    },
    /// 5.7 may name no program scene (canvases); `None` then.
    CurrentProgramSceneChanged {
        scene_name: Option<String>,
    },
    SceneNameChanged {
        old_name: String,
        new_name: String,
    },
    /// Groups are scenes to OBS too, but never listed among the program scenes.
    SceneCreated {
        name: String,
        is_group: bool,
    },
    SceneRemoved {
        name: String,
        is_group: bool,
    },
    InputNameChanged {
        old_name: String,
        new_name: String,
        /// From 5.4: the input's uuid, which the rename keeps.
        uuid: Option<String>,
    },
    /// Replay buffer and virtual camera availability depend on the profile.
    CurrentProfileChanged,
    /// 5.5+: automatic file splitting started a new file.
    RecordFileChanged {
        path: String,
    },
    SceneListChanged {
        scenes: Vec<SceneEntry>,
    },
    StudioModeStateChanged {
        enabled: bool,
    },
    SceneCollectionChanging,
    SceneCollectionChanged,
    ExitStarted,
    /// Unknown, unused, or a known type whose data did not have the fields we need.
    Other {
        event_type: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OutputStateData {
    output_state: OutputState,
    #[serde(default)]
    output_path: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReplaySavedData {
    #[serde(default)]
    saved_replay_path: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SceneNameData {
    #[serde(default)]
    scene_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SceneRenameData {
    old_scene_name: String,
    scene_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SceneLifeData {
    scene_name: String,
    #[serde(default)]
    is_group: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InputRenameData {
    old_input_name: String,
    input_name: String,
    #[serde(default)]
    input_uuid: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordFileData {
    new_output_path: String,
}

#[derive(Deserialize)]
struct SceneListData {
    scenes: Vec<SceneEntry>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StudioModeData {
    studio_mode_enabled: bool,
}

impl ObsEvent {
    pub fn from_raw(raw: &RawEvent) -> ObsEvent {
        let data = raw.event_data.clone().unwrap_or(Value::Null);
        let typed = match raw.event_type.as_str() {
            "StreamStateChanged" => serde_json::from_value::<OutputStateData>(data)
                .ok()
                .map(|d| ObsEvent::StreamStateChanged { state: d.output_state }),
            "RecordStateChanged" => {
                serde_json::from_value::<OutputStateData>(data).ok().map(|d| ObsEvent::RecordStateChanged {
                    state: d.output_state,
                    output_path: d.output_path.filter(|p| !p.is_empty()),
                })
            }
            "ReplayBufferStateChanged" => serde_json::from_value::<OutputStateData>(data)
                .ok()
                .map(|d| ObsEvent::ReplayBufferStateChanged { state: d.output_state }),
            "ReplayBufferSaved" => serde_json::from_value::<ReplaySavedData>(data)
                .ok()
                .map(|d| ObsEvent::ReplayBufferSaved { path: d.saved_replay_path }),
            "VirtualcamStateChanged" => serde_json::from_value::<OutputStateData>(data)
                .ok()
                .map(|d| ObsEvent::VirtualcamStateChanged { state: d.output_state }),
            "CurrentProgramSceneChanged" => serde_json::from_value::<SceneNameData>(data)
                .ok()
                .map(|d| ObsEvent::CurrentProgramSceneChanged { scene_name: d.scene_name }),
            "SceneNameChanged" => serde_json::from_value::<SceneRenameData>(data)
                .ok()
                .map(|d| ObsEvent::SceneNameChanged { old_name: d.old_scene_name, new_name: d.scene_name }),
            "SceneCreated" => serde_json::from_value::<SceneLifeData>(data)
                .ok()
                .map(|d| ObsEvent::SceneCreated { name: d.scene_name, is_group: d.is_group }),
            "SceneRemoved" => serde_json::from_value::<SceneLifeData>(data)
                .ok()
                .map(|d| ObsEvent::SceneRemoved { name: d.scene_name, is_group: d.is_group }),
            "InputNameChanged" => serde_json::from_value::<InputRenameData>(data).ok().map(|d| {
                ObsEvent::InputNameChanged { old_name: d.old_input_name, new_name: d.input_name, uuid: d.input_uuid }
            }),
            "CurrentProfileChanged" => Some(ObsEvent::CurrentProfileChanged),
            "RecordFileChanged" => serde_json::from_value::<RecordFileData>(data)
                .ok()
                .map(|d| ObsEvent::RecordFileChanged { path: d.new_output_path }),
            "SceneListChanged" => serde_json::from_value::<SceneListData>(data)
                .ok()
                .map(|d| ObsEvent::SceneListChanged { scenes: d.scenes }),
            "StudioModeStateChanged" => serde_json::from_value::<StudioModeData>(data)
                .ok()
                .map(|d| ObsEvent::StudioModeStateChanged { enabled: d.studio_mode_enabled }),
            "CurrentSceneCollectionChanging" => Some(ObsEvent::SceneCollectionChanging),
            "CurrentSceneCollectionChanged" => Some(ObsEvent::SceneCollectionChanged),
            "ExitStarted" => Some(ObsEvent::ExitStarted),
            _ => None,
        };
        typed.unwrap_or_else(|| ObsEvent::Other { event_type: raw.event_type.clone() })
    }
}

/// An input's event, for the audio guard: kept apart from [`ObsEvent`] because
/// only a session that watches mics subscribes to them (Inputs, and the meters).
#[derive(Debug, Clone, PartialEq)]
pub enum InputEvent {
    MuteStateChanged {
        input: InputRef,
        muted: bool,
    },
    Created {
        input: InputRef,
        kind: Option<String>,
    },
    Removed {
        input: InputRef,
    },
    /// One entry per input OBS metered; an entry that was null or nameless is left out.
    VolumeMeters(Vec<InputLevels>),
}

/// How OBS named an input in an event: always by name, and by uuid from 5.4.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputRef {
    pub input_name: String,
    #[serde(default)]
    pub input_uuid: Option<String>,
}

/// One input's levels: per channel `[magnitude, peak, input_peak]`, linear (1.0 = 0 dBFS).
/// After a mute the first two read 0 while `input_peak` keeps the raw input's peak.
#[derive(Debug, Clone, PartialEq)]
pub struct InputLevels {
    pub input: InputRef,
    pub channels: Vec<[f64; 3]>,
}

impl InputLevels {
    /// The loudest channel's peak after OBS's mute and volume (what goes out).
    pub fn peak(&self) -> f64 {
        self.channels.iter().map(|c| c[1]).fold(0.0, f64::max)
    }

    /// The loudest channel's peak before mute (what the mic hears).
    pub fn input_peak(&self) -> f64 {
        self.channels.iter().map(|c| c[2]).fold(0.0, f64::max)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InputMuteData {
    #[serde(flatten)]
    input: InputRef,
    input_muted: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InputCreatedData {
    #[serde(flatten)]
    input: InputRef,
    #[serde(default)]
    unversioned_input_kind: Option<String>,
    #[serde(default)]
    input_kind: Option<String>,
}

impl InputEvent {
    /// The input event in `raw`, if it is one this client follows and its data has what
    /// it needs. Lenient like [`ObsEvent::from_raw`]: anything else is `None`.
    pub fn from_raw(raw: &RawEvent) -> Option<InputEvent> {
        let data = raw.event_data.clone().unwrap_or(Value::Null);
        match raw.event_type.as_str() {
            "InputMuteStateChanged" => serde_json::from_value::<InputMuteData>(data)
                .ok()
                .map(|d| InputEvent::MuteStateChanged { input: d.input, muted: d.input_muted }),
            "InputCreated" => serde_json::from_value::<InputCreatedData>(data)
                .ok()
                .map(|d| InputEvent::Created { input: d.input, kind: d.unversioned_input_kind.or(d.input_kind) }),
            "InputRemoved" => serde_json::from_value::<InputRef>(data).ok().map(|input| InputEvent::Removed { input }),
            "InputVolumeMeters" => {
                let entries = data.get("inputs")?.as_array()?;
                Some(InputEvent::VolumeMeters(entries.iter().filter_map(input_levels).collect()))
            }
            _ => None,
        }
    }
}

/// One `InputVolumeMeters` entry; a channel that is not three numbers is skipped.
fn input_levels(entry: &Value) -> Option<InputLevels> {
    let input = serde_json::from_value::<InputRef>(entry.clone()).ok()?;
    let channels = entry
        .get("inputLevelsMul")
        .and_then(Value::as_array)
        .map(|channels| {
            channels
                .iter()
                .filter_map(|c| {
                    let c = c.as_array()?;
                    match c.as_slice() {
                        [a, b, d] => Some([a.as_f64()?, b.as_f64()?, d.as_f64()?]),
                        _ => None,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Some(InputLevels { input, channels })
}

/// `requestData` naming one input: by `inputUuid` where OBS gave one (5.4+, and
/// obs-websocket 5.7.1 fails some lookups by name), else by `inputName`.
pub fn input_address(name: &str, uuid: Option<&str>) -> Value {
    match uuid {
        Some(uuid) => serde_json::json!({ "inputUuid": uuid }),
        None => serde_json::json!({ "inputName": name }),
    }
}

/// Response bodies of the requests the engine makes. Every field that any
/// 5.x version may leave out is optional.
pub mod responses {
    use super::SceneEntry;
    use serde::Deserialize;

    /// GetSpecialInputs: the inputs in OBS's audio settings slots; each a name or null.
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    pub struct SpecialInputs {
        #[serde(default)]
        pub desktop1: Option<String>,
        #[serde(default)]
        pub desktop2: Option<String>,
        #[serde(default)]
        pub mic1: Option<String>,
        #[serde(default)]
        pub mic2: Option<String>,
        #[serde(default)]
        pub mic3: Option<String>,
        #[serde(default)]
        pub mic4: Option<String>,
    }

    impl SpecialInputs {
        /// The mic slots that hold an input, in order (an empty name counts as none).
        pub fn mics(&self) -> Vec<String> {
            [&self.mic1, &self.mic2, &self.mic3, &self.mic4]
                .into_iter()
                .flatten()
                .filter(|name| !name.is_empty())
                .cloned()
                .collect()
        }
    }

    /// GetSourceScreenshot: the picture as a data URL.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SourceScreenshot {
        pub image_data: String,
    }

    /// GetInputList: every input, audio or not.
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    pub struct InputList {
        #[serde(default)]
        pub inputs: Vec<InputListEntry>,
    }

    /// One input of [`InputList`]: its name, its uuid (5.4+) and its kind.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct InputListEntry {
        pub input_name: String,
        #[serde(default)]
        pub input_uuid: Option<String>,
        #[serde(default)]
        pub input_kind: Option<String>,
        #[serde(default)]
        pub unversioned_input_kind: Option<String>,
    }

    /// GetInputMute and ToggleInputMute.
    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct InputMute {
        pub input_muted: bool,
    }

    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Version {
        pub obs_version: String,
        pub obs_web_socket_version: String,
        #[serde(default)]
        pub rpc_version: Option<u32>,
        #[serde(default)]
        pub platform: Option<String>,
        #[serde(default)]
        pub platform_description: Option<String>,
    }

    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct StreamStatus {
        pub output_active: bool,
        #[serde(default)]
        pub output_reconnecting: bool,
        #[serde(default)]
        pub output_duration: Option<f64>,
        #[serde(default)]
        pub output_congestion: Option<f64>,
        #[serde(default)]
        pub output_bytes: Option<f64>,
        #[serde(default)]
        pub output_skipped_frames: Option<f64>,
        #[serde(default)]
        pub output_total_frames: Option<f64>,
    }

    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct RecordStatus {
        pub output_active: bool,
        #[serde(default)]
        pub output_paused: bool,
        #[serde(default)]
        pub output_duration: Option<f64>,
        #[serde(default)]
        pub output_bytes: Option<f64>,
    }

    /// GetReplayBufferStatus, GetVirtualCamStatus, ToggleStream, ToggleRecord, ...
    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct OutputActive {
        pub output_active: bool,
    }

    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct SceneList {
        #[serde(default)]
        pub current_program_scene_name: Option<String>,
        #[serde(default)]
        pub scenes: Vec<SceneEntry>,
    }

    #[derive(Debug, Clone, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct StudioMode {
        pub studio_mode_enabled: bool,
    }

    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct Stats {
        #[serde(default)]
        pub cpu_usage: Option<f64>,
        #[serde(default)]
        pub memory_usage: Option<f64>,
        #[serde(default)]
        pub available_disk_space: Option<f64>,
        #[serde(default)]
        pub active_fps: Option<f64>,
        #[serde(default)]
        pub average_frame_render_time: Option<f64>,
        #[serde(default)]
        pub render_skipped_frames: Option<f64>,
        #[serde(default)]
        pub render_total_frames: Option<f64>,
        #[serde(default)]
        pub output_skipped_frames: Option<f64>,
        #[serde(default)]
        pub output_total_frames: Option<f64>,
    }

    #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
    #[serde(rename_all = "camelCase")]
    pub struct OutputPath {
        #[serde(default)]
        pub output_path: Option<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(event_type: &str, data: Value) -> RawEvent {
        RawEvent { event_type: event_type.into(), event_intent: Some(8), event_data: Some(data) }
    }

    #[test]
    fn input_events_parse_with_or_without_uuids() {
        let muted = raw("InputMuteStateChanged", serde_json::json!({"inputName": "Mic/Aux", "inputMuted": true}));
        let mic = InputRef { input_name: "Mic/Aux".into(), input_uuid: None };
        assert_eq!(
            InputEvent::from_raw(&muted),
            Some(InputEvent::MuteStateChanged { input: mic.clone(), muted: true })
        );
        let created = raw(
            "InputCreated",
            serde_json::json!({"inputName": "Mic/Aux", "inputUuid": "u-1", "inputKind": "pulse_input_capture",
                               "unversionedInputKind": "pulse_input_capture", "inputSettings": {}}),
        );
        let with_uuid = InputRef { input_name: "Mic/Aux".into(), input_uuid: Some("u-1".into()) };
        assert_eq!(
            InputEvent::from_raw(&created),
            Some(InputEvent::Created { input: with_uuid, kind: Some("pulse_input_capture".into()) })
        );
        assert_eq!(InputEvent::from_raw(&raw("InputRemoved", serde_json::json!({}))), None, "no name: not followed");
        assert_eq!(InputEvent::from_raw(&raw("StreamStateChanged", serde_json::json!({}))), None);
    }

    #[test]
    fn meters_skip_null_entries_and_odd_channels() {
        let meters = raw(
            "InputVolumeMeters",
            serde_json::json!({"inputs": [
                {"inputName": "Mic/Aux", "inputLevelsMul": [[0.1, 0.24, 0.24], [0.05, 0.2, 0.3]]},
                null,
                {"inputName": "Muted", "inputLevelsMul": [[0.0, 0.0, 0.5], [1, 2]]},
                {"inputName": "No channels", "inputLevelsMul": []},
                {"inputLevelsMul": [[0.1, 0.1, 0.1]]}
            ]}),
        );
        let Some(InputEvent::VolumeMeters(levels)) = InputEvent::from_raw(&meters) else { panic!("meters") };
        let names: Vec<_> = levels.iter().map(|l| l.input.input_name.as_str()).collect();
        assert_eq!(names, ["Mic/Aux", "Muted", "No channels"]);
        assert_eq!((levels[0].peak(), levels[0].input_peak()), (0.24, 0.3));
        assert_eq!((levels[1].peak(), levels[1].input_peak()), (0.0, 0.5), "a muted mic still hears");
        assert_eq!((levels[2].peak(), levels[2].input_peak()), (0.0, 0.0));
    }

    #[test]
    fn the_input_list_reads_with_or_without_uuids_and_inputs_are_addressed_by_uuid_first() {
        let list: responses::InputList = serde_json::from_value(serde_json::json!({"inputs": [
            {"inputName": "Mic/Aux", "inputUuid": "u-1", "inputKind": "pulse_input_capture",
             "unversionedInputKind": "pulse_input_capture"},
            {"inputName": "Old", "inputKind": "color_source_v3"},
            {"inputName": "Null uuid", "inputUuid": null}
        ]}))
        .unwrap();
        let names: Vec<_> = list.inputs.iter().map(|i| (i.input_name.as_str(), i.input_uuid.as_deref())).collect();
        assert_eq!(names, [("Mic/Aux", Some("u-1")), ("Old", None), ("Null uuid", None)]);
        assert_eq!(serde_json::from_value::<responses::InputList>(serde_json::json!({})).unwrap().inputs, []);
        assert_eq!(input_address("Mic/Aux", Some("u-1")), serde_json::json!({"inputUuid": "u-1"}));
        assert_eq!(input_address("Mic/Aux", None), serde_json::json!({"inputName": "Mic/Aux"}));
    }

    #[test]
    fn special_inputs_are_names_or_null() {
        let specials: responses::SpecialInputs =
            serde_json::from_value(serde_json::json!({"desktop1": "Desktop Audio", "desktop2": null,
                                                      "mic1": "Mic/Aux", "mic2": null, "mic3": "", "mic4": "Podcast Mic"}))
                .unwrap();
        assert_eq!(specials.mics(), ["Mic/Aux", "Podcast Mic"]);
        assert_eq!(
            serde_json::from_value::<responses::SpecialInputs>(serde_json::json!({})).unwrap().mics(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn reidentify_is_op_3_with_the_new_subscriptions() {
        let frame = client_frame(op::REIDENTIFY, &Reidentify { event_subscriptions: subscription::INPUTS });
        assert_eq!(frame, r#"{"op":3,"d":{"eventSubscriptions":8}}"#);
    }
    use serde_json::json;

    #[test]
    fn hello_from_5_1_without_studio_version_parses() {
        let frame = r#"{"op":0,"d":{"authentication":{"challenge":"c","salt":"s"},"obsWebSocketVersion":"5.1.0","rpcVersion":1}}"#;
        let ServerMessage::Hello(hello) = ServerMessage::parse(frame).unwrap() else { panic!("not a hello") };
        assert_eq!(hello.obs_web_socket_version, "5.1.0");
        assert_eq!(hello.obs_studio_version, None);
        assert_eq!(hello.authentication, Some(AuthChallenge { challenge: "c".into(), salt: "s".into() }));
    }

    #[test]
    fn hello_from_5_7_with_extra_fields_parses() {
        let frame = r#"{"op":0,"d":{"obsStudioVersion":"32.1.0","obsWebSocketVersion":"5.7.3","rpcVersion":1,"futureField":[1,2]}}"#;
        let ServerMessage::Hello(hello) = ServerMessage::parse(frame).unwrap() else { panic!("not a hello") };
        assert_eq!(hello.obs_studio_version.as_deref(), Some("32.1.0"));
        assert!(hello.authentication.is_none());
    }

    #[test]
    fn unknown_op_is_other_not_an_error() {
        assert_eq!(ServerMessage::parse(r#"{"op":42,"d":{"x":1}}"#).unwrap(), ServerMessage::Other { op: 42 });
        assert_eq!(
            ServerMessage::parse(r#"{"op":9,"d":{"requestId":"1","results":[]}}"#).unwrap(),
            ServerMessage::Other { op: 9 }
        );
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        for bad in [
            "",
            "{",
            "null",
            "[1,2]",
            r#"{"d":{}}"#,
            r#"{"op":"zero"}"#,
            r#"{"op":0,"d":{}}"#,
            r#"{"op":7,"d":{"requestId":5}}"#,
        ] {
            assert!(ServerMessage::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn unknown_status_code_keeps_its_number() {
        let frame = r#"{"op":7,"d":{"requestType":"X","requestId":"9","requestStatus":{"result":false,"code":999,"comment":"new"}}}"#;
        let ServerMessage::RequestResponse(r) = ServerMessage::parse(frame).unwrap() else { panic!("not a response") };
        assert_eq!(r.request_status.code, 999);
        assert_eq!(status_code_name(999), "Unknown");
        assert_eq!(status_code_name(604), "InvalidResourceState");
    }

    #[test]
    fn event_without_data_parses() {
        let frame = r#"{"op":5,"d":{"eventType":"ExitStarted","eventIntent":1}}"#;
        let ServerMessage::Event(raw) = ServerMessage::parse(frame).unwrap() else { panic!("not an event") };
        assert_eq!(ObsEvent::from_raw(&raw), ObsEvent::ExitStarted);
    }

    #[test]
    fn output_state_events_are_typed_and_unknown_states_survive() {
        let raw = RawEvent {
            event_type: "StreamStateChanged".into(),
            event_intent: Some(64),
            event_data: Some(json!({"outputActive": false, "outputState": "OBS_WEBSOCKET_OUTPUT_RECONNECTING"})),
        };
        assert_eq!(ObsEvent::from_raw(&raw), ObsEvent::StreamStateChanged { state: OutputState::Reconnecting });
        let raw = RawEvent {
            event_type: "RecordStateChanged".into(),
            event_intent: None,
            event_data: Some(
                json!({"outputActive": false, "outputState": "OBS_WEBSOCKET_OUTPUT_WARPING", "outputPath": null}),
            ),
        };
        assert_eq!(
            ObsEvent::from_raw(&raw),
            ObsEvent::RecordStateChanged {
                state: OutputState::Unknown("OBS_WEBSOCKET_OUTPUT_WARPING".into()),
                output_path: None
            }
        );
    }

    #[test]
    fn known_event_with_missing_fields_becomes_other() {
        let raw = RawEvent { event_type: "StreamStateChanged".into(), event_intent: None, event_data: None };
        assert_eq!(ObsEvent::from_raw(&raw), ObsEvent::Other { event_type: "StreamStateChanged".into() });
        let raw = RawEvent { event_type: "SomeEventFrom2030".into(), event_intent: None, event_data: Some(json!(1)) };
        assert_eq!(ObsEvent::from_raw(&raw), ObsEvent::Other { event_type: "SomeEventFrom2030".into() });
    }

    #[test]
    fn scenes_are_ordered_as_obs_shows_them() {
        let list: responses::SceneList = serde_json::from_value(json!({
            "currentProgramSceneName": "Scene",
            "currentPreviewSceneName": null,
            "scenes": [
                {"sceneIndex": 0, "sceneName": "Bottom"},
                {"sceneIndex": 2, "sceneName": "Top", "sceneUuid": "abc"},
                {"sceneIndex": 1, "sceneName": "Middle"}
            ]
        }))
        .unwrap();
        assert_eq!(scenes_top_first(&list.scenes), vec!["Top", "Middle", "Bottom"]);
    }

    #[test]
    fn request_frames_always_carry_a_request_id() {
        let frame =
            client_frame(op::REQUEST, &Request { request_type: "GetVersion", request_id: "7", request_data: None });
        let v: Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(v, json!({"op": 6, "d": {"requestType": "GetVersion", "requestId": "7"}}));
    }

    #[test]
    fn stream_status_from_obs_29_parses() {
        let s: responses::StreamStatus = serde_json::from_value(json!({
            "outputActive": true, "outputBytes": 1234567, "outputCongestion": 0.0,
            "outputDuration": 61000, "outputReconnecting": false, "outputSkippedFrames": 3,
            "outputTimecode": "00:01:01.000", "outputTotalFrames": 610
        }))
        .unwrap();
        assert!(s.output_active);
        assert_eq!(s.output_bytes, Some(1234567.0));
    }

    fn event(event_type: &str, data: Value) -> ObsEvent {
        ObsEvent::from_raw(&RawEvent { event_type: event_type.into(), event_intent: None, event_data: Some(data) })
    }

    #[test]
    fn scene_and_profile_events_parse() {
        assert_eq!(
            event("SceneNameChanged", json!({"oldSceneName": "Q&A", "sceneName": "Q&A!", "sceneUuid": "u"})),
            ObsEvent::SceneNameChanged { old_name: "Q&A".into(), new_name: "Q&A!".into() }
        );
        assert_eq!(
            event("SceneCreated", json!({"sceneName": "New", "isGroup": false})),
            ObsEvent::SceneCreated { name: "New".into(), is_group: false }
        );
        assert_eq!(
            event("SceneRemoved", json!({"sceneName": "Group 1", "isGroup": true})),
            ObsEvent::SceneRemoved { name: "Group 1".into(), is_group: true }
        );
        assert_eq!(
            event("InputNameChanged", json!({"oldInputName": "Mic", "inputName": "Mic 2"})),
            ObsEvent::InputNameChanged { old_name: "Mic".into(), new_name: "Mic 2".into(), uuid: None }
        );
        assert_eq!(
            event("InputNameChanged", json!({"oldInputName": "Mic", "inputName": "Mic 2", "inputUuid": "u-1"})),
            ObsEvent::InputNameChanged { old_name: "Mic".into(), new_name: "Mic 2".into(), uuid: Some("u-1".into()) }
        );
        assert_eq!(event("CurrentProfileChanged", json!({"profileName": "P"})), ObsEvent::CurrentProfileChanged);
        assert_eq!(
            event("RecordFileChanged", json!({"newOutputPath": "/r/b.mkv"})),
            ObsEvent::RecordFileChanged { path: "/r/b.mkv".into() }
        );
    }

    #[test]
    fn a_null_program_scene_from_5_7_parses_as_none() {
        assert_eq!(
            event("CurrentProgramSceneChanged", json!({"sceneName": null, "sceneUuid": null})),
            ObsEvent::CurrentProgramSceneChanged { scene_name: None }
        );
        // A rename whose names are missing is not ours to guess: it stays unknown.
        assert_eq!(
            event("SceneNameChanged", json!({"sceneName": "x"})),
            ObsEvent::Other { event_type: "SceneNameChanged".into() }
        );
    }
}
