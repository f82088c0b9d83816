//! Properties of the pure state model, tried against a simulated OBS.
//!
//! A small simulator plays the true OBS: streams start, stop, fail and go
//! through RTMP outages that restart OBS's counters; recordings start, pause and
//! stop; OBS restarts; OnAir's clock is stepped; and its own link drops and comes back, losing every
//! event in between. The model sees only what OnAir would see (events while
//! linked, syncs on return, polls) and what it announces must keep the promises:
//! no state while not synced, `live`/`ended` and the recording moments pair up,
//! an outage is one `reconnecting` answered at most once, an `ended` counts the
//! `reconnecting`s of its stream and the time spent in them, and one stream that
//! stayed up through any number of outages is one `live` and one `ended` that
//! covers it all. `PROPTEST_CASES` runs it longer (see the README's Benchmarks).

use onair_headless::obs::protocol::responses::{OutputActive, RecordStatus, SceneList, Stats, StreamStatus};
use onair_headless::obs::protocol::{ObsEvent, OutputState};
use onair_headless::obs::RequestError;
use onair_headless::obs::{Model, SyncAnswers};
use onair_headless::state::{Moment, RecordingState};
use proptest::prelude::*;

/// Bytes and frames the simulated stream sends per millisecond.
const BYTES_PER_MS: u64 = 750;
const FRAMES_PER_S: u64 = 30;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Stream {
    Off,
    Live,
    Reconnecting,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Recording {
    Off,
    On,
    Paused,
}

#[derive(Debug, Clone)]
enum Step {
    Wait(u64),
    StartStream,
    FailStart,
    StopStream,
    RtmpDown,
    RtmpUp,
    GiveUp,
    StartRecording,
    StopRecording,
    Pause,
    Resume,
    Poll,
    LinkLost,
    LinkBack,
    ReconnectOnPurpose,
    Resync,
    RestartObs,
    /// OnAir's wall clock is stepped (NTP, a suspended laptop) by this many ms.
    SteppedClock(i64),
}

/// The true OBS, and what OnAir could see of it.
struct Obs {
    now: u64,
    stream: Stream,
    /// When the current counters started (stream start or last RTMP reconnect).
    counters_since: u64,
    /// Frames and bytes stop while reconnecting; this is how long counters ran.
    counted_ms: u64,
    recording: Recording,
    recording_ms: u64,
    render_frames: u64,
    linked: bool,
    /// The biggest bytes reading OnAir got of each counter stretch of the current stream.
    seen_bytes: Vec<u64>,
    streams_started: usize,
}

impl Obs {
    fn new() -> Obs {
        Obs {
            now: 1_000_000,
            stream: Stream::Off,
            counters_since: 0,
            counted_ms: 0,
            recording: Recording::Off,
            recording_ms: 0,
            render_frames: 100,
            linked: true,
            seen_bytes: Vec::new(),
            streams_started: 0,
        }
    }

    fn wait(&mut self, ms: u64) {
        self.now += ms;
        self.render_frames += ms * FRAMES_PER_S / 1000;
        if self.stream == Stream::Live {
            self.counted_ms += ms;
        }
        if self.recording == Recording::On {
            self.recording_ms += ms;
        }
    }

    fn stream_status(&self) -> StreamStatus {
        let on = self.stream != Stream::Off;
        StreamStatus {
            output_active: on,
            output_reconnecting: self.stream == Stream::Reconnecting,
            output_duration: on.then_some(self.counted_ms as f64),
            output_congestion: Some(0.0),
            // While reconnecting OBS reads 0 bytes; frames stand still.
            output_bytes: on.then_some(if self.stream == Stream::Reconnecting {
                0.0
            } else {
                (self.counted_ms * BYTES_PER_MS) as f64
            }),
            output_skipped_frames: on.then_some(0.0),
            output_total_frames: on.then_some((self.counted_ms * FRAMES_PER_S / 1000) as f64),
        }
    }

    fn record_status(&self) -> RecordStatus {
        RecordStatus {
            output_active: self.recording != Recording::Off,
            output_paused: self.recording == Recording::Paused,
            output_duration: Some(self.recording_ms as f64),
            output_bytes: Some(0.0),
        }
    }

    fn stats(&self) -> Stats {
        Stats { render_total_frames: Some(self.render_frames as f64), cpu_usage: Some(5.0), ..Default::default() }
    }

    fn answers(&self) -> SyncAnswers {
        SyncAnswers {
            stream: self.stream_status(),
            record: self.record_status(),
            replay_buffer: Err(RequestError::Failed { code: 604, comment: None }),
            virtual_camera: Ok(OutputActive { output_active: false }),
            scenes: SceneList { current_program_scene_name: Some("Scene".into()), scenes: vec![] },
            studio_mode: false,
            stats: Some(self.stats()),
            mics: Vec::new(),
        }
    }

    fn restart_counters(&mut self) {
        self.counters_since = self.now;
        self.counted_ms = 0;
        self.seen_bytes.push(0);
    }
}

/// OnAir's clock: OBS's time line, stepped.
fn onair_clock(obs: &Obs, offset_ms: i64) -> u64 {
    (obs.now as i64).saturating_add(offset_ms).max(0) as u64
}

/// Plays steps into a model and checks every promise after each.
struct Run {
    obs: Obs,
    /// How far OnAir's clock is off OBS's time line (clock steps).
    clock_offset_ms: i64,
    model: Model,
    synced: bool,
    moments: Vec<Moment>,
    /// When each of `moments` was said, on OnAir's clock.
    said_at: Vec<u64>,
}

impl Run {
    fn new() -> Run {
        let obs = Obs::new();
        let mut model = Model::new();
        let first = model.on_synced(&obs.answers(), obs.now);
        assert!(first.is_empty());
        Run { obs, clock_offset_ms: 0, model, synced: true, moments: Vec::new(), said_at: Vec::new() }
    }

    /// Moments the model said at `now` on OnAir's clock.
    fn say(&mut self, moments: Vec<Moment>, now: u64) {
        self.said_at.extend(moments.iter().map(|_| now));
        self.moments.extend(moments);
    }

    fn event(&mut self, event: ObsEvent) {
        if self.obs.linked && self.synced {
            let now = onair_clock(&self.obs, self.clock_offset_ms);
            let moments = self.model.on_event(&event, now);
            self.say(moments, now);
        }
    }

    fn stream_event(&mut self, state: OutputState) {
        self.event(ObsEvent::StreamStateChanged { state });
    }

    fn record_event(&mut self, state: OutputState, path: Option<&str>) {
        self.event(ObsEvent::RecordStateChanged { state, output_path: path.map(String::from) });
    }

    fn step(&mut self, step: &Step) {
        let now = onair_clock(&self.obs, self.clock_offset_ms);
        let obs = &mut self.obs;
        match step {
            Step::Wait(ms) => obs.wait(*ms),
            Step::StartStream if obs.stream == Stream::Off => {
                self.stream_event(OutputState::Starting);
                self.obs.wait(150);
                self.obs.stream = Stream::Live;
                self.obs.seen_bytes.clear();
                self.obs.restart_counters();
                self.obs.streams_started += 1;
                self.stream_event(OutputState::Started);
            }
            Step::FailStart if obs.stream == Stream::Off => {
                self.stream_event(OutputState::Starting);
                self.obs.wait(2_000);
                self.stream_event(OutputState::Stopped);
            }
            Step::StopStream if obs.stream != Stream::Off => {
                self.stream_event(OutputState::Stopping);
                self.obs.wait(800);
                self.obs.stream = Stream::Off;
                self.stream_event(OutputState::Stopped);
            }
            Step::RtmpDown if obs.stream == Stream::Live => {
                obs.stream = Stream::Reconnecting;
                // OBS says RECONNECTING once per retry.
                for _ in 0..3 {
                    self.stream_event(OutputState::Reconnecting);
                    self.obs.wait(1_000);
                }
            }
            Step::RtmpUp if obs.stream == Stream::Reconnecting => {
                obs.stream = Stream::Live;
                obs.restart_counters();
                self.stream_event(OutputState::Reconnected);
            }
            Step::GiveUp if obs.stream == Stream::Reconnecting => {
                obs.stream = Stream::Off;
                self.stream_event(OutputState::Stopped);
            }
            Step::StartRecording if obs.recording == Recording::Off => {
                obs.recording = Recording::On;
                obs.recording_ms = 0;
                self.record_event(OutputState::Started, Some("/r/file.mkv"));
            }
            Step::StopRecording if obs.recording != Recording::Off => {
                obs.recording = Recording::Off;
                self.record_event(OutputState::Stopping, None);
                self.record_event(OutputState::Stopped, Some("/r/file.mkv"));
            }
            Step::Pause if obs.recording == Recording::On => {
                obs.recording = Recording::Paused;
                self.record_event(OutputState::Paused, None);
            }
            Step::Resume if obs.recording == Recording::Paused => {
                obs.recording = Recording::On;
                self.record_event(OutputState::Resumed, None);
            }
            Step::Poll if obs.linked && self.synced => {
                let polled = obs.stream_status();
                if obs.stream == Stream::Live {
                    if let (Some(seen), Some(bytes)) = (obs.seen_bytes.last_mut(), polled.output_bytes) {
                        *seen = (*seen).max(bytes as u64);
                    }
                }
                let mut moments = self.model.on_stream_status(&polled, now);
                self.model.on_record_status(&obs.record_status(), now);
                self.model.on_stats(&obs.stats(), now);
                moments.extend(self.model.on_polled(now));
                self.say(moments, now);
            }
            Step::LinkLost if obs.linked => {
                obs.linked = false;
                self.synced = false;
                let moments = self.model.on_connection_lost("the connection to OBS dropped", now);
                self.say(moments, now);
            }
            Step::ReconnectOnPurpose if obs.linked && self.synced => {
                obs.linked = false;
                self.synced = false;
                self.model.on_disconnected_on_purpose(now);
            }
            Step::LinkBack if !obs.linked => {
                obs.linked = true;
                self.synced = true;
                let moments = self.model.on_synced(&obs.answers(), now);
                self.say(moments, now);
            }
            Step::Resync if obs.linked && self.synced => {
                let moments = self.model.on_resynced(&obs.answers(), now);
                self.say(moments, now);
            }
            Step::SteppedClock(ms) => self.clock_offset_ms += ms,
            Step::RestartObs if !obs.linked => {
                obs.stream = Stream::Off;
                obs.recording = Recording::Off;
                obs.render_frames = 10;
            }
            _ => {}
        }
        self.check();
    }

    /// The promises that hold after every step.
    fn check(&self) {
        // No state while OnAir cannot see OBS.
        assert_eq!(self.model.status().is_some(), self.synced, "status shown iff synced");
        let mut live = false;
        let mut reconnecting = false;
        let mut recording = false;
        let mut paused = false;
        let mut lost = false;
        for moment in &self.moments {
            match moment {
                Moment::Live { .. } => {
                    assert!(!live, "two live without an ended: {:?}", self.moments);
                    live = true;
                }
                Moment::Ended { .. } => {
                    assert!(live, "ended without live: {:?}", self.moments);
                    live = false;
                    reconnecting = false;
                }
                Moment::Reconnecting { .. } => {
                    assert!(live && !reconnecting, "reconnecting twice or off air: {:?}", self.moments);
                    reconnecting = true;
                }
                Moment::Reconnected { .. } => {
                    assert!(reconnecting, "reconnected without reconnecting: {:?}", self.moments);
                    reconnecting = false;
                }
                Moment::RecordingStarted { .. } => {
                    assert!(!recording, "two recording-started: {:?}", self.moments);
                    recording = true;
                }
                Moment::RecordingStopped { .. } => {
                    assert!(recording, "recording-stopped without a start: {:?}", self.moments);
                    recording = false;
                    paused = false;
                }
                Moment::RecordingPaused => {
                    assert!(recording && !paused, "paused twice or not recording: {:?}", self.moments);
                    paused = true;
                }
                Moment::RecordingResumed => {
                    assert!(paused, "resumed without a pause: {:?}", self.moments);
                    paused = false;
                }
                Moment::ObsLost { .. } => {
                    assert!(!lost, "two obs-lost: {:?}", self.moments);
                    lost = true;
                }
                Moment::ObsBack { .. } => {
                    assert!(lost, "obs-back without obs-lost: {:?}", self.moments);
                    lost = false;
                }
                _ => {}
            }
        }
        self.check_outages_in_ended();
        // While synced, what the model shows is what OBS does.
        if let Some(status) = self.model.status() {
            assert_eq!(status.stream.is_on_air(), self.obs.stream != Stream::Off, "on air as OBS is");
            assert_eq!(status.recording.is_active(), self.obs.recording != Recording::Off, "recording as OBS is");
            assert_eq!(
                matches!(status.recording, RecordingState::Paused { .. }),
                self.obs.recording == Recording::Paused
            );
            assert_eq!(live, status.stream.is_on_air(), "the moments said on air exactly when it is");
            if status.stats.is_some() {
                assert!(status.stream.is_on_air() || status.recording.is_active(), "no figures of stopped outputs");
            }
        }
    }
}

impl Run {
    /// Every `ended` counts the `reconnecting`s said since its stream's `live`,
    /// and its `down_ms` is the time from each of them to the `reconnected` that
    /// answered it (or to the `ended`, for an outage still open), as said.
    fn check_outages_in_ended(&self) {
        let mut reconnects = 0;
        let mut down_ms = 0;
        let mut open_since: Option<u64> = None;
        for (moment, &at) in self.moments.iter().zip(&self.said_at) {
            match moment {
                Moment::Live { .. } => (reconnects, down_ms, open_since) = (0, 0, None),
                Moment::Reconnecting { .. } => {
                    reconnects += 1;
                    open_since = Some(at);
                }
                Moment::Reconnected { .. } => {
                    down_ms += open_since.take().map_or(0, |since| at.saturating_sub(since));
                }
                Moment::Ended { reconnects: said_reconnects, down_ms: said_down_ms, .. } => {
                    let open = open_since.take().map_or(0, |since| at.saturating_sub(since));
                    assert_eq!(
                        (*said_reconnects, *said_down_ms),
                        (reconnects, down_ms + open),
                        "ended's outages against the moments: {:?} said at {:?}",
                        self.moments,
                        self.said_at
                    );
                }
                _ => {}
            }
        }
    }
}

fn any_step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (100u64..30_000).prop_map(Step::Wait),
        2 => Just(Step::StartStream),
        1 => Just(Step::FailStart),
        1 => Just(Step::StopStream),
        2 => Just(Step::RtmpDown),
        2 => Just(Step::RtmpUp),
        1 => Just(Step::GiveUp),
        1 => Just(Step::StartRecording),
        1 => Just(Step::StopRecording),
        1 => Just(Step::Pause),
        1 => Just(Step::Resume),
        3 => Just(Step::Poll),
        2 => Just(Step::LinkLost),
        2 => Just(Step::LinkBack),
        1 => Just(Step::ReconnectOnPurpose),
        1 => Just(Step::Resync),
        1 => Just(Step::RestartObs),
        1 => (-3_600_000i64..3_600_000).prop_map(Step::SteppedClock),
    ]
}

/// What may happen to one stream that stays up to the end: outages of the ingest
/// and of OnAir's own link, polls, resyncs, recordings; never a stop.
fn one_stream_step() -> impl Strategy<Value = Vec<Step>> {
    prop_oneof![
        3 => (10_000u64..60_000).prop_map(|ms| vec![Step::Wait(ms), Step::Poll]),
        2 => (10_000u64..30_000).prop_map(|ms| vec![Step::RtmpDown, Step::Poll, Step::Wait(ms), Step::RtmpUp, Step::Wait(ms), Step::Poll]),
        2 => (1_000u64..20_000).prop_map(|ms| vec![Step::LinkLost, Step::Wait(ms), Step::LinkBack, Step::Wait(10_000), Step::Poll]),
        // The ingest fails and recovers while OnAir cannot see.
        2 => (10_000u64..30_000).prop_map(|ms| vec![
            Step::LinkLost, Step::RtmpDown, Step::Wait(ms), Step::RtmpUp, Step::Wait(ms), Step::LinkBack, Step::Poll,
        ]),
        1 => Just(vec![Step::ReconnectOnPurpose, Step::Wait(2_000), Step::LinkBack, Step::Wait(10_000), Step::Poll]),
        1 => Just(vec![Step::Resync]),
        1 => Just(vec![Step::StartRecording]),
        1 => Just(vec![Step::Pause]),
        1 => Just(vec![Step::Resume]),
        1 => Just(vec![Step::StopRecording]),
    ]
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn moments_pair_up_and_state_is_shown_only_when_synced(steps in prop::collection::vec(any_step(), 1..80)) {
        let mut run = Run::new();
        for step in &steps {
            run.step(step);
        }
        // Coming back at the end, OnAir agrees with OBS.
        run.step(&Step::LinkBack);
        run.check();
    }

    #[test]
    fn one_stream_through_any_outages_is_one_live_and_one_ended_covering_it(
        blocks in prop::collection::vec(one_stream_step(), 0..25)
    ) {
        let mut run = Run::new();
        run.step(&Step::StartStream);
        let started_at = run.obs.now;
        run.step(&Step::Wait(10_000));
        run.step(&Step::Poll);
        for step in blocks.iter().flatten() {
            run.step(step);
        }
        if run.obs.stream == Stream::Reconnecting {
            run.step(&Step::RtmpUp);
            run.step(&Step::Wait(10_000));
        }
        run.step(&Step::Poll);
        let seen: u64 = run.obs.seen_bytes.iter().sum();
        run.step(&Step::StopStream);
        let stopped_at = run.obs.now;
        let kinds: Vec<&str> = run.moments.iter().map(|m| m.kind().wire_name()).filter(|k| *k == "live" || *k == "ended").collect();
        prop_assert_eq!(kinds, vec!["live", "ended"], "{:?}", run.moments);
        let ended = run.moments.iter().find_map(|m| match m {
            Moment::Ended { duration_ms, bytes, .. } => Some((*duration_ms, *bytes)),
            _ => None,
        });
        prop_assert_eq!(ended, Some((Some(stopped_at - started_at), Some(seen))), "{:?}", run.moments);
    }
}

#[test]
fn an_ended_counts_two_outages_and_the_time_in_them_with_the_one_still_open() {
    let mut run = Run::new();
    run.step(&Step::StartStream);
    run.step(&Step::Wait(10_000));
    // RECONNECTING three times, a second apart: one outage, answered 3 s after it began.
    run.step(&Step::RtmpDown);
    run.step(&Step::RtmpUp);
    run.step(&Step::Wait(10_000));
    // Still down when the stream stops: 3 s of retries and 0.8 s of stopping.
    run.step(&Step::RtmpDown);
    run.step(&Step::StopStream);
    let outages = run.moments.iter().find_map(|m| match m {
        Moment::Ended { reconnects, down_ms, .. } => Some((*reconnects, *down_ms)),
        _ => None,
    });
    assert_eq!(outages, Some((2, 3_000 + 3_800)), "{:?}", run.moments);
}

#[test]
fn the_simulator_can_fail_the_model() {
    // A guard on the harness itself: a run that ends a stream must show it.
    let mut run = Run::new();
    run.step(&Step::StartStream);
    run.step(&Step::StopStream);
    let kinds: Vec<&str> = run.moments.iter().map(|m| m.kind().wire_name()).collect();
    assert_eq!(kinds, vec!["live", "ended"]);
}
