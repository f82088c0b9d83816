//! What the streamer can make OBS do, and the typed errors when OBS refuses.
//!
//! Each control is one obs-websocket request. OBS's status codes become errors a
//! person can act on ("the stream is already live", "the replay buffer is not
//! enabled in OBS"), each with a stable `code` for the UI.
//!
//! The controls' vocabulary lives here once: the wire word each has (what the
//! window sends, what `onair` subcommands spell), the one parser of those
//! words, and the phrase for what a control was trying to do ("Could not start
//! streaming").

use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::obs::protocol::{input_address, responses, status};
use crate::obs::{Client, RequestError};
use crate::state::{ObsStatus, RecordingState, State, StreamState};

/// An output a control acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Output {
    Stream,
    Recording,
    ReplayBuffer,
    VirtualCamera,
}

impl Output {
    fn name(self) -> &'static str {
        match self {
            Output::Stream => "the stream",
            Output::Recording => "recording",
            Output::ReplayBuffer => "the replay buffer",
            Output::VirtualCamera => "the virtual camera",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    StartStream,
    StopStream,
    ToggleStream,
    StartRecording,
    StopRecording,
    ToggleRecording,
    PauseRecording,
    ResumeRecording,
    ToggleRecordingPause,
    StartReplayBuffer,
    StopReplayBuffer,
    ToggleReplayBuffer,
    SaveReplay,
    StartVirtualCamera,
    StopVirtualCamera,
    ToggleVirtualCamera,
    SwitchScene(String),
    /// Mutes (`Some(true)`), unmutes (`Some(false)`) or toggles (`None`) an input.
    Mute {
        input: String,
        muted: Option<bool>,
    },
}

impl Control {
    fn request_type(&self) -> &'static str {
        match self {
            Control::StartStream => "StartStream",
            Control::StopStream => "StopStream",
            Control::ToggleStream => "ToggleStream",
            Control::StartRecording => "StartRecord",
            Control::StopRecording => "StopRecord",
            Control::ToggleRecording => "ToggleRecord",
            Control::PauseRecording => "PauseRecord",
            Control::ResumeRecording => "ResumeRecord",
            Control::ToggleRecordingPause => "ToggleRecordPause",
            Control::StartReplayBuffer => "StartReplayBuffer",
            Control::StopReplayBuffer => "StopReplayBuffer",
            Control::ToggleReplayBuffer => "ToggleReplayBuffer",
            Control::SaveReplay => "SaveReplayBuffer",
            Control::StartVirtualCamera => "StartVirtualCam",
            Control::StopVirtualCamera => "StopVirtualCam",
            Control::ToggleVirtualCamera => "ToggleVirtualCam",
            Control::SwitchScene(_) => "SetCurrentProgramScene",
            Control::Mute { muted: Some(_), .. } => "SetInputMute",
            Control::Mute { muted: None, .. } => "ToggleInputMute",
        }
    }

    fn output(&self) -> Option<Output> {
        use Control::*;
        match self {
            StartStream | StopStream | ToggleStream => Some(Output::Stream),
            StartRecording | StopRecording | ToggleRecording | PauseRecording | ResumeRecording
            | ToggleRecordingPause => Some(Output::Recording),
            StartReplayBuffer | StopReplayBuffer | ToggleReplayBuffer | SaveReplay => Some(Output::ReplayBuffer),
            StartVirtualCamera | StopVirtualCamera | ToggleVirtualCamera => Some(Output::VirtualCamera),
            SwitchScene(_) | Mute { .. } => None,
        }
    }
}

/// The longest scene name a control accepts (OBS allows long names, but not kilobytes).
pub const MAX_SCENE_NAME: usize = 512;

impl Control {
    /// Every control but `switch-scene` (which needs a scene name), in the
    /// order of the enum.
    pub const WITHOUT_ARGUMENT: [Control; 16] = [
        Control::StartStream,
        Control::StopStream,
        Control::ToggleStream,
        Control::StartRecording,
        Control::StopRecording,
        Control::ToggleRecording,
        Control::PauseRecording,
        Control::ResumeRecording,
        Control::ToggleRecordingPause,
        Control::StartReplayBuffer,
        Control::StopReplayBuffer,
        Control::ToggleReplayBuffer,
        Control::SaveReplay,
        Control::StartVirtualCamera,
        Control::StopVirtualCamera,
        Control::ToggleVirtualCamera,
    ];

    /// The control's word on the wire: what the window sends, and what
    /// [`Control::parse`] reads back.
    pub fn wire_word(&self) -> &'static str {
        match self {
            Control::StartStream => "start-stream",
            Control::StopStream => "stop-stream",
            Control::ToggleStream => "toggle-stream",
            Control::StartRecording => "start-recording",
            Control::StopRecording => "stop-recording",
            Control::ToggleRecording => "toggle-recording",
            Control::PauseRecording => "pause-recording",
            Control::ResumeRecording => "resume-recording",
            Control::ToggleRecordingPause => "toggle-recording-pause",
            Control::StartReplayBuffer => "start-replay-buffer",
            Control::StopReplayBuffer => "stop-replay-buffer",
            Control::ToggleReplayBuffer => "toggle-replay-buffer",
            Control::SaveReplay => "save-replay",
            Control::StartVirtualCamera => "start-virtual-camera",
            Control::StopVirtualCamera => "stop-virtual-camera",
            Control::ToggleVirtualCamera => "toggle-virtual-camera",
            Control::SwitchScene(_) => "switch-scene",
            Control::Mute { muted: Some(true), .. } => "mute-on",
            Control::Mute { muted: Some(false), .. } => "mute-off",
            Control::Mute { muted: None, .. } => "toggle-mute",
        }
    }

    /// Reads a control from its wire word; `scene` is the name `switch-scene`
    /// needs (and is ignored otherwise). Anything else is refused as invalid
    /// input, with words that say why.
    pub fn parse(word: &str, scene: Option<&str>) -> Result<Control, ControlError> {
        if word == "switch-scene" {
            let name = scene.ok_or_else(|| ControlError::InvalidInput("switch-scene needs a scene name".into()))?;
            if name.trim().is_empty() || name.len() > MAX_SCENE_NAME {
                return Err(ControlError::InvalidInput(format!(
                    "a scene name must have 1 to {MAX_SCENE_NAME} characters"
                )));
            }
            return Ok(Control::SwitchScene(name.to_string()));
        }
        let muted = match word {
            "mute-on" => Some(Some(true)),
            "mute-off" => Some(Some(false)),
            "toggle-mute" => Some(None),
            _ => None,
        };
        if let Some(muted) = muted {
            let input = scene.ok_or_else(|| ControlError::InvalidInput(format!("{word} needs an input name")))?;
            if input.trim().is_empty() || input.len() > MAX_SCENE_NAME {
                return Err(ControlError::InvalidInput(format!(
                    "an input name must have 1 to {MAX_SCENE_NAME} characters"
                )));
            }
            return Ok(Control::Mute { input: input.to_string(), muted });
        }
        Control::WITHOUT_ARGUMENT.into_iter().find(|control| control.wire_word() == word).ok_or_else(|| {
            // Whatever came in is echoed back only in part: it may be anything.
            ControlError::InvalidInput(format!("unknown action {:?}", word.chars().take(64).collect::<String>()))
        })
    }

    /// What the control was trying to do, for "Could not ..." when OBS refuses.
    pub fn intent(&self) -> &'static str {
        match self {
            Control::StartStream => "start streaming",
            Control::ToggleStream => "start or stop streaming",
            Control::StopStream => "stop streaming",
            Control::StartRecording => "start recording",
            Control::ToggleRecording => "start or stop recording",
            Control::StopRecording => "stop recording",
            Control::PauseRecording => "pause the recording",
            Control::ToggleRecordingPause => "pause or resume the recording",
            Control::ResumeRecording => "resume the recording",
            Control::SaveReplay => "save the replay",
            Control::StartReplayBuffer => "start the replay buffer",
            Control::ToggleReplayBuffer => "start or stop the replay buffer",
            Control::StopReplayBuffer => "stop the replay buffer",
            Control::StartVirtualCamera => "start the virtual camera",
            Control::ToggleVirtualCamera => "start or stop the virtual camera",
            Control::StopVirtualCamera => "stop the virtual camera",
            Control::SwitchScene(_) => "switch scenes",
            Control::Mute { muted: Some(true), .. } => "mute the mic",
            Control::Mute { muted: Some(false), .. } => "unmute the mic",
            Control::Mute { muted: None, .. } => "mute or unmute the mic",
        }
    }
}

/// What a control that starts or stops the stream or a recording waits to see
/// before anyone can say it worked: OBS answers the request before the output
/// has moved, and the event that moves it can come late.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaited {
    Stream { on: bool },
    Recording { on: bool },
}

impl Awaited {
    /// Whether `obs` shows the awaited end state (not one on the way to it).
    pub fn reached(self, obs: &ObsStatus) -> bool {
        match self {
            Awaited::Stream { on } => {
                obs.stream.is_on_air() == on
                    && !matches!(obs.stream, StreamState::Starting | StreamState::Stopping { .. })
            }
            Awaited::Recording { on } => {
                obs.recording.is_active() == on
                    && !matches!(obs.recording, RecordingState::Starting | RecordingState::Stopping { .. })
            }
        }
    }

    /// The words for a control that OBS accepted but that did not come about.
    pub fn not_reached(self) -> &'static str {
        match self {
            Awaited::Stream { on: true } => "OBS accepted the start but the stream did not go live",
            Awaited::Stream { on: false } => "OBS accepted the stop but the stream is still live",
            Awaited::Recording { on: true } => "OBS accepted the start but is not recording",
            Awaited::Recording { on: false } => "OBS accepted the stop but is still recording",
        }
    }
}

impl Control {
    /// What this control waits for, given the status when it was sent and, for a
    /// toggle, what OBS answered. `None` for controls that are done when answered.
    pub fn awaited(&self, before: Option<&ObsStatus>, toggled_to: Option<bool>) -> Option<Awaited> {
        let stream_was_on = before.is_some_and(|o| o.stream.is_on_air());
        let recording_was_on = before.is_some_and(|o| o.recording.is_active());
        match self {
            Control::StartStream => Some(Awaited::Stream { on: true }),
            Control::StopStream => Some(Awaited::Stream { on: false }),
            Control::ToggleStream => Some(Awaited::Stream { on: toggled_to.unwrap_or(!stream_was_on) }),
            Control::StartRecording => Some(Awaited::Recording { on: true }),
            Control::StopRecording => Some(Awaited::Recording { on: false }),
            Control::ToggleRecording => Some(Awaited::Recording { on: toggled_to.unwrap_or(!recording_was_on) }),
            _ => None,
        }
    }
}

/// What a successful control reports back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ControlOutcome {
    /// For toggles: whether the output is now active.
    pub active: Option<bool>,
    /// For stopping a recording: the file written.
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    /// Not connected to OBS; the detail says what the connection is doing.
    NotConnected(String),
    AlreadyActive(Output),
    NotActive(Output),
    AlreadyPaused,
    NotPaused,
    /// The replay buffer or virtual camera is not set up in OBS.
    NotConfigured(Output),
    /// OBS accepted a pause but the recording did not pause (it shares the stream's encoder).
    PauseIgnored,
    SceneNotFound(String),
    InputNotFound(String),
    InvalidInput(String),
    /// OBS is busy (switching scene collections); try again shortly.
    ObsBusy,
    TimedOut(Duration),
    /// Any other refusal, with OBS's own words.
    Refused {
        code: u32,
        message: String,
    },
}

impl ControlError {
    /// A stable identifier for the UI and scripts.
    pub fn code(&self) -> &'static str {
        match self {
            ControlError::NotConnected(_) => "not-connected",
            ControlError::AlreadyActive(_) => "already-active",
            ControlError::NotActive(_) => "not-active",
            ControlError::AlreadyPaused => "already-paused",
            ControlError::NotPaused => "not-paused",
            ControlError::NotConfigured(_) => "not-configured",
            ControlError::PauseIgnored => "pause-ignored",
            ControlError::SceneNotFound(_) => "scene-not-found",
            ControlError::InputNotFound(_) => "input-not-found",
            ControlError::InvalidInput(_) => "invalid-input",
            ControlError::ObsBusy => "obs-busy",
            ControlError::TimedOut(_) => "timed-out",
            ControlError::Refused { .. } => "refused",
        }
    }
}

impl std::fmt::Display for ControlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ControlError::NotConnected(detail) => write!(f, "not connected to OBS: {detail}"),
            ControlError::AlreadyActive(Output::Stream) => f.write_str("the stream is already live"),
            ControlError::AlreadyActive(Output::Recording) => f.write_str("OBS is already recording"),
            ControlError::AlreadyActive(o) => write!(f, "{} is already running", o.name()),
            ControlError::NotActive(Output::Stream) => f.write_str("the stream is not live"),
            ControlError::NotActive(Output::Recording) => f.write_str("OBS is not recording"),
            ControlError::NotActive(o) => write!(f, "{} is not running", o.name()),
            ControlError::AlreadyPaused => f.write_str("the recording is already paused"),
            ControlError::NotPaused => f.write_str("the recording is not paused"),
            ControlError::NotConfigured(Output::ReplayBuffer) => {
                f.write_str("the replay buffer is not enabled in OBS (Settings > Output > Replay Buffer)")
            }
            ControlError::NotConfigured(o) => write!(f, "{} is not available in OBS", o.name()),
            ControlError::PauseIgnored => f.write_str(
                "OBS accepted the pause but kept recording (a recording that shares the stream's encoder cannot pause)",
            ),
            ControlError::SceneNotFound(name) => write!(f, "OBS has no scene named {name:?}"),
            ControlError::InputNotFound(name) => write!(f, "OBS has no input named {name:?}"),
            ControlError::InvalidInput(m) => f.write_str(m),
            ControlError::ObsBusy => f.write_str("OBS is busy switching scene collections; try again in a moment"),
            ControlError::TimedOut(d) => write!(f, "OBS did not answer within {:.1} s", d.as_secs_f64()),
            ControlError::Refused { code, message } => write!(f, "OBS refused ({code}): {message}"),
        }
    }
}

impl std::error::Error for ControlError {}

/// How long to wait for a PAUSED event after OBS accepted PauseRecord.
const PAUSE_CONFIRMATION: Duration = Duration::from_secs(3);

/// Sends the control to OBS. `state` is used to confirm a pause.
pub async fn execute(
    client: &Client,
    state: &watch::Receiver<State>,
    control: &Control,
) -> Result<ControlOutcome, ControlError> {
    let data = match control {
        Control::SwitchScene(name) => {
            if name.trim().is_empty() {
                return Err(ControlError::InvalidInput("the scene name is empty".into()));
            }
            Some(json!({ "sceneName": name }))
        }
        Control::Mute { input, muted } => {
            let mut address = mute_address(&state.borrow(), input);
            if let (Some(muted), Some(body)) = (muted, address.as_object_mut()) {
                body.insert("inputMuted".into(), json!(muted));
            }
            Some(address)
        }
        _ => None,
    };
    let answer = client.request(control.request_type(), data).await.map_err(|e| to_control_error(control, e))?;
    let outcome = ControlOutcome {
        // For a mute: whether the input is now muted.
        active: parse::<responses::OutputActive>(&answer)
            .map(|a| a.output_active)
            .or_else(|| parse::<responses::InputMute>(&answer).map(|m| m.input_muted)),
        path: parse::<responses::OutputPath>(&answer).and_then(|p| p.output_path),
    };
    if *control == Control::PauseRecording {
        // OBS accepts a pause even when nothing records: that is no encoder problem.
        if !recording(&state.borrow()) {
            return Err(ControlError::NotActive(Output::Recording));
        }
        confirm_pause(state.clone()).await?;
    }
    Ok(outcome)
}

/// A watched mic is addressed by its uuid where OBS gave one (obs-websocket 5.7.1
/// fails some lookups by name), any other input by the name the user gave.
fn mute_address(state: &State, input: &str) -> Value {
    let uuid =
        state.obs.as_ref().and_then(|obs| obs.mics.iter().find(|m| m.name == input)).and_then(|m| m.uuid.as_deref());
    input_address(input, uuid)
}

fn parse<T: serde::de::DeserializeOwned>(answer: &Value) -> Option<T> {
    serde_json::from_value(answer.clone()).ok()
}

fn recording(state: &State) -> bool {
    state.obs.as_ref().is_some_and(|o| o.recording.is_active())
}

async fn confirm_pause(mut state: watch::Receiver<State>) -> Result<(), ControlError> {
    let paused = |s: &State| s.obs.as_ref().is_some_and(|o| matches!(o.recording, RecordingState::Paused { .. }));
    let outcome = tokio::time::timeout(PAUSE_CONFIRMATION, state.wait_for(paused)).await.map(|r| r.is_ok());
    match outcome {
        Ok(true) => Ok(()),
        Ok(false) => Err(ControlError::NotConnected("the session ended".into())),
        // The recording stopped meanwhile: "not recording" is the truth, not the encoder.
        Err(_) if !recording(&state.borrow()) => Err(ControlError::NotActive(Output::Recording)),
        Err(_) => Err(ControlError::PauseIgnored),
    }
}

fn to_control_error(control: &Control, error: RequestError) -> ControlError {
    let output = control.output();
    match error {
        RequestError::TimedOut(d) => ControlError::TimedOut(d),
        RequestError::ConnectionClosed => {
            ControlError::NotConnected("the connection closed before OBS answered".into())
        }
        RequestError::BadResponse(m) => ControlError::Refused { code: 0, message: m },
        RequestError::Failed { code, comment } => match (code, output) {
            (status::OUTPUT_RUNNING, Some(o)) => ControlError::AlreadyActive(o),
            (status::OUTPUT_NOT_RUNNING, Some(o)) => ControlError::NotActive(o),
            (status::OUTPUT_PAUSED, _) => ControlError::AlreadyPaused,
            (status::OUTPUT_NOT_PAUSED, _) => ControlError::NotPaused,
            (status::OUTPUT_DISABLED, Some(o))
            | (status::INVALID_RESOURCE_STATE, Some(o @ (Output::ReplayBuffer | Output::VirtualCamera))) => {
                ControlError::NotConfigured(o)
            }
            (status::RESOURCE_NOT_FOUND, None) => match control {
                Control::SwitchScene(name) => ControlError::SceneNotFound(name.clone()),
                Control::Mute { input, .. } => ControlError::InputNotFound(input.clone()),
                _ => ControlError::Refused { code, message: comment.unwrap_or_default() },
            },
            (status::NOT_READY, _) => ControlError::ObsBusy,
            _ => ControlError::Refused {
                code,
                message: comment.unwrap_or_else(|| crate::obs::protocol::status_code_name(code).to_string()),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watched_mic_is_muted_by_its_uuid_any_other_input_by_name() {
        use crate::state::ConnectionState;
        let mut obs = ObsStatus::idle();
        obs.mics.push(crate::state::MicStatus {
            name: "Mic/Aux".into(),
            uuid: Some("c0ffee".into()),
            muted: false,
            level_dbfs: None,
            input_level_dbfs: None,
        });
        let mut state = State { target: "localhost:4455".into(), connection: ConnectionState::Connecting, obs: None };
        assert_eq!(mute_address(&state, "Mic/Aux"), json!({ "inputName": "Mic/Aux" }), "nothing known yet");
        state.obs = Some(obs);
        assert_eq!(mute_address(&state, "Mic/Aux"), json!({ "inputUuid": "c0ffee" }));
        assert_eq!(mute_address(&state, "Desk Mic"), json!({ "inputName": "Desk Mic" }));
    }

    #[test]
    fn mute_words_take_an_input_and_read_back() {
        for muted in [Some(true), Some(false), None] {
            let control = Control::Mute { input: "Mic/Aux".into(), muted };
            assert_eq!(Control::parse(control.wire_word(), Some("Mic/Aux")), Ok(control.clone()));
        }
        assert!(matches!(Control::parse("mute-on", None), Err(ControlError::InvalidInput(_))));
        assert!(matches!(Control::parse("toggle-mute", Some(" ")), Err(ControlError::InvalidInput(_))));
        let missing = to_control_error(&Control::Mute { input: "Nope".into(), muted: None }, failed(600));
        assert_eq!(missing, ControlError::InputNotFound("Nope".into()));
        assert_eq!(missing.to_string(), "OBS has no input named \"Nope\"");
    }

    fn failed(code: u32) -> RequestError {
        RequestError::Failed { code, comment: Some("x".into()) }
    }

    #[test]
    fn obs_status_codes_become_errors_a_person_can_act_on() {
        assert_eq!(to_control_error(&Control::StartStream, failed(500)), ControlError::AlreadyActive(Output::Stream));
        assert_eq!(to_control_error(&Control::StopRecording, failed(501)), ControlError::NotActive(Output::Recording));
        assert_eq!(
            to_control_error(&Control::SaveReplay, failed(604)),
            ControlError::NotConfigured(Output::ReplayBuffer)
        );
        assert_eq!(
            to_control_error(&Control::ToggleVirtualCamera, failed(604)),
            ControlError::NotConfigured(Output::VirtualCamera)
        );
        assert_eq!(
            to_control_error(&Control::SwitchScene("Nope".into()), failed(600)),
            ControlError::SceneNotFound("Nope".into())
        );
        assert_eq!(to_control_error(&Control::PauseRecording, failed(502)), ControlError::AlreadyPaused);
        assert_eq!(to_control_error(&Control::StartStream, failed(207)), ControlError::ObsBusy);
        assert_eq!(
            to_control_error(&Control::StartStream, failed(999)),
            ControlError::Refused { code: 999, message: "x".into() }
        );
        assert_eq!(
            to_control_error(&Control::StartStream, RequestError::TimedOut(Duration::from_secs(5))).code(),
            "timed-out"
        );
    }

    #[test]
    fn every_control_reads_back_from_its_wire_word() {
        // No wildcard: a new control does not compile here until it has a word.
        for control in Control::WITHOUT_ARGUMENT {
            match control {
                Control::SwitchScene(_) | Control::Mute { .. } => panic!("{control:?} takes an argument"),
                Control::StartStream
                | Control::StopStream
                | Control::ToggleStream
                | Control::StartRecording
                | Control::StopRecording
                | Control::ToggleRecording
                | Control::PauseRecording
                | Control::ResumeRecording
                | Control::ToggleRecordingPause
                | Control::StartReplayBuffer
                | Control::StopReplayBuffer
                | Control::ToggleReplayBuffer
                | Control::SaveReplay
                | Control::StartVirtualCamera
                | Control::StopVirtualCamera
                | Control::ToggleVirtualCamera => {}
            }
            assert_eq!(Control::parse(control.wire_word(), None), Ok(control.clone()), "{control:?}");
            assert!(!control.intent().is_empty());
        }
        let mut words: Vec<&str> = Control::WITHOUT_ARGUMENT.iter().map(Control::wire_word).collect();
        words.sort_unstable();
        words.dedup();
        assert_eq!(words.len(), 16, "every word is a different control");
        let scene = Control::SwitchScene("Just Chatting".into());
        assert_eq!(Control::parse(scene.wire_word(), Some("Just Chatting")), Ok(scene.clone()));
        assert_eq!(scene.intent(), "switch scenes");
        assert_eq!(Control::StopStream.intent(), "stop streaming");
        // A scene name given with another control changes nothing.
        assert_eq!(Control::parse("save-replay", Some("x")), Ok(Control::SaveReplay));
    }

    #[test]
    fn unknown_words_and_bad_scene_names_are_refused_as_invalid_input() {
        let refused = |word: &str, scene: Option<&str>| match Control::parse(word, scene) {
            Err(ControlError::InvalidInput(message)) => message,
            other => panic!("{word:?} {scene:?} gave {other:?}"),
        };
        assert_eq!(refused("rm -rf", None), "unknown action \"rm -rf\"");
        assert_eq!(refused("Start-Stream", None), "unknown action \"Start-Stream\"");
        assert_eq!(refused("", None), "unknown action \"\"");
        assert_eq!(refused(&"x".repeat(10_000), None).len(), "unknown action \"\"".len() + 64);
        assert_eq!(refused("switch-scene", None), "switch-scene needs a scene name");
        assert_eq!(refused("switch-scene", Some("  ")), "a scene name must have 1 to 512 characters");
        assert_eq!(refused("switch-scene", Some(&"x".repeat(MAX_SCENE_NAME + 1))), refused("switch-scene", Some("")));
        assert!(Control::parse("switch-scene", Some(&"x".repeat(MAX_SCENE_NAME))).is_ok());
        assert_eq!(ControlError::InvalidInput(String::new()).code(), "invalid-input");
    }

    #[test]
    fn messages_name_the_output() {
        assert_eq!(ControlError::AlreadyActive(Output::Stream).to_string(), "the stream is already live");
        assert!(ControlError::NotConfigured(Output::ReplayBuffer).to_string().contains("Replay Buffer"));
    }

    fn status(stream: StreamState, recording: RecordingState) -> ObsStatus {
        ObsStatus { stream, recording, ..ObsStatus::idle() }
    }

    #[test]
    fn a_start_is_judged_only_once_the_stream_has_moved() {
        let offline = status(StreamState::Offline, RecordingState::Off);
        let awaited = Control::StartStream.awaited(Some(&offline), None).unwrap();
        // StartStream is answered before OBS says STARTING: still offline is not a verdict.
        assert!(!awaited.reached(&offline));
        assert!(!awaited.reached(&status(StreamState::Starting, RecordingState::Off)));
        assert!(awaited.reached(&status(StreamState::Live { since_ms: 1 }, RecordingState::Off)));
    }

    #[test]
    fn toggles_wait_for_what_obs_answered_or_the_opposite_of_before() {
        let live = status(StreamState::Live { since_ms: 1 }, RecordingState::Recording { since_ms: 1 });
        assert_eq!(Control::ToggleStream.awaited(Some(&live), None), Some(Awaited::Stream { on: false }));
        assert_eq!(Control::ToggleStream.awaited(Some(&live), Some(true)), Some(Awaited::Stream { on: true }));
        assert_eq!(Control::ToggleRecording.awaited(Some(&live), None), Some(Awaited::Recording { on: false }));
        let stopping = status(StreamState::Live { since_ms: 1 }, RecordingState::Stopping { since_ms: Some(1) });
        assert!(!Awaited::Recording { on: false }.reached(&stopping));
        assert_eq!(Control::SaveReplay.awaited(Some(&live), None), None);
    }
}
