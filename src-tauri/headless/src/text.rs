//! Words for people: the one-line status and what each moment says.
//!
//! Shared by the command line, the tray menu rows, the notifications and the
//! window (which gets its moments' titles, bodies and tones from here), so the
//! same situation reads the same everywhere.

use serde::Serialize;

use crate::connect::{Cause, PASSWORD_NEXT_STEP};
use crate::guard::{AlertDetail, AlertKind};
use crate::state::{
    figures_current, AlertLasted, ConnectionState, Moment, ObsStatus, RecordingState, State, StreamState,
};

/// `01:02:03` from milliseconds.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// `6.1 Mb/s` or `850 kb/s`.
pub fn bitrate(kbps: f64) -> String {
    if kbps >= 1000.0 {
        format!("{:.1} Mb/s", kbps / 1000.0)
    } else {
        format!("{kbps:.0} kb/s")
    }
}

/// `1.2 GB`, `340 MB`, `12 kB`.
pub fn data_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b >= 1e9 {
        format!("{:.1} GB", b / 1e9)
    } else if b >= 1e6 {
        format!("{:.0} MB", b / 1e6)
    } else {
        format!("{:.0} kB", b / 1e3)
    }
}

/// A length of time as a person says it: `42 s`, `5:03`, `1:02:03`.
pub fn span(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s} s"),
        60..=3_599 => format!("{}:{:02}", s / 60, s % 60),
        _ => format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60),
    }
}

/// `2026-12-02 00:41 UTC` from Unix milliseconds. UTC because the command
/// line has no time zone database; the window shows local time.
pub fn utc_minute(ms: u64) -> String {
    let minutes = ms / 60_000;
    let (days, minute_of_day) = (minutes / 1_440, minutes % 1_440);
    let (year, month, day) = civil_date(days);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", minute_of_day / 60, minute_of_day % 60)
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for days on or after the epoch).
fn civil_date(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// What a stream's summary is made of, from an `ended` moment or a line of the
/// history file, so both read the same.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamSummary<'a> {
    pub duration_ms: Option<u64>,
    pub bytes: Option<u64>,
    pub dropped_frames: Option<u64>,
    pub total_frames: Option<u64>,
    pub reconnects: u32,
    pub down_ms: u64,
    /// Not worded yet: the alert detectors add their part.
    pub alerts: &'a [AlertLasted],
}

impl<'a> StreamSummary<'a> {
    /// The summary of an `ended` moment; `None` for any other moment.
    pub fn of(moment: &'a Moment) -> Option<StreamSummary<'a>> {
        match moment {
            Moment::Ended { duration_ms, bytes, dropped_frames, total_frames, reconnects, down_ms, alerts, .. } => {
                Some(StreamSummary {
                    duration_ms: *duration_ms,
                    bytes: *bytes,
                    dropped_frames: *dropped_frames,
                    total_frames: *total_frames,
                    reconnects: *reconnects,
                    down_ms: *down_ms,
                    alerts,
                })
            }
            _ => None,
        }
    }

    /// `1:02:03 live · 2.3 GB · 0.2 % dropped · 2 reconnects (35 s)`: what is
    /// known, and the reconnects only when there were some.
    pub fn line(&self) -> String {
        self.parts(false).join(" · ")
    }

    /// Like [`StreamSummary::line`], but says "no reconnects" too, for a list
    /// of streams read side by side (`onair history`).
    pub fn line_in_list(&self) -> String {
        self.parts(true).join(" · ")
    }

    fn parts(&self, say_none: bool) -> Vec<String> {
        let mut parts = Vec::new();
        if let Some(duration) = self.duration_ms {
            parts.push(format!("{} live", span(duration)));
        }
        if let Some(bytes) = self.bytes {
            parts.push(data_size(bytes));
        }
        if let (Some(dropped), Some(total)) = (self.dropped_frames, self.total_frames) {
            if total > 0 {
                parts.push(format!("{:.1} % dropped", dropped as f64 * 100.0 / total as f64));
            }
        }
        match self.reconnects {
            0 if say_none => parts.push("no reconnects".into()),
            0 => {}
            1 => parts.push(format!("1 reconnect ({})", span(self.down_ms))),
            n => parts.push(format!("{n} reconnects ({})", span(self.down_ms))),
        }
        parts.extend(alerts_part(self.alerts));
        parts
    }
}

/// `mic muted once (42 s)`, `stream stalled 2 times (1:05)`: each kind of alert
/// the stream had, how often and how long in all, in the order they first came.
fn alerts_part(alerts: &[AlertLasted]) -> Vec<String> {
    let mut kinds: Vec<(&str, u32, u64)> = Vec::new();
    for alert in alerts {
        match kinds.iter_mut().find(|(kind, _, _)| *kind == alert.alert) {
            Some((_, count, total)) => {
                *count += 1;
                *total = total.saturating_add(alert.lasted_ms);
            }
            None => kinds.push((&alert.alert, 1, alert.lasted_ms)),
        }
    }
    kinds
        .into_iter()
        .map(|(kind, count, total)| {
            let what = AlertKind::from_wire_name(kind).map_or_else(|| kind.to_string(), |k| k.title().to_lowercase());
            let times = if count == 1 { "once".to_string() } else { format!("{count} times") };
            format!("{what} {times} ({})", span(total))
        })
        .collect()
}

/// A title and a body for an alert as it starts, from its figures.
fn alert_text(alert: AlertKind, mic: Option<&str>, detail: &AlertDetail) -> (String, String) {
    let mic = mic.unwrap_or("The mic");
    let figure = |v: Option<f64>, unit: &str| v.map(|v| format!("{v:.1}{unit}")).unwrap_or_default();
    let body = match alert {
        AlertKind::MutedWhileLive => format!("{mic} is muted while you are live."),
        AlertKind::TalkingWhileMuted => {
            format!("{mic} hears sound ({}) but is muted.", figure(detail.dbfs, " dBFS")).replace(" ()", "")
        }
        AlertKind::MicSilent => {
            format!("{mic} picks up nothing ({}).", figure(detail.dbfs, " dBFS")).replace(" ()", "")
        }
        AlertKind::Black => "The program output has been black for a few seconds.".into(),
        AlertKind::Stalled => {
            "OBS has sent nothing to the streaming server for a few seconds: viewers may see a frozen stream.".into()
        }
        AlertKind::DroppingFrames => {
            format!("{} of frames dropped over the last 30 s (network).", figure(detail.percent, " %"))
        }
        AlertKind::LowBitrate => match (detail.kbps, detail.median_kbps) {
            (Some(now), Some(usual)) => format!("{} against this stream's usual {}.", bitrate(now), bitrate(usual)),
            _ => "The bitrate is under half of this stream's usual.".into(),
        },
        AlertKind::EncoderLagging => {
            format!(
                "{} of frames skipped by OBS's renderer or encoder over the last 30 s.",
                figure(detail.percent, " %")
            )
        }
        AlertKind::LowDisk => match (detail.free_mb, detail.minutes_left) {
            (Some(free), Some(minutes)) => {
                format!("{} free, about {minutes:.0} min of recording at this rate.", data_size((free * 1e6) as u64))
            }
            (Some(free), None) => format!("{} free on the recording disk.", data_size((free * 1e6) as u64)),
            _ => "The recording disk is nearly full.".into(),
        },
    };
    (alert.title().to_string(), body)
}

/// The short note that replaces an alert's notification when it is over.
fn alert_cleared_text(alert: AlertKind, mic: Option<&str>, lasted_ms: u64) -> (String, String) {
    let over = match alert {
        AlertKind::MutedWhileLive => "Mic unmuted",
        AlertKind::TalkingWhileMuted => "No more sound into the muted mic",
        AlertKind::MicSilent => "The mic hears sound again",
        AlertKind::Black => "The picture is back",
        AlertKind::Stalled => "The stream is flowing again",
        AlertKind::DroppingFrames => "Frames no longer dropping",
        AlertKind::LowBitrate => "The bitrate is back up",
        AlertKind::EncoderLagging => "OBS keeps up again",
        AlertKind::LowDisk => "Disk space is fine again",
    };
    (format!("{over} after {}", span(lasted_ms)), mic.map(str::to_string).unwrap_or_default())
}

/// What the connection is doing, for when OnAir cannot see OBS.
pub fn connection_line(state: &State) -> String {
    match &state.connection {
        ConnectionState::Connecting => format!("Connecting to OBS at {}", state.target),
        ConnectionState::Syncing => format!("Reading OBS's state at {}", state.target),
        ConnectionState::Connected { obs_version, websocket_version } => {
            format!("Connected to OBS {obs_version} (obs-websocket {websocket_version}) at {}", state.target)
        }
        // A known cause is said with what to do; another reason is the window's detail.
        ConnectionState::WaitingForObs { reason } if reason.cause != Cause::Other => {
            format!("Waiting for OBS at {}: {}", state.target, reason.reason)
        }
        ConnectionState::WaitingForObs { .. } => format!("Waiting for OBS at {}", state.target),
        ConnectionState::AuthFailed { message } => format!("{message}: {PASSWORD_NEXT_STEP}"),
        ConnectionState::Incompatible { message } => message.clone(),
        ConnectionState::SessionInvalidated { message } => message.clone(),
        ConnectionState::InvalidSettings { message } => format!("Invalid settings: {message}"),
        ConnectionState::Stopped => "Stopped".to_string(),
    }
}

/// The stream in a few words: `● LIVE 01:02:03 · 6.1 Mb/s · 0.2% dropped`.
pub fn stream_line(obs: &ObsStatus, now_ms: u64) -> String {
    let health = obs.stream_health.as_ref();
    match &obs.stream {
        StreamState::Offline => "Offline".to_string(),
        StreamState::Starting => "Starting stream…".to_string(),
        StreamState::Stopping { .. } => "Stopping stream…".to_string(),
        StreamState::Reconnecting { live_since_ms, since_ms } => format!(
            "RECONNECTING {} · down {}",
            clock(now_ms.saturating_sub(*live_since_ms)),
            clock(now_ms.saturating_sub(*since_ms))
        ),
        StreamState::Live { since_ms } => {
            let mut line = format!("● LIVE {}", clock(now_ms.saturating_sub(*since_ms)));
            match health {
                Some(h) if figures_current(h.polled_at_ms, now_ms) => {
                    if let Some(kbps) = h.bitrate_kbps {
                        line.push_str(&format!(" · {}", bitrate(kbps)));
                    }
                    line.push_str(&format!(" · {:.1}% dropped", h.dropped_ratio * 100.0));
                }
                // An old figure is not shown as if it were current.
                Some(h) => line
                    .push_str(&format!(" · no figures from OBS for {}", clock(now_ms.saturating_sub(h.polled_at_ms)))),
                None => {}
            }
            line
        }
    }
}

pub fn recording_line(obs: &ObsStatus, now_ms: u64) -> Option<String> {
    match &obs.recording {
        RecordingState::Off => None,
        RecordingState::Starting => Some("Starting recording…".into()),
        RecordingState::Recording { since_ms } => {
            Some(format!("Recording {}", clock(now_ms.saturating_sub(*since_ms))))
        }
        RecordingState::Paused { .. } => Some("Recording paused".into()),
        RecordingState::Stopping { .. } => Some("Stopping recording…".into()),
    }
}

/// Everything in one line, as `onair status` prints it.
pub fn status_line(state: &State, now_ms: u64) -> String {
    let Some(obs) = &state.obs else { return connection_line(state) };
    let mut parts = vec![stream_line(obs, now_ms)];
    parts.extend(recording_line(obs, now_ms));
    if obs.replay_buffer.is_on() {
        parts.push("Replay buffer on".into());
    }
    if obs.virtual_camera.is_on() {
        parts.push("Virtual camera on".into());
    }
    if let Some(scene) = &obs.program_scene {
        parts.push(format!("Scene: {scene}"));
    }
    parts.join(" · ")
}

/// A title and a body for a moment, as a notification would show it.
pub fn moment_text(moment: &Moment) -> (String, String) {
    let opt_path = |p: &Option<String>| p.clone().unwrap_or_default();
    match moment {
        Moment::Live { .. } => ("You're live".into(), "OBS is streaming.".into()),
        Moment::Ended { while_away, .. } => {
            let title = if *while_away { "Stream ended while OnAir could not see OBS" } else { "Stream ended" };
            (title.into(), StreamSummary::of(moment).map(|s| s.line()).unwrap_or_default())
        }
        Moment::Reconnecting { .. } => {
            ("Stream reconnecting".into(), "OBS lost the streaming server and is retrying.".into())
        }
        Moment::Reconnected { down_ms } => ("Stream back".into(), format!("Reconnected after {}.", clock(*down_ms))),
        Moment::StartFailed { message } => ("Stream failed to start".into(), message.clone()),
        Moment::ObsLost { reason, was_live, was_recording } => {
            let what = match (was_live, was_recording) {
                (true, true) => "while live and recording",
                (true, false) => "while live",
                _ => "while recording",
            };
            (format!("Lost OBS {what}"), reason.clone())
        }
        Moment::ObsBack { down_ms, still_live } => (
            "OBS is back".into(),
            format!(
                "After {}; {}",
                clock(*down_ms),
                if *still_live { "the stream is still live." } else { "the stream is not live." }
            ),
        ),
        Moment::RecordingStarted { path } => ("Recording started".into(), opt_path(path)),
        Moment::RecordingStopped { path, .. } => ("Recording stopped".into(), opt_path(path)),
        Moment::RecordingPaused => ("Recording paused".into(), String::new()),
        Moment::RecordingResumed => ("Recording resumed".into(), String::new()),
        Moment::RecordingFileChanged { path } => ("Recording continues in a new file".into(), path.clone()),
        Moment::ReplaySaved { path } => ("Replay saved".into(), opt_path(path)),
        Moment::AuthFailed { message } => ("OBS rejected the password".into(), message.clone()),
        Moment::Alert { alert, mic, detail, .. } => alert_text(*alert, mic.as_deref(), detail),
        Moment::AlertCleared { alert, mic, lasted_ms } => alert_cleared_text(*alert, mic.as_deref(), *lasted_ms),
    }
}

/// How a moment reads at a glance in the window's log: good news, a warning,
/// bad news, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tone {
    Good,
    Warn,
    Bad,
    Plain,
}

pub fn moment_tone(moment: &Moment) -> Tone {
    match moment {
        Moment::Live { .. } | Moment::Reconnected { .. } | Moment::ObsBack { .. } => Tone::Good,
        Moment::Reconnecting { .. } | Moment::RecordingPaused => Tone::Warn,
        Moment::StartFailed { .. } | Moment::ObsLost { .. } | Moment::AuthFailed { .. } => Tone::Bad,
        Moment::Alert { alert, .. } if alert.is_critical() => Tone::Bad,
        Moment::Alert { .. } => Tone::Warn,
        Moment::AlertCleared { .. } => Tone::Good,
        Moment::Ended { .. }
        | Moment::RecordingStarted { .. }
        | Moment::RecordingStopped { .. }
        | Moment::RecordingResumed
        | Moment::RecordingFileChanged { .. }
        | Moment::ReplaySaved { .. } => Tone::Plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{ObsStatus, OutputActivity, StreamHealth};

    fn live_status() -> ObsStatus {
        ObsStatus {
            stream: StreamState::Live { since_ms: 0 },
            recording: RecordingState::Recording { since_ms: 1_000 },
            replay_buffer: OutputActivity::Unavailable,
            virtual_camera: OutputActivity::Off,
            program_scene: Some("Gameplay".into()),
            scenes: vec!["Gameplay".into()],
            studio_mode: false,
            stream_health: Some(StreamHealth {
                bitrate_kbps: Some(6_100.0),
                bytes: 0,
                duration_ms: 0,
                dropped_frames: 2,
                total_frames: 1_000,
                dropped_ratio: 0.002,
                congestion: 0.0,
                polled_at_ms: 3_722_000,
            }),
            stats: None,
            scene_collection_changing: false,
            alerts: Vec::new(),
            mics: Vec::new(),
        }
    }

    #[test]
    fn live_line_reads_at_a_glance() {
        let state =
            State { target: "localhost:4455".into(), connection: ConnectionState::Syncing, obs: Some(live_status()) };
        assert_eq!(
            status_line(&state, 3_723_000),
            "● LIVE 01:02:03 · 6.1 Mb/s · 0.2% dropped · Recording 01:02:02 · Scene: Gameplay"
        );
    }

    #[test]
    fn figures_obs_stopped_sending_are_not_shown_as_current() {
        let state =
            State { target: "localhost:4455".into(), connection: ConnectionState::Syncing, obs: Some(live_status()) };
        assert_eq!(
            status_line(&state, 3_782_000),
            "● LIVE 01:03:02 · no figures from OBS for 00:01:00 · Recording 01:03:01 · Scene: Gameplay"
        );
    }

    #[test]
    fn not_connected_says_where_it_waits() {
        let state = State {
            target: "localhost:4455".into(),
            connection: ConnectionState::WaitingForObs { reason: "refused".into() },
            obs: None,
        };
        assert_eq!(status_line(&state, 0), "Waiting for OBS at localhost:4455");
    }

    #[test]
    fn not_connected_names_the_cause_and_the_next_step() {
        let target = crate::settings::Target::new("localhost", 4455).unwrap();
        let reason = crate::state::WaitReason::new(Cause::Refused, &target, "nothing is listening".into());
        let state =
            State { target: target.to_string(), connection: ConnectionState::WaitingForObs { reason }, obs: None };
        assert_eq!(
            connection_line(&state),
            "Waiting for OBS at localhost:4455: OBS is not running, or its WebSocket server is off: Tools › WebSocket Server Settings › Enable WebSocket server"
        );
        let rejected = ConnectionState::AuthFailed { message: "OBS rejected the password".into() };
        let line = connection_line(&State { connection: rejected, ..state });
        assert!(
            line.starts_with("OBS rejected the password: copy it from OBS's Tools › WebSocket Server Settings"),
            "{line}"
        );
    }

    fn ended(duration_ms: Option<u64>, bytes: Option<u64>, frames: Option<(u64, u64)>, reconnects: u32) -> Moment {
        Moment::Ended {
            duration_ms,
            bytes,
            dropped_frames: frames.map(|f| f.0),
            total_frames: frames.map(|f| f.1),
            reconnects,
            down_ms: 35_000,
            alerts: Vec::new(),
            avg_kbps: None,
            peak_kbps: None,
            while_away: false,
        }
    }

    #[test]
    fn the_stream_ended_notification_is_the_streams_summary() {
        let moment = ended(Some(3_723_000), Some(2_300_000_000), Some((2, 1_000)), 2);
        let (title, body) = moment_text(&moment);
        assert_eq!(title, "Stream ended");
        assert_eq!(body, "1:02:03 live · 2.3 GB · 0.2 % dropped · 2 reconnects (35 s)");
    }

    #[test]
    fn the_summary_says_what_is_known_and_reconnects_only_when_there_were_some() {
        let body = |moment: Moment| moment_text(&moment).1;
        assert_eq!(body(ended(Some(42_000), Some(12_000_000), Some((0, 630)), 0)), "42 s live · 12 MB · 0.0 % dropped");
        assert_eq!(body(ended(Some(303_000), None, None, 1)), "5:03 live · 1 reconnect (35 s)");
        // No frame sent: no ratio to speak of.
        assert_eq!(body(ended(Some(1_000), Some(0), Some((0, 0)), 0)), "1 s live · 0 kB");
        assert_eq!(body(ended(None, None, None, 0)), "");
        let moment = ended(Some(3_723_000), None, None, 0);
        let summary = StreamSummary::of(&moment).unwrap();
        assert_eq!(summary.line_in_list(), "1:02:03 live · no reconnects");
        assert_eq!(StreamSummary::of(&Moment::RecordingPaused), None);
    }

    #[test]
    fn spans_read_as_seconds_minutes_or_hours() {
        assert_eq!(span(0), "0 s");
        assert_eq!(span(59_999), "59 s");
        assert_eq!(span(60_000), "1:00");
        assert_eq!(span(3_599_000), "59:59");
        assert_eq!(span(3_600_000), "1:00:00");
        assert_eq!(span(100 * 3_600_000 + 61_000), "100:01:01");
    }

    #[test]
    fn utc_minutes_are_calendar_dates() {
        assert_eq!(utc_minute(0), "1970-01-01 00:00 UTC");
        // 2024-02-29 23:59:59.999 UTC, a leap day, then the next minute.
        assert_eq!(utc_minute(1_709_251_199_999), "2024-02-29 23:59 UTC");
        assert_eq!(utc_minute(1_709_251_200_000), "2024-03-01 00:00 UTC");
        assert_eq!(utc_minute(1_798_761_600_000), "2027-01-01 00:00 UTC");
    }
}
