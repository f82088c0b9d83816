//! The pure heart of the engine: OBS's answers and events in, state and moments out.
//!
//! No I/O and no clock: every input carries `now_ms`, so each rule (a reconnect to
//! a stream that is still live is not a new "went live"; four RECONNECTING events
//! are one outage; a second STOPPED is no second "ended") is a plain unit test.

use crate::client::RequestError;
use crate::protocol::responses::{OutputActive, RecordStatus, SceneList, Stats, StreamStatus};
use crate::protocol::{scenes_top_first, status, ObsEvent, OutputState};
use crate::state::{Moment, ObsStats, ObsStatus, OutputActivity, RecordingState, StreamHealth, StreamState};

/// A live stream found after a reconnect whose start lies this much later than the
/// one OnAir knew is a different stream (OBS was restarted and went live again).
const SAME_STREAM_TOLERANCE_MS: u64 = 5_000;

/// OBS's answers to the sync requests.
#[derive(Debug, Clone)]
pub struct SyncAnswers {
    pub stream: StreamStatus,
    pub record: RecordStatus,
    pub replay_buffer: Result<OutputActive, RequestError>,
    pub virtual_camera: Result<OutputActive, RequestError>,
    pub scenes: SceneList,
    pub studio_mode: bool,
}

impl SyncAnswers {
    /// The status these answers describe, at `now_ms`.
    pub fn to_status(&self, now_ms: u64) -> ObsStatus {
        let started = |duration: Option<f64>| now_ms.saturating_sub(duration.unwrap_or(0.0).max(0.0) as u64);
        let stream = match (self.stream.output_active, self.stream.output_reconnecting) {
            (_, true) => {
                StreamState::Reconnecting { live_since_ms: started(self.stream.output_duration), since_ms: now_ms }
            }
            (true, false) => StreamState::Live { since_ms: started(self.stream.output_duration) },
            (false, false) => StreamState::Offline,
        };
        let recording = match (self.record.output_active, self.record.output_paused) {
            (_, true) => RecordingState::Paused { since_ms: started(self.record.output_duration) },
            (true, false) => RecordingState::Recording { since_ms: started(self.record.output_duration) },
            (false, false) => RecordingState::Off,
        };
        ObsStatus {
            stream,
            recording,
            replay_buffer: activity_from_answer(&self.replay_buffer),
            virtual_camera: activity_from_answer(&self.virtual_camera),
            program_scene: self.scenes.current_program_scene_name.clone(),
            scenes: scenes_top_first(&self.scenes.scenes),
            studio_mode: self.studio_mode,
            stream_health: None,
            stats: None,
            scene_collection_changing: false,
        }
    }
}

fn activity_from_answer(answer: &Result<OutputActive, RequestError>) -> OutputActivity {
    match answer {
        Ok(OutputActive { output_active: true }) => OutputActivity::On,
        Ok(OutputActive { output_active: false }) => OutputActivity::Off,
        // 604 "... is not available": the output is not configured in OBS.
        Err(RequestError::Failed { code: status::INVALID_RESOURCE_STATE, .. }) => OutputActivity::Unavailable,
        Err(_) => OutputActivity::Unavailable,
    }
}

/// State and memory across connections.
#[derive(Debug, Default)]
pub struct Model {
    /// The synced status; `None` while not connected and synced.
    current: Option<ObsStatus>,
    /// The last status seen before the connection ended, for the verdict on reconnect.
    last_known: Option<ObsStatus>,
    /// When an `obs-lost` was announced and not yet answered by `obs-back`.
    lost_at_ms: Option<u64>,
    auth_failure_announced: bool,
    /// OBS said ExitStarted: the coming disconnect is OBS quitting on purpose.
    obs_exiting: bool,
    /// `(bytes, at_ms)` of the previous stream poll, for the bitrate.
    previous_bytes: Option<(u64, u64)>,
}

impl Model {
    pub fn new() -> Model {
        Model::default()
    }

    pub fn status(&self) -> Option<&ObsStatus> {
        self.current.as_ref()
    }

    /// The sync finished: compare with what was known before the connection
    /// dropped and say what changed while OnAir could not see.
    pub fn on_synced(&mut self, mut fresh: ObsStatus, now_ms: u64) -> Vec<Moment> {
        let mut moments = Vec::new();
        self.auth_failure_announced = false;
        self.obs_exiting = false;
        if let Some(lost_at) = self.lost_at_ms.take() {
            moments.push(Moment::ObsBack {
                down_ms: now_ms.saturating_sub(lost_at),
                still_live: fresh.stream.is_on_air(),
            });
        }
        if let Some(before) = self.last_known.take() {
            self.previous_bytes = None;
            match (before.stream.live_since_ms(), fresh.stream.live_since_ms()) {
                (Some(old_since), Some(new_since)) if new_since <= old_since + SAME_STREAM_TOLERANCE_MS => {
                    // The same stream: keep the start OnAir saw itself.
                    fresh.stream = with_live_since(&fresh.stream, old_since);
                    match (&before.stream, &fresh.stream) {
                        (StreamState::Live { .. }, StreamState::Reconnecting { .. }) => {
                            moments.push(Moment::Reconnecting { since_ms: now_ms });
                        }
                        (StreamState::Reconnecting { since_ms, .. }, StreamState::Live { .. }) => {
                            moments.push(Moment::Reconnected { down_ms: now_ms.saturating_sub(*since_ms) });
                        }
                        _ => {}
                    }
                }
                (Some(old_since), new_since) => {
                    moments.push(ended_with(before.stream_health.as_ref(), old_since, now_ms, true));
                    if let Some(new_since) = new_since {
                        moments.push(Moment::Live { since_ms: new_since });
                    }
                }
                (None, Some(new_since)) if before.stream != StreamState::Starting || fresh.stream.is_on_air() => {
                    moments.push(Moment::Live { since_ms: new_since });
                }
                _ => {}
            }
            match (before.recording.is_active(), fresh.recording.is_active()) {
                (true, false) => moments.push(Moment::RecordingStopped {
                    path: None,
                    duration_ms: before.recording.started_at_ms().map(|s| now_ms.saturating_sub(s)),
                }),
                (false, true) => moments.push(Moment::RecordingStarted { path: None }),
                _ => {
                    if let (Some(old), RecordingState::Recording { since_ms } | RecordingState::Paused { since_ms }) =
                        (before.recording.started_at_ms(), &mut fresh.recording)
                    {
                        *since_ms = old;
                    }
                }
            }
        }
        self.current = Some(fresh);
        moments
    }

    /// The connection ended (or a sync failed). Remembers what was known.
    pub fn on_connection_lost(&mut self, reason: &str, now_ms: u64) -> Vec<Moment> {
        if let Some(mut current) = self.current.take() {
            if std::mem::take(&mut self.obs_exiting) {
                // OBS quit on purpose (it sends no STOPPED first): its outputs ended
                // with it. Say so now rather than raise an alarm about losing OBS.
                let moments = end_outputs(&mut current, now_ms);
                self.last_known = Some(current);
                return moments;
            }
            self.last_known = Some(current);
        }
        let Some(known) = &self.last_known else { return Vec::new() };
        let was_live = known.stream.is_on_air();
        let was_recording = known.recording.is_active();
        if (was_live || was_recording) && self.lost_at_ms.is_none() {
            self.lost_at_ms = Some(now_ms);
            return vec![Moment::ObsLost { reason: reason.to_string(), was_live, was_recording }];
        }
        Vec::new()
    }

    /// OBS rejected the password: said once until a connection succeeds or the
    /// settings change.
    pub fn on_auth_failed(&mut self, message: &str) -> Vec<Moment> {
        if self.auth_failure_announced {
            return Vec::new();
        }
        self.auth_failure_announced = true;
        vec![Moment::AuthFailed { message: message.to_string() }]
    }

    /// The user pointed OnAir at another OBS (or changed the password): forget the
    /// old one, so nothing about it is announced against the new one.
    pub fn on_settings_changed(&mut self) {
        *self = Model::default();
    }

    /// Same OBS, new password: a failure with it deserves its own message.
    pub fn allow_new_auth_failure(&mut self) {
        self.auth_failure_announced = false;
    }

    /// A full sync on a connection that stayed up (after falling behind events):
    /// like a reconnect, but nothing was lost and the health figures carry over.
    pub fn on_resynced(&mut self, mut fresh: ObsStatus, now_ms: u64) -> Vec<Moment> {
        if let Some(current) = self.current.take() {
            fresh.stream_health = current.stream_health.clone();
            fresh.stats = current.stats.clone();
            self.last_known = Some(current);
        }
        let previous_bytes = self.previous_bytes;
        let moments = self.on_synced(fresh, now_ms);
        self.previous_bytes = previous_bytes;
        moments
    }

    pub fn on_event(&mut self, event: &ObsEvent, now_ms: u64) -> Vec<Moment> {
        let Some(status) = self.current.as_mut() else { return Vec::new() };
        let mut moments = Vec::new();
        match event {
            ObsEvent::StreamStateChanged { state } => {
                let health = status.stream_health.clone();
                if let Some(moment) = next_stream(&mut status.stream, state, health.as_ref(), now_ms) {
                    moments.push(moment);
                }
                // Health stays through STOPPING so the "ended" summary can use it.
                if matches!(status.stream, StreamState::Offline | StreamState::Starting) {
                    status.stream_health = None;
                    self.previous_bytes = None;
                }
            }
            ObsEvent::RecordStateChanged { state, output_path } => {
                if let Some(moment) = next_recording(&mut status.recording, state, output_path, now_ms) {
                    moments.push(moment);
                }
            }
            ObsEvent::ReplayBufferStateChanged { state } => next_activity(&mut status.replay_buffer, state),
            ObsEvent::VirtualcamStateChanged { state } => next_activity(&mut status.virtual_camera, state),
            ObsEvent::ReplayBufferSaved { path } => moments.push(Moment::ReplaySaved { path: path.clone() }),
            ObsEvent::CurrentProgramSceneChanged { scene_name } => status.program_scene = Some(scene_name.clone()),
            ObsEvent::SceneListChanged { scenes } => status.scenes = scenes_top_first(scenes),
            ObsEvent::StudioModeStateChanged { enabled } => status.studio_mode = *enabled,
            ObsEvent::SceneCollectionChanging => status.scene_collection_changing = true,
            ObsEvent::SceneCollectionChanged => status.scene_collection_changing = false,
            ObsEvent::ExitStarted => self.obs_exiting = true,
            ObsEvent::Other { .. } => {}
        }
        moments
    }

    /// A scene list fetched again (after a scene collection switch).
    pub fn on_scene_list(&mut self, list: &SceneList) {
        if let Some(status) = self.current.as_mut() {
            status.scenes = scenes_top_first(&list.scenes);
            status.program_scene = list.current_program_scene_name.clone();
        }
    }

    /// A `GetStreamStatus` poll. Only health is taken from it: the state itself
    /// follows events, which are newer than any poll.
    pub fn on_stream_status(&mut self, polled: &StreamStatus, now_ms: u64) {
        let Some(status) = self.current.as_mut() else { return };
        if !status.stream.is_on_air() || !polled.output_active {
            return;
        }
        let bytes = polled.output_bytes.unwrap_or(0.0).max(0.0) as u64;
        let bitrate_kbps = match self.previous_bytes {
            Some((previous, at)) if bytes >= previous && now_ms > at => {
                Some((bytes - previous) as f64 * 8.0 / (now_ms - at) as f64)
            }
            _ => None,
        };
        self.previous_bytes = Some((bytes, now_ms));
        let dropped_frames = polled.output_skipped_frames.unwrap_or(0.0).max(0.0) as u64;
        let total_frames = polled.output_total_frames.unwrap_or(0.0).max(0.0) as u64;
        status.stream_health = Some(StreamHealth {
            // The first poll after a gap has no delta; keep showing the last figure
            // rather than flickering to nothing.
            bitrate_kbps: bitrate_kbps.or(status.stream_health.as_ref().and_then(|h| h.bitrate_kbps)),
            bytes,
            duration_ms: polled.output_duration.unwrap_or(0.0).max(0.0) as u64,
            dropped_frames,
            total_frames,
            dropped_ratio: if total_frames == 0 { 0.0 } else { dropped_frames as f64 / total_frames as f64 },
            congestion: polled.output_congestion.unwrap_or(0.0).clamp(0.0, 1.0),
            polled_at_ms: now_ms,
        });
    }

    pub fn on_stats(&mut self, stats: &Stats) {
        let Some(status) = self.current.as_mut() else { return };
        let count = |v: Option<f64>| v.map(|v| v.max(0.0) as u64);
        status.stats = Some(ObsStats {
            cpu_percent: stats.cpu_usage,
            memory_mb: stats.memory_usage,
            fps: stats.active_fps,
            render_ms: stats.average_frame_render_time,
            free_disk_mb: stats.available_disk_space,
            render_skipped_frames: count(stats.render_skipped_frames),
            render_total_frames: count(stats.render_total_frames),
        });
    }

    /// Whether health and stats are worth polling now.
    pub fn wants_polling(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|s| !s.scene_collection_changing && (s.stream.is_on_air() || s.recording.is_active()))
    }
}

/// Ends the stream and recording of a status whose OBS is quitting.
fn end_outputs(status: &mut ObsStatus, now_ms: u64) -> Vec<Moment> {
    let mut moments = Vec::new();
    if let Some(since) = status.stream.live_since_ms() {
        moments.push(ended_with(status.stream_health.as_ref(), since, now_ms, false));
    }
    status.stream = StreamState::Offline;
    status.stream_health = None;
    if let Some(since) = status.recording.started_at_ms() {
        moments.push(Moment::RecordingStopped { path: None, duration_ms: Some(now_ms.saturating_sub(since)) });
    }
    status.recording = RecordingState::Off;
    moments
}

fn with_live_since(stream: &StreamState, live_since_ms: u64) -> StreamState {
    match stream {
        StreamState::Live { .. } => StreamState::Live { since_ms: live_since_ms },
        StreamState::Reconnecting { since_ms, .. } => StreamState::Reconnecting { live_since_ms, since_ms: *since_ms },
        other => other.clone(),
    }
}

fn ended_with(health: Option<&StreamHealth>, live_since_ms: u64, now_ms: u64, while_away: bool) -> Moment {
    Moment::Ended {
        duration_ms: Some(now_ms.saturating_sub(live_since_ms)),
        bytes: health.map(|h| h.bytes),
        dropped_frames: health.map(|h| h.dropped_frames),
        total_frames: health.map(|h| h.total_frames),
        while_away,
    }
}

/// The stream's next state on an output event, and the moment it makes, if any.
fn next_stream(
    stream: &mut StreamState,
    event: &OutputState,
    health: Option<&StreamHealth>,
    now_ms: u64,
) -> Option<Moment> {
    use StreamState::*;
    let (next, moment) = match (&*stream, event) {
        (Offline | Stopping { .. }, OutputState::Starting) => (Starting, None),
        (Offline | Starting | Stopping { .. }, OutputState::Started | OutputState::Reconnected) => {
            (Live { since_ms: now_ms }, Some(Moment::Live { since_ms: now_ms }))
        }
        (Reconnecting { live_since_ms, since_ms }, OutputState::Started | OutputState::Reconnected) => {
            (Live { since_ms: *live_since_ms }, Some(Moment::Reconnected { down_ms: now_ms.saturating_sub(*since_ms) }))
        }
        (Live { since_ms }, OutputState::Reconnecting) => (
            Reconnecting { live_since_ms: *since_ms, since_ms: now_ms },
            Some(Moment::Reconnecting { since_ms: now_ms }),
        ),
        // OBS repeats RECONNECTING once per retry: one outage, one moment.
        (Reconnecting { .. }, OutputState::Reconnecting) => return None,
        (Offline | Starting, OutputState::Reconnecting) => {
            (Reconnecting { live_since_ms: now_ms, since_ms: now_ms }, Some(Moment::Reconnecting { since_ms: now_ms }))
        }
        (Live { since_ms } | Reconnecting { live_since_ms: since_ms, .. }, OutputState::Stopping) => {
            (Stopping { live_since_ms: Some(*since_ms) }, None)
        }
        (Starting, OutputState::Stopping) => (Stopping { live_since_ms: None }, None),
        (Live { since_ms } | Reconnecting { live_since_ms: since_ms, .. }, OutputState::Stopped) => {
            (Offline, Some(ended_with(health, *since_ms, now_ms, false)))
        }
        (Stopping { live_since_ms: Some(since_ms) }, OutputState::Stopped) => {
            (Offline, Some(ended_with(health, *since_ms, now_ms, false)))
        }
        // STARTING then STOPPED with no STARTED: OBS could not connect to the server.
        (Starting, OutputState::Stopped) => (
            Offline,
            Some(Moment::StartFailed {
                message: "OBS could not start the stream; check the stream server and key in OBS's settings".into(),
            }),
        ),
        // A second STOPPED, or a stop of a start that was cancelled: nothing new.
        (Stopping { live_since_ms: None } | Offline, OutputState::Stopped) => (Offline, None),
        _ => {
            tracing::debug!(?stream, ?event, "stream event that changes nothing");
            return None;
        }
    };
    *stream = next;
    moment
}

fn next_recording(
    recording: &mut RecordingState,
    event: &OutputState,
    path: &Option<String>,
    now_ms: u64,
) -> Option<Moment> {
    use RecordingState::*;
    let (next, moment) = match (&*recording, event) {
        (Off | Stopping { .. }, OutputState::Starting) => (Starting, None),
        (Off | Starting | Stopping { .. }, OutputState::Started) => {
            (Recording { since_ms: now_ms }, Some(Moment::RecordingStarted { path: path.clone() }))
        }
        (Recording { since_ms }, OutputState::Paused) => {
            (Paused { since_ms: *since_ms }, Some(Moment::RecordingPaused))
        }
        (Paused { since_ms }, OutputState::Resumed) => {
            (Recording { since_ms: *since_ms }, Some(Moment::RecordingResumed))
        }
        (Recording { since_ms } | Paused { since_ms }, OutputState::Stopping) => {
            (Stopping { since_ms: Some(*since_ms) }, None)
        }
        (Starting, OutputState::Stopping) => (Stopping { since_ms: None }, None),
        (
            Recording { since_ms } | Paused { since_ms } | Stopping { since_ms: Some(since_ms) },
            OutputState::Stopped,
        ) => (
            Off,
            Some(Moment::RecordingStopped { path: path.clone(), duration_ms: Some(now_ms.saturating_sub(*since_ms)) }),
        ),
        (Starting | Stopping { since_ms: None } | Off, OutputState::Stopped) => (Off, None),
        _ => {
            tracing::debug!(?recording, ?event, "recording event that changes nothing");
            return None;
        }
    };
    *recording = next;
    moment
}

fn next_activity(activity: &mut OutputActivity, event: &OutputState) {
    *activity = match event {
        OutputState::Starting => OutputActivity::Starting,
        OutputState::Started | OutputState::Reconnected | OutputState::Resumed => OutputActivity::On,
        OutputState::Stopping => OutputActivity::Stopping,
        OutputState::Stopped => OutputActivity::Off,
        OutputState::Reconnecting | OutputState::Paused | OutputState::Unknown(_) => return,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline_answers() -> SyncAnswers {
        SyncAnswers {
            stream: StreamStatus::default(),
            record: RecordStatus::default(),
            replay_buffer: Err(RequestError::Failed {
                code: 604,
                comment: Some("Replay buffer is not available.".into()),
            }),
            virtual_camera: Ok(OutputActive { output_active: false }),
            scenes: SceneList { current_program_scene_name: Some("Scene".into()), scenes: vec![] },
            studio_mode: false,
        }
    }

    fn live_answers(duration_ms: f64) -> SyncAnswers {
        let mut a = offline_answers();
        a.stream.output_active = true;
        a.stream.output_duration = Some(duration_ms);
        a
    }

    fn stream_event(state: OutputState) -> ObsEvent {
        ObsEvent::StreamStateChanged { state }
    }

    fn record_event(state: OutputState, path: Option<&str>) -> ObsEvent {
        ObsEvent::RecordStateChanged { state, output_path: path.map(String::from) }
    }

    fn kinds(moments: &[Moment]) -> Vec<&'static str> {
        moments.iter().map(Moment::kind).collect()
    }

    fn synced_offline() -> Model {
        let mut model = Model::new();
        let moments = model.on_synced(offline_answers().to_status(0), 0);
        assert!(moments.is_empty());
        model
    }

    #[test]
    fn first_sync_announces_nothing_even_when_live() {
        let mut model = Model::new();
        assert!(model.on_synced(live_answers(60_000.0).to_status(100_000), 100_000).is_empty());
        assert_eq!(model.status().unwrap().stream, StreamState::Live { since_ms: 40_000 });
        assert_eq!(model.status().unwrap().replay_buffer, OutputActivity::Unavailable);
        assert_eq!(model.status().unwrap().virtual_camera, OutputActivity::Off);
    }

    #[test]
    fn going_live_and_ending_are_one_moment_each() {
        let mut model = synced_offline();
        assert!(model.on_event(&stream_event(OutputState::Starting), 1_000).is_empty());
        assert_eq!(model.on_event(&stream_event(OutputState::Started), 1_150), vec![Moment::Live { since_ms: 1_150 }]);
        model.on_stream_status(
            &StreamStatus {
                output_active: true,
                output_bytes: Some(1_000_000.0),
                output_skipped_frames: Some(2.0),
                output_total_frames: Some(100.0),
                ..Default::default()
            },
            5_000,
        );
        assert!(model.on_event(&stream_event(OutputState::Stopping), 61_150).is_empty());
        let ended = model.on_event(&stream_event(OutputState::Stopped), 62_000);
        assert_eq!(
            ended,
            vec![Moment::Ended {
                duration_ms: Some(60_850),
                bytes: Some(1_000_000),
                dropped_frames: Some(2),
                total_frames: Some(100),
                while_away: false
            }]
        );
        // Some setups send STOPPED twice.
        assert!(model.on_event(&stream_event(OutputState::Stopped), 62_100).is_empty());
        assert_eq!(model.status().unwrap().stream, StreamState::Offline);
        assert_eq!(model.status().unwrap().stream_health, None);
    }

    #[test]
    fn four_reconnecting_events_are_one_outage() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 1_000);
        let mut moments = Vec::new();
        for at in [2_000, 4_000, 7_000, 11_500] {
            moments.extend(model.on_event(&stream_event(OutputState::Reconnecting), at));
        }
        moments.extend(model.on_event(&stream_event(OutputState::Reconnected), 13_000));
        assert_eq!(moments, vec![Moment::Reconnecting { since_ms: 2_000 }, Moment::Reconnected { down_ms: 11_000 }]);
        // The stream's start is not reset by the outage.
        assert_eq!(model.status().unwrap().stream, StreamState::Live { since_ms: 1_000 });
    }

    #[test]
    fn starting_then_stopped_is_a_failed_start() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Starting), 1_000);
        assert_eq!(kinds(&model.on_event(&stream_event(OutputState::Stopped), 6_000)), vec!["start-failed"]);
    }

    #[test]
    fn a_start_cancelled_before_it_went_live_is_quiet() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Starting), 1_000);
        model.on_event(&stream_event(OutputState::Stopping), 1_100);
        assert!(model.on_event(&stream_event(OutputState::Stopped), 1_200).is_empty());
    }

    #[test]
    fn giving_up_reconnecting_ends_the_stream() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 0);
        model.on_event(&stream_event(OutputState::Reconnecting), 10_000);
        assert_eq!(kinds(&model.on_event(&stream_event(OutputState::Stopped), 30_000)), vec!["ended"]);
    }

    #[test]
    fn losing_obs_while_live_then_finding_it_still_live_is_not_a_new_stream() {
        let mut model = Model::new();
        model.on_synced(live_answers(10_000.0).to_status(20_000), 20_000);
        assert_eq!(kinds(&model.on_connection_lost("dropped", 30_000)), vec!["obs-lost"]);
        assert!(model.status().is_none(), "no status while not connected");
        // Several failed attempts while OBS is away: still one obs-lost.
        assert!(model.on_connection_lost("refused", 31_000).is_empty());
        let back = model.on_synced(live_answers(25_000.0).to_status(35_000), 35_000);
        assert_eq!(back, vec![Moment::ObsBack { down_ms: 5_000, still_live: true }]);
        assert_eq!(model.status().unwrap().stream, StreamState::Live { since_ms: 10_000 });
    }

    #[test]
    fn obs_restarted_without_the_stream_is_an_end() {
        let mut model = Model::new();
        model.on_synced(live_answers(10_000.0).to_status(20_000), 20_000);
        model.on_connection_lost("dropped", 30_000);
        let back = model.on_synced(offline_answers().to_status(40_000), 40_000);
        assert_eq!(kinds(&back), vec!["obs-back", "ended"]);
        assert!(matches!(back[1], Moment::Ended { while_away: true, duration_ms: Some(30_000), .. }));
    }

    #[test]
    fn obs_restarted_and_live_again_is_an_end_and_a_new_stream() {
        let mut model = Model::new();
        model.on_synced(live_answers(10_000.0).to_status(20_000), 20_000);
        model.on_connection_lost("dropped", 30_000);
        let back = model.on_synced(live_answers(2_000.0).to_status(60_000), 60_000);
        assert_eq!(kinds(&back), vec!["obs-back", "ended", "live"]);
    }

    #[test]
    fn obs_quitting_on_purpose_ends_its_outputs_without_an_alarm() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 1_000);
        model.on_event(&record_event(OutputState::Started, Some("/r/a.mkv")), 2_000);
        assert!(model.on_event(&ObsEvent::ExitStarted, 10_000).is_empty());
        assert_eq!(
            kinds(&model.on_connection_lost("OBS closed the connection (code 1001)", 10_060)),
            vec!["ended", "recording-stopped"]
        );
        // OBS started again, idle: nothing more to say.
        assert!(model.on_synced(offline_answers().to_status(20_000), 20_000).is_empty());
    }

    #[test]
    fn going_live_while_away_from_offline_is_announced_on_return() {
        let mut model = synced_offline();
        assert!(model.on_connection_lost("dropped", 1_000).is_empty(), "nothing was live: no obs-lost");
        assert_eq!(kinds(&model.on_synced(live_answers(1_000.0).to_status(9_000), 9_000)), vec!["live"]);
    }

    #[test]
    fn lost_while_recording_and_recording_gone_on_return() {
        let mut model = synced_offline();
        model.on_event(&record_event(OutputState::Started, Some("/r/a.mkv")), 1_000);
        assert_eq!(kinds(&model.on_connection_lost("dropped", 2_000)), vec!["obs-lost"]);
        let back = model.on_synced(offline_answers().to_status(5_000), 5_000);
        assert_eq!(kinds(&back), vec!["obs-back", "recording-stopped"]);
    }

    #[test]
    fn recording_moments_carry_the_path() {
        let mut model = synced_offline();
        assert!(model.on_event(&record_event(OutputState::Starting, None), 0).is_empty());
        assert_eq!(
            model.on_event(&record_event(OutputState::Started, Some("/r/a.mkv")), 100),
            vec![Moment::RecordingStarted { path: Some("/r/a.mkv".into()) }]
        );
        assert_eq!(model.on_event(&record_event(OutputState::Paused, None), 200), vec![Moment::RecordingPaused]);
        assert!(model.on_event(&record_event(OutputState::Paused, None), 250).is_empty());
        assert_eq!(model.on_event(&record_event(OutputState::Resumed, None), 300), vec![Moment::RecordingResumed]);
        model.on_event(&record_event(OutputState::Stopping, None), 400);
        assert_eq!(
            model.on_event(&record_event(OutputState::Stopped, Some("/r/a.mkv")), 500),
            vec![Moment::RecordingStopped { path: Some("/r/a.mkv".into()), duration_ms: Some(400) }]
        );
        assert!(model.on_event(&record_event(OutputState::Stopped, Some("/r/a.mkv")), 600).is_empty());
    }

    #[test]
    fn replay_saved_is_announced_with_its_path() {
        let mut model = synced_offline();
        model.on_event(&ObsEvent::ReplayBufferStateChanged { state: OutputState::Started }, 0);
        assert_eq!(model.status().unwrap().replay_buffer, OutputActivity::On);
        assert_eq!(
            model.on_event(&ObsEvent::ReplayBufferSaved { path: Some("/r/replay.mkv".into()) }, 1),
            vec![Moment::ReplaySaved { path: Some("/r/replay.mkv".into()) }]
        );
    }

    #[test]
    fn auth_failure_is_announced_once_until_a_success_or_new_settings() {
        let mut model = Model::new();
        assert_eq!(kinds(&model.on_auth_failed("wrong")), vec!["auth-failed"]);
        assert!(model.on_auth_failed("wrong").is_empty());
        model.on_settings_changed();
        assert_eq!(kinds(&model.on_auth_failed("wrong")), vec!["auth-failed"]);
    }

    #[test]
    fn bitrate_comes_from_the_bytes_delta() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 0);
        let poll = |bytes: f64| StreamStatus {
            output_active: true,
            output_bytes: Some(bytes),
            output_total_frames: Some(0.0),
            ..Default::default()
        };
        model.on_stream_status(&poll(0.0), 1_000);
        assert_eq!(model.status().unwrap().stream_health.as_ref().unwrap().bitrate_kbps, None);
        // 750,000 bytes in 2 s = 3,000 kb/s.
        model.on_stream_status(&poll(750_000.0), 3_000);
        let health = model.status().unwrap().stream_health.clone().unwrap();
        assert_eq!(health.bitrate_kbps, Some(3_000.0));
        assert_eq!(health.dropped_ratio, 0.0);
    }

    #[test]
    fn events_before_any_sync_are_ignored() {
        let mut model = Model::new();
        assert!(model.on_event(&stream_event(OutputState::Started), 0).is_empty());
        assert!(model.status().is_none());
    }

    #[test]
    fn unknown_states_change_nothing() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 0);
        let before = model.status().cloned();
        assert!(model.on_event(&stream_event(OutputState::Unknown("OBS_WEBSOCKET_OUTPUT_WARP".into())), 1).is_empty());
        assert_eq!(model.status().cloned(), before);
    }

    #[test]
    fn polling_only_while_it_matters() {
        let mut model = synced_offline();
        assert!(!model.wants_polling());
        model.on_event(&stream_event(OutputState::Started), 0);
        assert!(model.wants_polling());
        model.on_event(&ObsEvent::SceneCollectionChanging, 1);
        assert!(!model.wants_polling());
        model.on_event(&ObsEvent::SceneCollectionChanged, 2);
        assert!(model.wants_polling());
    }
}
