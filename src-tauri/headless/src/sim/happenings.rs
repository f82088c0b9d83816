//! What the simulated OBS does on its own: OBS-side happenings (an RTMP outage, a file split, a
//! rename, a profile switch, ...), each a method that changes the state the way OBS would and
//! returns the events it would send in the release's own words, and [`SimObs::advance`], time
//! passing for the running outputs' counters.

use std::time::Duration;

use serde_json::json;

use super::{Event, SimObs};

/// OBS-side happenings: each changes the state the way OBS would and returns the events it would
/// send, in the release's own words. Whoever serves the simulation filters them by the client's
/// subscriptions.
impl SimObs {
    /// The stream loses its ingest server: `outputReconnecting` turns true and `outputBytes` reads
    /// 0 (as measured on OBS 29); 5.1+ says RECONNECTING, 5.0 nothing.
    pub fn rtmp_outage(&mut self) -> Vec<Event> {
        self.stream_reconnecting = true;
        self.stream_bytes = 0;
        self.reconnect_event("RECONNECTING")
    }

    /// One more reconnect attempt during an outage: 5.1+ says RECONNECTING again.
    pub fn rtmp_retry(&mut self) -> Vec<Event> {
        self.reconnect_event("RECONNECTING")
    }

    /// The ingest server is back: `outputReconnecting` turns false and OBS restarts the stream's
    /// counters (duration, bytes, frames) from zero, as measured on OBS 29; 5.1+ says RECONNECTED.
    pub fn rtmp_recovered(&mut self) -> Vec<Event> {
        self.stream_reconnecting = false;
        self.stream_duration_ms = 0;
        self.stream_bytes = 0;
        self.stream_total = 0;
        self.stream_skipped = 0;
        self.reconnect_event("RECONNECTED")
    }

    /// The recording continues in a new file: 5.5+ says RecordFileChanged `{newOutputPath}`.
    pub fn split_recording(&mut self, new_path: &str) -> Vec<Event> {
        self.record_path = new_path.to_owned();
        if self.profile.has_record_file_changed() {
            vec![("RecordFileChanged", json!({ "newOutputPath": new_path }))]
        } else {
            Vec::new()
        }
    }

    /// Another program scene: CurrentProgramSceneChanged (with `sceneUuid` from 5.4).
    pub fn switch_scene(&mut self, name: &str) -> Vec<Event> {
        self.program_scene = name.to_owned();
        vec![("CurrentProgramSceneChanged", self.scene_event_data(name))]
    }

    /// A scene renamed: SceneNameChanged `{oldSceneName, sceneName}` (and the unchanged
    /// `sceneUuid` from 5.4), then SceneListChanged.
    pub fn rename_scene(&mut self, old: &str, new: &str) -> Vec<Event> {
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
        vec![("SceneNameChanged", data), self.scene_list_changed()]
    }

    /// A scene added at the top of OBS's list: SceneCreated, then SceneListChanged.
    pub fn create_scene(&mut self, name: &str) -> Vec<Event> {
        self.scenes.insert(0, name.to_owned());
        let mut data = self.scene_event_data(name);
        data["isGroup"] = json!(false);
        vec![("SceneCreated", data), self.scene_list_changed()]
    }

    /// A scene removed: SceneRemoved, then SceneListChanged; when it was the program scene, OBS
    /// puts the top remaining scene on program first (CurrentProgramSceneChanged).
    pub fn remove_scene(&mut self, name: &str) -> Vec<Event> {
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
        events.push(self.scene_list_changed());
        events
    }

    /// The mute button of an input clicked in OBS: InputMuteStateChanged when it changed.
    pub fn mute_in_obs(&mut self, name: &str, muted: bool) -> Vec<Event> {
        self.set_muted(name, muted)
    }

    /// An input renamed: InputNameChanged `{oldInputName, inputName}` (and `inputUuid` from 5.4).
    pub fn rename_input(&mut self, old: &str, new: &str) -> Vec<Event> {
        let uuid = self.uuid_of(old);
        self.uuids.remove(old);
        self.uuids.insert(new.to_owned(), uuid.clone());
        for input in self.inputs.iter_mut().filter(|i| *i == old) {
            *input = new.to_owned();
        }
        // Its mute and its slot in OBS's audio settings follow it.
        if self.muted.remove(old) {
            self.muted.insert(new.to_owned());
        }
        for slot in self.special_inputs.values_mut().filter(|input| *input == old) {
            *slot = new.to_owned();
        }
        let mut data = json!({ "oldInputName": old, "inputName": new });
        if self.profile.has_uuids() {
            data["inputUuid"] = json!(uuid);
        }
        vec![("InputNameChanged", data)]
    }

    /// An input added in OBS (an audio capture of kind `kind`), last in its list: InputCreated
    /// `{inputName, inputKind, unversionedInputKind, inputSettings, defaultInputSettings}` (and
    /// `inputUuid` from 5.4). `mic_slot`: OBS puts it in that slot of its audio settings (`mic2`,
    /// ...), as it does with the device picked there.
    pub fn create_input(&mut self, name: &str, kind: &str, mic_slot: Option<&str>) -> Vec<Event> {
        self.inputs.push(name.to_owned());
        if let Some(slot) = mic_slot {
            self.special_inputs.insert(slot.to_owned(), name.to_owned());
        }
        let mut data = self.input_event_data(name);
        data["inputKind"] = json!(kind);
        data["unversionedInputKind"] = json!(kind);
        data["inputSettings"] = json!({});
        data["defaultInputSettings"] = json!({});
        vec![("InputCreated", data)]
    }

    /// An input removed in OBS: InputRemoved `{inputName}` (and `inputUuid` from 5.4); its mute
    /// and its slot go with it.
    pub fn remove_input(&mut self, name: &str) -> Vec<Event> {
        let data = self.input_event_data(name);
        self.inputs.retain(|input| input != name);
        self.muted.remove(name);
        self.special_inputs.retain(|_, input| input != name);
        vec![("InputRemoved", data)]
    }

    /// Another OBS settings profile `name`: CurrentProfileChanging, `change` (what depends on the
    /// profile), then CurrentProfileChanged.
    pub fn switch_obs_profile(&mut self, name: &str, change: impl FnOnce(&mut SimObs)) -> Vec<Event> {
        let changing = ("CurrentProfileChanging", json!({ "profileName": self.current_profile }));
        change(self);
        self.current_profile = name.to_owned();
        vec![changing, ("CurrentProfileChanged", json!({ "profileName": name }))]
    }
}

impl SimObs {
    /// A StreamStateChanged for RECONNECTING / RECONNECTED, which 5.0 does not have.
    fn reconnect_event(&self, state: &str) -> Vec<Event> {
        if self.profile.has_reconnect_events() {
            vec![self.state_event("StreamStateChanged", state)]
        } else {
            Vec::new()
        }
    }

    /// SceneListChanged with the scenes as GetSceneList lists them.
    fn scene_list_changed(&self) -> Event {
        ("SceneListChanged", json!({ "scenes": self.scene_entries() }))
    }
}

/// How far the bitrate wobbles around [`SimObs::bitrate_bps`] (a fraction of it), and how fast
/// (radians a second; a period of about 10 s), so a bitrate graph has something to draw.
const WOBBLE_DEPTH: f64 = 0.08;
const WOBBLE_RATE: f64 = 60.0 / 97.0;

impl SimObs {
    /// Time passing: the counters of the running outputs grow as OBS's would. A live stream that
    /// is not reconnecting adds to its duration, frames (at [`SimObs::active_fps`]), skipped
    /// frames (one in [`SimObs::stream_skip_one_in`]) and bytes (at about
    /// [`SimObs::bitrate_bps`]); a recording that is not paused adds to its duration and bytes;
    /// OBS renders and hands frames to its encoders all the while, skipping some when told to
    /// ([`SimObs::render_skip_one_in`], [`SimObs::encoder_skip_one_in`]). As on real OBS, the stream's
    /// counters stand still while it reconnects (`outputDuration` is frames times frame time, not
    /// a clock). Each counter is a function of its output's duration, so many small steps add up
    /// to what one long step gives.
    pub fn advance(&mut self, elapsed: Duration) {
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let (up_before, up_after) = (self.uptime_ms, self.uptime_ms.saturating_add(ms));
        self.uptime_ms = up_after;
        let (rendered_before, rendered_after) = (self.frames_at(up_before), self.frames_at(up_after));
        self.render_total_frames += rendered_after - rendered_before;
        self.render_skipped_frames += one_in(rendered_before, rendered_after, self.render_skip_one_in);
        self.encoder_total_frames += rendered_after - rendered_before;
        self.encoder_skipped_frames += one_in(rendered_before, rendered_after, self.encoder_skip_one_in);
        if self.stream_active && !self.stream_reconnecting {
            let (before, after) = (self.stream_duration_ms, self.stream_duration_ms.saturating_add(ms));
            let (frames_before, frames_after) = (self.frames_at(before), self.frames_at(after));
            self.stream_duration_ms = after;
            self.stream_total += frames_after - frames_before;
            self.stream_skipped += one_in(frames_before, frames_after, self.stream_skip_one_in);
            self.stream_bytes += self.bytes_at(after) - self.bytes_at(before);
        }
        if self.record_active && !self.record_paused {
            let (before, after) = (self.record_duration_ms, self.record_duration_ms.saturating_add(ms));
            self.record_duration_ms = after;
            self.record_bytes += self.bytes_at(after) - self.bytes_at(before);
        }
    }

    /// Frames encoded (or rendered) `ms` into a run.
    fn frames_at(&self, ms: u64) -> u64 {
        (ms as f64 * self.active_fps / 1000.0) as u64
    }

    /// Bytes an output has written `ms` into its run: the integral of the wobbling bitrate, which
    /// never falls, so differences of it are never negative.
    fn bytes_at(&self, ms: u64) -> u64 {
        let seconds = ms as f64 / 1000.0;
        let wobble = WOBBLE_DEPTH / WOBBLE_RATE * (1.0 - (WOBBLE_RATE * seconds).cos());
        (self.bitrate_bps as f64 / 8.0 * (seconds + wobble)) as u64
    }
}

/// How many of the frames numbered `before..after` fall on every `n`th (none when `n` is 0): a
/// function of the frame numbers, so a rate that changes mid-run applies from then on.
fn one_in(before: u64, after: u64, n: u64) -> u64 {
    match n {
        0 => 0,
        n => after / n - before / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Profile;
    use serde_json::Value;

    fn live_at_60_fps() -> SimObs {
        SimObs { stream_active: true, record_active: true, active_fps: 60.0, ..SimObs::default() }
    }

    #[test]
    fn a_live_stream_and_a_recording_count_at_the_encoders_rates() {
        let mut st = live_at_60_fps();
        st.advance(Duration::from_secs(120));
        assert_eq!(st.stream_duration_ms, 120_000);
        assert_eq!(st.stream_total, 7_200);
        assert_eq!(st.stream_skipped, 6);
        let nominal = 6_000_000 / 8 * 120;
        assert!(st.stream_bytes.abs_diff(nominal) < nominal / 50, "{} bytes", st.stream_bytes);
        assert_eq!((st.record_duration_ms, st.record_bytes), (120_000, st.stream_bytes));
        assert_eq!(st.render_total_frames, 3_600 + 7_200);
    }

    #[test]
    fn many_small_steps_add_up_to_one_long_one() {
        let (mut stepped, mut jumped) = (live_at_60_fps(), live_at_60_fps());
        for _ in 0..4_000 {
            stepped.advance(Duration::from_millis(7));
        }
        jumped.advance(Duration::from_millis(28_000));
        assert_eq!(stepped, jumped);
        assert_eq!(stepped.stream_total, 1_680);
    }

    #[test]
    fn nothing_counts_while_off_reconnecting_or_paused_but_obs_still_renders() {
        let mut st = SimObs { active_fps: 60.0, ..SimObs::default() };
        st.advance(Duration::from_secs(5));
        assert_eq!((st.stream_duration_ms, st.stream_bytes, st.record_duration_ms), (0, 0, 0));
        assert_eq!(st.render_total_frames, 3_600 + 300);

        let mut st = live_at_60_fps();
        st.advance(Duration::from_secs(5));
        st.rtmp_outage();
        st.answer("PauseRecord", None);
        let (frames, record_ms) = (st.stream_total, st.record_duration_ms);
        st.advance(Duration::from_secs(5));
        assert_eq!((st.stream_duration_ms, st.stream_total, st.stream_bytes), (5_000, frames, 0));
        assert_eq!(st.record_duration_ms, record_ms);

        st.rtmp_recovered();
        st.answer("ResumeRecord", None);
        st.advance(Duration::from_secs(1));
        assert_eq!((st.stream_duration_ms, st.stream_total), (1_000, 60), "counted again from the reconnect");
        assert_eq!(st.record_duration_ms, record_ms + 1_000);
    }

    #[test]
    fn the_skip_knobs_count_render_encoder_and_network_skips_from_when_they_are_set() {
        let mut st = SimObs { stream_active: true, active_fps: 100.0, stream_skip_one_in: 0, ..SimObs::default() };
        st.advance(Duration::from_secs(10));
        assert_eq!((st.stream_skipped, st.render_skipped_frames, st.encoder_skipped_frames), (0, 0, 0));
        assert_eq!((st.render_total_frames, st.encoder_total_frames), (3_600 + 1_000, 3_600 + 1_000));
        (st.stream_skip_one_in, st.render_skip_one_in, st.encoder_skip_one_in) = (100, 20, 10);
        st.advance(Duration::from_secs(10));
        assert_eq!((st.stream_skipped, st.render_skipped_frames, st.encoder_skipped_frames), (10, 50, 100));
        st.rtmp_outage();
        st.advance(Duration::from_secs(10));
        assert_eq!(st.stream_skipped, 10, "the stream's counters stand still while it reconnects");
        assert_eq!((st.render_skipped_frames, st.encoder_skipped_frames), (100, 200), "OBS goes on rendering");
        let stats = st.answer("GetStats", None).data.expect("stats");
        assert_eq!(
            (stats["renderSkippedFrames"].clone(), stats["outputSkippedFrames"].clone()),
            (json!(100), json!(200))
        );
        assert_eq!(stats["outputTotalFrames"], json!(3_600 + 3_000));
    }

    #[test]
    fn inputs_come_and_go_with_their_events_and_their_slot() {
        let mut st = SimObs::for_profile(Profile::V5_4);
        let created = st.create_input("Podcast Mic", "pulse_input_capture", Some("mic2"));
        assert_eq!(created[0].0, "InputCreated");
        assert_eq!(created[0].1["inputUuid"], json!(st.uuid_of("Podcast Mic")));
        assert_eq!(created[0].1["unversionedInputKind"], "pulse_input_capture");
        assert_eq!(st.answer("GetSpecialInputs", None).data.expect("slots")["mic2"], "Podcast Mic");
        st.mute_in_obs("Podcast Mic", true);
        let removed = st.remove_input("Podcast Mic");
        assert_eq!(
            removed,
            vec![("InputRemoved", json!({ "inputName": "Podcast Mic", "inputUuid": st.uuid_of("Podcast Mic") }))]
        );
        assert!(!st.inputs.contains(&"Podcast Mic".to_string()) && st.muted.is_empty());
        assert_eq!(st.answer("GetSpecialInputs", None).data.expect("slots")["mic2"], Value::Null);
    }

    #[test]
    fn an_outage_says_reconnecting_from_5_1_on() {
        let mut old = SimObs::for_profile(Profile::V5_0);
        assert!(old.rtmp_outage().is_empty());
        assert!(old.stream_reconnecting);
        let mut st = SimObs::default();
        let events = st.rtmp_outage();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].1["outputState"], json!("OBS_WEBSOCKET_OUTPUT_RECONNECTING"));
    }
}
