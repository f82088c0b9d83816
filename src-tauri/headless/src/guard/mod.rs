//! The stream guard: the failures a streamer cannot see from the chair (a muted
//! mic, a black program, a stream that says "live" while nothing reaches the
//! ingest, dropped frames, a filling disk), each noticed within seconds, said
//! once, and said again when it is over.
//!
//! Everything here is pure: plain numbers and their time (`now_ms`) in,
//! transitions out, so each rule is a unit test. One detector per problem
//! (`mic`, `stream`, `picture`, `disk`), each built on one hysteresis rule
//! ([`episode`]); the [`Guard`] holds one of each (one per mic where per mic)
//! and applies the user's [`AlertSettings`].
//!
//! Every detector follows the same contract: a problem is an episode, which
//! starts once (after its hold time) and clears once; a value hovering at a
//! threshold does not flap, because clearing needs the value clearly back (past
//! a margin, or for a while, as each detector documents); and an alert only
//! lives while it matters: a detector told the stream is not live (the disk
//! one: not recording) clears what is open and starts over.

pub mod disk;
pub mod episode;
pub mod mic;
pub mod picture;
pub mod stream;
mod watch;

use std::collections::BTreeMap;

use serde::Serialize;

pub use disk::LowDisk;
pub use mic::{MicSilent, MutedWhileLive, TalkingWhileMuted};
pub use picture::{is_black_frame, luma_summary, ppm_data_url_pixels, Black, LumaSummary, PixelLayout};
pub use stream::{DroppingFrames, EncoderLagging, EngineFrames, LowBitrate, Stalled};
pub use watch::{
    AlertChange, Guard, GuardInput, MicReading, OpenAlert, ProgramShot, RecordPoll, StatsPoll, StreamPoll,
};

/// The kinds of alert, the one list of them: the settings file switches each by
/// wire name, the settings page shows the label, the tray row and the
/// notification the title, and notifications carry `x-onair.<wire name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlertKind {
    MutedWhileLive,
    TalkingWhileMuted,
    MicSilent,
    Black,
    Stalled,
    DroppingFrames,
    LowBitrate,
    EncoderLagging,
    LowDisk,
}

impl AlertKind {
    /// Every kind, in the order the settings page lists them.
    pub const ALL: [AlertKind; 9] = [
        AlertKind::MutedWhileLive,
        AlertKind::TalkingWhileMuted,
        AlertKind::MicSilent,
        AlertKind::Black,
        AlertKind::Stalled,
        AlertKind::DroppingFrames,
        AlertKind::LowBitrate,
        AlertKind::EncoderLagging,
        AlertKind::LowDisk,
    ];

    /// The kebab-case name: `"alert"` of an alert moment's JSON form, the
    /// switch's key in the settings file's `[alerts]`, the `x-onair.<kind>` category.
    pub const fn wire_name(self) -> &'static str {
        match self {
            AlertKind::MutedWhileLive => "muted-while-live",
            AlertKind::TalkingWhileMuted => "talking-while-muted",
            AlertKind::MicSilent => "mic-silent",
            AlertKind::Black => "black",
            AlertKind::Stalled => "stalled",
            AlertKind::DroppingFrames => "dropping-frames",
            AlertKind::LowBitrate => "low-bitrate",
            AlertKind::EncoderLagging => "encoder-lagging",
            AlertKind::LowDisk => "low-disk",
        }
    }

    /// The kind with this wire name, if there is one.
    pub fn from_wire_name(name: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|kind| kind.wire_name() == name)
    }

    /// What the settings page calls this alert's switch.
    pub const fn label(self) -> &'static str {
        match self {
            AlertKind::MutedWhileLive => "A mic is muted while live",
            AlertKind::TalkingWhileMuted => "Talking into a muted mic",
            AlertKind::MicSilent => "A mic is silent while live",
            AlertKind::Black => "The program shows black while live",
            AlertKind::Stalled => "The stream is live but sends nothing",
            AlertKind::DroppingFrames => "Frames are dropped on the network",
            AlertKind::LowBitrate => "The bitrate falls under half its usual",
            AlertKind::EncoderLagging => "OBS cannot keep up rendering or encoding",
            AlertKind::LowDisk => "The recording disk is nearly full",
        }
    }

    /// The short name of an open alert: the tray's row and the notification's title.
    pub const fn title(self) -> &'static str {
        match self {
            AlertKind::MutedWhileLive => "Mic muted while live",
            AlertKind::TalkingWhileMuted => "Talking into a muted mic",
            AlertKind::MicSilent => "Mic silent",
            AlertKind::Black => "Program is black",
            AlertKind::Stalled => "Stream stalled",
            AlertKind::DroppingFrames => "Dropping frames",
            AlertKind::LowBitrate => "Low bitrate",
            AlertKind::EncoderLagging => "Encoder lagging",
            AlertKind::LowDisk => "Low disk space",
        }
    }

    /// Whether its notification is critical: the ones a viewer notices at once
    /// and the streamer can fix at once.
    pub const fn is_critical(self) -> bool {
        matches!(self, AlertKind::MutedWhileLive | AlertKind::TalkingWhileMuted | AlertKind::Black | AlertKind::Stalled)
    }

    /// Whether it is about one mic (one detector, and one alert, per watched mic).
    pub const fn is_per_mic(self) -> bool {
        matches!(self, AlertKind::MutedWhileLive | AlertKind::TalkingWhileMuted | AlertKind::MicSilent)
    }
}

impl std::fmt::Display for AlertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.wire_name())
    }
}

impl Serialize for AlertKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.wire_name())
    }
}

/// What a detector says when a problem starts or ends; nothing in between.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "transition", rename_all = "kebab-case")]
pub enum Transition {
    /// The problem is now an alert. `since_ms` is when it began (the first
    /// sample of the bad run, so the hold time before); the figures that made it.
    Started {
        since_ms: u64,
        #[serde(flatten)]
        detail: AlertDetail,
    },
    /// The problem is over, or no longer matters (the stream ended, the kind
    /// was switched off). `lasted_ms`: from when it began to when it was
    /// seen gone (not to when that was confirmed).
    Cleared { lasted_ms: u64 },
}

/// The figures behind an alert, for its moment's details and its notification.
/// Each detector fills what it has; the rest stay out of the JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AlertDetail {
    /// A mic's level (mic-silent) or its raw input peak (talking-while-muted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dbfs: Option<f64>,
    /// Skipped frames over the window, in percent (dropping-frames, encoder-lagging).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// The last window's bitrate and this stream's median (low-bitrate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kbps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_kbps: Option<f64>,
    /// The program's mean luma in percent (black).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub luma_percent: Option<f64>,
    /// Free space on the recording disk, and how long it lasts at the current rate (low-disk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub free_mb: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minutes_left: Option<f64>,
}

/// The user's alert settings: each kind on or off, and each threshold, in the
/// units of the settings file's `[alerts]` table (seconds, dBFS, percent, GB,
/// minutes), so the file, the settings page and the detectors say the same.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertSettings {
    /// Every kind in [`AlertKind::ALL`] is present.
    pub enabled: BTreeMap<AlertKind, bool>,
    /// muted-while-live: muted this long while live.
    pub muted_while_live_s: f64,
    /// talking-while-muted: the raw input peak above this ...
    pub talking_while_muted_dbfs: f64,
    /// ... for this long.
    pub talking_while_muted_s: f64,
    /// mic-silent: the level below this ...
    pub mic_silent_dbfs: f64,
    /// ... for this long while live.
    pub mic_silent_s: f64,
    /// black: the program's mean luma under this (and nearly uniform) ...
    pub black_luma_percent: f64,
    /// ... for this long.
    pub black_s: f64,
    /// stalled: `outputBytes` not growing for this long.
    pub stalled_s: f64,
    /// dropping-frames: network-skipped frames above this share ...
    pub dropping_frames_percent: f64,
    /// ... of the frames of this last stretch.
    pub dropping_frames_window_s: f64,
    /// low-bitrate: the last window's bitrate under this share of the stream's median ...
    pub low_bitrate_percent: f64,
    /// ... that window ...
    pub low_bitrate_window_s: f64,
    /// ... for this long ...
    pub low_bitrate_s: f64,
    /// ... never before the stream has run this long.
    pub low_bitrate_grace_s: f64,
    /// encoder-lagging: render or encoder skipped frames above this share ...
    pub encoder_lagging_percent: f64,
    /// ... of the frames of this last stretch.
    pub encoder_lagging_window_s: f64,
    /// low-disk: free space under this (GB of 1024 MB, as OBS counts MB) ...
    pub low_disk_gb: f64,
    /// ... or lasting under this at the current recording rate.
    pub low_disk_minutes: f64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            enabled: AlertKind::ALL.iter().map(|&k| (k, true)).collect(),
            muted_while_live_s: 3.0,
            talking_while_muted_dbfs: -30.0,
            talking_while_muted_s: 1.0,
            mic_silent_dbfs: -60.0,
            mic_silent_s: 20.0,
            black_luma_percent: 4.0,
            black_s: 5.0,
            stalled_s: 5.0,
            dropping_frames_percent: 1.0,
            dropping_frames_window_s: 30.0,
            low_bitrate_percent: 50.0,
            low_bitrate_window_s: 10.0,
            low_bitrate_s: 15.0,
            low_bitrate_grace_s: 30.0,
            encoder_lagging_percent: 1.0,
            encoder_lagging_window_s: 30.0,
            low_disk_gb: 5.0,
            low_disk_minutes: 10.0,
        }
    }
}

/// One threshold of [`AlertSettings`] as the settings file sees it: its key in
/// `[alerts]`, the range a value must be in, and the value.
#[derive(Debug)]
pub struct Threshold<'a> {
    pub key: &'static str,
    pub min: f64,
    pub max: f64,
    pub value: &'a mut f64,
}

impl AlertSettings {
    /// Whether alerts of this kind are raised.
    pub fn is_on(&self, kind: AlertKind) -> bool {
        self.enabled.get(&kind).copied().unwrap_or(true)
    }

    /// Every threshold with its key and range, in one list so the file's reader
    /// and writer cannot disagree about a key.
    pub fn thresholds_mut(&mut self) -> [Threshold<'_>; 18] {
        let t = |key, min, max, value| Threshold { key, min, max, value };
        [
            t("muted_while_live_s", 0.0, 3600.0, &mut self.muted_while_live_s),
            t("talking_while_muted_dbfs", -100.0, 0.0, &mut self.talking_while_muted_dbfs),
            t("talking_while_muted_s", 0.0, 3600.0, &mut self.talking_while_muted_s),
            t("mic_silent_dbfs", -100.0, 0.0, &mut self.mic_silent_dbfs),
            t("mic_silent_s", 0.0, 3600.0, &mut self.mic_silent_s),
            t("black_luma_percent", 0.0, 50.0, &mut self.black_luma_percent),
            t("black_s", 0.0, 3600.0, &mut self.black_s),
            t("stalled_s", 0.0, 3600.0, &mut self.stalled_s),
            t("dropping_frames_percent", 0.0, 100.0, &mut self.dropping_frames_percent),
            t("dropping_frames_window_s", 1.0, 3600.0, &mut self.dropping_frames_window_s),
            t("low_bitrate_percent", 0.0, 100.0, &mut self.low_bitrate_percent),
            t("low_bitrate_window_s", 1.0, 3600.0, &mut self.low_bitrate_window_s),
            t("low_bitrate_s", 0.0, 3600.0, &mut self.low_bitrate_s),
            t("low_bitrate_grace_s", 0.0, 3600.0, &mut self.low_bitrate_grace_s),
            t("encoder_lagging_percent", 0.0, 100.0, &mut self.encoder_lagging_percent),
            t("encoder_lagging_window_s", 1.0, 3600.0, &mut self.encoder_lagging_window_s),
            t("low_disk_gb", 0.0, 1_000_000.0, &mut self.low_disk_gb),
            t("low_disk_minutes", 0.0, 100_000.0, &mut self.low_disk_minutes),
        ]
    }
}

/// Seconds from the settings as milliseconds for the detectors.
pub(crate) fn ms(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        (seconds * 1000.0).round() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_wire_name_label_and_title() {
        for name in [AlertKind::wire_name, AlertKind::label, AlertKind::title] {
            let mut names: Vec<&str> = AlertKind::ALL.iter().map(|&k| name(k)).collect();
            assert!(names.iter().all(|n| !n.is_empty()));
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), AlertKind::ALL.len());
        }
        for kind in AlertKind::ALL {
            assert_eq!(AlertKind::from_wire_name(kind.wire_name()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), serde_json::json!(kind.wire_name()));
        }
        assert_eq!(AlertKind::from_wire_name("muted"), None);
        assert_eq!(AlertKind::MutedWhileLive.title(), "Mic muted while live");
    }

    #[test]
    fn the_wire_names_are_the_issues() {
        let names: Vec<&str> = AlertKind::ALL.iter().map(|k| k.wire_name()).collect();
        assert_eq!(
            names,
            [
                "muted-while-live",
                "talking-while-muted",
                "mic-silent",
                "black",
                "stalled",
                "dropping-frames",
                "low-bitrate",
                "encoder-lagging",
                "low-disk"
            ]
        );
    }

    #[test]
    fn the_critical_kinds_are_the_four_a_viewer_notices_at_once() {
        let critical: Vec<&str> = AlertKind::ALL.iter().filter(|k| k.is_critical()).map(|k| k.wire_name()).collect();
        assert_eq!(critical, ["muted-while-live", "talking-while-muted", "black", "stalled"]);
    }

    #[test]
    fn defaults_are_the_issues_and_every_kind_is_on() {
        let mut s = AlertSettings::default();
        assert!(AlertKind::ALL.iter().all(|&k| s.is_on(k)));
        assert_eq!(s.enabled.len(), AlertKind::ALL.len());
        let keys: Vec<&str> = s.thresholds_mut().iter().map(|t| t.key).collect();
        let mut unique = keys.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "one key per threshold");
        for t in s.thresholds_mut() {
            assert!((t.min..=t.max).contains(&*t.value), "{} default {} in range", t.key, t.value);
        }
        assert_eq!((s.muted_while_live_s, s.stalled_s, s.low_disk_gb), (3.0, 5.0, 5.0));
        assert_eq!(ms(1.5), 1500);
        assert_eq!(ms(f64::NAN), 0);
    }

    #[test]
    fn a_started_transition_serializes_its_figures_and_nothing_else() {
        let t = Transition::Started { since_ms: 5, detail: AlertDetail { percent: Some(2.5), ..Default::default() } };
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            serde_json::json!({"transition": "started", "since_ms": 5, "percent": 2.5})
        );
        let c = Transition::Cleared { lasted_ms: 42_000 };
        assert_eq!(serde_json::to_value(&c).unwrap(), serde_json::json!({"transition": "cleared", "lasted_ms": 42000}));
    }
}
