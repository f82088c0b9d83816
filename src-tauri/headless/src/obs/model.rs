//! The pure heart of the engine: OBS's answers and events in, state and moments out.
//!
//! No I/O and no clock: every input carries `now_ms`, so each rule (a reconnect to
//! a stream that is still live is not a new "went live"; four RECONNECTING events
//! are one outage; a second STOPPED is no second "ended") is a plain unit test.
//!
//! OBS gives a stream no identity, and its counters (`outputDuration`,
//! `outputBytes`, frames) restart at every RTMP reconnect. So the model keeps
//! what identifies a stream across OnAir's own reconnects itself: OBS's render
//! frame count, which only restarts with OBS, and when OBS's counters last
//! restarted; and it adds the counters up across their resets.

use std::collections::{HashMap, VecDeque};

use crate::guard::{luma_summary, MicReading, PixelLayout, ProgramShot};
use crate::guard::{
    AlertChange, AlertSettings, EngineFrames, Guard, GuardInput, RecordPoll, StatsPoll, StreamPoll, Transition,
};
use serde::Serialize;

use crate::obs::protocol::responses::{InputListEntry, OutputActive, RecordStatus, SceneList, Stats, StreamStatus};
use crate::obs::protocol::InputEvent;
use crate::obs::protocol::{scenes_top_first, status, ObsEvent, OutputState};
use crate::obs::RequestError;
use crate::state::{
    AlertLasted, MicStatus, Moment, ObsStats, ObsStatus, OutputActivity, RecordingState, StreamHealth, StreamState,
};

/// Without OBS's render frame count, a live stream found after a reconnect whose
/// counters started this much later than the ones OnAir knew is a different
/// stream (OBS was restarted and went live again). `outputDuration` counts frames,
/// not time, so a starved OBS falls behind the clock: the tolerance grows with the
/// stream's age.
const SAME_STREAM_TOLERANCE_MS: u64 = 5_000;

/// A recording found after a reconnect that is this much shorter than the one
/// OnAir knew is a new file.
const SAME_RECORDING_TOLERANCE_MS: u64 = 3_000;

/// OBS's answers to the sync requests.
#[derive(Debug, Clone)]
pub struct SyncAnswers {
    pub stream: StreamStatus,
    pub record: RecordStatus,
    pub replay_buffer: Result<OutputActive, RequestError>,
    pub virtual_camera: Result<OutputActive, RequestError>,
    pub scenes: SceneList,
    pub studio_mode: bool,
    /// `GetStats`, for OBS's render frame count; `None` if OBS did not answer it.
    pub stats: Option<Stats>,
    /// The watched mics that exist in OBS, with their mute.
    pub mics: Vec<MicStatus>,
}

impl SyncAnswers {
    /// The status these answers describe, at `now_ms`.
    pub fn to_status(&self, now_ms: u64) -> ObsStatus {
        let started = |duration: Option<f64>| now_ms.saturating_sub(reading(duration));
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
            alerts: Vec::new(),
            mics: self.mics.clone(),
        }
    }

    fn render_frames(&self) -> Option<u64> {
        self.stats.as_ref().and_then(|s| s.render_total_frames).map(|f| reading(Some(f)))
    }
}

/// Whether counters that OBS says started at `fresh_since_ms` (now minus their
/// duration) started later than the ones known to have started at
/// `known_since_ms`, beyond what a starved OBS's lagging duration explains.
fn restarted_later(known_since_ms: u64, fresh_since_ms: u64, now_ms: u64) -> bool {
    let tolerance = SAME_STREAM_TOLERANCE_MS + now_ms.saturating_sub(known_since_ms) / 20;
    fresh_since_ms > known_since_ms.saturating_add(tolerance)
}

/// A count or duration from OBS as a whole number; missing, negative or NaN is 0.
fn reading(value: Option<f64>) -> u64 {
    value.filter(|v| v.is_finite()).unwrap_or(0.0).max(0.0) as u64
}

/// A replay buffer or virtual camera status answer as an activity.
fn activity_from_answer(answer: &Result<OutputActive, RequestError>) -> OutputActivity {
    match answer {
        Ok(OutputActive { output_active: true }) => OutputActivity::On,
        Ok(OutputActive { output_active: false }) => OutputActivity::Off,
        // 604 "... is not available": the output is not configured in OBS.
        Err(RequestError::Failed { code: status::INVALID_RESOURCE_STATE, .. }) => OutputActivity::Unavailable,
        Err(_) => OutputActivity::Unavailable,
    }
}

/// One of OBS's stream counters, added up across the resets of an RTMP reconnect.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct RunningTotal {
    /// What earlier stretches of the stream counted before OBS restarted the counter.
    before_reset: u64,
    last: u64,
}

impl RunningTotal {
    /// Takes a new reading; a reading below the last one means OBS restarted the counter.
    fn update(&mut self, reading: u64) -> u64 {
        if reading < self.last {
            self.before_reset = self.before_reset.saturating_add(self.last);
        }
        self.last = reading;
        self.total()
    }

    /// Takes the first reading after OBS restarted its counters.
    fn restart(&mut self, reading: u64) -> u64 {
        self.before_reset = self.before_reset.saturating_add(self.last);
        self.last = reading;
        self.total()
    }

    fn total(&self) -> u64 {
        self.before_reset.saturating_add(self.last)
    }
}

/// The whole stream's counts, from its polls.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct StreamTotals {
    bytes: RunningTotal,
    duration_ms: RunningTotal,
    dropped_frames: RunningTotal,
    total_frames: RunningTotal,
    /// The raw `outputBytes` of the previous poll and when, for the bitrate.
    previous_bytes: Option<(u64, u64)>,
    /// When the counters of the last reading started (the model's
    /// `stream_counters_since_ms` then).
    readings_since_ms: Option<u64>,
    /// The highest bitrate measured between two polls, for the `ended` summary.
    peak_kbps: Option<f64>,
}

impl StreamTotals {
    /// Takes a poll's readings. A reading whose duration fits counters restarted
    /// since the last reading starts every counter over (a counter that has grown
    /// past its old value since the restart shows no drop to tell it); otherwise
    /// each counter restarts when it drops (while reconnecting OBS reads 0 bytes
    /// but its frame counts stand still).
    fn take(&mut self, polled: &StreamStatus, counters_since_ms: Option<u64>, now_ms: u64) {
        let duration = reading(polled.output_duration);
        let restarted = match (self.readings_since_ms, counters_since_ms) {
            (Some(before), Some(since)) => {
                since > before && duration <= now_ms.saturating_sub(since).saturating_add(RESTART_SLACK_MS)
            }
            _ => false,
        };
        let counters = [
            (&mut self.bytes, reading(polled.output_bytes)),
            (&mut self.duration_ms, duration),
            (&mut self.dropped_frames, reading(polled.output_skipped_frames)),
            (&mut self.total_frames, reading(polled.output_total_frames)),
        ];
        for (counter, value) in counters {
            if restarted {
                counter.restart(value);
            } else {
                counter.update(value);
            }
        }
        if restarted || self.readings_since_ms.is_none() {
            self.readings_since_ms = counters_since_ms;
        }
    }
}

/// The current stream's RTMP outages as OnAir announced them, for its `ended`
/// summary. Counted from the moments themselves (see [`Model::summarize`]), so
/// the count is what the streamer was told; kept through OnAir's own
/// reconnects like the stream's counters, and started over by `live` and `ended`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Outages {
    count: u32,
    /// The outages that are over, in all.
    down_ms: u64,
    /// When the outage under way began, as its `reconnecting` said.
    open_since_ms: Option<u64>,
}

/// How far a poll's `outputDuration` may run ahead of the time since OBS
/// restarted its counters and still be counted from that restart.
const RESTART_SLACK_MS: u64 = 3_000;

/// One of OBS's audio inputs with its mute, as `onair audio` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AudioInput {
    pub name: String,
    /// From obs-websocket 5.4.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// OBS's input kind (unversioned), e.g. `pulse_input_capture`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub muted: bool,
    /// One of the mics OnAir watches.
    pub watched: bool,
}

impl AudioInput {
    /// The inputs of `GetInputList` that answered `GetInputMute` (`mutes`, one
    /// per input: `None` for an input without audio, which OBS refuses), in
    /// OBS's order, each marked when it is one of the watched `mics`.
    pub fn listed(inputs: &[InputListEntry], mutes: &[Option<bool>], mics: &[MicStatus]) -> Vec<AudioInput> {
        inputs
            .iter()
            .zip(mutes)
            .filter_map(|(input, muted)| {
                let uuid = input.input_uuid.as_deref();
                Some(AudioInput {
                    name: input.input_name.clone(),
                    uuid: uuid.map(str::to_string),
                    kind: input.unversioned_input_kind.clone().or_else(|| input.input_kind.clone()),
                    muted: (*muted)?,
                    watched: mics.iter().any(|mic| is_input(mic, &input.input_name, uuid)),
                })
            })
            .collect()
    }
}

/// Whether `mic` is the input OBS names `name` (and `uuid`, from 5.4): by uuid
/// where both have one, which survives a rename; by name otherwise.
pub(crate) fn is_input(mic: &MicStatus, name: &str, uuid: Option<&str>) -> bool {
    match (mic.uuid.as_deref(), uuid) {
        (Some(a), Some(b)) => a == b,
        _ => mic.name == name,
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
    /// When OnAir last stopped seeing OBS, for anything (also on purpose).
    away_since_ms: Option<u64>,
    auth_failure_announced: bool,
    /// OBS said ExitStarted: the coming disconnect is OBS quitting on purpose.
    obs_exiting: bool,
    /// The current (or last known) stream's counts; `None` until a poll answered.
    stream_totals: Option<StreamTotals>,
    /// When OBS's stream counters last restarted (stream start or RTMP reconnect).
    stream_counters_since_ms: Option<u64>,
    /// The current stream's outages, for its summary.
    outages: Outages,
    /// OBS's `renderTotalFrames`: it only goes down when OBS restarted.
    render_frames: Option<u64>,
    /// The recording's `outputDuration` as last read, and the file it writes to.
    recording_duration_ms: Option<u64>,
    recording_path: Option<String>,
    /// obs-websocket before 5.1 sends no RECONNECTING/RECONNECTED: the polled
    /// `outputReconnecting` is then the only word on an RTMP outage.
    polls_drive_reconnects: bool,
    /// The stream guard's detectors, fed after each health poll.
    guard: Guard,
    /// The alerts of the current stream that are over, for its `ended`.
    stream_alerts: Vec<AlertLasted>,
    /// The last GetStats and GetRecordStatus answers, for the guard.
    stats_poll: Option<StatsPoll>,
    record_poll: Option<RecordPoll>,
    /// The program's last screenshot, summed up for the black-program check.
    program_shot: Option<ProgramShot>,
    /// Each watched mic's meter readings of the last second: (when, peak, input peak), linear.
    meters: HashMap<String, VecDeque<(u64, f64, f64)>>,
    /// Inputs asked about as possible mics, with a mute event that came while
    /// the answer was on its way.
    mics_asked: HashMap<String, Option<bool>>,
}

/// How far back a mic's level looks: its peak over this window.
const LEVEL_WINDOW_MS: u64 = 1_000;
/// The level shown for digital silence (the meters read 0, which is minus infinity).
const SILENCE_DBFS: f64 = -100.0;

/// A linear level (1.0 = full scale) in dBFS, silence floored.
fn dbfs(linear: f64) -> f64 {
    if linear > 0.0 {
        (20.0 * linear.log10()).max(SILENCE_DBFS)
    } else {
        SILENCE_DBFS
    }
}

impl Model {
    pub fn new() -> Model {
        Model::default()
    }

    pub fn status(&self) -> Option<&ObsStatus> {
        self.current.as_ref()
    }

    /// Whether RTMP outages come from polls (obs-websocket 5.0) rather than events.
    pub fn set_polls_drive_reconnects(&mut self, yes: bool) {
        self.polls_drive_reconnects = yes;
    }

    /// The guard's thresholds and switches; a kind switched off clears what it had open.
    pub fn set_alert_settings(&mut self, settings: AlertSettings, now_ms: u64) -> Vec<Moment> {
        let changes = self.guard.set_settings(settings, now_ms);
        let mut moments: Vec<Moment> = changes.into_iter().map(alert_moment).collect();
        self.summarize(&mut moments, now_ms);
        moments
    }

    /// An input's event (a watched mic muted, removed, its levels).
    pub fn on_input_event(&mut self, event: &InputEvent, now_ms: u64) -> Vec<Moment> {
        let Some(status) = self.current.as_mut() else { return Vec::new() };
        let is = |mic: &MicStatus, input: &crate::obs::protocol::InputRef| {
            is_input(mic, &input.input_name, input.input_uuid.as_deref())
        };
        match event {
            InputEvent::MuteStateChanged { input, muted } => {
                if let Some(pending) = self.mics_asked.get_mut(&input.input_name) {
                    // Newer than the answer that is on its way.
                    *pending = Some(*muted);
                }
                let Some(mic) = status.mics.iter_mut().find(|m| is(m, input)) else { return Vec::new() };
                mic.muted = *muted;
            }
            InputEvent::Removed { input } => {
                self.mics_asked.remove(&input.input_name);
                status.mics.retain(|m| !is(m, input));
                self.meters.remove(&input.input_name);
            }
            InputEvent::VolumeMeters(levels) => {
                let metering = status.stream.is_on_air() || status.recording.is_active();
                for mic in status.mics.iter_mut() {
                    let window = self.meters.entry(mic.name.clone()).or_default();
                    if let Some(level) = levels.iter().find(|l| is(mic, &l.input)).filter(|_| metering) {
                        window.push_back((now_ms, level.peak(), level.input_peak()));
                    }
                    while window.front().is_some_and(|(at, ..)| now_ms.saturating_sub(*at) > LEVEL_WINDOW_MS) {
                        window.pop_front();
                    }
                    let loudest = |pick: fn(&(u64, f64, f64)) -> f64| window.iter().map(pick).reduce(f64::max);
                    mic.level_dbfs = loudest(|m| m.1).map(dbfs);
                    mic.input_level_dbfs = loudest(|m| m.2).map(dbfs);
                }
            }
            // The session asks whether a new input is a mic ([`Model::on_mic_asked`]).
            InputEvent::Created { .. } => return Vec::new(),
        }
        let mut moments = self.guard_moments(now_ms);
        self.summarize(&mut moments, now_ms);
        moments
    }

    /// Whether `name` (with `uuid`, from 5.4) is a watched mic now.
    pub fn watches_mic(&self, name: &str, uuid: Option<&str>) -> bool {
        self.current.as_ref().is_some_and(|s| s.mics.iter().any(|m| is_input(m, name, uuid)))
    }

    /// The session asked OBS about the input `name` (created, or renamed to a
    /// watched name): its mute events until [`Model::on_mic_found`] are kept,
    /// as they are newer than the answer.
    pub fn on_mic_asked(&mut self, name: &str) {
        self.mics_asked.insert(name.to_string(), None);
    }

    /// The answer about the input `name`: a mic to watch with its mute (a mute
    /// event that came meanwhile wins), or `None` when it is not one (or has no
    /// audio, or is gone). A muted mic found while live starts its hold now.
    pub fn on_mic_found(&mut self, name: &str, found: Option<MicStatus>, now_ms: u64) -> Vec<Moment> {
        let newer_mute = self.mics_asked.remove(name).flatten();
        let Some(status) = self.current.as_mut() else { return Vec::new() };
        let Some(mut mic) = found else { return Vec::new() };
        if status.mics.iter().any(|m| is_input(m, &mic.name, mic.uuid.as_deref())) {
            return Vec::new();
        }
        mic.muted = newer_mute.unwrap_or(mic.muted);
        status.mics.push(mic);
        let mut moments = self.guard_moments(now_ms);
        self.summarize(&mut moments, now_ms);
        moments
    }

    /// After a health poll: the stream guard looks at what the polls said.
    pub fn on_polled(&mut self, now_ms: u64) -> Vec<Moment> {
        let mut moments = self.guard_moments(now_ms);
        self.summarize(&mut moments, now_ms);
        moments
    }

    /// What the guard says of the status as it is now: the polls it has not seen
    /// yet, and the alerts that no longer matter (an output stopped). Events
    /// call it too, since the polls stop with the outputs.
    fn guard_moments(&mut self, now_ms: u64) -> Vec<Moment> {
        if let Some(status) = self.current.as_mut() {
            if !status.stream.is_on_air() && !status.recording.is_active() {
                // Not metered any more: no level is a current level.
                self.meters.clear();
                for mic in &mut status.mics {
                    (mic.level_dbfs, mic.input_level_dbfs) = (None, None);
                }
            }
        }
        let Some(status) = self.current.as_ref() else { return Vec::new() };
        let mics: Vec<MicReading> = status
            .mics
            .iter()
            .map(|m| MicReading {
                name: m.name.clone(),
                muted: m.muted,
                peak_dbfs: m.level_dbfs,
                input_peak_dbfs: m.input_level_dbfs,
            })
            .collect();
        let stream = status.stream_health.as_ref().map(|h| StreamPoll {
            polled_at_ms: h.polled_at_ms,
            output_bytes: h.bytes,
            skipped_frames: h.dropped_frames,
            total_frames: h.total_frames,
            kbps: h.bitrate_kbps,
        });
        let input = GuardInput {
            now_ms,
            on_air: status.stream.is_on_air(),
            reconnecting: matches!(status.stream, StreamState::Reconnecting { .. }),
            recording: status.recording.is_active(),
            stream,
            stats: self.stats_poll,
            record: self.record_poll,
            program: self.program_shot.filter(|_| status.stream.is_on_air()),
            mics: &mics,
        };
        self.guard.observe(&input).into_iter().map(alert_moment).collect()
    }

    /// The sync finished: compare with what was known before the connection
    /// dropped and say what changed while OnAir could not see.
    pub fn on_synced(&mut self, answers: &SyncAnswers, now_ms: u64) -> Vec<Moment> {
        let mut fresh = answers.to_status(now_ms);
        let mut moments = Vec::new();
        // The sync's answers are the mics now; an answer still on its way is not older.
        self.mics_asked.clear();
        self.auth_failure_announced = false;
        self.obs_exiting = false;
        let away_since = self.away_since_ms.take();
        if let Some(lost_at) = self.lost_at_ms.take() {
            moments.push(Moment::ObsBack {
                down_ms: now_ms.saturating_sub(lost_at),
                still_live: fresh.stream.is_on_air(),
            });
        }
        let fresh_render_frames = answers.render_frames();
        let obs_restarted = match (self.render_frames, fresh_render_frames) {
            (Some(known), Some(fresh)) => Some(fresh < known),
            _ => None,
        };
        self.render_frames = fresh_render_frames;
        let fresh_counters_since = fresh.stream.is_on_air().then(|| fresh.stream.live_since_ms()).flatten();
        let fresh_recording_ms = answers.record.output_active.then(|| reading(answers.record.output_duration));
        match self.last_known.take() {
            Some(before) => {
                self.stream_on_return(&before, &mut fresh, obs_restarted, fresh_counters_since, now_ms, &mut moments);
                let gap_ms = away_since.map(|at| now_ms.saturating_sub(at));
                self.recording_on_return(
                    &before,
                    &mut fresh,
                    obs_restarted,
                    fresh_recording_ms,
                    gap_ms,
                    now_ms,
                    &mut moments,
                );
            }
            None => {
                // The first sight of OBS: whatever runs has no earlier counts OnAir knows of.
                self.stream_totals = None;
                self.outages = Outages::default();
                self.stream_counters_since_ms = fresh_counters_since;
                self.recording_path = None;
            }
        }
        self.recording_duration_ms = fresh_recording_ms;
        self.current = Some(fresh);
        moments.extend(self.guard_moments(now_ms));
        self.summarize(&mut moments, now_ms);
        moments
    }

    /// The stream on return: the same stream (whatever OBS's counters say), a new
    /// one, or gone.
    fn stream_on_return(
        &mut self,
        before: &ObsStatus,
        fresh: &mut ObsStatus,
        obs_restarted: Option<bool>,
        fresh_counters_since: Option<u64>,
        now_ms: u64,
        moments: &mut Vec<Moment>,
    ) {
        let same_stream = match obs_restarted {
            Some(restarted) => !restarted,
            None => {
                let known = self.stream_counters_since_ms.or(before.stream.live_since_ms()).unwrap_or(0);
                fresh_counters_since.map_or(true, |fresh| !restarted_later(known, fresh, now_ms))
            }
        };
        match (before.stream.live_since_ms(), fresh.stream.live_since_ms()) {
            (Some(old_since), Some(_)) if same_stream => {
                // The same stream: keep the start OnAir saw itself, and its counts.
                fresh.stream = with_live_since(&fresh.stream, old_since);
                if let Some(totals) = self.stream_totals.as_mut() {
                    // Readings from before the gap say nothing about a rate now.
                    totals.previous_bytes = None;
                }
                let mut still_down = None;
                match (&before.stream, &fresh.stream) {
                    (StreamState::Live { .. }, StreamState::Reconnecting { .. }) => {
                        moments.push(Moment::Reconnecting { since_ms: now_ms });
                    }
                    (StreamState::Reconnecting { since_ms, .. }, StreamState::Live { .. }) => {
                        moments.push(Moment::Reconnected { down_ms: now_ms.saturating_sub(*since_ms) });
                    }
                    // Still down: the outage OnAir announced, which began when it said
                    // so (its `reconnected`, and the `ended`, count from there).
                    (StreamState::Reconnecting { since_ms, .. }, StreamState::Reconnecting { live_since_ms, .. }) => {
                        still_down =
                            Some(StreamState::Reconnecting { live_since_ms: *live_since_ms, since_ms: *since_ms });
                    }
                    _ => {}
                }
                if let Some(stream) = still_down {
                    fresh.stream = stream;
                }
                // OBS's counters restarted while OnAir was away (an RTMP reconnect):
                // the next poll counts from there. A starved OBS's duration lags the
                // clock a little, which is no restart.
                if let (Some(fresh), Some(known)) = (fresh_counters_since, self.stream_counters_since_ms) {
                    if restarted_later(known, fresh, now_ms) {
                        self.stream_counters_since_ms = Some(fresh);
                    }
                }
            }
            (Some(old_since), new_since) => {
                moments.push(self.ended(old_since, now_ms, true));
                self.start_stream_counts(fresh_counters_since);
                if let Some(new_since) = new_since {
                    moments.extend(went_live_meanwhile(&fresh.stream, new_since, now_ms));
                }
            }
            (None, Some(new_since)) => {
                self.start_stream_counts(fresh_counters_since);
                moments.extend(went_live_meanwhile(&fresh.stream, new_since, now_ms));
            }
            (None, None) => self.start_stream_counts(None),
        }
    }

    /// The recording on return: the same file, a new one, or stopped.
    #[allow(clippy::too_many_arguments)]
    fn recording_on_return(
        &mut self,
        before: &ObsStatus,
        fresh: &mut ObsStatus,
        obs_restarted: Option<bool>,
        fresh_recording_ms: Option<u64>,
        gap_ms: Option<u64>,
        now_ms: u64,
        moments: &mut Vec<Moment>,
    ) {
        match (before.recording.started_at_ms(), fresh.recording.is_active()) {
            (Some(since), false) => {
                moments.push(Moment::RecordingStopped {
                    path: self.recording_path.take(),
                    duration_ms: Some(now_ms.saturating_sub(since)),
                });
            }
            (None, true) => {
                self.recording_path = None;
                moments.push(Moment::RecordingStarted { path: None });
                if let RecordingState::Paused { .. } = fresh.recording {
                    moments.push(Moment::RecordingPaused);
                }
            }
            (Some(since), true) => {
                let shorter_than_known = match (fresh_recording_ms, self.recording_duration_ms) {
                    (Some(fresh), Some(known)) => fresh.saturating_add(SAME_RECORDING_TOLERANCE_MS) < known,
                    _ => false,
                };
                // A recording that ran unpaused when OnAir lost sight and is now
                // shorter than the gap began during it.
                let younger_than_gap = matches!(before.recording, RecordingState::Recording { .. })
                    && match (fresh_recording_ms, gap_ms) {
                        (Some(fresh), Some(gap)) => fresh.saturating_add(SAME_RECORDING_TOLERANCE_MS) < gap,
                        _ => false,
                    };
                // A file that was being closed cannot be the one recording now.
                let was_stopping = matches!(before.recording, RecordingState::Stopping { .. });
                if was_stopping || obs_restarted == Some(true) || shorter_than_known || younger_than_gap {
                    moments.push(Moment::RecordingStopped {
                        path: self.recording_path.take(),
                        duration_ms: Some(now_ms.saturating_sub(since)),
                    });
                    moments.push(Moment::RecordingStarted { path: None });
                    if let RecordingState::Paused { .. } = fresh.recording {
                        moments.push(Moment::RecordingPaused);
                    }
                } else {
                    // The same file: keep its clock, and say if it was paused or
                    // resumed meanwhile.
                    let was_paused = matches!(before.recording, RecordingState::Paused { .. });
                    match &mut fresh.recording {
                        RecordingState::Recording { since_ms } => {
                            *since_ms = since;
                            if was_paused {
                                moments.push(Moment::RecordingResumed);
                            }
                        }
                        RecordingState::Paused { since_ms } => {
                            *since_ms = since;
                            if !was_paused {
                                moments.push(Moment::RecordingPaused);
                            }
                        }
                        _ => {}
                    }
                }
            }
            (None, false) => {}
        }
    }

    fn start_stream_counts(&mut self, counters_since_ms: Option<u64>) {
        self.stream_totals = None;
        self.stream_counters_since_ms = counters_since_ms;
    }

    /// The `ended` moment of the stream that went live at `live_since_ms`, with
    /// the whole stream's counts. Its outages are filled in by [`Model::summarize`],
    /// in the order the moments are said; alerts are not tracked by the model.
    fn ended(&self, live_since_ms: u64, now_ms: u64, while_away: bool) -> Moment {
        let totals = self.stream_totals.as_ref();
        let duration_ms = now_ms.saturating_sub(live_since_ms);
        let bytes = totals.map(|t| t.bytes.total());
        Moment::Ended {
            duration_ms: Some(duration_ms),
            bytes,
            dropped_frames: totals.map(|t| t.dropped_frames.total()),
            total_frames: totals.map(|t| t.total_frames.total()),
            reconnects: 0,
            down_ms: 0,
            alerts: Vec::new(),
            // Bits per millisecond are kilobits per second.
            avg_kbps: bytes.filter(|_| duration_ms > 0).map(|b| b as f64 * 8.0 / duration_ms as f64),
            peak_kbps: totals.and_then(|t| t.peak_kbps),
            while_away,
        }
    }

    /// Counts the outages in `moments`, in the order they are said, and gives
    /// each `ended` the outages of its stream. Every public entry that makes
    /// moments runs its moments through here exactly once: a `reconnecting` said
    /// after an `ended` in the same batch belongs to the next stream.
    /// The guard's alerts are summed up here too: every open alert is cleared
    /// (its `alert-cleared` said) just before its stream's `ended`, which lists
    /// all of that stream's alerts.
    fn summarize(&mut self, moments: &mut Vec<Moment>, now_ms: u64) {
        let said = std::mem::take(moments);
        for mut moment in said {
            if matches!(moment, Moment::Ended { .. }) {
                for cleared in self.guard.clear_all(now_ms).into_iter().map(alert_moment) {
                    self.note_alert(&cleared);
                    moments.push(cleared);
                }
            }
            self.note_alert(&moment);
            self.note_outage(&mut moment, now_ms);
            moments.push(moment);
        }
        if let Some(status) = self.current.as_mut() {
            status.alerts = self.guard.open_alerts();
        }
    }

    /// Keeps the current stream's alerts for its `ended`.
    fn note_alert(&mut self, moment: &Moment) {
        match moment {
            Moment::Live { .. } => self.stream_alerts.clear(),
            Moment::AlertCleared { alert, lasted_ms, .. } => {
                self.stream_alerts.push(AlertLasted { alert: alert.wire_name().to_string(), lasted_ms: *lasted_ms })
            }
            _ => {}
        }
    }

    fn note_outage(&mut self, moment: &mut Moment, now_ms: u64) {
        {
            match moment {
                Moment::Live { .. } => self.outages = Outages::default(),
                Moment::Reconnecting { since_ms } => {
                    self.outages.count = self.outages.count.saturating_add(1);
                    self.outages.open_since_ms = Some(*since_ms);
                }
                Moment::Reconnected { down_ms } => {
                    self.outages.down_ms = self.outages.down_ms.saturating_add(*down_ms);
                    self.outages.open_since_ms = None;
                }
                Moment::Ended { reconnects, down_ms, alerts, .. } => {
                    let open_ms = self.outages.open_since_ms.map_or(0, |since| now_ms.saturating_sub(since));
                    *reconnects = self.outages.count;
                    *down_ms = self.outages.down_ms.saturating_add(open_ms);
                    self.outages = Outages::default();
                    *alerts = std::mem::take(&mut self.stream_alerts);
                }
                _ => {}
            }
        }
    }

    /// The connection ended (or a sync failed). Remembers what was known.
    pub fn on_connection_lost(&mut self, reason: &str, now_ms: u64) -> Vec<Moment> {
        self.away_since_ms.get_or_insert(now_ms);
        if let Some(mut current) = self.current.take() {
            if std::mem::take(&mut self.obs_exiting) {
                // OBS quit on purpose (it sends no STOPPED first): its outputs ended
                // with it. Say so now rather than raise an alarm about losing OBS.
                let mut moments = self.end_outputs(&mut current, now_ms);
                self.summarize(&mut moments, now_ms);
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

    /// OnAir closed the connection itself (new settings for the same OBS, or the
    /// user asked to reconnect): OBS is not lost, but until the next sync OnAir
    /// cannot see it, and what changed meanwhile is told on return.
    pub fn on_disconnected_on_purpose(&mut self, now_ms: u64) {
        self.away_since_ms.get_or_insert(now_ms);
        self.obs_exiting = false;
        if let Some(current) = self.current.take() {
            self.last_known = Some(current);
        }
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

    /// The user pointed OnAir at another OBS: forget the old one, so nothing
    /// about it is announced against the new one.
    pub fn on_settings_changed(&mut self) {
        let polls_drive_reconnects = self.polls_drive_reconnects;
        *self = Model::default();
        self.polls_drive_reconnects = polls_drive_reconnects;
    }

    /// Same OBS, new password: a failure with it deserves its own message.
    pub fn allow_new_auth_failure(&mut self) {
        self.auth_failure_announced = false;
    }

    /// A full sync on a connection that stayed up (after falling behind events):
    /// like a reconnect, but nothing was lost and the health figures carry over.
    pub fn on_resynced(&mut self, answers: &SyncAnswers, now_ms: u64) -> Vec<Moment> {
        let carried = self.current.take().map(|current| {
            let figures = (current.stream_health.clone(), current.stats.clone());
            self.last_known = Some(current);
            figures
        });
        let moments = self.on_synced(answers, now_ms);
        if let (Some((health, stats)), Some(status)) = (carried, self.current.as_mut()) {
            if status.stream.is_on_air() {
                status.stream_health = health;
            }
            if status.stream.is_on_air() || status.recording.is_active() {
                status.stats = stats;
            }
        }
        moments
    }

    pub fn on_event(&mut self, event: &ObsEvent, now_ms: u64) -> Vec<Moment> {
        let mut moments = self.event_moments(event, now_ms);
        moments.extend(self.guard_moments(now_ms));
        self.summarize(&mut moments, now_ms);
        moments
    }

    fn event_moments(&mut self, event: &ObsEvent, now_ms: u64) -> Vec<Moment> {
        let Some(status) = self.current.as_mut() else { return Vec::new() };
        let mut moments = Vec::new();
        match event {
            ObsEvent::StreamStateChanged { state } => {
                let before = status.stream.clone();
                let step = next_stream(&mut status.stream, state, now_ms);
                if step.new_counters {
                    // A new stream, or OBS restarted its counters at an RTMP reconnect.
                    self.stream_counters_since_ms = Some(now_ms);
                    if let Some(totals) = self.stream_totals.as_mut() {
                        totals.previous_bytes = None;
                    }
                }
                for moment in step.moments {
                    moments.push(match moment {
                        StreamMoment::Said(moment) => moment,
                        StreamMoment::Ended => self.ended(before.live_since_ms().unwrap_or(now_ms), now_ms, false),
                    });
                }
                // After the `ended` of the stream before took its counts.
                if step.new_stream {
                    self.stream_totals = None;
                }
                let Some(status) = self.current.as_mut() else { return moments };
                if matches!(status.stream, StreamState::Offline | StreamState::Starting) {
                    status.stream_health = None;
                    self.stream_totals = None;
                }
            }
            ObsEvent::RecordStateChanged { state, output_path } => {
                let file = self.recording_path.clone();
                moments.extend(next_recording(&mut status.recording, state, file, output_path.clone(), now_ms));
                match status.recording {
                    RecordingState::Recording { .. } if *state == OutputState::Started => {
                        self.recording_path.clone_from(output_path);
                        self.recording_duration_ms = Some(0);
                    }
                    RecordingState::Off | RecordingState::Starting => {
                        self.recording_path = None;
                        self.recording_duration_ms = None;
                    }
                    _ => {}
                }
            }
            ObsEvent::RecordFileChanged { path } => {
                self.recording_path = Some(path.clone());
                if status.recording.is_active() {
                    moments.push(Moment::RecordingFileChanged { path: path.clone() });
                }
            }
            ObsEvent::ReplayBufferStateChanged { state } => next_activity(&mut status.replay_buffer, state),
            ObsEvent::VirtualcamStateChanged { state } => next_activity(&mut status.virtual_camera, state),
            ObsEvent::ReplayBufferSaved { path } => moments.push(Moment::ReplaySaved { path: path.clone() }),
            ObsEvent::CurrentProgramSceneChanged { scene_name } => status.program_scene = scene_name.clone(),
            ObsEvent::SceneNameChanged { old_name, new_name } => {
                for scene in status.scenes.iter_mut().filter(|s| *s == old_name) {
                    scene.clone_from(new_name);
                }
                if status.program_scene.as_ref() == Some(old_name) {
                    status.program_scene = Some(new_name.clone());
                }
            }
            // OBS places a new scene at the bottom of its list; the scene list
            // fetched after this event puts it exactly where OBS has it.
            ObsEvent::SceneCreated { name, is_group: false } => {
                if !status.scenes.contains(name) {
                    status.scenes.push(name.clone());
                }
            }
            ObsEvent::SceneRemoved { name, is_group: false } => status.scenes.retain(|s| s != name),
            ObsEvent::SceneCreated { is_group: true, .. } | ObsEvent::SceneRemoved { is_group: true, .. } => {}
            ObsEvent::SceneListChanged { scenes } => status.scenes = scenes_top_first(scenes),
            ObsEvent::StudioModeStateChanged { enabled } => status.studio_mode = *enabled,
            ObsEvent::SceneCollectionChanging => status.scene_collection_changing = true,
            ObsEvent::SceneCollectionChanged => status.scene_collection_changing = false,
            ObsEvent::ExitStarted => self.obs_exiting = true,
            ObsEvent::InputNameChanged { old_name, new_name, uuid } => {
                // A watched mic keeps being watched under its new name (the
                // name stays the user-facing key; from 5.4 the uuid says which).
                for mic in status.mics.iter_mut().filter(|m| is_input(m, old_name, uuid.as_deref())) {
                    mic.name.clone_from(new_name);
                    if mic.uuid.is_none() {
                        mic.uuid.clone_from(uuid);
                    }
                }
                if let Some(window) = self.meters.remove(old_name) {
                    self.meters.insert(new_name.clone(), window);
                }
                self.guard.rename_mic(old_name, new_name);
            }
            ObsEvent::CurrentProfileChanged | ObsEvent::Other { .. } => {}
        }
        if let Some(status) = self.current.as_mut() {
            if !status.stream.is_on_air() && !status.recording.is_active() {
                // Figures of outputs that stopped are not current figures.
                status.stats = None;
            }
        }
        moments
    }

    /// A scene list fetched again (after a scene collection switch or a scene
    /// created or removed). Its program scene is taken only when asked: an event
    /// about the program scene may be newer than the answer.
    pub fn on_scene_list(&mut self, list: &SceneList, with_program_scene: bool) {
        if let Some(status) = self.current.as_mut() {
            status.scenes = scenes_top_first(&list.scenes);
            if with_program_scene {
                status.program_scene = list.current_program_scene_name.clone();
            }
        }
    }

    /// Replay buffer and virtual camera status fetched again (after a profile change).
    pub fn on_profile_outputs(
        &mut self,
        replay_buffer: &Result<OutputActive, RequestError>,
        virtual_camera: &Result<OutputActive, RequestError>,
    ) {
        if let Some(status) = self.current.as_mut() {
            status.replay_buffer = activity_from_answer(replay_buffer);
            status.virtual_camera = activity_from_answer(virtual_camera);
        }
    }

    /// A `GetStreamStatus` poll. Health is taken from it; the state itself follows
    /// events, which are newer than any poll, except on an obs-websocket that
    /// sends no reconnect events.
    pub fn on_stream_status(&mut self, polled: &StreamStatus, now_ms: u64) -> Vec<Moment> {
        let mut moments = Vec::new();
        let Some(status) = self.current.as_mut() else { return moments };
        if !status.stream.is_on_air() || !polled.output_active {
            return moments;
        }
        if self.polls_drive_reconnects {
            match (&status.stream, polled.output_reconnecting) {
                (StreamState::Live { since_ms }, true) => {
                    status.stream = StreamState::Reconnecting { live_since_ms: *since_ms, since_ms: now_ms };
                    moments.push(Moment::Reconnecting { since_ms: now_ms });
                }
                (StreamState::Reconnecting { live_since_ms, since_ms }, false) => {
                    moments.push(Moment::Reconnected { down_ms: now_ms.saturating_sub(*since_ms) });
                    status.stream = StreamState::Live { since_ms: *live_since_ms };
                    self.stream_counters_since_ms = Some(now_ms);
                }
                _ => {}
            }
        }
        let totals = self.stream_totals.get_or_insert_with(StreamTotals::default);
        let raw_bytes = reading(polled.output_bytes);
        let bitrate_kbps = match totals.previous_bytes {
            Some((previous, at)) if raw_bytes >= previous && now_ms > at => {
                Some((raw_bytes - previous) as f64 * 8.0 / (now_ms - at) as f64)
            }
            _ => None,
        };
        totals.previous_bytes = Some((raw_bytes, now_ms));
        if let Some(kbps) = bitrate_kbps {
            totals.peak_kbps = Some(totals.peak_kbps.map_or(kbps, |peak| peak.max(kbps)));
        }
        totals.take(polled, self.stream_counters_since_ms, now_ms);
        let (bytes, duration_ms) = (totals.bytes.total(), totals.duration_ms.total());
        let (dropped_frames, total_frames) = (totals.dropped_frames.total(), totals.total_frames.total());
        status.stream_health = Some(StreamHealth {
            // The first poll after a gap has no delta; keep showing the last figure
            // rather than flickering to nothing.
            bitrate_kbps: bitrate_kbps.or(status.stream_health.as_ref().and_then(|h| h.bitrate_kbps)),
            bytes,
            duration_ms,
            dropped_frames,
            total_frames,
            dropped_ratio: if total_frames == 0 { 0.0 } else { dropped_frames as f64 / total_frames as f64 },
            congestion: polled.output_congestion.filter(|c| c.is_finite()).unwrap_or(0.0).clamp(0.0, 1.0),
            polled_at_ms: now_ms,
        });
        self.summarize(&mut moments, now_ms);
        moments
    }

    /// A `GetRecordStatus` poll: how long the recording has run, to tell it from
    /// a new one after a reconnect.
    pub fn on_record_status(&mut self, polled: &RecordStatus, now_ms: u64) {
        if polled.output_active {
            let output_bytes = reading(polled.output_bytes);
            self.record_poll = Some(RecordPoll { polled_at_ms: now_ms, output_bytes });
        }
        if self.current.as_ref().is_some_and(|s| s.recording.is_active()) && polled.output_active {
            self.recording_duration_ms = Some(reading(polled.output_duration));
        }
    }

    pub fn on_stats(&mut self, stats: &Stats, now_ms: u64) {
        if let Some(frames) = stats.render_total_frames {
            self.render_frames = Some(reading(Some(frames)));
        }
        let frames = match (
            stats.render_skipped_frames,
            stats.render_total_frames,
            stats.output_skipped_frames,
            stats.output_total_frames,
        ) {
            (Some(rs), Some(rt), Some(es), Some(et)) => Some(EngineFrames {
                render_skipped: reading(Some(rs)),
                render_total: reading(Some(rt)),
                encoder_skipped: reading(Some(es)),
                encoder_total: reading(Some(et)),
            }),
            _ => None,
        };
        self.stats_poll = Some(StatsPoll { polled_at_ms: now_ms, frames, free_disk_mb: stats.available_disk_space });
        let Some(status) = self.current.as_mut() else { return };
        // A poll answered after the outputs stopped describes nothing running.
        if !status.stream.is_on_air() && !status.recording.is_active() {
            return;
        }
        let count = |v: Option<f64>| v.filter(|v| v.is_finite()).map(|v| v.max(0.0) as u64);
        status.stats = Some(ObsStats {
            cpu_percent: stats.cpu_usage,
            memory_mb: stats.memory_usage,
            fps: stats.active_fps,
            render_ms: stats.average_frame_render_time,
            free_disk_mb: stats.available_disk_space,
            render_skipped_frames: count(stats.render_skipped_frames),
            render_total_frames: count(stats.render_total_frames),
            polled_at_ms: now_ms,
        });
    }

    /// A screenshot of the program (8-bit RGB pixels), for the guard's next look.
    pub fn on_program_shot(&mut self, pixels: &[u8], now_ms: u64) {
        self.program_shot =
            luma_summary(pixels, PixelLayout::Rgb).map(|luma| ProgramShot { taken_at_ms: now_ms, luma });
    }

    /// Whether OBS's volume meters are wanted now: a mic is watched while the
    /// stream or a recording is active (an idle OnAir asks for none).
    pub fn wants_meters(&self) -> bool {
        self.current.as_ref().is_some_and(|s| !s.mics.is_empty() && (s.stream.is_on_air() || s.recording.is_active()))
    }

    /// Whether health and stats are worth polling now.
    pub fn wants_polling(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|s| !s.scene_collection_changing && (s.stream.is_on_air() || s.recording.is_active()))
    }

    /// Ends the stream and recording of a status whose OBS is quitting.
    fn end_outputs(&mut self, status: &mut ObsStatus, now_ms: u64) -> Vec<Moment> {
        let mut moments = Vec::new();
        if let Some(since) = status.stream.live_since_ms() {
            moments.push(self.ended(since, now_ms, false));
        }
        status.stream = StreamState::Offline;
        status.stream_health = None;
        status.stats = None;
        self.start_stream_counts(None);
        if let Some(since) = status.recording.started_at_ms() {
            moments.push(Moment::RecordingStopped {
                path: self.recording_path.take(),
                duration_ms: Some(now_ms.saturating_sub(since)),
            });
        }
        status.recording = RecordingState::Off;
        self.recording_duration_ms = None;
        moments
    }
}

/// A stream that went live while OnAir could not see: `live`, and `reconnecting`
/// too if it is in an outage now, so the recovery that follows answers something.
fn went_live_meanwhile(stream: &StreamState, live_since_ms: u64, now_ms: u64) -> Vec<Moment> {
    let mut moments = vec![Moment::Live { since_ms: live_since_ms }];
    if let StreamState::Reconnecting { .. } = stream {
        moments.push(Moment::Reconnecting { since_ms: now_ms });
    }
    moments
}

fn with_live_since(stream: &StreamState, live_since_ms: u64) -> StreamState {
    match stream {
        StreamState::Live { .. } => StreamState::Live { since_ms: live_since_ms },
        StreamState::Reconnecting { since_ms, .. } => StreamState::Reconnecting { live_since_ms, since_ms: *since_ms },
        other => other.clone(),
    }
}

/// A moment a stream event makes; `Ended` is filled in by the model, which holds
/// the stream's counts.
#[derive(Debug, PartialEq)]
enum StreamMoment {
    Said(Moment),
    Ended,
}

/// What a stream event did.
#[derive(Debug, Default)]
struct StreamStep {
    moments: Vec<StreamMoment>,
    /// A stream began that is not the one before.
    new_stream: bool,
    /// OBS (re)started its stream counters.
    new_counters: bool,
}

/// The stream's next state on an output event, and the moments it makes.
fn next_stream(stream: &mut StreamState, event: &OutputState, now_ms: u64) -> StreamStep {
    use StreamMoment::{Ended, Said};
    use StreamState::*;
    let went_live =
        || StreamStep { moments: vec![Said(Moment::Live { since_ms: now_ms })], new_stream: true, new_counters: true };
    let (next, step) = match (&*stream, event) {
        (Offline | Stopping { live_since_ms: None }, OutputState::Starting) => (Starting, StreamStep::default()),
        // A start while the last stream was still stopping: that one is over.
        (Stopping { live_since_ms: Some(_) }, OutputState::Starting) => {
            (Starting, StreamStep { moments: vec![Ended], ..StreamStep::default() })
        }
        (Offline | Starting | Stopping { live_since_ms: None }, OutputState::Started | OutputState::Reconnected) => {
            (Live { since_ms: now_ms }, went_live())
        }
        // STARTED is always a new start; a RECONNECTED means the stop never happened.
        (Stopping { live_since_ms: Some(_) }, OutputState::Started) => {
            let mut step = went_live();
            step.moments.insert(0, Ended);
            (Live { since_ms: now_ms }, step)
        }
        (Stopping { live_since_ms: Some(since_ms) }, OutputState::Reconnected) => {
            (Live { since_ms: *since_ms }, StreamStep { new_counters: true, ..StreamStep::default() })
        }
        (Reconnecting { live_since_ms, since_ms }, OutputState::Started | OutputState::Reconnected) => (
            Live { since_ms: *live_since_ms },
            StreamStep {
                moments: vec![Said(Moment::Reconnected { down_ms: now_ms.saturating_sub(*since_ms) })],
                new_counters: true,
                ..StreamStep::default()
            },
        ),
        // OBS says nothing new: STARTED or RECONNECTED again while live.
        (Live { .. }, OutputState::Started | OutputState::Reconnected) => return StreamStep::default(),
        (Live { since_ms }, OutputState::Reconnecting) => (
            Reconnecting { live_since_ms: *since_ms, since_ms: now_ms },
            StreamStep { moments: vec![Said(Moment::Reconnecting { since_ms: now_ms })], ..StreamStep::default() },
        ),
        // OBS repeats RECONNECTING once per retry: one outage, one moment.
        (Reconnecting { .. }, OutputState::Reconnecting) => return StreamStep::default(),
        // Only a stream that was live can reconnect: OnAir missed its start.
        (Offline | Starting | Stopping { live_since_ms: None }, OutputState::Reconnecting) => {
            let mut step = went_live();
            step.moments.push(Said(Moment::Reconnecting { since_ms: now_ms }));
            (Reconnecting { live_since_ms: now_ms, since_ms: now_ms }, step)
        }
        (Stopping { live_since_ms: Some(since_ms) }, OutputState::Reconnecting) => (
            Reconnecting { live_since_ms: *since_ms, since_ms: now_ms },
            StreamStep { moments: vec![Said(Moment::Reconnecting { since_ms: now_ms })], ..StreamStep::default() },
        ),
        (Live { since_ms } | Reconnecting { live_since_ms: since_ms, .. }, OutputState::Stopping) => {
            (Stopping { live_since_ms: Some(*since_ms) }, StreamStep::default())
        }
        (Starting, OutputState::Stopping) => (Stopping { live_since_ms: None }, StreamStep::default()),
        (Live { .. } | Reconnecting { .. } | Stopping { live_since_ms: Some(_) }, OutputState::Stopped) => {
            (Offline, StreamStep { moments: vec![Ended], ..StreamStep::default() })
        }
        // STARTING then STOPPED with no STARTED: OBS could not connect to the server.
        (Starting, OutputState::Stopped) => (
            Offline,
            StreamStep {
                moments: vec![Said(Moment::StartFailed {
                    message: "OBS could not start the stream; check the stream server and key in OBS's settings".into(),
                })],
                ..StreamStep::default()
            },
        ),
        // A second STOPPED, or a stop of a start that was cancelled: nothing new.
        (Stopping { live_since_ms: None } | Offline, OutputState::Stopped) => (Offline, StreamStep::default()),
        _ => {
            tracing::debug!(?stream, ?event, "stream event that changes nothing");
            return StreamStep::default();
        }
    };
    *stream = next;
    step
}
/// The recording's next state on an output event, and the moments it makes.
/// `file` is the file OnAir knew the recording writes to; `event_path` what the
/// event says.
fn next_recording(
    recording: &mut RecordingState,
    event: &OutputState,
    file: Option<String>,
    event_path: Option<String>,
    now_ms: u64,
) -> Vec<Moment> {
    use RecordingState::*;
    let stopped = |since_ms: u64, path: Option<String>| Moment::RecordingStopped {
        path,
        duration_ms: Some(now_ms.saturating_sub(since_ms)),
    };
    let (next, moments) = match (&*recording, event) {
        (Off | Stopping { since_ms: None }, OutputState::Starting) => (Starting, vec![]),
        // A new start while the last file was still stopping: that one is over.
        (Stopping { since_ms: Some(since_ms) }, OutputState::Starting) => (Starting, vec![stopped(*since_ms, file)]),
        (Off | Starting | Stopping { since_ms: None }, OutputState::Started) => {
            (Recording { since_ms: now_ms }, vec![Moment::RecordingStarted { path: event_path }])
        }
        (Stopping { since_ms: Some(since_ms) }, OutputState::Started) => (
            Recording { since_ms: now_ms },
            vec![stopped(*since_ms, file), Moment::RecordingStarted { path: event_path }],
        ),
        (Recording { since_ms }, OutputState::Paused) => {
            (Paused { since_ms: *since_ms }, vec![Moment::RecordingPaused])
        }
        (Paused { since_ms }, OutputState::Resumed) => {
            (Recording { since_ms: *since_ms }, vec![Moment::RecordingResumed])
        }
        (Recording { since_ms } | Paused { since_ms }, OutputState::Stopping) => {
            (Stopping { since_ms: Some(*since_ms) }, vec![])
        }
        (Starting, OutputState::Stopping) => (Stopping { since_ms: None }, vec![]),
        (
            Recording { since_ms } | Paused { since_ms } | Stopping { since_ms: Some(since_ms) },
            OutputState::Stopped,
        ) => (Off, vec![stopped(*since_ms, event_path.or(file))]),
        (Starting | Stopping { since_ms: None } | Off, OutputState::Stopped) => (Off, vec![]),
        _ => {
            tracing::debug!(?recording, ?event, "recording event that changes nothing");
            return vec![];
        }
    };
    *recording = next;
    moments
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

/// A guard's change as the moment it is.
fn alert_moment(change: AlertChange) -> Moment {
    match change.transition {
        Transition::Started { since_ms, detail } => {
            Moment::Alert { alert: change.kind, mic: change.mic, since_ms, detail }
        }
        Transition::Cleared { lasted_ms } => Moment::AlertCleared { alert: change.kind, mic: change.mic, lasted_ms },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obs::protocol::SceneEntry;

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
            stats: None,
            mics: Vec::new(),
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
        moments.iter().map(|m| m.kind().wire_name()).collect()
    }

    fn synced_offline() -> Model {
        let mut model = Model::new();
        let moments = model.on_synced(&offline_answers(), 0);
        assert!(moments.is_empty());
        model
    }

    fn mic(name: &str, uuid: Option<&str>, muted: bool) -> MicStatus {
        MicStatus { name: name.into(), uuid: uuid.map(String::from), muted, level_dbfs: None, input_level_dbfs: None }
    }

    fn input(name: &str, uuid: Option<&str>) -> crate::obs::protocol::InputRef {
        crate::obs::protocol::InputRef { input_name: name.into(), input_uuid: uuid.map(String::from) }
    }

    fn mics_of(model: &Model) -> Vec<(String, bool)> {
        model.status().map(|s| s.mics.iter().map(|m| (m.name.clone(), m.muted)).collect()).unwrap_or_default()
    }

    #[test]
    fn a_mute_said_while_a_new_mic_was_being_asked_about_wins_over_the_older_answer() {
        let mut model = synced_offline();
        model.on_mic_asked("Podcast Mic");
        let muted = InputEvent::MuteStateChanged { input: input("Podcast Mic", Some("u-2")), muted: true };
        assert!(model.on_input_event(&muted, 1).is_empty());
        assert!(!model.watches_mic("Podcast Mic", Some("u-2")), "not watched until the answer");
        // The answer was computed before the mute.
        model.on_mic_found("Podcast Mic", Some(mic("Podcast Mic", Some("u-2"), false)), 2);
        assert_eq!(mics_of(&model), [("Podcast Mic".to_string(), true)]);
        // Found twice (a sync found it meanwhile): watched once.
        model.on_mic_found("Podcast Mic", Some(mic("Podcast Mic", Some("u-2"), false)), 3);
        assert_eq!(mics_of(&model), [("Podcast Mic".to_string(), true)]);
        // Not a mic after all: nothing, and nothing kept.
        model.on_mic_asked("Music");
        model.on_mic_found("Music", None, 4);
        assert_eq!(mics_of(&model).len(), 1);
        assert!(model.mics_asked.is_empty());
    }

    #[test]
    fn a_muted_mic_found_while_live_starts_its_hold_and_alerts() {
        let mut model = Model::new();
        model.on_synced(&live_answers(10_000.0), 0);
        model.on_mic_asked("Mic");
        assert!(model.on_mic_found("Mic", Some(mic("Mic", None, true)), 1_000).is_empty());
        let moments = model.on_polled(4_000);
        assert_eq!(kinds(&moments), ["alert"]);
        // Removed: its alert clears.
        let removed = model.on_input_event(&InputEvent::Removed { input: input("Mic", None) }, 5_000);
        assert_eq!(kinds(&removed), ["alert-cleared"]);
        assert!(mics_of(&model).is_empty());
    }

    #[test]
    fn a_rename_is_followed_by_uuid_from_5_4_and_by_name_before() {
        let mut model = Model::new();
        let mut answers = offline_answers();
        answers.mics = vec![mic("Mic", Some("u-1"), false), mic("Old", None, false)];
        model.on_synced(&answers, 0);
        // 5.4+: the uuid says which, whatever the old name says.
        let renamed =
            ObsEvent::InputNameChanged { old_name: "Other".into(), new_name: "Desk".into(), uuid: Some("u-1".into()) };
        model.on_event(&renamed, 1);
        let renamed = ObsEvent::InputNameChanged { old_name: "Old".into(), new_name: "New".into(), uuid: None };
        model.on_event(&renamed, 2);
        assert_eq!(mics_of(&model), [("Desk".to_string(), false), ("New".to_string(), false)]);
        assert!(model.watches_mic("Desk", Some("u-1")) && model.watches_mic("New", None));
    }

    #[test]
    fn an_outage_still_under_way_after_a_resync_counts_from_when_it_began() {
        let mut model = Model::new();
        model.on_synced(&live_answers(60_000.0), 100_000);
        let said = model.on_event(&stream_event(OutputState::Reconnecting), 101_000);
        assert_eq!(kinds(&said), ["reconnecting"]);
        let mut down = live_answers(60_000.0);
        down.stream.output_reconnecting = true;
        assert!(model.on_resynced(&down, 104_000).is_empty(), "the same outage");
        assert_eq!(
            model.status().unwrap().stream,
            StreamState::Reconnecting { live_since_ms: 40_000, since_ms: 101_000 }
        );
        let back = model.on_event(&stream_event(OutputState::Reconnected), 105_000);
        assert!(matches!(back[..], [Moment::Reconnected { down_ms: 4_000 }]), "{back:?}");
    }

    #[test]
    fn first_sync_announces_nothing_even_when_live() {
        let mut model = Model::new();
        assert!(model.on_synced(&live_answers(60_000.0), 100_000).is_empty());
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
                reconnects: 0,
                down_ms: 0,
                alerts: Vec::new(),
                avg_kbps: Some(8_000_000.0 / 60_850.0),
                // One poll measures no bitrate.
                peak_kbps: None,
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
        model.on_synced(&live_answers(10_000.0), 20_000);
        assert_eq!(kinds(&model.on_connection_lost("dropped", 30_000)), vec!["obs-lost"]);
        assert!(model.status().is_none(), "no status while not connected");
        // Several failed attempts while OBS is away: still one obs-lost.
        assert!(model.on_connection_lost("refused", 31_000).is_empty());
        let back = model.on_synced(&live_answers(25_000.0), 35_000);
        assert_eq!(back, vec![Moment::ObsBack { down_ms: 5_000, still_live: true }]);
        assert_eq!(model.status().unwrap().stream, StreamState::Live { since_ms: 10_000 });
    }

    #[test]
    fn obs_restarted_without_the_stream_is_an_end() {
        let mut model = Model::new();
        model.on_synced(&live_answers(10_000.0), 20_000);
        model.on_connection_lost("dropped", 30_000);
        let back = model.on_synced(&offline_answers(), 40_000);
        assert_eq!(kinds(&back), vec!["obs-back", "ended"]);
        assert!(matches!(back[1], Moment::Ended { while_away: true, duration_ms: Some(30_000), .. }));
    }

    #[test]
    fn obs_restarted_and_live_again_is_an_end_and_a_new_stream() {
        let mut model = Model::new();
        model.on_synced(&live_answers(10_000.0), 20_000);
        model.on_connection_lost("dropped", 30_000);
        let back = model.on_synced(&live_answers(2_000.0), 60_000);
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
        assert!(model.on_synced(&offline_answers(), 20_000).is_empty());
    }

    #[test]
    fn going_live_while_away_from_offline_is_announced_on_return() {
        let mut model = synced_offline();
        assert!(model.on_connection_lost("dropped", 1_000).is_empty(), "nothing was live: no obs-lost");
        assert_eq!(kinds(&model.on_synced(&live_answers(1_000.0), 9_000)), vec!["live"]);
    }

    #[test]
    fn lost_while_recording_and_recording_gone_on_return() {
        let mut model = synced_offline();
        model.on_event(&record_event(OutputState::Started, Some("/r/a.mkv")), 1_000);
        assert_eq!(kinds(&model.on_connection_lost("dropped", 2_000)), vec!["obs-lost"]);
        let back = model.on_synced(&offline_answers(), 5_000);
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

    fn with_render_frames(mut answers: SyncAnswers, frames: f64) -> SyncAnswers {
        answers.stats = Some(Stats { render_total_frames: Some(frames), ..Default::default() });
        answers
    }

    fn stream_poll(duration: f64, bytes: f64, dropped: f64, total: f64) -> StreamStatus {
        StreamStatus {
            output_active: true,
            output_duration: Some(duration),
            output_bytes: Some(bytes),
            output_skipped_frames: Some(dropped),
            output_total_frames: Some(total),
            ..Default::default()
        }
    }

    #[allow(clippy::type_complexity)]
    fn ended_totals(moments: &[Moment]) -> Option<(Option<u64>, Option<u64>, Option<u64>, Option<u64>)> {
        moments.iter().find_map(|m| match m {
            Moment::Ended { duration_ms, bytes, dropped_frames, total_frames, .. } => {
                Some((*duration_ms, *bytes, *dropped_frames, *total_frames))
            }
            _ => None,
        })
    }

    #[test]
    fn counters_reset_by_rtmp_reconnects_add_up_over_the_whole_stream() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 0);
        model.on_stream_status(&stream_poll(10_000.0, 5_000_000.0, 3.0, 300.0), 10_000);
        model.on_event(&stream_event(OutputState::Reconnecting), 11_000);
        // While reconnecting OBS reads 0 bytes and the frames stand still.
        model.on_stream_status(&stream_poll(10_000.0, 0.0, 3.0, 300.0), 12_000);
        model.on_event(&stream_event(OutputState::Reconnected), 15_000);
        // Then every counter starts from zero again.
        model.on_stream_status(&stream_poll(4_000.0, 2_000_000.0, 1.0, 120.0), 19_000);
        let health = model.status().unwrap().stream_health.clone().unwrap();
        assert_eq!((health.bytes, health.dropped_frames, health.total_frames), (7_000_000, 4, 420));
        assert_eq!(health.duration_ms, 14_000);
        model.on_event(&stream_event(OutputState::Stopping), 20_000);
        let ended = model.on_event(&stream_event(OutputState::Stopped), 20_500);
        assert_eq!(ended_totals(&ended), Some((Some(20_500), Some(7_000_000), Some(4), Some(420))));
    }

    #[test]
    fn onair_losing_obs_after_an_rtmp_reconnect_is_not_a_new_stream() {
        // Measured on OBS 29: after a reconnect outputDuration counts from the
        // reconnect, so "now - outputDuration" is not when the stream started.
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 0);
        model.on_stream_status(&stream_poll(9_000.0, 4_000_000.0, 0.0, 270.0), 9_000);
        model.on_event(&stream_event(OutputState::Reconnecting), 10_000);
        model.on_event(&stream_event(OutputState::Reconnected), 14_000);
        model.on_stream_status(&stream_poll(5_000.0, 1_000_000.0, 0.0, 150.0), 19_000);
        assert_eq!(kinds(&model.on_connection_lost("OBS stopped answering", 20_000)), vec!["obs-lost"]);
        let back = model.on_synced(&live_answers(16_000.0), 30_000);
        assert_eq!(back, vec![Moment::ObsBack { down_ms: 10_000, still_live: true }]);
        assert_eq!(model.status().unwrap().stream, StreamState::Live { since_ms: 0 }, "the LIVE clock keeps running");
        model.on_stream_status(&stream_poll(18_000.0, 3_000_000.0, 0.0, 540.0), 32_000);
        let ended = model.on_event(&stream_event(OutputState::Stopped), 33_000);
        assert_eq!(ended_totals(&ended), Some((Some(33_000), Some(7_000_000), Some(0), Some(810))));
    }

    #[test]
    fn an_rtmp_reconnect_while_onair_was_away_is_the_same_stream_when_obs_did_not_restart() {
        let mut model = Model::new();
        model.on_synced(&with_render_frames(live_answers(60_000.0), 3_600.0), 60_000);
        model.on_stream_status(&stream_poll(60_000.0, 30_000_000.0, 2.0, 3_600.0), 60_000);
        model.on_connection_lost("dropped", 61_000);
        // OBS's counters restarted during the gap (an RTMP reconnect): 2 s of stream.
        let back = model.on_synced(&with_render_frames(live_answers(2_000.0), 4_600.0), 80_000);
        assert_eq!(kinds(&back), vec!["obs-back"]);
        model.on_stream_status(&stream_poll(3_000.0, 1_000_000.0, 0.0, 180.0), 81_000);
        let health = model.status().unwrap().stream_health.clone().unwrap();
        assert_eq!(health.bytes, 31_000_000);
    }

    #[test]
    fn obs_restarted_is_told_by_its_render_frames_going_back() {
        let mut model = Model::new();
        model.on_synced(&with_render_frames(live_answers(10_000.0), 600.0), 20_000);
        model.on_connection_lost("dropped", 30_000);
        // Live again within the old stream's tolerance, but OBS itself is new.
        let back = model.on_synced(&with_render_frames(live_answers(19_000.0), 1_200.0), 31_000);
        assert_eq!(kinds(&back), vec!["obs-back"], "more frames rendered: the same OBS");
        model.on_connection_lost("dropped", 32_000);
        let back = model.on_synced(&with_render_frames(live_answers(1_000.0), 60.0), 33_000);
        assert_eq!(kinds(&back), vec!["obs-back", "ended", "live"]);
    }

    #[test]
    fn reconnecting_on_purpose_shows_no_state_and_tells_what_changed_meanwhile() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 1_000);
        model.on_disconnected_on_purpose(5_000);
        assert!(model.status().is_none(), "not connected: no state, so no LIVE");
        // The stream ended while OnAir reconnected with new settings: said on return,
        // and no obs-lost/obs-back for a disconnect the user asked for.
        let back = model.on_synced(&offline_answers(), 6_000);
        assert_eq!(kinds(&back), vec!["ended"]);
        assert!(matches!(back[0], Moment::Ended { while_away: true, .. }));
    }

    #[test]
    fn scene_renames_creations_and_removals_are_followed() {
        let mut model = synced_offline();
        model.on_scene_list(
            &SceneList {
                current_program_scene_name: Some("Q&A".into()),
                scenes: vec![
                    SceneEntry { scene_name: "Outro".into(), scene_index: Some(0) },
                    SceneEntry { scene_name: "Q&A".into(), scene_index: Some(1) },
                ],
            },
            true,
        );
        let rename = ObsEvent::SceneNameChanged { old_name: "Q&A".into(), new_name: "Questions".into() };
        model.on_event(&rename, 1);
        let status = model.status().unwrap();
        assert_eq!(status.program_scene.as_deref(), Some("Questions"));
        assert_eq!(status.scenes, vec!["Questions", "Outro"]);
        model.on_event(&ObsEvent::SceneCreated { name: "BRB".into(), is_group: false }, 2);
        model.on_event(&ObsEvent::SceneCreated { name: "Group".into(), is_group: true }, 3);
        assert_eq!(model.status().unwrap().scenes, vec!["Questions", "Outro", "BRB"]);
        model.on_event(&ObsEvent::SceneRemoved { name: "Outro".into(), is_group: false }, 4);
        assert_eq!(model.status().unwrap().scenes, vec!["Questions", "BRB"]);
        model.on_event(&ObsEvent::CurrentProgramSceneChanged { scene_name: None }, 5);
        assert_eq!(model.status().unwrap().program_scene, None);
    }

    /// Recording since 1 s, read at 20 s long, OnAir away from 22 s; the sync on
    /// return finds a recording `found_ms` long.
    fn recording_lost_and_found(found_ms: f64) -> (Model, SyncAnswers) {
        let mut model = synced_offline();
        model.on_event(&record_event(OutputState::Started, Some("/r/a.mkv")), 1_000);
        model.on_record_status(
            &RecordStatus { output_active: true, output_duration: Some(20_000.0), ..Default::default() },
            0,
        );
        model.on_connection_lost("dropped", 22_000);
        let mut answers = offline_answers();
        answers.record = RecordStatus { output_active: true, output_duration: Some(found_ms), ..Default::default() };
        (model, answers)
    }

    #[test]
    fn a_recording_stopped_and_restarted_while_away_is_two_moments_and_a_new_clock() {
        let (mut model, answers) = recording_lost_and_found(4_000.0);
        let back = model.on_synced(&answers, 30_000);
        assert_eq!(
            back,
            vec![
                Moment::ObsBack { down_ms: 8_000, still_live: false },
                Moment::RecordingStopped { path: Some("/r/a.mkv".into()), duration_ms: Some(29_000) },
                Moment::RecordingStarted { path: None },
            ]
        );
        assert_eq!(model.status().unwrap().recording, RecordingState::Recording { since_ms: 26_000 });
    }

    #[test]
    fn the_same_recording_after_a_gap_keeps_its_clock() {
        let (mut model, answers) = recording_lost_and_found(28_500.0);
        assert_eq!(kinds(&model.on_synced(&answers, 30_000)), vec!["obs-back"]);
        assert_eq!(model.status().unwrap().recording, RecordingState::Recording { since_ms: 1_000 });
    }

    #[test]
    fn a_new_recording_file_is_announced_and_named_when_it_stops() {
        let mut model = synced_offline();
        model.on_event(&record_event(OutputState::Started, Some("/r/a.mkv")), 0);
        assert_eq!(
            model.on_event(&ObsEvent::RecordFileChanged { path: "/r/a-2.mkv".into() }, 10),
            vec![Moment::RecordingFileChanged { path: "/r/a-2.mkv".into() }]
        );
        model.on_connection_lost("dropped", 20);
        let back = model.on_synced(&offline_answers(), 30);
        assert_eq!(
            back[1],
            Moment::RecordingStopped { path: Some("/r/a-2.mkv".into()), duration_ms: Some(30) },
            "the last file is the one that stopped"
        );
    }

    #[test]
    fn obs_figures_are_cleared_when_the_outputs_stop_and_a_late_poll_does_not_revive_them() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 0);
        model.on_stats(&Stats { cpu_usage: Some(12.0), ..Default::default() }, 2_000);
        assert_eq!(model.status().unwrap().stats.as_ref().map(|s| s.polled_at_ms), Some(2_000));
        model.on_event(&stream_event(OutputState::Stopping), 3_000);
        model.on_event(&stream_event(OutputState::Stopped), 3_500);
        assert_eq!(model.status().unwrap().stats, None);
        model.on_stats(&Stats { cpu_usage: Some(12.0), ..Default::default() }, 3_600);
        assert_eq!(model.status().unwrap().stats, None);
    }

    #[test]
    fn without_reconnect_events_polls_tell_outages_and_recoveries() {
        // obs-websocket 5.0 (OBS 28) has no RECONNECTING/RECONNECTED.
        let mut model = synced_offline();
        model.set_polls_drive_reconnects(true);
        model.on_event(&stream_event(OutputState::Started), 0);
        let mut poll = stream_poll(2_000.0, 1_000.0, 0.0, 60.0);
        assert!(model.on_stream_status(&poll, 2_000).is_empty());
        poll.output_reconnecting = true;
        assert_eq!(model.on_stream_status(&poll, 4_000), vec![Moment::Reconnecting { since_ms: 4_000 }]);
        assert!(model.on_stream_status(&poll, 6_000).is_empty(), "one outage, one moment");
        poll.output_reconnecting = false;
        assert_eq!(model.on_stream_status(&poll, 8_000), vec![Moment::Reconnected { down_ms: 4_000 }]);
        assert_eq!(model.status().unwrap().stream, StreamState::Live { since_ms: 0 });
    }

    #[test]
    fn with_reconnect_events_a_poll_does_not_overrule_them() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 0);
        let mut poll = stream_poll(2_000.0, 1_000.0, 0.0, 60.0);
        poll.output_reconnecting = true;
        assert!(model.on_stream_status(&poll, 2_000).is_empty());
        assert_eq!(model.status().unwrap().stream, StreamState::Live { since_ms: 0 });
    }

    #[test]
    fn a_start_while_the_last_stream_was_still_stopping_ends_it_first() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 0);
        model.on_event(&stream_event(OutputState::Stopping), 1_000);
        assert_eq!(kinds(&model.on_event(&stream_event(OutputState::Started), 2_000)), vec!["ended", "live"]);
        model.on_event(&record_event(OutputState::Started, Some("/r/a.mkv")), 3_000);
        model.on_event(&record_event(OutputState::Stopping, None), 4_000);
        assert_eq!(
            model.on_event(&record_event(OutputState::Started, Some("/r/b.mkv")), 5_000),
            vec![
                Moment::RecordingStopped { path: Some("/r/a.mkv".into()), duration_ms: Some(2_000) },
                Moment::RecordingStarted { path: Some("/r/b.mkv".into()) }
            ]
        );
    }

    #[test]
    fn a_reconnecting_stream_onair_never_saw_start_is_live_first() {
        let mut model = synced_offline();
        assert_eq!(kinds(&model.on_event(&stream_event(OutputState::Reconnecting), 0)), vec!["live", "reconnecting"]);
        assert_eq!(kinds(&model.on_event(&stream_event(OutputState::Stopped), 1_000)), vec!["ended"]);
    }

    #[test]
    fn a_restart_is_counted_even_when_no_poll_saw_the_counters_drop() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 0);
        model.on_stream_status(&stream_poll(2_000.0, 1_000_000.0, 0.0, 60.0), 2_000);
        model.on_event(&stream_event(OutputState::Reconnecting), 2_500);
        // A poll asked before RECONNECTED but answered after it still reads the old counters.
        model.on_event(&stream_event(OutputState::Reconnected), 3_000);
        model.on_stream_status(&stream_poll(2_000.0, 1_000_000.0, 0.0, 60.0), 3_100);
        // No poll fell in the outage, and the new counters grew past the old ones.
        model.on_stream_status(&stream_poll(4_000.0, 1_500_000.0, 1.0, 120.0), 7_000);
        let health = model.status().unwrap().stream_health.clone().unwrap();
        assert_eq!((health.bytes, health.duration_ms, health.total_frames), (2_500_000, 6_000, 180));
    }

    /// The `ended` summary's outages and bitrates, from moments.
    fn ended_summary(moments: &[Moment]) -> Option<(u32, u64, Option<f64>, Option<f64>)> {
        moments.iter().find_map(|m| match m {
            Moment::Ended { reconnects, down_ms, avg_kbps, peak_kbps, .. } => {
                Some((*reconnects, *down_ms, *avg_kbps, *peak_kbps))
            }
            _ => None,
        })
    }

    #[test]
    fn the_summary_counts_each_outage_once_and_an_open_one_up_to_the_end() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 0);
        // OBS repeats RECONNECTING per retry: one outage of 4 s.
        for at in [10_000, 12_000, 13_000] {
            model.on_event(&stream_event(OutputState::Reconnecting), at);
        }
        model.on_event(&stream_event(OutputState::Reconnected), 14_000);
        // A second outage, still open when the stream stops after 6 s of it.
        model.on_event(&stream_event(OutputState::Reconnecting), 20_000);
        model.on_event(&stream_event(OutputState::Stopping), 25_000);
        let ended = model.on_event(&stream_event(OutputState::Stopped), 26_000);
        assert_eq!(ended_summary(&ended), Some((2, 10_000, None, None)));
        // The next stream starts from nothing.
        model.on_event(&stream_event(OutputState::Started), 30_000);
        let ended = model.on_event(&stream_event(OutputState::Stopped), 40_000);
        assert_eq!(ended_summary(&ended), Some((0, 0, None, None)));
    }

    #[test]
    fn the_summary_keeps_its_outages_across_onair_reconnects_but_cannot_count_one_it_never_saw() {
        let mut model = Model::new();
        model.on_synced(&with_render_frames(live_answers(60_000.0), 3_600.0), 60_000);
        model.on_event(&stream_event(OutputState::Reconnecting), 61_000);
        model.on_event(&stream_event(OutputState::Reconnected), 64_000);
        model.on_connection_lost("dropped", 70_000);
        // An RTMP reconnect while OnAir was away (OBS's counters restarted):
        // the same stream, and an outage no moment told of.
        let back = model.on_synced(&with_render_frames(live_answers(2_000.0), 4_600.0), 80_000);
        assert_eq!(kinds(&back), vec!["obs-back"]);
        // One found under way on return is told, and counted from then.
        model.on_connection_lost("dropped", 90_000);
        let mut answers = with_render_frames(live_answers(12_000.0), 5_200.0);
        answers.stream.output_reconnecting = true;
        assert_eq!(kinds(&model.on_synced(&answers, 95_000)), vec!["obs-back", "reconnecting"]);
        model.on_event(&stream_event(OutputState::Reconnected), 97_000);
        let ended = model.on_event(&stream_event(OutputState::Stopped), 100_000);
        assert_eq!(ended_summary(&ended).map(|s| (s.0, s.1)), Some((2, 5_000)));
    }

    #[test]
    fn a_stream_that_ends_while_away_keeps_its_outages_and_the_next_one_starts_clean() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 0);
        model.on_event(&stream_event(OutputState::Reconnecting), 1_000);
        model.on_event(&stream_event(OutputState::Reconnected), 3_000);
        model.on_connection_lost("dropped", 5_000);
        // Ended and a new stream in an outage, both while away: two streams.
        let mut answers = live_answers(1_000.0);
        answers.stream.output_reconnecting = true;
        let back = model.on_synced(&answers, 60_000);
        assert_eq!(kinds(&back), vec!["obs-back", "ended", "live", "reconnecting"]);
        assert_eq!(ended_summary(&back).map(|s| (s.0, s.1)), Some((1, 2_000)));
        let ended = model.on_event(&stream_event(OutputState::Stopped), 61_000);
        assert_eq!(ended_summary(&ended).map(|s| (s.0, s.1)), Some((1, 1_000)));
    }

    #[test]
    fn the_summary_has_the_average_over_the_whole_stream_and_the_highest_polled_bitrate() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 0);
        model.on_stream_status(&stream_poll(2_000.0, 1_000_000.0, 0.0, 60.0), 2_000);
        // 1.5 MB in 2 s: 6,000 kb/s, the peak.
        model.on_stream_status(&stream_poll(4_000.0, 2_500_000.0, 0.0, 120.0), 4_000);
        model.on_stream_status(&stream_poll(6_000.0, 3_500_000.0, 0.0, 180.0), 6_000);
        // An RTMP reconnect restarts OBS's bytes: no bitrate from across it.
        model.on_event(&stream_event(OutputState::Reconnecting), 7_000);
        model.on_event(&stream_event(OutputState::Reconnected), 8_000);
        model.on_stream_status(&stream_poll(2_000.0, 500_000.0, 0.0, 60.0), 10_000);
        model.on_stream_status(&stream_poll(4_000.0, 1_500_000.0, 0.0, 120.0), 12_000);
        let ended = model.on_event(&stream_event(OutputState::Stopped), 16_000);
        // 5 MB over 16 s.
        assert_eq!(ended_summary(&ended), Some((1, 1_000, Some(2_500.0), Some(6_000.0))));
    }

    #[test]
    fn a_stream_ended_by_a_new_start_keeps_its_own_counts() {
        let mut model = synced_offline();
        model.on_event(&stream_event(OutputState::Started), 0);
        model.on_stream_status(&stream_poll(2_000.0, 1_000_000.0, 0.0, 60.0), 2_000);
        model.on_event(&stream_event(OutputState::Stopping), 3_000);
        let moments = model.on_event(&stream_event(OutputState::Started), 4_000);
        assert_eq!(kinds(&moments), vec!["ended", "live"]);
        assert_eq!(ended_totals(&moments), Some((Some(4_000), Some(1_000_000), Some(0), Some(60))));
        model.on_stream_status(&stream_poll(1_000.0, 300_000.0, 0.0, 30.0), 5_000);
        let ended = model.on_event(&stream_event(OutputState::Stopped), 6_000);
        assert_eq!(ended_totals(&ended), Some((Some(2_000), Some(300_000), Some(0), Some(30))), "the new stream's own");
    }

    // Found by the model properties (tests/model_properties.rs), shrunk.

    #[test]
    fn a_stream_that_went_live_and_into_an_outage_while_away_is_live_and_reconnecting() {
        let mut model = synced_offline();
        model.on_connection_lost("dropped", 1_000);
        let mut answers = live_answers(5_000.0);
        answers.stream.output_reconnecting = true;
        assert_eq!(kinds(&model.on_synced(&answers, 9_000)), vec!["live", "reconnecting"]);
        assert_eq!(kinds(&model.on_event(&stream_event(OutputState::Reconnected), 10_000)), vec!["reconnected"]);
    }

    #[test]
    fn a_pause_while_away_is_told_so_the_resume_answers_it() {
        let mut model = synced_offline();
        model.on_event(&record_event(OutputState::Started, Some("/r/a.mkv")), 0);
        model.on_connection_lost("dropped", 1_000);
        let mut answers = offline_answers();
        answers.record = RecordStatus {
            output_active: true,
            output_paused: true,
            output_duration: Some(900.0),
            ..Default::default()
        };
        assert_eq!(kinds(&model.on_synced(&answers, 2_000)), vec!["obs-back", "recording-paused"]);
        assert_eq!(kinds(&model.on_event(&record_event(OutputState::Resumed, None), 3_000)), vec!["recording-resumed"]);
    }
}
