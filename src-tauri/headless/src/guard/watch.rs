//! The guard: one detector per kind (one set per watched mic), fed one
//! snapshot of what OnAir knows at a time, with the user's settings applied.
//!
//! Pure, like the model: the caller hands in the latest polls, screenshot and
//! mic readings with `now_ms`, and gets the alerts that started or cleared.
//! A poll is fed to its detectors once, at its own time, however often the
//! snapshot is handed in, so asking twice about the same poll is not two samples.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::guard::stream::EngineFrames;
use crate::guard::{
    AlertKind, AlertSettings, Black, DroppingFrames, EncoderLagging, LowBitrate, LowDisk, LumaSummary, MicSilent,
    MutedWhileLive, Stalled, TalkingWhileMuted, Transition,
};

/// The latest `GetStreamStatus` poll, as OBS counts (restarting at each RTMP reconnect).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamPoll {
    pub polled_at_ms: u64,
    /// `outputBytes`.
    pub output_bytes: u64,
    /// `outputSkippedFrames`, `outputTotalFrames`.
    pub skipped_frames: u64,
    pub total_frames: u64,
    /// The bitrate since the poll before (the model's `StreamHealth::bitrate_kbps`).
    pub kbps: Option<f64>,
}

/// The latest `GetStats` poll.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsPoll {
    pub polled_at_ms: u64,
    /// Render and encoder frame counters; `None` if OBS gave none.
    pub frames: Option<EngineFrames>,
    /// `availableDiskSpace` (MB).
    pub free_disk_mb: Option<f64>,
}

/// The latest `GetRecordStatus` poll.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecordPoll {
    pub polled_at_ms: u64,
    /// `outputBytes` of the recording.
    pub output_bytes: u64,
}

/// The latest screenshot of the program scene, as a luma summary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProgramShot {
    pub taken_at_ms: u64,
    pub luma: LumaSummary,
}

/// One watched mic now.
#[derive(Debug, Clone, PartialEq)]
pub struct MicReading {
    pub name: String,
    pub muted: bool,
    /// Peak dBFS over the last second after the fader (`inputLevelsMul`'s
    /// second value, the loudest channel); `None` without meters.
    pub peak_dbfs: Option<f64>,
    /// The raw input peak, which a muted mic still shows (the third value).
    pub input_peak_dbfs: Option<f64>,
}

/// What OnAir knows at `now_ms`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GuardInput<'a> {
    pub now_ms: u64,
    /// Live or reconnecting: a stream session exists.
    pub on_air: bool,
    pub reconnecting: bool,
    /// Recording, paused included.
    pub recording: bool,
    pub stream: Option<StreamPoll>,
    pub stats: Option<StatsPoll>,
    pub record: Option<RecordPoll>,
    pub program: Option<ProgramShot>,
    /// Every watched mic; a mic no longer here has its alerts cleared.
    pub mics: &'a [MicReading],
}

/// An alert starting or clearing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertChange {
    #[serde(rename = "alert")]
    pub kind: AlertKind,
    /// The mic, for the per-mic kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mic: Option<String>,
    #[serde(flatten)]
    pub transition: Transition,
}

/// An alert that is open now, for the tray's row and the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenAlert {
    #[serde(rename = "alert")]
    pub kind: AlertKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mic: Option<String>,
    /// When the problem began.
    pub since_ms: u64,
    /// What the tray's row and the window call it ([`AlertKind::title`]).
    pub title: &'static str,
    /// Whether it is one of the critical kinds ([`AlertKind::is_critical`]), so
    /// the window colours it from the backend's list rather than its own.
    pub critical: bool,
}

#[derive(Debug, Clone, Default)]
struct MicDetectors {
    muted: MutedWhileLive,
    talking: TalkingWhileMuted,
    silent: MicSilent,
}

/// The poll times already fed, so a poll is one sample however often it is handed in.
#[derive(Debug, Clone, Default)]
struct Fed {
    stream: Option<u64>,
    stats: Option<u64>,
    record: Option<u64>,
    shot: Option<u64>,
}

impl Fed {
    fn is_new(seen: &mut Option<u64>, at: u64) -> bool {
        if seen.is_some_and(|s| at <= s) {
            return false;
        }
        *seen = Some(at);
        true
    }
}

/// Every detector, and the settings they run by.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    settings: AlertSettings,
    stalled: Stalled,
    dropping: DroppingFrames,
    bitrate: LowBitrate,
    encoder: EncoderLagging,
    black: Black,
    disk: LowDisk,
    mics: BTreeMap<String, MicDetectors>,
    fed: Fed,
}

fn push(out: &mut Vec<AlertChange>, kind: AlertKind, mic: Option<&str>, transition: Option<Transition>) {
    if let Some(transition) = transition {
        out.push(AlertChange { kind, mic: mic.map(str::to_string), transition });
    }
}

impl Guard {
    pub fn new(settings: AlertSettings) -> Self {
        Guard { settings, ..Guard::default() }
    }

    pub fn settings(&self) -> &AlertSettings {
        &self.settings
    }

    /// New settings; the kinds switched off clear what they had open.
    pub fn set_settings(&mut self, settings: AlertSettings, now_ms: u64) -> Vec<AlertChange> {
        self.settings = settings;
        let mut out = Vec::new();
        for kind in AlertKind::ALL {
            if !self.settings.is_on(kind) {
                self.end(kind, now_ms, &mut out);
            }
        }
        out
    }

    /// One snapshot: the alerts that started or cleared, in a fixed order
    /// (the stream's kinds, then the mics' by name).
    pub fn observe(&mut self, input: &GuardInput<'_>) -> Vec<AlertChange> {
        let now = input.now_ms;
        let mut out = Vec::new();
        for kind in AlertKind::ALL {
            let matters = if kind == AlertKind::LowDisk { input.recording } else { input.on_air };
            if !self.settings.is_on(kind) || (!matters && !kind.is_per_mic()) {
                self.end(kind, now, &mut out);
            }
        }
        let s = &self.settings;
        if let Some(poll) = input.stream.filter(|p| input.on_air && Fed::is_new(&mut self.fed.stream, p.polled_at_ms)) {
            let at = poll.polled_at_ms;
            if s.is_on(AlertKind::Stalled) {
                let t = self.stalled.sample(s, at, !input.reconnecting, poll.output_bytes);
                push(&mut out, AlertKind::Stalled, None, t);
            }
            if s.is_on(AlertKind::DroppingFrames) {
                let t = self.dropping.sample(s, at, true, poll.skipped_frames, poll.total_frames);
                push(&mut out, AlertKind::DroppingFrames, None, t);
            }
            if s.is_on(AlertKind::LowBitrate) {
                let t = self.bitrate.sample(s, at, true, input.reconnecting, poll.kbps);
                push(&mut out, AlertKind::LowBitrate, None, t);
            }
        }
        if input.on_air && input.reconnecting && s.is_on(AlertKind::Stalled) {
            // A reconnect is OBS saying so itself: no longer a silent stall.
            push(&mut out, AlertKind::Stalled, None, self.stalled.end(now));
        }
        if input.recording && s.is_on(AlertKind::LowDisk) {
            if let Some(poll) = input.record.filter(|p| Fed::is_new(&mut self.fed.record, p.polled_at_ms)) {
                self.disk.recorded(poll.polled_at_ms, poll.output_bytes);
            }
        }
        if let Some(poll) = input.stats.filter(|p| Fed::is_new(&mut self.fed.stats, p.polled_at_ms)) {
            let at = poll.polled_at_ms;
            if let Some(frames) = poll.frames.filter(|_| input.on_air && s.is_on(AlertKind::EncoderLagging)) {
                push(&mut out, AlertKind::EncoderLagging, None, self.encoder.sample(s, at, true, frames));
            }
            if input.recording && s.is_on(AlertKind::LowDisk) {
                push(&mut out, AlertKind::LowDisk, None, self.disk.sample(s, at, true, poll.free_disk_mb));
            }
        }
        if let Some(shot) = input.program.filter(|p| input.on_air && Fed::is_new(&mut self.fed.shot, p.taken_at_ms)) {
            if s.is_on(AlertKind::Black) {
                push(&mut out, AlertKind::Black, None, self.black.sample(s, shot.taken_at_ms, true, Some(shot.luma)));
            }
        }
        self.observe_mics(input, &mut out);
        out
    }

    fn observe_mics(&mut self, input: &GuardInput<'_>, out: &mut Vec<AlertChange>) {
        let now = input.now_ms;
        let gone: Vec<String> =
            self.mics.keys().filter(|name| !input.mics.iter().any(|m| &m.name == *name)).cloned().collect();
        for name in gone {
            if let Some(mut d) = self.mics.remove(&name) {
                push(out, AlertKind::MutedWhileLive, Some(&name), d.muted.end(now));
                push(out, AlertKind::TalkingWhileMuted, Some(&name), d.talking.end(now));
                push(out, AlertKind::MicSilent, Some(&name), d.silent.end(now));
            }
        }
        let s = &self.settings;
        let mut readings: Vec<&MicReading> = input.mics.iter().collect();
        readings.sort_by(|a, b| a.name.cmp(&b.name));
        readings.dedup_by(|a, b| a.name == b.name);
        for mic in readings {
            let d = self.mics.entry(mic.name.clone()).or_default();
            let name = Some(mic.name.as_str());
            if s.is_on(AlertKind::MutedWhileLive) {
                push(out, AlertKind::MutedWhileLive, name, d.muted.sample(s, now, input.on_air, mic.muted));
            }
            if s.is_on(AlertKind::TalkingWhileMuted) {
                let active = input.on_air || input.recording;
                let t = d.talking.sample(s, now, active, mic.muted, mic.input_peak_dbfs);
                push(out, AlertKind::TalkingWhileMuted, name, t);
            }
            if s.is_on(AlertKind::MicSilent) {
                let t = d.silent.sample(s, now, input.on_air, mic.muted, mic.peak_dbfs);
                push(out, AlertKind::MicSilent, name, t);
            }
        }
    }

    /// A watched mic was renamed in OBS: its alerts carry on under the new name.
    pub fn rename_mic(&mut self, old: &str, new: &str) {
        if old == new || self.mics.contains_key(new) {
            return;
        }
        if let Some(d) = self.mics.remove(old) {
            self.mics.insert(new.to_string(), d);
        }
    }

    /// Clears every open alert (the stream ended, OBS went away) and starts over.
    pub fn clear_all(&mut self, now_ms: u64) -> Vec<AlertChange> {
        let mut out = Vec::new();
        for kind in AlertKind::ALL {
            self.end(kind, now_ms, &mut out);
        }
        self.mics.clear();
        out
    }

    /// Every open alert, in [`AlertKind::ALL`] order, mics by name.
    pub fn open_alerts(&self) -> Vec<OpenAlert> {
        let mut open = Vec::new();
        for kind in AlertKind::ALL {
            let mut add = |mic: Option<&String>, since: Option<u64>| {
                if let Some(since_ms) = since {
                    open.push(OpenAlert {
                        kind,
                        mic: mic.cloned(),
                        since_ms,
                        title: kind.title(),
                        critical: kind.is_critical(),
                    });
                }
            };
            match kind {
                AlertKind::Stalled => add(None, self.stalled.open_since()),
                AlertKind::DroppingFrames => add(None, self.dropping.open_since()),
                AlertKind::LowBitrate => add(None, self.bitrate.open_since()),
                AlertKind::EncoderLagging => add(None, self.encoder.open_since()),
                AlertKind::Black => add(None, self.black.open_since()),
                AlertKind::LowDisk => add(None, self.disk.open_since()),
                AlertKind::MutedWhileLive => self.mics.iter().for_each(|(n, d)| add(Some(n), d.muted.open_since())),
                AlertKind::TalkingWhileMuted => {
                    self.mics.iter().for_each(|(n, d)| add(Some(n), d.talking.open_since()))
                }
                AlertKind::MicSilent => self.mics.iter().for_each(|(n, d)| add(Some(n), d.silent.open_since())),
            }
        }
        open
    }

    /// Ends one kind's detectors (every mic's, for a per-mic kind).
    fn end(&mut self, kind: AlertKind, now: u64, out: &mut Vec<AlertChange>) {
        match kind {
            AlertKind::Stalled => push(out, kind, None, self.stalled.end(now)),
            AlertKind::DroppingFrames => push(out, kind, None, self.dropping.end(now)),
            AlertKind::LowBitrate => push(out, kind, None, self.bitrate.end(now)),
            AlertKind::EncoderLagging => push(out, kind, None, self.encoder.end(now)),
            AlertKind::Black => push(out, kind, None, self.black.end(now)),
            AlertKind::LowDisk => push(out, kind, None, self.disk.end(now)),
            AlertKind::MutedWhileLive | AlertKind::TalkingWhileMuted | AlertKind::MicSilent => {
                for (name, d) in &mut self.mics {
                    let t = match kind {
                        AlertKind::MutedWhileLive => d.muted.end(now),
                        AlertKind::TalkingWhileMuted => d.talking.end(now),
                        _ => d.silent.end(now),
                    };
                    push(out, kind, Some(name), t);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mic(name: &str, muted: bool, peak: f64) -> MicReading {
        MicReading { name: name.into(), muted, peak_dbfs: Some(peak), input_peak_dbfs: Some(peak) }
    }

    fn stream_poll(at_s: u64, bytes: u64) -> StreamPoll {
        StreamPoll {
            polled_at_ms: at_s * 1000,
            output_bytes: bytes,
            skipped_frames: 0,
            total_frames: at_s * 30,
            kbps: Some(6000.0),
        }
    }

    fn kinds(changes: &[AlertChange]) -> Vec<(&'static str, Option<&str>, bool)> {
        changes
            .iter()
            .map(|c| (c.kind.wire_name(), c.mic.as_deref(), matches!(c.transition, Transition::Started { .. })))
            .collect()
    }

    #[test]
    fn a_muted_mic_on_a_live_stream_alerts_once_and_the_end_of_the_stream_clears_it() {
        let mut g = Guard::new(AlertSettings::default());
        let mics = [mic("Mic/Aux", true, -90.0), mic("Podcast Mic", false, -20.0)];
        let mut all = Vec::new();
        for t in 0..=10u64 {
            let input = GuardInput { now_ms: t * 1000, on_air: true, mics: &mics, ..Default::default() };
            all.extend(g.observe(&input));
        }
        assert_eq!(kinds(&all), [("muted-while-live", Some("Mic/Aux"), true)]);
        assert_eq!(
            g.open_alerts(),
            [OpenAlert {
                kind: AlertKind::MutedWhileLive,
                mic: Some("Mic/Aux".into()),
                since_ms: 0,
                title: "Mic muted while live",
                critical: true,
            }]
        );
        assert_eq!(
            serde_json::to_value(&g.open_alerts()[0]).unwrap(),
            serde_json::json!({"alert": "muted-while-live", "mic": "Mic/Aux", "since_ms": 0, "title": "Mic muted while live", "critical": true})
        );
        let cleared = g.clear_all(42_000);
        assert_eq!(
            cleared,
            [AlertChange {
                kind: AlertKind::MutedWhileLive,
                mic: Some("Mic/Aux".into()),
                transition: Transition::Cleared { lasted_ms: 42_000 }
            }]
        );
        assert!(g.open_alerts().is_empty());
        assert_eq!(
            serde_json::to_value(&cleared[0]).unwrap(),
            serde_json::json!({"alert": "muted-while-live", "mic": "Mic/Aux", "transition": "cleared", "lasted_ms": 42000})
        );
    }

    #[test]
    fn going_offline_clears_every_open_alert() {
        let mut g = Guard::new(AlertSettings::default());
        let mics = [mic("Mic", true, -90.0)];
        for t in 0..=6u64 {
            let input = GuardInput {
                now_ms: t * 1000,
                on_air: true,
                stream: Some(stream_poll(t.min(1), 500)),
                mics: &mics,
                ..Default::default()
            };
            g.observe(&input);
        }
        let input = GuardInput {
            now_ms: 8000,
            on_air: true,
            stream: Some(stream_poll(7, 500)),
            mics: &mics,
            ..Default::default()
        };
        let out = g.observe(&input);
        assert_eq!(kinds(&out), [("stalled", None, true)], "no growth since the first poll, at 0 s");
        assert_eq!(g.open_alerts().len(), 2);
        let out = g.observe(&GuardInput { now_ms: 9000, on_air: false, mics: &mics, ..Default::default() });
        assert_eq!(kinds(&out), [("stalled", None, false), ("muted-while-live", Some("Mic"), false)]);
        assert!(g.open_alerts().is_empty());
    }

    #[test]
    fn the_same_poll_handed_in_again_is_not_a_new_sample() {
        let mut g = Guard::new(AlertSettings::default());
        // Polls every 2 s, snapshots every 250 ms: the bytes grow at every poll.
        let mut out = Vec::new();
        for tick in 0..400u64 {
            let now = tick * 250;
            let polled = now / 2000 * 2;
            let input = GuardInput {
                now_ms: now,
                on_air: true,
                stream: Some(stream_poll(polled, polled * 750_000)),
                ..Default::default()
            };
            out.extend(g.observe(&input));
        }
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn a_kind_switched_off_never_alerts_and_switching_off_clears() {
        let mut settings = AlertSettings::default();
        settings.enabled.insert(AlertKind::MutedWhileLive, false);
        let mut g = Guard::new(settings.clone());
        let mics = [mic("Mic", true, -10.0)];
        let mut out = Vec::new();
        for t in 0..=10u64 {
            out.extend(g.observe(&GuardInput { now_ms: t * 1000, on_air: true, mics: &mics, ..Default::default() }));
        }
        assert_eq!(kinds(&out), [("talking-while-muted", Some("Mic"), true)]);
        settings.enabled.insert(AlertKind::TalkingWhileMuted, false);
        let out = g.set_settings(settings, 11_000);
        assert_eq!(kinds(&out), [("talking-while-muted", Some("Mic"), false)]);
        for t in 12..=30u64 {
            let out = g.observe(&GuardInput { now_ms: t * 1000, on_air: true, mics: &mics, ..Default::default() });
            assert!(out.is_empty(), "{out:?}");
        }
    }

    #[test]
    fn a_mic_no_longer_watched_clears_and_a_renamed_one_carries_on() {
        let mut g = Guard::new(AlertSettings::default());
        let mics = [mic("A", true, -90.0), mic("B", true, -90.0)];
        for t in 0..=3u64 {
            g.observe(&GuardInput { now_ms: t * 1000, on_air: true, mics: &mics, ..Default::default() });
        }
        assert_eq!(g.open_alerts().len(), 2);
        g.rename_mic("B", "C");
        let now = [mic("C", true, -90.0)];
        let out = g.observe(&GuardInput { now_ms: 5000, on_air: true, mics: &now, ..Default::default() });
        assert_eq!(kinds(&out), [("muted-while-live", Some("A"), false)]);
        assert_eq!(g.open_alerts()[0].mic.as_deref(), Some("C"));
    }

    #[test]
    fn low_disk_only_while_recording_even_when_live() {
        let mut g = Guard::new(AlertSettings::default());
        let stats = |at: u64| StatsPoll { polled_at_ms: at, frames: None, free_disk_mb: Some(100.0) };
        let out = g.observe(&GuardInput { now_ms: 0, on_air: true, stats: Some(stats(0)), ..Default::default() });
        assert!(out.is_empty());
        let out =
            g.observe(&GuardInput { now_ms: 2000, recording: true, stats: Some(stats(2000)), ..Default::default() });
        assert_eq!(kinds(&out), [("low-disk", None, true)]);
        let open = g.open_alerts();
        assert_eq!((open[0].title, open[0].critical), ("Low disk space", false), "not a critical kind");
        let out = g.observe(&GuardInput { now_ms: 4000, on_air: true, stats: Some(stats(4000)), ..Default::default() });
        assert_eq!(kinds(&out), [("low-disk", None, false)]);
    }

    #[test]
    fn a_reconnect_ends_a_stall_and_black_follows_the_screenshots() {
        let mut g = Guard::new(AlertSettings::default());
        let black = LumaSummary { mean: 0.0, spread: 0.0 };
        let mut out = Vec::new();
        for t in (0..=6u64).step_by(2) {
            out.extend(g.observe(&GuardInput {
                now_ms: t * 1000,
                on_air: true,
                stream: Some(stream_poll(t, 1)),
                program: Some(ProgramShot { taken_at_ms: t * 1000, luma: black }),
                ..Default::default()
            }));
        }
        assert_eq!(kinds(&out), [("stalled", None, true), ("black", None, true)]);
        let out = g.observe(&GuardInput { now_ms: 7000, on_air: true, reconnecting: true, ..Default::default() });
        assert_eq!(kinds(&out), [("stalled", None, false)]);
    }
}
