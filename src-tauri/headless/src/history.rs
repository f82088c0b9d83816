//! The streams OnAir saw end, kept as one JSON line each in
//! `$XDG_STATE_HOME/onair/sessions.jsonl`, for `onair history` and the window's
//! "Recent streams".
//!
//! The tray app appends; the file is bounded ([`MAX_STREAMS`], the oldest
//! dropped) and each write replaces the whole file atomically (a temporary file
//! renamed over it), so a reader never sees half a line and a crash never
//! leaves one. At a few hundred bytes a stream, that is at most a few hundred
//! kilobytes written once per stream. Lines this OnAir cannot read (written by
//! a newer one, or by hand) are kept as they are and skipped when reading.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::state::{AlertLasted, Moment, Noticed};
use crate::text::StreamSummary;

/// The file's name in OnAir's state directory.
pub const FILE_NAME: &str = "sessions.jsonl";

/// How many streams the file keeps; past this the oldest are dropped.
pub const MAX_STREAMS: usize = 1_000;

/// One ended stream: the `ended` moment's fields, when it started and ended,
/// and which OBS it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamRecord {
    /// When it went live (`ended_at_ms` less its duration), Unix ms.
    pub started_at_ms: Option<u64>,
    /// When OnAir said it ended, Unix ms.
    pub ended_at_ms: u64,
    /// `host:port` of the OBS that streamed it.
    pub target: String,
    pub duration_ms: Option<u64>,
    pub bytes: Option<u64>,
    pub dropped_frames: Option<u64>,
    pub total_frames: Option<u64>,
    #[serde(default)]
    pub reconnects: u32,
    #[serde(default)]
    pub down_ms: u64,
    #[serde(default)]
    pub alerts: Vec<AlertLasted>,
    #[serde(default)]
    pub avg_kbps: Option<f64>,
    #[serde(default)]
    pub peak_kbps: Option<f64>,
    /// It ended while OnAir could not see OBS: it ended at some time in that
    /// gap, so `ended_at_ms` and the duration are upper bounds.
    #[serde(default)]
    pub while_away: bool,
}

impl StreamRecord {
    /// The record of an `ended` moment from the session with `target`; `None`
    /// for any other moment.
    pub fn of(noticed: &Noticed, target: &str) -> Option<StreamRecord> {
        let Moment::Ended {
            duration_ms,
            bytes,
            dropped_frames,
            total_frames,
            reconnects,
            down_ms,
            alerts,
            avg_kbps,
            peak_kbps,
            while_away,
        } = &noticed.moment
        else {
            return None;
        };
        Some(StreamRecord {
            started_at_ms: duration_ms.map(|d| noticed.at_ms.saturating_sub(d)),
            ended_at_ms: noticed.at_ms,
            target: target.to_string(),
            duration_ms: *duration_ms,
            bytes: *bytes,
            dropped_frames: *dropped_frames,
            total_frames: *total_frames,
            reconnects: *reconnects,
            down_ms: *down_ms,
            alerts: alerts.clone(),
            avg_kbps: *avg_kbps,
            peak_kbps: *peak_kbps,
            while_away: *while_away,
        })
    }

    /// What the summary is made of, as the `ended` notification words it.
    pub fn summary(&self) -> StreamSummary<'_> {
        StreamSummary {
            duration_ms: self.duration_ms,
            bytes: self.bytes,
            dropped_frames: self.dropped_frames,
            total_frames: self.total_frames,
            reconnects: self.reconnects,
            down_ms: self.down_ms,
            alerts: &self.alerts,
        }
    }
}

/// `$XDG_STATE_HOME/onair/sessions.jsonl` (the log files' directory); `None`
/// when the system has no such directory.
pub fn default_path() -> Option<PathBuf> {
    dirs::state_dir().or_else(dirs::data_local_dir).map(|dir| dir.join("onair").join(FILE_NAME))
}

/// Adds `record` as the newest line of the file at `path`, keeping the newest
/// `cap` lines. Creates the directory and the file as needed. Blocks: the
/// caller runs it off any task that must stay responsive.
pub fn append(path: &Path, record: &StreamRecord, cap: usize) -> io::Result<()> {
    let line = serde_json::to_string(record).map_err(io::Error::other)?;
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e),
    };
    let mut lines: Vec<&str> = existing.lines().filter(|l| !l.trim().is_empty()).collect();
    lines.push(&line);
    let keep_from = lines.len().saturating_sub(cap.max(1));
    let mut text = lines[keep_from..].join("\n");
    text.push('\n');
    write_atomically(path, text.as_bytes())
}

/// Writes a sibling temporary file, syncs it and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().ok_or_else(|| io::Error::other("the history path names no file"))?;
    let mut temp_name = name.to_os_string();
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = dir.join(temp_name);
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// The streams in the file, newest first.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct History {
    pub streams: Vec<StreamRecord>,
    /// Lines that are not a stream this OnAir can read.
    pub unreadable: usize,
}

/// Reads the newest `limit` streams of the file at `path`, newest first. A file
/// that does not exist yet is no stream, not an error.
pub fn read_newest(path: &Path, limit: usize) -> io::Result<History> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(History::default()),
        Err(e) => return Err(e),
    };
    Ok(parse_newest(&text, limit))
}

/// The newest `limit` streams of a history file's text, newest first.
fn parse_newest(text: &str, limit: usize) -> History {
    let mut history = History::default();
    for line in text.lines().rev().filter(|l| !l.trim().is_empty()) {
        if history.streams.len() == limit {
            break;
        }
        match serde_json::from_str::<StreamRecord>(line) {
            Ok(record) => history.streams.push(record),
            Err(_) => history.unreadable += 1,
        }
    }
    history
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Noticed;

    /// A fresh directory, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("onair-history-test-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }
        fn file(&self) -> PathBuf {
            self.0.join("onair").join(FILE_NAME)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn ended(at_ms: u64, reconnects: u32) -> Noticed {
        Noticed {
            at_ms,
            moment: Moment::Ended {
                duration_ms: Some(60_000),
                bytes: Some(45_000_000),
                dropped_frames: Some(3),
                total_frames: Some(1_800),
                reconnects,
                down_ms: 4_000,
                alerts: vec![AlertLasted { alert: "black".into(), lasted_ms: 6_000 }],
                avg_kbps: Some(6_000.0),
                peak_kbps: Some(6_500.5),
                while_away: false,
            },
        }
    }

    fn record(at_ms: u64) -> StreamRecord {
        StreamRecord::of(&ended(at_ms, 1), "localhost:4455").unwrap()
    }

    #[test]
    fn a_record_is_the_ended_moments_fields_with_its_times_and_target() {
        let noticed = ended(1_000_000, 2);
        let record = StreamRecord::of(&noticed, "obs.local:4455").unwrap();
        let line = serde_json::to_value(&record).unwrap();
        let moment = serde_json::to_value(&noticed.moment).unwrap();
        // Every field of the moment, so a field added to `ended` must be added here.
        for (key, value) in moment.as_object().unwrap().iter().filter(|(k, _)| *k != "moment") {
            assert_eq!(line.get(key), Some(value), "{key} in {line}");
        }
        assert_eq!(line["started_at_ms"], 940_000);
        assert_eq!(line["ended_at_ms"], 1_000_000);
        assert_eq!(line["target"], "obs.local:4455");
        assert_eq!(StreamRecord::of(&Noticed { at_ms: 1, moment: Moment::RecordingPaused }, "x"), None);
    }

    #[test]
    fn appended_streams_read_back_newest_first() {
        let dir = TempDir::new("order");
        assert_eq!(read_newest(&dir.file(), 10).unwrap(), History::default(), "no file yet: no streams");
        for at in [1_000, 2_000, 3_000] {
            append(&dir.file(), &record(at), MAX_STREAMS).unwrap();
        }
        let history = read_newest(&dir.file(), 10).unwrap();
        let ended: Vec<u64> = history.streams.iter().map(|r| r.ended_at_ms).collect();
        assert_eq!(ended, [3_000, 2_000, 1_000]);
        assert_eq!(history.streams[0], record(3_000), "read back as written");
        assert_eq!(read_newest(&dir.file(), 2).unwrap().streams.len(), 2);
        let text = std::fs::read_to_string(dir.file()).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn past_the_cap_the_oldest_streams_are_dropped() {
        let dir = TempDir::new("cap");
        for at in 1..=7 {
            append(&dir.file(), &record(at), 5).unwrap();
        }
        let ended: Vec<u64> = read_newest(&dir.file(), 100).unwrap().streams.iter().map(|r| r.ended_at_ms).collect();
        assert_eq!(ended, [7, 6, 5, 4, 3]);
        let names: Vec<_> = std::fs::read_dir(dir.file().parent().unwrap()).unwrap().flatten().collect();
        assert_eq!(names.len(), 1, "no temporary file left behind: {names:?}");
    }

    #[test]
    fn lines_it_cannot_read_are_kept_and_skipped() {
        let dir = TempDir::new("unreadable");
        std::fs::create_dir_all(dir.file().parent().unwrap()).unwrap();
        std::fs::write(dir.file(), "{\"ended_at_ms\": \"soon\"}\nnot json\n\n").unwrap();
        append(&dir.file(), &record(5), MAX_STREAMS).unwrap();
        let history = read_newest(&dir.file(), 10).unwrap();
        assert_eq!((history.streams.len(), history.unreadable), (1, 2));
        assert!(std::fs::read_to_string(dir.file()).unwrap().starts_with("{\"ended_at_ms\": \"soon\"}\nnot json\n{"));
    }

    #[test]
    fn a_line_from_an_older_onair_without_the_summary_fields_still_reads() {
        let history = parse_newest("{\"started_at_ms\":1,\"ended_at_ms\":2,\"target\":\"t:1\",\"duration_ms\":1,\"bytes\":null,\"dropped_frames\":null,\"total_frames\":null}\n", 5);
        assert_eq!(history.unreadable, 0);
        assert_eq!((history.streams[0].reconnects, history.streams[0].alerts.len()), (0, 0));
    }

    #[test]
    fn a_path_that_cannot_be_written_is_an_error_not_a_panic() {
        let dir = TempDir::new("blocked");
        std::fs::create_dir_all(&dir.0).unwrap();
        // A file where the directory should be.
        std::fs::write(dir.0.join("onair"), "").unwrap();
        assert!(append(&dir.file(), &record(1), MAX_STREAMS).is_err());
        assert!(read_newest(&dir.file(), 5).is_err());
    }
}
