//! The window's control buttons as data: for each one its label, the control
//! it sends, whether it can act now and, if not, why. Computed here beside the
//! tray's [`menu_model`](crate::desktop::menu_model) and pushed to the window,
//! so the page draws buttons and never re-derives what OBS's state allows.

use serde::Serialize;

use crate::control::Control;
use crate::state::{OutputActivity, RecordingState, State, StreamState};

/// One button of the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlView {
    /// Which button: `stream`, `record`, `pause`, `replay`, `vcam`, or
    /// `mic:<name>` for each watched mic's mute ([`mic_control_id`]).
    pub id: String,
    pub label: String,
    /// The control's wire word ([`Control::wire_word`]), as the window sends it
    /// back; `None` when disabled.
    pub action: Option<&'static str>,
    pub enabled: bool,
    /// The output is active (or on its way), so the button shows "on".
    pub on: bool,
    /// A stop waits for its confirming second press.
    pub armed: bool,
    /// Why the button cannot act now.
    pub why: Option<String>,
    /// What the action acts on, sent back with it: the mic's input name for a
    /// mute. Absent for the outputs' buttons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
}

/// Every button, and a line under them when none can act.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Controls {
    pub items: Vec<ControlView>,
    pub hint: Option<String>,
}

fn button(id: &str, label: &str, action: Option<&'static str>, on: bool) -> ControlView {
    ControlView {
        id: id.into(),
        label: label.into(),
        action,
        enabled: action.is_some(),
        on,
        armed: false,
        why: None,
        input: None,
    }
}

fn disabled(id: &str, label: &str, on: bool, why: &str) -> ControlView {
    ControlView { why: Some(why.into()), ..button(id, label, None, on) }
}

/// The window's buttons for this state. `stop_armed`: a first press on "Stop
/// streaming" (from the tray, a hotkey or the window) waits for its second.
pub fn window_controls(state: &State, stop_armed: bool) -> Controls {
    let Some(obs) = &state.obs else {
        let why = "Not connected to OBS";
        return Controls {
            items: vec![
                disabled("stream", "Start streaming", false, why),
                disabled("record", "Start recording", false, why),
                disabled("pause", "Pause recording", false, why),
                disabled("replay", "Save replay", false, why),
                disabled("vcam", "Virtual camera", false, why),
            ],
            hint: Some("Controls wake up when OnAir is connected to OBS.".into()),
        };
    };
    let stream = match &obs.stream {
        StreamState::Live { .. } | StreamState::Reconnecting { .. } if stop_armed => ControlView {
            armed: true,
            ..button("stream", "Press again to stop", Some(Control::StopStream.wire_word()), true)
        },
        StreamState::Live { .. } | StreamState::Reconnecting { .. } => {
            button("stream", "Stop streaming", Some(Control::StopStream.wire_word()), true)
        }
        // A stop waiting for its confirmation never turns into a start.
        StreamState::Offline if stop_armed => {
            disabled("stream", "Stream already stopped", false, "The stream stopped before the second press")
        }
        StreamState::Offline => button("stream", "Start streaming", Some(Control::StartStream.wire_word()), false),
        StreamState::Starting => disabled("stream", "Starting stream…", true, "OBS is starting the stream"),
        StreamState::Stopping { .. } => disabled("stream", "Stopping stream…", true, "OBS is stopping the stream"),
    };
    let record = match &obs.recording {
        RecordingState::Recording { .. } | RecordingState::Paused { .. } => {
            button("record", "Stop recording", Some(Control::StopRecording.wire_word()), true)
        }
        RecordingState::Starting => disabled("record", "Starting recording…", true, "OBS is starting the recording"),
        RecordingState::Stopping { .. } => {
            disabled("record", "Stopping recording…", true, "OBS is stopping the recording")
        }
        RecordingState::Off => button("record", "Start recording", Some(Control::StartRecording.wire_word()), false),
    };
    let pause = match &obs.recording {
        RecordingState::Recording { .. } => {
            button("pause", "Pause recording", Some(Control::PauseRecording.wire_word()), false)
        }
        RecordingState::Paused { .. } => {
            button("pause", "Resume recording", Some(Control::ResumeRecording.wire_word()), true)
        }
        _ => disabled("pause", "Pause recording", false, "Not recording"),
    };
    let replay = match obs.replay_buffer {
        OutputActivity::On => button("replay", "Save replay", Some(Control::SaveReplay.wire_word()), false),
        OutputActivity::Unavailable => disabled("replay", "Save replay", false, "OBS has no replay buffer set up"),
        _ => disabled("replay", "Save replay", false, "The replay buffer is not running in OBS"),
    };
    let vcam = match obs.virtual_camera {
        OutputActivity::On => button("vcam", "Stop virtual camera", Some(Control::StopVirtualCamera.wire_word()), true),
        OutputActivity::Off => {
            button("vcam", "Start virtual camera", Some(Control::StartVirtualCamera.wire_word()), false)
        }
        OutputActivity::Starting => disabled("vcam", "Starting camera…", true, "OBS is starting the virtual camera"),
        OutputActivity::Stopping => disabled("vcam", "Stopping camera…", true, "OBS is stopping the virtual camera"),
        OutputActivity::Unavailable => disabled("vcam", "Virtual camera", false, "This OBS has no virtual camera"),
    };
    let mut items = vec![stream, record, pause, replay, vcam];
    items.extend(obs.mics.iter().map(|mic| mic_button(&mic.name, mic.muted)));
    Controls { items, hint: None }
}

/// The id of a watched mic's mute button (and what the tray asks of it).
pub(crate) fn mic_control_id(name: &str) -> String {
    format!("mic:{name}")
}

/// A watched mic's mute button. It sends the explicit mute or unmute its label
/// names, not a toggle, so a double press or a mute clicked in OBS meanwhile
/// cannot turn it into the opposite of what the button said.
fn mic_button(name: &str, muted: bool) -> ControlView {
    let (label, control) = if muted {
        (format!("Unmute {name}"), Control::Mute { input: name.into(), muted: Some(false) })
    } else {
        (format!("Mute {name}"), Control::Mute { input: name.into(), muted: Some(true) })
    };
    ControlView { input: Some(name.into()), ..button(&mic_control_id(name), &label, Some(control.wire_word()), muted) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ConnectionState, MicStatus, ObsStatus};

    fn state(obs: Option<ObsStatus>) -> State {
        let connection = ConnectionState::Connected { obs_version: "29".into(), websocket_version: "5.1.0".into() };
        State { target: "localhost:4455".into(), connection, obs }
    }

    fn obs(stream: StreamState, recording: RecordingState) -> ObsStatus {
        ObsStatus { stream, recording, ..ObsStatus::idle() }
    }

    fn item<'a>(controls: &'a Controls, id: &str) -> &'a ControlView {
        controls.items.iter().find(|c| c.id == id).expect("every button is there")
    }

    #[test]
    fn without_obs_every_button_says_why_and_the_hint_shows() {
        let controls = window_controls(&state(None), false);
        assert_eq!(controls.items.len(), 5);
        assert!(controls.items.iter().all(|c| !c.enabled && c.action.is_none()));
        assert!(controls.items.iter().all(|c| c.why.as_deref() == Some("Not connected to OBS")));
        assert!(controls.hint.is_some());
    }

    #[test]
    fn live_offers_a_stop_and_an_armed_stop_asks_for_the_second_press() {
        let live = state(Some(obs(StreamState::Live { since_ms: 0 }, RecordingState::Off)));
        let plain = window_controls(&live, false);
        assert_eq!(item(&plain, "stream"), &button("stream", "Stop streaming", Some("stop-stream"), true));
        assert_eq!(plain.hint, None);
        let armed = window_controls(&live, true);
        assert_eq!(item(&armed, "stream").label, "Press again to stop");
        assert!(item(&armed, "stream").armed);
        assert_eq!(item(&armed, "stream").action, Some("stop-stream"));
    }

    #[test]
    fn an_armed_stop_never_offers_a_start() {
        let offline = state(Some(obs(StreamState::Offline, RecordingState::Off)));
        let stream = window_controls(&offline, true).items.remove(0);
        assert!(!stream.enabled);
        assert_eq!(stream.action, None);
        assert_eq!(window_controls(&offline, false).items[0].action, Some("start-stream"));
    }

    #[test]
    fn moving_outputs_and_missing_features_are_disabled_with_a_reason() {
        let s = state(Some(obs(StreamState::Starting, RecordingState::Paused { since_ms: 0 })));
        let controls = window_controls(&s, false);
        assert!(!item(&controls, "stream").enabled && item(&controls, "stream").on);
        assert_eq!(item(&controls, "pause").action, Some("resume-recording"));
        assert_eq!(item(&controls, "record").action, Some("stop-recording"));
        assert_eq!(item(&controls, "replay").why.as_deref(), Some("OBS has no replay buffer set up"));
        assert_eq!(item(&controls, "vcam").action, Some("start-virtual-camera"));
    }

    #[test]
    fn every_action_a_button_sends_is_one_the_backend_parses() {
        let streams = [StreamState::Offline, StreamState::Live { since_ms: 0 }, StreamState::Starting];
        let recordings =
            [RecordingState::Off, RecordingState::Recording { since_ms: 0 }, RecordingState::Paused { since_ms: 0 }];
        let mut seen = 0;
        for stream in &streams {
            for recording in &recordings {
                for vcam in [OutputActivity::On, OutputActivity::Off] {
                    let mut status = obs(stream.clone(), recording.clone());
                    (status.virtual_camera, status.replay_buffer) = (vcam, OutputActivity::On);
                    status.mics = vec![mic("Mic/Aux", vcam == OutputActivity::On), mic("Podcast Mic", false)];
                    for armed in [false, true] {
                        for control in window_controls(&state(Some(status.clone())), armed).items {
                            let Some(action) = control.action else { continue };
                            // The window sends the button's input along with its action.
                            let parsed = Control::parse(action, control.input.as_deref());
                            assert_eq!(parsed.as_ref().map(|c| c.wire_word()), Ok(action));
                            if let Ok(Control::Mute { input, .. }) = &parsed {
                                assert_eq!(control.id, format!("mic:{input}"));
                            }
                            seen += 1;
                        }
                    }
                }
            }
        }
        assert!(seen > 20, "{seen}");
    }

    fn mic(name: &str, muted: bool) -> MicStatus {
        MicStatus { name: name.into(), uuid: None, muted, level_dbfs: None, input_level_dbfs: None }
    }

    #[test]
    fn each_watched_mic_has_a_mute_button_that_says_and_sends_the_opposite_of_its_state() {
        let mut status = obs(StreamState::Live { since_ms: 0 }, RecordingState::Off);
        status.mics = vec![mic("Mic/Aux", false), mic("Podcast Mic", true)];
        let controls = window_controls(&state(Some(status)), false);
        let mute = |name: &str, label: &str, action: &'static str, on: bool| ControlView {
            id: format!("mic:{name}"),
            label: label.into(),
            action: Some(action),
            enabled: true,
            on,
            armed: false,
            why: None,
            input: Some(name.into()),
        };
        assert_eq!(
            controls.items[5..],
            [
                mute("Mic/Aux", "Mute Mic/Aux", "mute-on", false),
                mute("Podcast Mic", "Unmute Podcast Mic", "mute-off", true)
            ]
        );
        // Towards the window the input rides along; the outputs' buttons carry none.
        let json = serde_json::to_value(&controls).unwrap();
        assert_eq!(json["items"][5]["input"], "Mic/Aux");
        assert_eq!(json["items"][5]["id"], "mic:Mic/Aux");
        assert!(json["items"][0].get("input").is_none(), "{json}");
    }

    #[test]
    fn no_watched_mic_no_mute_button() {
        let controls = window_controls(&state(Some(obs(StreamState::Offline, RecordingState::Off))), false);
        assert_eq!(
            controls.items.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["stream", "record", "pause", "replay", "vcam"]
        );
        assert_eq!(window_controls(&state(None), false).items.len(), 5, "without OBS no mic is known");
    }
}
