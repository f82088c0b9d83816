//! low-disk: the recording's disk filling up, said while there is still time
//! to act: under a fixed amount free, or under so many minutes at the rate the
//! recording is writing now.
//!
//! Free space is `GetStats`' `availableDiskSpace` (MB of 1024×1024 bytes, on
//! the recording's disk); the rate comes from `GetRecordStatus`' `outputBytes`
//! over the last [`RATE_WINDOW_MS`] (a counter that goes down is a new file,
//! counted from zero).

use std::collections::VecDeque;

use crate::guard::episode::{Edge, Episode, Reading};
use crate::guard::{AlertDetail, AlertSettings, Transition};

/// The recording rate is the bytes written over this last stretch ...
pub const RATE_WINDOW_MS: u64 = 30_000;
/// ... once polls span at least this much of it.
pub const MIN_RATE_SPAN_MS: u64 = 5_000;

/// The alert clears when free space is this many times the GB threshold and
/// the time left this many times the minutes threshold.
pub const DISK_CLEAR_FACTOR: f64 = 1.2;

const MB: f64 = 1024.0 * 1024.0;

/// low-disk: while recording, free space under the GB threshold or lasting
/// under the minutes threshold at the current rate. Starts on the first poll
/// that says so (free space only shrinks while recording, and the rate is
/// already a 30-s mean); clears when both are back past [`DISK_CLEAR_FACTOR`]
/// times their thresholds, or the recording stops.
#[derive(Debug, Clone, Default)]
pub struct LowDisk {
    last_bytes: Option<u64>,
    /// Bytes written so far (across file restarts), with the poll time: oldest first.
    written: VecDeque<(u64, u64)>,
    total: u64,
    episode: Episode,
}

impl LowDisk {
    /// A `GetRecordStatus` poll's `outputBytes` at `now_ms`.
    pub fn recorded(&mut self, now_ms: u64, output_bytes: u64) {
        let delta = match self.last_bytes {
            None => 0,
            Some(before) if output_bytes < before => output_bytes,
            Some(before) => output_bytes - before,
        };
        self.last_bytes = Some(output_bytes);
        self.total = self.total.saturating_add(delta);
        self.written.push_back((now_ms, self.total));
        let start = now_ms.saturating_sub(RATE_WINDOW_MS);
        while self.written.len() > 1 && self.written.get(1).is_some_and(|p| p.0 <= start) {
            self.written.pop_front();
        }
    }

    /// The recording's rate in bytes a second; `None` until the polls span
    /// [`MIN_RATE_SPAN_MS`].
    pub fn bytes_per_second(&self) -> Option<f64> {
        let (&(first_at, first), &(last_at, last)) = (self.written.front()?, self.written.back()?);
        let span = last_at.saturating_sub(first_at);
        (span >= MIN_RATE_SPAN_MS).then(|| (last - first) as f64 * 1000.0 / span as f64)
    }

    /// A `GetStats` poll's free space at `now_ms`. `recording`: a recording is
    /// active (paused counts: it will go on writing to this disk).
    pub fn sample(
        &mut self,
        settings: &AlertSettings,
        now_ms: u64,
        recording: bool,
        free_mb: Option<f64>,
    ) -> Option<Transition> {
        if !recording {
            return self.end(now_ms);
        }
        let Some(free_mb) = free_mb.filter(|f| f.is_finite() && *f >= 0.0) else {
            return self.episode.observe(now_ms, Reading::Between, 0, 0).and_then(cleared);
        };
        let minutes_left = self.bytes_per_second().filter(|&rate| rate > 0.0).map(|rate| free_mb * MB / rate / 60.0);
        let floor_mb = settings.low_disk_gb * 1024.0;
        let minutes = settings.low_disk_minutes;
        let reading = if free_mb < floor_mb || minutes_left.is_some_and(|m| m < minutes) {
            Reading::Bad
        } else if free_mb >= floor_mb * DISK_CLEAR_FACTOR
            && !minutes_left.is_some_and(|m| m < minutes * DISK_CLEAR_FACTOR)
        {
            Reading::Good
        } else {
            Reading::Between
        };
        match self.episode.observe(now_ms, reading, 0, 0)? {
            Edge::Started { since_ms } => Some(Transition::Started {
                since_ms,
                detail: AlertDetail {
                    free_mb: Some(free_mb.round()),
                    minutes_left: minutes_left.map(|m| (m * 10.0).round() / 10.0),
                    ..Default::default()
                },
            }),
            Edge::Cleared { lasted_ms } => Some(Transition::Cleared { lasted_ms }),
        }
    }

    /// Clears what is open and forgets the recording's rate.
    pub fn end(&mut self, now_ms: u64) -> Option<Transition> {
        let edge = self.episode.end(now_ms);
        *self = LowDisk::default();
        edge.and_then(cleared)
    }

    pub fn open_since(&self) -> Option<u64> {
        self.episode.open_since()
    }
}

fn cleared(edge: Edge) -> Option<Transition> {
    match edge {
        Edge::Cleared { lasted_ms } => Some(Transition::Cleared { lasted_ms }),
        Edge::Started { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: f64 = 1024.0;

    #[test]
    fn under_five_gigabytes_while_recording_alerts_once() {
        let s = AlertSettings::default();
        let mut d = LowDisk::default();
        assert_eq!(d.sample(&s, 0, true, Some(5.0 * GB)), None, "exactly 5 GB is not under");
        let alert = d.sample(&s, 2000, true, Some(5.0 * GB - 1.0));
        let Some(Transition::Started { since_ms: 2000, detail }) = alert else { panic!("{alert:?}") };
        assert_eq!(detail.free_mb, Some(5119.0));
        for t in (4000..100_000).step_by(2000) {
            assert_eq!(d.sample(&s, t, true, Some(4.0 * GB)), None);
        }
    }

    #[test]
    fn under_ten_minutes_at_the_current_rate_alerts_with_plenty_of_gigabytes() {
        let s = AlertSettings::default();
        let mut d = LowDisk::default();
        // Writing 20 MB/s: 12 GB last 10.24 minutes, 11 GB 9.4.
        let rate = 20.0 * MB;
        for t in (0..=10u64).step_by(2) {
            d.recorded(t * 1000, (t as f64 * rate) as u64);
            assert_eq!(d.sample(&s, t * 1000, true, Some(12.0 * GB)), None, "at {t}");
        }
        assert!((d.bytes_per_second().unwrap() - rate).abs() < 1.0);
        d.recorded(12_000, (12.0 * rate) as u64);
        let alert = d.sample(&s, 12_000, true, Some(11.0 * GB));
        let Some(Transition::Started { detail, .. }) = alert else { panic!("{alert:?}") };
        assert_eq!(detail.minutes_left, Some(9.4));
    }

    #[test]
    fn a_disk_hovering_at_the_threshold_does_not_flap_and_clears_with_room_again() {
        let s = AlertSettings::default();
        let mut d = LowDisk::default();
        let mut out = Vec::new();
        for i in 0..200u64 {
            let free = if i % 2 == 0 { 5.0 * GB - 10.0 } else { 5.0 * GB + 10.0 };
            out.extend(d.sample(&s, i * 2000, true, Some(free)));
        }
        assert_eq!(out.len(), 1, "{out:?}");
        // Files deleted: just under 1.2 × 5 GB keeps it, 1.2 × 5 GB clears it.
        assert_eq!(d.sample(&s, 400_000, true, Some(6.0 * GB - 1.0)), None);
        assert_eq!(d.sample(&s, 402_000, true, Some(6.0 * GB)), Some(Transition::Cleared { lasted_ms: 402_000 }));
    }

    #[test]
    fn nothing_unless_recording_and_a_stop_clears() {
        let s = AlertSettings::default();
        let mut d = LowDisk::default();
        for t in (0..60_000).step_by(2000) {
            assert_eq!(d.sample(&s, t, false, Some(1.0)), None, "live but not recording: not its business");
        }
        assert!(d.sample(&s, 60_000, true, Some(1.0)).is_some());
        assert_eq!(d.sample(&s, 70_000, false, Some(1.0)), Some(Transition::Cleared { lasted_ms: 10_000 }));
        assert_eq!(d.sample(&s, 72_000, true, None), None, "no figure: nothing to say");
    }

    #[test]
    fn the_rate_adds_up_across_a_new_file() {
        let mut d = LowDisk::default();
        d.recorded(0, 900);
        d.recorded(5000, 1900);
        d.recorded(10_000, 500); // split: the new file has 500 bytes
        assert!((d.bytes_per_second().unwrap() - 150.0).abs() < 1e-9);
        assert_eq!(LowDisk::default().bytes_per_second(), None);
    }
}
