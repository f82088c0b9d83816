//! [`SimObs::answer`]: what the simulated OBS answers to one request, and how the request changes
//! it, with the status codes and comments obs-websocket gives.

use serde_json::{json, Value};

use super::{status, Answer, Event, SimObs};

const REPLAY_UNAVAILABLE: &str = "Replay buffer is not available.";
const VCAM_UNAVAILABLE: &str = "VirtualCam is not available.";

/// `HH:MM:SS.mmm`, as obs-websocket formats `outputTimecode`.
fn timecode(ms: u64) -> String {
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// The `requestData` object, or the error obs-websocket gives when a request needs one.
fn request_object(data: Option<&Value>) -> Result<&serde_json::Map<String, Value>, Answer> {
    match data {
        Some(Value::Object(object)) => Ok(object),
        _ => Err(Answer::error(
            status::MISSING_REQUEST_DATA,
            Some("Your request data is missing or invalid (non-object)"),
        )),
    }
}

/// A required field of `requestData` read by `read` (which names its type for the error), or the
/// error obs-websocket gives.
fn required<'a, T>(
    data: Option<&'a Value>,
    field: &str,
    type_name: &str,
    read: impl FnOnce(&'a Value) -> Option<T>,
) -> Result<T, Answer> {
    match request_object(data)?.get(field) {
        None | Some(Value::Null) => Err(Answer::error(
            status::MISSING_REQUEST_FIELD,
            Some(&format!("Your request is missing the `{field}` field.")),
        )),
        Some(value) => read(value).ok_or_else(|| {
            Answer::error(
                status::INVALID_REQUEST_FIELD,
                Some(&format!("The field value of `{field}` must be {type_name}.")),
            )
        }),
    }
}

fn required_string<'a>(data: Option<&'a Value>, field: &str) -> Result<&'a str, Answer> {
    required(data, field, "a string", Value::as_str)
}

fn required_bool(data: Option<&Value>, field: &str) -> Result<bool, Answer> {
    required(data, field, "boolean", Value::as_bool)
}

impl SimObs {
    /// Answers one request (`requestType` and `requestData`), changing the state for requests
    /// that change OBS. The answer carries the events the change causes, for the server to send.
    pub fn answer(&mut self, request_type: &str, data: Option<&Value>) -> Answer {
        match request_type {
            "" => Answer::error(status::MISSING_REQUEST_TYPE, Some("Your request is missing a `requestType`")),

            "GetVersion" => Answer::ok(json!({
                "obsVersion": self.obs_version,
                "obsWebSocketVersion": self.ws_version,
                "rpcVersion": 1,
                "availableRequests": [],
                "supportedImageFormats": ["png", "jpg"],
                "platform": "debian",
                "platformDescription": "Debian GNU/Linux 12 (bookworm)",
            })),
            "GetStats" => Answer::ok(json!({
                "cpuUsage": self.cpu_usage,
                "memoryUsage": self.memory_usage,
                "availableDiskSpace": self.available_disk_space,
                "activeFps": self.active_fps,
                "averageFrameRenderTime": self.average_frame_render_time,
                "renderSkippedFrames": self.render_skipped_frames,
                "renderTotalFrames": self.render_total_frames,
                "outputSkippedFrames": self.encoder_skipped_frames,
                "outputTotalFrames": self.encoder_total_frames,
            })),

            "GetStreamStatus" => Answer::ok(json!({
                "outputActive": self.stream_active,
                "outputReconnecting": self.stream_reconnecting,
                "outputTimecode": timecode(self.stream_duration_ms),
                "outputDuration": self.stream_duration_ms,
                "outputCongestion": self.congestion,
                "outputBytes": self.stream_bytes,
                "outputSkippedFrames": self.stream_skipped,
                "outputTotalFrames": self.stream_total,
            })),
            "StartStream" | "StopStream" | "ToggleStream" => {
                let was_active = self.stream_active;
                let answer = self.start_stop(request_type, |st| &mut st.stream_active, "StreamStateChanged");
                if !self.stream_active {
                    self.stream_reconnecting = false;
                }
                if self.stream_active && !was_active {
                    // A new stream counts from zero.
                    self.stream_duration_ms = 0;
                    self.stream_bytes = 0;
                    self.stream_total = 0;
                    self.stream_skipped = 0;
                }
                answer
            }

            "GetRecordStatus" => Answer::ok(json!({
                "outputActive": self.record_active,
                "outputPaused": self.record_paused,
                "outputTimecode": timecode(self.record_duration_ms),
                "outputDuration": self.record_duration_ms,
                "outputBytes": self.record_bytes,
            })),
            "StartRecord" | "StopRecord" | "ToggleRecord" => {
                let was_active = self.record_active;
                let mut answer = self.start_stop(request_type, |st| &mut st.record_active, "RecordStateChanged");
                if !self.record_active {
                    self.record_paused = false;
                }
                if self.record_active && !was_active {
                    self.record_duration_ms = 0;
                    self.record_bytes = 0;
                }
                if request_type == "StopRecord" && answer.code == status::SUCCESS {
                    answer.data = Some(json!({ "outputPath": self.record_path }));
                }
                answer
            }
            "PauseRecord" | "ResumeRecord" | "ToggleRecordPause" => {
                if !self.record_active {
                    return Answer::error(status::OUTPUT_NOT_RUNNING, None);
                }
                let pause = match request_type {
                    "PauseRecord" if self.record_paused => return Answer::error(status::OUTPUT_PAUSED, None),
                    "ResumeRecord" if !self.record_paused => return Answer::error(status::OUTPUT_NOT_PAUSED, None),
                    "PauseRecord" => true,
                    "ResumeRecord" => false,
                    _ => !self.record_paused,
                };
                self.record_paused = pause;
                let answer = if request_type == "ToggleRecordPause" {
                    Answer::ok(json!({ "outputPaused": pause }))
                } else {
                    Answer::ok_empty()
                };
                answer
                    .with_events(vec![self.state_event("RecordStateChanged", if pause { "PAUSED" } else { "RESUMED" })])
            }

            "GetReplayBufferStatus"
            | "StartReplayBuffer"
            | "StopReplayBuffer"
            | "ToggleReplayBuffer"
            | "SaveReplayBuffer"
            | "GetLastReplayBufferReplay"
                if !self.replay_available =>
            {
                Answer::error(status::INVALID_RESOURCE_STATE, Some(REPLAY_UNAVAILABLE))
            }
            "GetReplayBufferStatus" => Answer::ok(json!({ "outputActive": self.replay_active })),
            "StartReplayBuffer" | "StopReplayBuffer" | "ToggleReplayBuffer" => {
                self.start_stop(request_type, |st| &mut st.replay_active, "ReplayBufferStateChanged")
            }
            "SaveReplayBuffer" | "GetLastReplayBufferReplay" if !self.replay_active => {
                Answer::error(status::OUTPUT_NOT_RUNNING, None)
            }
            "SaveReplayBuffer" => Answer::ok_empty()
                .with_events(vec![("ReplayBufferSaved", json!({ "savedReplayPath": self.replay_path }))]),
            "GetLastReplayBufferReplay" => Answer::ok(json!({ "savedReplayPath": self.replay_path })),

            "GetVirtualCamStatus" | "StartVirtualCam" | "StopVirtualCam" | "ToggleVirtualCam"
                if !self.vcam_available =>
            {
                Answer::error(status::INVALID_RESOURCE_STATE, Some(VCAM_UNAVAILABLE))
            }
            "GetVirtualCamStatus" => Answer::ok(json!({ "outputActive": self.vcam_active })),
            "StartVirtualCam" | "StopVirtualCam" | "ToggleVirtualCam" => {
                self.start_stop(request_type, |st| &mut st.vcam_active, "VirtualcamStateChanged")
            }

            "GetSceneList" => {
                let program = self.program_scene_value();
                let preview = if self.studio_mode { program.clone() } else { Value::Null };
                let mut data = json!({
                    "currentProgramSceneName": program,
                    "currentPreviewSceneName": preview,
                    "scenes": self.scene_entries(),
                });
                if self.profile.has_uuids() {
                    let program_uuid = program.as_str().map(|name| self.uuid_of(name));
                    data["currentProgramSceneUuid"] = json!(program_uuid);
                    data["currentPreviewSceneUuid"] = json!(program_uuid.filter(|_| self.studio_mode));
                }
                Answer::ok(data)
            }
            "GetCurrentProgramScene" => {
                let program = self.program_scene_value();
                let mut answer = json!({ "currentProgramSceneName": program });
                if self.profile.has_uuids() {
                    let uuid = program.as_str().map(|name| self.uuid_of(name));
                    answer["sceneName"] = program;
                    answer["sceneUuid"] = json!(uuid);
                    answer["currentProgramSceneUuid"] = json!(uuid);
                }
                Answer::ok(answer)
            }
            "GetCurrentPreviewScene" if !self.studio_mode => {
                Answer::error(status::STUDIO_MODE_NOT_ACTIVE, Some("Studio mode is not active."))
            }
            "GetCurrentPreviewScene" => Answer::ok(json!({ "currentPreviewSceneName": self.program_scene })),
            "SetCurrentProgramScene" => {
                let name = match self.scene_named_in(data) {
                    Ok(name) => name,
                    Err(answer) => return answer,
                };
                if self.program_scene == name {
                    return Answer::ok_empty();
                }
                let event_data = self.scene_event_data(&name);
                self.program_scene = name;
                Answer::ok_empty().with_events(vec![("CurrentProgramSceneChanged", event_data)])
            }

            "GetInputList" => {
                let inputs: Vec<Value> = self
                    .inputs
                    .iter()
                    .map(|name| {
                        let kind = match self.inputs_without_audio.contains(name) {
                            true => "color_source_v3",
                            false => "pulse_input_capture",
                        };
                        let mut input = json!({ "inputName": name, "inputKind": kind, "unversionedInputKind": kind });
                        if self.profile.has_uuids() {
                            input["inputUuid"] = json!(self.uuid_of(name));
                        }
                        input
                    })
                    .collect();
                Answer::ok(json!({ "inputs": inputs }))
            }
            "GetSourceScreenshot" => {
                if let Err(answer) = required_string(data, "sourceName") {
                    return answer;
                }
                let format = match required_string(data, "imageFormat") {
                    Ok(format) => format,
                    Err(answer) => return answer,
                };
                if format != "ppm" {
                    // The sim draws PPM only; OBS would answer any Qt format.
                    return Answer::error(status::INVALID_REQUEST_FIELD, Some("The sim draws ppm only."));
                }
                let size =
                    |field: &str| data.and_then(|d| d.get(field)).and_then(Value::as_u64).unwrap_or(8).clamp(1, 64);
                let (width, height) = (size("imageWidth") as usize, size("imageHeight") as usize);
                let value = if self.program_black { 0u8 } else { 255 };
                let mut ppm = format!("P6\n{width} {height}\n255\n").into_bytes();
                ppm.extend(std::iter::repeat(value).take(width * height * 3));
                use base64::Engine;
                let encoded = base64::engine::general_purpose::STANDARD.encode(ppm);
                Answer::ok(json!({ "imageData": format!("data:image/ppm;base64,{encoded}") }))
            }
            "GetSpecialInputs" => {
                let slot = |name: &str| self.special_inputs.get(name).map_or(Value::Null, |input| json!(input));
                Answer::ok(json!({
                    "desktop1": slot("desktop1"),
                    "desktop2": slot("desktop2"),
                    "mic1": slot("mic1"),
                    "mic2": slot("mic2"),
                    "mic3": slot("mic3"),
                    "mic4": slot("mic4"),
                }))
            }
            "GetInputMute" => match self.audio_input_named_in(data) {
                Ok(name) => Answer::ok(json!({ "inputMuted": self.muted.contains(&name) })),
                Err(answer) => answer,
            },
            "SetInputMute" => {
                let name = match self.audio_input_named_in(data) {
                    Ok(name) => name,
                    Err(answer) => return answer,
                };
                match required_bool(data, "inputMuted") {
                    Ok(muted) => Answer::ok_empty().with_events(self.set_muted(&name, muted)),
                    Err(answer) => answer,
                }
            }
            "ToggleInputMute" => {
                let name = match self.audio_input_named_in(data) {
                    Ok(name) => name,
                    Err(answer) => return answer,
                };
                let muted = !self.muted.contains(&name);
                let events = self.set_muted(&name, muted);
                Answer::ok(json!({ "inputMuted": muted })).with_events(events)
            }
            "GetSceneCollectionList" => Answer::ok(json!({
                "currentSceneCollectionName": self.scene_collection,
                "sceneCollections": [self.scene_collection],
            })),
            "GetProfileList" => Answer::ok(json!({
                "currentProfileName": self.current_profile,
                "profiles": [self.current_profile],
            })),

            "GetStudioModeEnabled" => Answer::ok(json!({ "studioModeEnabled": self.studio_mode })),
            "SetStudioModeEnabled" => {
                let enabled = match required_bool(data, "studioModeEnabled") {
                    Ok(enabled) => enabled,
                    Err(answer) => return answer,
                };
                if self.studio_mode == enabled {
                    return Answer::ok_empty();
                }
                self.studio_mode = enabled;
                Answer::ok_empty()
                    .with_events(vec![("StudioModeStateChanged", json!({ "studioModeEnabled": enabled }))])
            }

            _ => Answer::error(status::UNKNOWN_REQUEST_TYPE, Some("Your request type is not valid.")),
        }
    }

    /// Start/Stop/Toggle for the output whose on/off state `active` points at: 500 or 501 when it
    /// already is where Start or Stop would take it (Toggle always acts and answers
    /// `outputActive`), else STARTING, STARTED or STOPPING, STOPPED.
    fn start_stop(
        &mut self,
        request_type: &str,
        active: fn(&mut SimObs) -> &mut bool,
        event_type: &'static str,
    ) -> Answer {
        let was_active = *active(self);
        let start = match request_type {
            t if t.starts_with("Start") => true,
            t if t.starts_with("Stop") => false,
            _ => !was_active, // Toggle*
        };
        let toggle = request_type.starts_with("Toggle");
        if !toggle && start == was_active {
            return Answer::error(if start { status::OUTPUT_RUNNING } else { status::OUTPUT_NOT_RUNNING }, None);
        }
        *active(self) = start;
        let answer = if toggle { Answer::ok(json!({ "outputActive": start })) } else { Answer::ok_empty() };
        let states = if start { ["STARTING", "STARTED"] } else { ["STOPPING", "STOPPED"] };
        let events: Vec<Event> = states.iter().map(|state| self.state_event(event_type, state)).collect();
        answer.with_events(events)
    }

    /// The existing scene a request names by `sceneName` (or, from 5.4, `sceneUuid`), or the
    /// error obs-websocket gives.
    /// The input with audio a request names (see [`SimObs::input_named_in`]), or OBS's refusal:
    /// the mute requests' answer for an input that has no audio.
    fn audio_input_named_in(&self, data: Option<&Value>) -> Result<String, Answer> {
        let name = self.input_named_in(data)?;
        if self.inputs_without_audio.contains(&name) {
            return Err(Answer::error(
                status::INVALID_RESOURCE_STATE,
                Some("The specified input does not support audio."),
            ));
        }
        Ok(name)
    }

    /// The input a request names by `inputUuid` (5.4+) or `inputName`, or OBS's refusal.
    fn input_named_in(&self, data: Option<&Value>) -> Result<String, Answer> {
        if self.profile.has_uuids() {
            if let Some(uuid) = data.and_then(|d| d.get("inputUuid")).and_then(Value::as_str) {
                return self.inputs.iter().find(|name| self.uuid_of(name) == uuid).cloned().ok_or_else(|| {
                    Answer::error(
                        status::RESOURCE_NOT_FOUND,
                        Some(&format!("No source was found by the uuid of `{uuid}`.")),
                    )
                });
            }
        }
        let name = required_string(data, "inputName")?;
        if !self.inputs.iter().any(|input| input == name) || self.not_found_by_name.contains(name) {
            return Err(Answer::error(
                status::RESOURCE_NOT_FOUND,
                Some(&format!("No source was found by the name of `{name}`.")),
            ));
        }
        Ok(name.to_owned())
    }

    fn scene_named_in(&self, data: Option<&Value>) -> Result<String, Answer> {
        if self.profile.has_uuids() {
            if let Some(uuid) = data.and_then(|d| d.get("sceneUuid")).and_then(Value::as_str) {
                return self.scene_by_uuid(uuid).cloned().ok_or_else(|| {
                    Answer::error(
                        status::RESOURCE_NOT_FOUND,
                        Some(&format!("No source was found by the uuid of `{uuid}`.")),
                    )
                });
            }
        }
        let name = required_string(data, "sceneName")?;
        if !self.scenes.iter().any(|s| s == name) {
            return Err(Answer::error(
                status::RESOURCE_NOT_FOUND,
                Some(&format!("No source was found by the name of `{name}`.")),
            ));
        }
        Ok(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutes_are_set_toggled_and_announced_once_by_name_or_uuid() {
        let mut st = SimObs::for_profile(crate::sim::Profile::V5_4);
        let specials = st.answer("GetSpecialInputs", None).data.expect("data");
        assert_eq!((specials["mic1"].clone(), specials["mic2"].clone()), (json!("Mic/Aux"), Value::Null));
        let mic = json!({ "inputName": "Mic/Aux", "inputMuted": true });
        let muted = st.answer("SetInputMute", Some(&mic));
        assert_eq!(muted.code, status::SUCCESS);
        assert_eq!(muted.events.len(), 1);
        assert_eq!(muted.events[0].0, "InputMuteStateChanged");
        assert_eq!(muted.events[0].1["inputMuted"], true);
        assert_eq!(muted.events[0].1["inputUuid"], json!(st.uuid_of("Mic/Aux")));
        assert!(st.answer("SetInputMute", Some(&mic)).events.is_empty(), "no event when nothing changed");
        let by_uuid = json!({ "inputUuid": st.uuid_of("Mic/Aux") });
        assert_eq!(st.answer("GetInputMute", Some(&by_uuid)).data, Some(json!({ "inputMuted": true })));
        let toggled = st.answer("ToggleInputMute", Some(&by_uuid));
        assert_eq!(toggled.data, Some(json!({ "inputMuted": false })));
        assert_eq!(toggled.events[0].1["inputMuted"], false);
        let missing = st.answer("GetInputMute", Some(&json!({ "inputName": "Nope" })));
        assert_eq!(missing.code, status::RESOURCE_NOT_FOUND);
        assert_eq!(
            st.answer("SetInputMute", Some(&json!({ "inputName": "Mic/Aux" }))).code,
            status::MISSING_REQUEST_FIELD
        );
    }

    #[test]
    fn an_input_without_audio_is_listed_but_has_no_mute() {
        let mut st = SimObs::default();
        st.inputs.push("Colour".into());
        st.inputs_without_audio.insert("Colour".into());
        let list = st.answer("GetInputList", None).data.expect("data");
        assert_eq!(list["inputs"][2]["inputKind"], "color_source_v3");
        for request in ["GetInputMute", "ToggleInputMute"] {
            let refused = st.answer(request, Some(&json!({ "inputName": "Colour" })));
            assert_eq!(refused.code, status::INVALID_RESOURCE_STATE, "{request}");
            assert_eq!(refused.comment.as_deref(), Some("The specified input does not support audio."));
        }
        assert_eq!(st.answer("GetInputMute", Some(&json!({ "inputName": "Mic/Aux" }))).code, status::SUCCESS);
    }

    #[test]
    fn an_input_not_found_by_name_is_found_by_uuid() {
        let mut st = SimObs::for_profile(crate::sim::Profile::V5_7);
        st.not_found_by_name.insert("Mic/Aux".into());
        let by_name = st.answer("GetInputMute", Some(&json!({ "inputName": "Mic/Aux" })));
        assert_eq!(by_name.code, status::RESOURCE_NOT_FOUND);
        let by_uuid = st.answer("GetInputMute", Some(&json!({ "inputUuid": st.uuid_of("Mic/Aux") })));
        assert_eq!(by_uuid.data, Some(json!({ "inputMuted": false })));
    }

    #[test]
    fn a_renamed_mic_keeps_its_mute_and_its_slot() {
        let mut st = SimObs::default();
        assert_eq!(st.mute_in_obs("Mic/Aux", true).len(), 1);
        st.rename_input("Mic/Aux", "Podcast Mic");
        let specials = st.answer("GetSpecialInputs", None).data.expect("data");
        assert_eq!(specials["mic1"], "Podcast Mic");
        let asked = st.answer("GetInputMute", Some(&json!({ "inputName": "Podcast Mic" })));
        assert_eq!(asked.data, Some(json!({ "inputMuted": true })));
    }

    #[test]
    fn timecode_format() {
        assert_eq!(timecode(0), "00:00:00.000");
        assert_eq!(timecode(3_723_045), "01:02:03.045");
    }

    #[test]
    fn toggle_stream_reports_new_state_and_emits_events() {
        let mut st = SimObs::default();
        let answer = st.answer("ToggleStream", None);
        assert_eq!(answer.code, status::SUCCESS);
        assert_eq!(answer.data, Some(json!({ "outputActive": true })));
        assert!(st.stream_active);
        let states: Vec<_> = answer.events.iter().map(|(_, d)| d["outputState"].clone()).collect();
        assert_eq!(states, [json!("OBS_WEBSOCKET_OUTPUT_STARTING"), json!("OBS_WEBSOCKET_OUTPUT_STARTED")]);
        assert_eq!(st.answer("StartStream", None).code, status::OUTPUT_RUNNING);
    }

    #[test]
    fn a_new_stream_and_a_new_recording_count_from_zero() {
        let mut st =
            SimObs { stream_duration_ms: 9_000, stream_bytes: 5, record_duration_ms: 4_000, ..SimObs::default() };
        st.answer("StartStream", None);
        st.answer("StartRecord", None);
        assert_eq!((st.stream_duration_ms, st.stream_bytes, st.record_duration_ms), (0, 0, 0));
    }

    #[test]
    fn the_recording_path_is_in_its_started_and_stopped_events_and_the_stop_answer() {
        let mut st = SimObs { record_path: "/videos/show.mkv".into(), ..SimObs::default() };
        let started = st.answer("StartRecord", None);
        let paths: Vec<_> = started.events.iter().map(|(_, d)| d["outputPath"].clone()).collect();
        assert_eq!(paths, [Value::Null, json!("/videos/show.mkv")]);
        let stopped = st.answer("StopRecord", None);
        assert_eq!(stopped.data, Some(json!({ "outputPath": "/videos/show.mkv" })));
        assert_eq!(stopped.events[1].1["outputPath"], json!("/videos/show.mkv"));
    }

    #[test]
    fn request_fields_are_checked_as_obs_websocket_does() {
        let mut st = SimObs::default();
        assert_eq!(st.answer("SetCurrentProgramScene", None).code, status::MISSING_REQUEST_DATA);
        assert_eq!(st.answer("SetCurrentProgramScene", Some(&json!({}))).code, status::MISSING_REQUEST_FIELD);
        let wrong_type = st.answer("SetCurrentProgramScene", Some(&json!({ "sceneName": 3 })));
        assert_eq!(wrong_type.code, status::INVALID_REQUEST_FIELD);
        assert_eq!(wrong_type.comment.as_deref(), Some("The field value of `sceneName` must be a string."));
        let missing = st.answer("SetCurrentProgramScene", Some(&json!({ "sceneName": "Nope" })));
        assert_eq!(missing.code, status::RESOURCE_NOT_FOUND);
        let switched = st.answer("SetCurrentProgramScene", Some(&json!({ "sceneName": "Gameplay" })));
        assert_eq!(switched.events, vec![("CurrentProgramSceneChanged", json!({ "sceneName": "Gameplay" }))]);
        assert_eq!(st.answer("SetStudioModeEnabled", Some(&json!({ "studioModeEnabled": "yes" }))).code, 400);
        assert_eq!(st.answer("GetSomethingNew", None).code, status::UNKNOWN_REQUEST_TYPE);
    }
}
