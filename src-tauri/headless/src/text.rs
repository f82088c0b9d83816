//! Words for people: the one-line status and what each moment says.
//!
//! Shared by the command line, the tray menu rows, the notifications and the
//! window (which gets its moments' titles, bodies and tones from here), so the
//! same situation reads the same everywhere.

use serde::Serialize;

use crate::state::{figures_current, ConnectionState, Moment, ObsStatus, RecordingState, State, StreamState};

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

/// What the connection is doing, for when OnAir cannot see OBS.
pub fn connection_line(state: &State) -> String {
    match &state.connection {
        ConnectionState::Connecting => format!("Connecting to OBS at {}", state.target),
        ConnectionState::Syncing => format!("Reading OBS's state at {}", state.target),
        ConnectionState::Connected { obs_version, websocket_version } => {
            format!("Connected to OBS {obs_version} (obs-websocket {websocket_version}) at {}", state.target)
        }
        ConnectionState::WaitingForObs { .. } => format!("Waiting for OBS at {}", state.target),
        ConnectionState::AuthFailed { message } => message.clone(),
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
        Moment::Ended { duration_ms, bytes, dropped_frames, total_frames, while_away } => {
            let mut details = Vec::new();
            if let Some(d) = duration_ms {
                details.push(format!("{} on air", clock(*d)));
            }
            if let Some(b) = bytes {
                details.push(format!("{} sent", data_size(*b)));
            }
            if let (Some(dropped), Some(total)) = (dropped_frames, total_frames) {
                let ratio = if *total == 0 { 0.0 } else { *dropped as f64 * 100.0 / *total as f64 };
                details.push(format!("{dropped} frames dropped ({ratio:.1}%)"));
            }
            let title = if *while_away { "Stream ended while OnAir could not see OBS" } else { "Stream ended" };
            (title.into(), details.join(" · "))
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
    fn ended_summary_has_duration_data_and_drops() {
        let (title, body) = moment_text(&Moment::Ended {
            duration_ms: Some(3_600_000),
            bytes: Some(2_500_000_000),
            dropped_frames: Some(10),
            total_frames: Some(1_000),
            while_away: false,
        });
        assert_eq!(title, "Stream ended");
        assert_eq!(body, "01:00:00 on air · 2.5 GB sent · 10 frames dropped (1.0%)");
    }
}
