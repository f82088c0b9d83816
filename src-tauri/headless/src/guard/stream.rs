//! The stream detectors: a stream that says "live" while nothing leaves
//! (stalled), frames lost on the network (dropping-frames), a bitrate fallen
//! far under its usual (low-bitrate), and OBS itself not keeping up
//! (encoder-lagging).
//!
//! They take OBS's counters as OBS gives them, each with the time of its poll.
//! OBS restarts the stream's counters at every RTMP reconnect (and every
//! counter at an OBS restart): a counter that goes down is taken as restarted
//! from zero, so the counts add up across those resets. Frame ratios are over
//! the last window of polls, never the whole stream's, so an old burst neither
//! hides nor outlives a new one.

use std::collections::VecDeque;

use crate::guard::episode::{transition, Episode, Reading};
use crate::guard::{ms, AlertDetail, AlertSettings, Transition};

/// A frame ratio needs this much of its window covered by polls before it is
/// judged, so a handful of frames at the start cannot make a percentage; or a
/// third of a shorter window (a window under 10 s would never be judged else).
pub const MIN_FRAME_SPAN_MS: u64 = 10_000;

/// A frame ratio clears under this share of its threshold (hysteresis).
pub const FRAMES_CLEAR_SHARE: f64 = 0.5;

/// After a stall, the bytes must grow on every poll for this long to clear it,
/// so one trickle of bytes in a dead connection is not "over".
pub const STALL_CLEAR_MS: u64 = 2_000;

/// low-bitrate clears when the window is back above this many times its threshold...
pub const BITRATE_CLEAR_FACTOR: f64 = 1.2;

/// ...on every sample for this long: one poll whose bytes came in a burst (a
/// sender catching up) reads high, and must not end the episode by itself.
pub const BITRATE_CLEAR_MS: u64 = 3_000;

/// stalled: live, not reconnecting, and `outputBytes` not growing for the hold
/// time, counted from the last poll that saw them grow. Clears when they have
/// grown on every poll for [`STALL_CLEAR_MS`]; a reconnect (OBS says so
/// itself) or the end of the stream clears it at once.
#[derive(Debug, Clone, Default)]
pub struct Stalled {
    /// The last poll's bytes, and when they were last seen growing.
    last: Option<(u64, u64)>,
    episode: Episode,
}

impl Stalled {
    /// A poll at `now_ms`. `sending`: live and not reconnecting.
    pub fn sample(
        &mut self,
        settings: &AlertSettings,
        now_ms: u64,
        sending: bool,
        output_bytes: u64,
    ) -> Option<Transition> {
        if !sending {
            return self.end(now_ms);
        }
        let (reading, grew_at) = match self.last {
            None => (Reading::Between, now_ms),
            Some((bytes, _)) if output_bytes > bytes => (Reading::Good, now_ms),
            // Restarted counters: a new connection, counted from here.
            Some((bytes, _)) if output_bytes < bytes => (Reading::Between, now_ms),
            Some((_, grew_at)) => (Reading::Bad, grew_at),
        };
        self.last = Some((output_bytes, grew_at));
        let edge = self.episode.observe_from(now_ms, reading, grew_at, ms(settings.stalled_s), STALL_CLEAR_MS);
        transition(edge, AlertDetail::default)
    }

    pub fn end(&mut self, now_ms: u64) -> Option<Transition> {
        self.last = None;
        transition(self.episode.end(now_ms), AlertDetail::default)
    }

    pub fn open_since(&self) -> Option<u64> {
        self.episode.open_since()
    }
}

/// A cumulative (skipped, total) frame pair over a sliding window, across
/// counter restarts.
#[derive(Debug, Clone, Default)]
pub struct FrameWindow {
    /// The last raw counters, to take deltas from.
    last_raw: Option<(u64, u64)>,
    /// Running sums of the deltas, with the poll time: oldest first.
    points: VecDeque<(u64, u64, u64)>,
    skipped: u64,
    total: u64,
    /// How much of the window the polls must span before it is judged.
    min_span_ms: u64,
}

impl FrameWindow {
    /// A poll's raw counters at `now_ms`; keeps what the last `window_ms` needs.
    pub fn push(&mut self, now_ms: u64, skipped: u64, total: u64, window_ms: u64) {
        let (ds, dt) = match self.last_raw {
            // The first poll is only the baseline: its counts are from before.
            None => (0, 0),
            Some((s, t)) if skipped < s || total < t => (skipped, total),
            Some((s, t)) => (skipped - s, total - t),
        };
        self.last_raw = Some((skipped, total));
        self.skipped = self.skipped.saturating_add(ds);
        self.total = self.total.saturating_add(dt);
        self.points.push_back((now_ms, self.skipped, self.total));
        self.min_span_ms = MIN_FRAME_SPAN_MS.min(window_ms / 3);
        // Keep the newest point at or before the window's start as its base.
        let start = now_ms.saturating_sub(window_ms);
        while self.points.len() > 1 && self.points.get(1).is_some_and(|p| p.0 <= start) {
            self.points.pop_front();
        }
    }

    /// Skipped over total frames in the window, in percent; `None` while the
    /// polls span less than [`MIN_FRAME_SPAN_MS`] (or a third of a shorter
    /// window) or no frame went out.
    pub fn percent(&self) -> Option<f64> {
        let (&(first_at, first_skipped, first_total), &(last_at, skipped, total)) =
            (self.points.front()?, self.points.back()?);
        let frames = total - first_total;
        if last_at.saturating_sub(first_at) < self.min_span_ms || frames == 0 {
            return None;
        }
        Some(((skipped - first_skipped) as f64 / frames as f64 * 100.0).min(100.0))
    }

    pub fn clear(&mut self) {
        *self = FrameWindow::default();
    }
}

/// How a window's percentage reads against a threshold in percent.
fn frames_reading(percent: Option<f64>, threshold: f64) -> Reading {
    match percent {
        None => Reading::Between,
        Some(p) if p > threshold => Reading::Bad,
        Some(p) if p < threshold * FRAMES_CLEAR_SHARE => Reading::Good,
        Some(_) => Reading::Between,
    }
}

/// dropping-frames: network-skipped frames (`outputSkippedFrames` over
/// `outputTotalFrames` of `GetStreamStatus`) above the threshold over the last
/// window. Starts on the first poll whose window is over (the window is the
/// hold); clears on the first whose window is under half the threshold.
#[derive(Debug, Clone, Default)]
pub struct DroppingFrames {
    window: FrameWindow,
    episode: Episode,
}

impl DroppingFrames {
    /// A poll at `now_ms`. `on_air`: live or reconnecting.
    pub fn sample(
        &mut self,
        settings: &AlertSettings,
        now_ms: u64,
        on_air: bool,
        skipped: u64,
        total: u64,
    ) -> Option<Transition> {
        if !on_air {
            return self.end(now_ms);
        }
        self.window.push(now_ms, skipped, total, ms(settings.dropping_frames_window_s));
        let percent = self.window.percent();
        let reading = frames_reading(percent, settings.dropping_frames_percent);
        transition(self.episode.observe(now_ms, reading, 0, 0), || AlertDetail { percent, ..Default::default() })
    }

    pub fn end(&mut self, now_ms: u64) -> Option<Transition> {
        self.window.clear();
        transition(self.episode.end(now_ms), AlertDetail::default)
    }

    pub fn open_since(&self) -> Option<u64> {
        self.episode.open_since()
    }
}

/// `GetStats`' frame counters, cumulative since OBS started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineFrames {
    /// `renderSkippedFrames`, `renderTotalFrames`: frames the renderer missed.
    pub render_skipped: u64,
    pub render_total: u64,
    /// `outputSkippedFrames`, `outputTotalFrames`: frames the encoder missed.
    pub encoder_skipped: u64,
    pub encoder_total: u64,
}

/// encoder-lagging: render or encoder skipped frames above the threshold over
/// the last window, whichever is worse. Starts and clears like dropping-frames.
#[derive(Debug, Clone, Default)]
pub struct EncoderLagging {
    render: FrameWindow,
    encoder: FrameWindow,
    episode: Episode,
}

impl EncoderLagging {
    /// A `GetStats` poll at `now_ms`. `live`: the stream is on air.
    pub fn sample(
        &mut self,
        settings: &AlertSettings,
        now_ms: u64,
        live: bool,
        frames: EngineFrames,
    ) -> Option<Transition> {
        if !live {
            return self.end(now_ms);
        }
        let window = ms(settings.encoder_lagging_window_s);
        self.render.push(now_ms, frames.render_skipped, frames.render_total, window);
        self.encoder.push(now_ms, frames.encoder_skipped, frames.encoder_total, window);
        let percent = match (self.render.percent(), self.encoder.percent()) {
            (Some(r), Some(e)) => Some(r.max(e)),
            (one, other) => one.or(other),
        };
        let reading = frames_reading(percent, settings.encoder_lagging_percent);
        transition(self.episode.observe(now_ms, reading, 0, 0), || AlertDetail { percent, ..Default::default() })
    }

    pub fn end(&mut self, now_ms: u64) -> Option<Transition> {
        self.render.clear();
        self.encoder.clear();
        transition(self.episode.end(now_ms), AlertDetail::default)
    }

    pub fn open_since(&self) -> Option<u64> {
        self.episode.open_since()
    }
}

/// Every bitrate sample of a stream, in logarithmic buckets 2 % wide, for its
/// median in constant memory however long the stream runs.
#[derive(Debug, Clone, Default)]
pub struct BitrateHistogram {
    counts: Vec<u32>,
    samples: u64,
}

const BUCKET_GROWTH: f64 = 1.02;
/// 1 kbps to about 1 Gbps, plus one bucket for under 1 kbps.
const BUCKETS: usize = 700;

impl BitrateHistogram {
    fn bucket(kbps: f64) -> usize {
        if kbps < 1.0 {
            return 0;
        }
        (1 + (kbps.ln() / BUCKET_GROWTH.ln()) as usize).min(BUCKETS - 1)
    }

    /// The middle of a bucket, as the value it stands for.
    fn value(bucket: usize) -> f64 {
        if bucket == 0 {
            return 0.0;
        }
        BUCKET_GROWTH.powf(bucket as f64 - 0.5)
    }

    pub fn add(&mut self, kbps: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; BUCKETS];
        }
        self.counts[Self::bucket(kbps)] += 1;
        self.samples += 1;
    }

    /// The median, within the 2 % of a bucket; `None` before any sample.
    pub fn median(&self) -> Option<f64> {
        if self.samples == 0 {
            return None;
        }
        let middle = self.samples.div_ceil(2);
        let mut seen = 0u64;
        for (bucket, &count) in self.counts.iter().enumerate() {
            seen += u64::from(count);
            if seen >= middle {
                return Some(Self::value(bucket));
            }
        }
        None
    }
}

/// low-bitrate: the mean of the last window's bitrate samples under the
/// threshold share of this stream's own median, for the hold time; never
/// before the stream has been sampled for the grace time (its ramp-up, and a
/// median worth the name). Clears when the window has been back above
/// [`BITRATE_CLEAR_FACTOR`] times the threshold for [`BITRATE_CLEAR_MS`]. Samples while reconnecting
/// are not taken (the reconnect is its own moment). Every sample counts
/// towards the median, so a stream that stays low for as long as it ran
/// before has a new normal, and the alert clears.
#[derive(Debug, Clone, Default)]
pub struct LowBitrate {
    first_ms: Option<u64>,
    histogram: BitrateHistogram,
    recent: VecDeque<(u64, f64)>,
    episode: Episode,
}

impl LowBitrate {
    /// A poll's bitrate at `now_ms`. `on_air`: live or reconnecting.
    pub fn sample(
        &mut self,
        settings: &AlertSettings,
        now_ms: u64,
        on_air: bool,
        reconnecting: bool,
        kbps: Option<f64>,
    ) -> Option<Transition> {
        if !on_air {
            return self.end(now_ms);
        }
        let kbps = match kbps.filter(|k| k.is_finite() && *k >= 0.0) {
            Some(k) if !reconnecting => k,
            _ => return transition(self.episode.observe(now_ms, Reading::Between, 0, 0), AlertDetail::default),
        };
        let first = *self.first_ms.get_or_insert(now_ms);
        self.histogram.add(kbps);
        self.recent.push_back((now_ms, kbps));
        let window = ms(settings.low_bitrate_window_s);
        while self.recent.front().is_some_and(|&(at, _)| now_ms.saturating_sub(at) >= window) {
            self.recent.pop_front();
        }
        let mean = self.recent.iter().map(|&(_, k)| k).sum::<f64>() / self.recent.len().max(1) as f64;
        let median = self.histogram.median().unwrap_or(0.0);
        let threshold = median * settings.low_bitrate_percent / 100.0;
        let reading = if now_ms.saturating_sub(first) < ms(settings.low_bitrate_grace_s) || median <= 0.0 {
            Reading::Between
        } else if mean < threshold {
            Reading::Bad
        } else if mean >= threshold * BITRATE_CLEAR_FACTOR {
            Reading::Good
        } else {
            Reading::Between
        };
        let edge = self.episode.observe(now_ms, reading, ms(settings.low_bitrate_s), BITRATE_CLEAR_MS);
        transition(edge, || AlertDetail {
            kbps: Some(mean.round()),
            median_kbps: Some(median.round()),
            ..Default::default()
        })
    }

    /// Clears what is open and forgets the stream: the next one has its own median.
    pub fn end(&mut self, now_ms: u64) -> Option<Transition> {
        let edge = self.episode.end(now_ms);
        *self = LowBitrate::default();
        transition(edge, AlertDetail::default)
    }

    pub fn open_since(&self) -> Option<u64> {
        self.episode.open_since()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started(since_ms: u64) -> Option<Transition> {
        Some(Transition::Started { since_ms, detail: AlertDetail::default() })
    }

    fn is_started(t: &Option<Transition>) -> bool {
        matches!(t, Some(Transition::Started { .. }))
    }

    #[test]
    fn stalled_starts_five_seconds_after_the_bytes_last_grew() {
        let s = AlertSettings::default();
        let mut d = Stalled::default();
        assert_eq!(d.sample(&s, 0, true, 1000), None);
        assert_eq!(d.sample(&s, 1000, true, 2000), None);
        for t in [2000, 3000, 4000, 5000, 5999] {
            assert_eq!(d.sample(&s, t, true, 2000), None, "at {t}");
        }
        assert_eq!(d.sample(&s, 6000, true, 2000), started(1000));
        for t in (7000..60_000).step_by(1000) {
            assert_eq!(d.sample(&s, t, true, 2000), None, "once per episode");
        }
    }

    #[test]
    fn stalled_clears_after_two_seconds_of_growth_not_on_a_trickle() {
        let s = AlertSettings::default();
        let mut d = Stalled::default();
        d.sample(&s, 0, true, 10);
        assert_eq!(d.sample(&s, 6000, true, 10), started(0));
        assert_eq!(d.sample(&s, 8000, true, 11), None, "a trickle");
        assert_eq!(d.sample(&s, 10_000, true, 11), None);
        assert_eq!(d.sample(&s, 12_000, true, 5000), None);
        assert_eq!(d.sample(&s, 13_000, true, 9000), None);
        assert_eq!(d.sample(&s, 14_000, true, 13_000), Some(Transition::Cleared { lasted_ms: 12_000 }));
        assert_eq!(d.open_since(), None);
    }

    #[test]
    fn stalled_polls_every_two_seconds_never_alert_on_a_healthy_stream() {
        let s = AlertSettings::default();
        let mut d = Stalled::default();
        for i in 0..1800u64 {
            assert_eq!(d.sample(&s, i * 2000, true, 1000 + i * 500_000), None);
        }
    }

    #[test]
    fn stalled_says_nothing_while_reconnecting_or_offline_and_clears_when_reconnecting() {
        let s = AlertSettings::default();
        let mut d = Stalled::default();
        for t in (0..30_000).step_by(1000) {
            assert_eq!(d.sample(&s, t, false, 0), None);
        }
        d.sample(&s, 30_000, true, 7);
        assert!(is_started(&d.sample(&s, 35_000, true, 7)));
        assert_eq!(d.sample(&s, 36_000, false, 0), Some(Transition::Cleared { lasted_ms: 6000 }));
        // Back, counters restarted from zero: a fresh baseline, not a stall since 30 s.
        assert_eq!(d.sample(&s, 50_000, true, 0), None);
        assert_eq!(d.sample(&s, 51_000, true, 400), None);
        assert_eq!(d.sample(&s, 52_000, true, 800), None);
    }

    #[test]
    fn stalled_counters_restarting_unseen_are_a_new_baseline() {
        let s = AlertSettings::default();
        let mut d = Stalled::default();
        d.sample(&s, 0, true, 9_000_000);
        d.sample(&s, 4000, true, 9_000_000);
        assert_eq!(d.sample(&s, 4500, true, 100), None, "bytes went down: restarted");
        assert_eq!(d.sample(&s, 9499, true, 100), None);
        assert_eq!(d.sample(&s, 9500, true, 100), started(4500));
    }

    /// Polls every second at 30 fps with `drop_every`: one network-skipped frame per so many frames.
    fn frames(at_s: u64, fps: u64, skipped_per_s: u64) -> (u64, u64) {
        (at_s * skipped_per_s, at_s * fps)
    }

    #[test]
    fn dropping_frames_uses_the_window_not_the_whole_stream() {
        let s = AlertSettings::default();
        let mut d = DroppingFrames::default();
        let mut out = Vec::new();
        // Ten healthy minutes, then 2 % drops: the cumulative ratio would take
        // many minutes to pass 1 %, the 30-s window does in about 15 s.
        for t in 0..=600u64 {
            let (sk, tot) = frames(t, 30, 0);
            out.extend(d.sample(&s, t * 1000, true, sk, tot).map(|x| (t, x)));
        }
        assert!(out.is_empty(), "{out:?}");
        let mut first = None;
        for t in 601..=700u64 {
            // 0.6 skipped frames a second = 2 % of 30 fps, as 3 per 5 s.
            let skipped = (t - 600) * 3 / 5;
            let alert = d.sample(&s, t * 1000, true, skipped, t * 30);
            if let Some(x) = alert {
                assert!(first.is_none(), "one alert: {x:?}");
                first = Some((t, x));
            }
        }
        let (t, x) = first.expect("an alert");
        assert!((610..=620).contains(&t), "about half a window in: {t}");
        let Transition::Started { detail, .. } = x else { panic!("{x:?}") };
        assert!(detail.percent.is_some_and(|p| p > 1.0 && p < 2.5), "{detail:?}");
    }

    #[test]
    fn dropping_frames_clears_once_the_window_is_under_half_a_percent() {
        let s = AlertSettings::default();
        let mut d = DroppingFrames::default();
        let mut out = Vec::new();
        let mut skipped = 0;
        for t in 0..=200u64 {
            if (20..60).contains(&t) {
                skipped += 3; // 10 % of 30 fps
            }
            out.extend(d.sample(&s, t * 1000, true, skipped, t * 30).map(|x| (t, x)));
        }
        // The window passes 1 % at 22 s (9 of 660 frames since the start) and
        // falls under 0.5 % at 88 s, when all but the last burst second is out of it.
        assert!(matches!(out[..], [(22, Transition::Started { since_ms: 22_000, .. }), (88, _)]), "{out:?}");
        assert_eq!(out[1].1, Transition::Cleared { lasted_ms: 66_000 });
    }

    #[test]
    fn dropping_frames_needs_ten_seconds_of_polls_before_judging() {
        let s = AlertSettings::default();
        let mut d = DroppingFrames::default();
        for t in 0..10u64 {
            // Half the frames dropped, but only nine seconds of polls.
            assert_eq!(d.sample(&s, t * 1000, true, t * 15, t * 30), None);
        }
        assert!(is_started(&d.sample(&s, 10_000, true, 150, 300)));
    }

    #[test]
    fn a_window_shorter_than_ten_seconds_is_judged_once_a_third_of_it_is_covered() {
        // A 3-s window: the polls can never span 10 s of it, so a fixed minimum
        // span would leave both frame alerts silent whatever OBS drops.
        let mut s = AlertSettings::default();
        (s.dropping_frames_window_s, s.encoder_lagging_window_s) = (3.0, 3.0);
        let mut d = DroppingFrames::default();
        let mut e = EncoderLagging::default();
        let mut seen = (None, None);
        for tick in 0..=20u64 {
            let (at, frames) = (tick * 500, tick * 15);
            if d.sample(&s, at, true, frames / 10, frames).is_some() {
                seen.0.get_or_insert(at);
            }
            let lag = EngineFrames { render_skipped: frames / 10, render_total: frames, ..EngineFrames::default() };
            if e.sample(&s, at, true, lag).is_some() {
                seen.1.get_or_insert(at);
            }
        }
        assert_eq!(seen, (Some(1000), Some(1000)), "judged from 1 s of polls on");
        // The default window still waits for 10 s.
        let mut d = DroppingFrames::default();
        let first = (0..=30u64).find(|t| d.sample(&AlertSettings::default(), t * 1000, true, t * 3, t * 30).is_some());
        assert_eq!(first, Some(10));
    }

    #[test]
    fn dropping_frames_hovering_at_one_percent_does_not_flap() {
        let s = AlertSettings::default();
        let mut d = DroppingFrames::default();
        let mut out = Vec::new();
        let mut skipped = 0u64;
        for t in 0..=2000u64 {
            // One frame in a hundred, give or take: 0.9 % to 1.1 % of 30 fps.
            if t % 10 < 3 || t % 20 == 0 {
                skipped += 1;
            }
            out.extend(d.sample(&s, t * 1000, true, skipped, t * 30));
        }
        assert!(out.len() <= 1, "{out:?}");
    }

    #[test]
    fn dropping_frames_adds_up_across_rtmp_reconnect_counter_resets() {
        let s = AlertSettings::default();
        let mut d = DroppingFrames::default();
        let mut out = Vec::new();
        // A healthy stream that reconnects every 20 s: OBS starts its counters
        // over each time. Taken as raw values, each reset would be a huge
        // negative delta or (wrapped) a huge ratio.
        for t in 0..=300u64 {
            let since_reset = t % 20;
            out.extend(d.sample(&s, t * 1000, true, 0, since_reset * 30 + 1));
        }
        assert!(out.is_empty(), "{out:?}");
        // Then 5 % drops in each short connection: seen, across the resets.
        let mut first = None;
        for t in 301..=400u64 {
            let since_reset = t % 20;
            let alert = d.sample(&s, t * 1000, true, since_reset * 3 / 2, since_reset * 30 + 1);
            if alert.is_some() && first.is_none() {
                first = Some(t);
            }
        }
        assert!(first.is_some_and(|t| t < 320), "{first:?}");
    }

    #[test]
    fn dropping_frames_counts_the_frames_of_a_restarted_counter_from_zero() {
        let s = AlertSettings::default();
        let mut d = DroppingFrames::default();
        // Joined mid-stream: the first poll is the baseline, its old drops do not count.
        for t in 0..=100u64 {
            assert_eq!(d.sample(&s, t * 1000, true, 500, 3000 + t * 30), None);
        }
        // Reconnected: OBS's counters start over, and the new connection has
        // already skipped 200 of its 300 frames. Both counters went down: a
        // delta taken as "no change" would miss them.
        let alert = d.sample(&s, 101_000, true, 200, 300);
        let Some(Transition::Started { detail, .. }) = alert else { panic!("{alert:?}") };
        // 200 of the window's 870 + 300 frames.
        assert!(detail.percent.is_some_and(|p| (p - 200.0 / 1170.0 * 100.0).abs() < 1e-9), "{detail:?}");
    }

    #[test]
    fn dropping_frames_nothing_while_offline_and_the_end_clears() {
        let s = AlertSettings::default();
        let mut d = DroppingFrames::default();
        for t in 0..60u64 {
            assert_eq!(d.sample(&s, t * 1000, false, t * 15, t * 30), None);
        }
        for t in 60..=70u64 {
            d.sample(&s, t * 1000, true, t * 15, t * 30);
        }
        assert_eq!(d.open_since(), Some(70_000));
        assert_eq!(d.sample(&s, 75_000, false, 0, 0), Some(Transition::Cleared { lasted_ms: 5000 }));
        assert_eq!(d.sample(&s, 76_000, true, 0, 0), None, "a new stream's window starts empty");
    }

    #[test]
    fn encoder_lagging_takes_the_worse_of_render_and_encoder_over_the_window() {
        let s = AlertSettings::default();
        let mut d = EncoderLagging::default();
        let mut out = Vec::new();
        // Counters from OBS's start: an hour of lag long ago does not count.
        let (old_skipped, old_total) = (50_000, 100_000);
        for t in 0..=100u64 {
            let lag = if t >= 60 { (t - 60) * 3 } else { 0 }; // 10 % encoder skips from 60 s
            let f = EngineFrames {
                render_skipped: old_skipped,
                render_total: old_total + t * 30,
                encoder_skipped: lag,
                encoder_total: t * 30,
            };
            out.extend(d.sample(&s, t * 1000, true, f).map(|x| (t, x)));
        }
        assert_eq!(out.len(), 1, "{out:?}");
        // 12 encoder skips in the 900 frames of the window pass 1 % at 64 s.
        assert!(matches!(out[0], (64, Transition::Started { since_ms: 64_000, .. })), "{out:?}");
        assert_eq!(
            d.sample(&s, 101_000, false, EngineFrames::default()),
            Some(Transition::Cleared { lasted_ms: 37_000 })
        );
    }

    #[test]
    fn encoder_lagging_survives_an_obs_restart_and_stays_quiet_when_healthy() {
        let s = AlertSettings::default();
        let mut d = EncoderLagging::default();
        for t in 0..=200u64 {
            // OBS restarted at 100 s: every counter from zero.
            let base = if t < 100 { 500_000 + t * 30 } else { (t - 100) * 30 };
            let f = EngineFrames { render_skipped: 7, render_total: base, encoder_skipped: 0, encoder_total: base };
            let f = if t >= 100 { EngineFrames { render_skipped: 0, ..f } } else { f };
            assert_eq!(d.sample(&s, t * 1000, true, f), None, "at {t}");
        }
    }

    #[test]
    fn the_histogram_median_is_within_its_bucket() {
        let mut h = BitrateHistogram::default();
        assert_eq!(h.median(), None);
        for k in [6000.0, 6100.0, 5900.0, 100.0, 0.0] {
            h.add(k);
        }
        let m = h.median().unwrap();
        assert!((m - 5900.0).abs() / 5900.0 < 0.02, "{m}");
        h.add(f64::MAX);
        assert!(h.median().is_some());
    }

    /// Feeds a bitrate every 2 s from `from_s` to `to_s` (exclusive).
    fn feed(
        d: &mut LowBitrate,
        s: &AlertSettings,
        from_s: u64,
        to_s: u64,
        kbps: impl Fn(u64) -> f64,
    ) -> Vec<(u64, Transition)> {
        (from_s..to_s)
            .step_by(2)
            .filter_map(|t| d.sample(s, t * 1000, true, false, Some(kbps(t))).map(|x| (t, x)))
            .collect()
    }

    #[test]
    fn low_bitrate_starts_when_the_last_ten_seconds_have_been_under_half_for_fifteen() {
        let s = AlertSettings::default();
        let mut d = LowBitrate::default();
        assert!(feed(&mut d, &s, 0, 300, |_| 6000.0).is_empty());
        let out = feed(&mut d, &s, 300, 400, |_| 500.0);
        // The 10-s mean falls under 3000 at 304 s (6000, 6000, 500, 500, 500
        // make 2700), and the first poll 15 s after that is at 320 s.
        assert_eq!(out.len(), 1, "{out:?}");
        let (t, Transition::Started { since_ms, detail }) = &out[0] else { panic!("{out:?}") };
        assert_eq!((*t, *since_ms), (320, 304_000));
        assert_eq!(detail.kbps, Some(500.0));
        assert!(detail.median_kbps.is_some_and(|m| (m - 6000.0).abs() < 120.0), "{detail:?}");
        let out = feed(&mut d, &s, 400, 420, |_| 6000.0);
        assert!(matches!(out[..], [(_, Transition::Cleared { .. })]), "{out:?}");
    }

    #[test]
    fn low_bitrate_not_in_the_first_thirty_seconds() {
        let s = AlertSettings::default();
        let mut d = LowBitrate::default();
        // A slow ramp-up with a spike: the early samples are never judged.
        let out = feed(&mut d, &s, 0, 30, |t| if t < 4 { 20_000.0 } else { 200.0 + t as f64 });
        assert!(out.is_empty(), "{out:?}");
        assert!(feed(&mut d, &s, 30, 200, |_| 6000.0).is_empty());
    }

    #[test]
    fn low_bitrate_hovering_at_half_the_median_does_not_flap() {
        let s = AlertSettings::default();
        let mut d = LowBitrate::default();
        // A long steady stretch first, so the hovering below does not move the median.
        feed(&mut d, &s, 0, 3000, |_| 6000.0);
        // Around 3000: a 3000 and a 3400 in turn (10-s means of 3160 or 3240):
        // between the threshold and its clear level, nothing starts.
        let out = feed(&mut d, &s, 3000, 3600, |t| if t % 4 == 0 { 3000.0 } else { 3400.0 });
        assert!(out.is_empty(), "{out:?}");
        // Opened at a low stretch, the hovering keeps it one episode.
        let mut out = feed(&mut d, &s, 3600, 3640, |_| 1000.0);
        out.extend(feed(&mut d, &s, 3640, 4200, |t| if t % 4 == 0 { 2500.0 } else { 3500.0 }));
        assert_eq!(out.len(), 1, "{out:?}");
    }

    #[test]
    fn low_bitrate_is_not_ended_by_one_poll_that_reads_high() {
        let s = AlertSettings { low_bitrate_window_s: 1.0, ..AlertSettings::default() };
        let mut d = LowBitrate::default();
        feed(&mut d, &s, 0, 300, |_| 6000.0);
        let opened = feed(&mut d, &s, 300, 340, |_| 1000.0);
        assert!(matches!(opened[..], [(_, Transition::Started { .. })]), "{opened:?}");
        // The bytes of a stalled sender arrive at once: one poll reads 9 Mb/s.
        let out = feed(&mut d, &s, 340, 360, |t| if t == 344 { 9000.0 } else { 1000.0 });
        assert!(out.is_empty(), "one high poll is not a recovery: {out:?}");
        // Back for good: cleared once it has been for BITRATE_CLEAR_MS.
        let out = feed(&mut d, &s, 360, 380, |_| 6000.0);
        let [(t, Transition::Cleared { .. })] = out[..] else { panic!("{out:?}") };
        assert_eq!(t, 360 + BITRATE_CLEAR_MS / 1000 + 1, "the first poll {BITRATE_CLEAR_MS} ms after");
    }

    #[test]
    fn low_bitrate_ignores_reconnects_and_forgets_the_stream_at_its_end() {
        let s = AlertSettings::default();
        let mut d = LowBitrate::default();
        feed(&mut d, &s, 0, 100, |_| 6000.0);
        for t in (100..200).step_by(2) {
            assert_eq!(d.sample(&s, t * 1000, true, true, Some(0.0)), None, "reconnecting at {t}");
        }
        assert!(feed(&mut d, &s, 200, 300, |_| 6000.0).is_empty());
        assert_eq!(d.sample(&s, 300_000, false, false, None), None);
        // A new stream at a lower bitrate is judged against its own median.
        assert!(feed(&mut d, &s, 400, 700, |_| 2000.0).is_empty());
    }
}
