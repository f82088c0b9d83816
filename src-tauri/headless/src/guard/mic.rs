//! The mic detectors, one set per watched mic: muted while live, talking into
//! a muted mic, and a mic that hears nothing.
//!
//! Levels are in dBFS and are the mic's peak over the last second (the caller
//! keeps that from `InputVolumeMeters`); `None` means no meter reading, which
//! neither starts nor clears anything. A muted mic's post-fader level is
//! silence, so talking-while-muted reads the raw input peak instead.

use crate::guard::episode::{transition, Episode, Reading};
use crate::guard::{ms, AlertDetail, AlertSettings, Transition};

/// How far a level must come back past its threshold to count as clearly
/// back, so a level hovering at the threshold does not flap.
pub const LEVEL_MARGIN_DB: f64 = 6.0;

/// A muted mic's input quiet this long ends talking-while-muted: speech has
/// pauses, and each pause must not make a new alert.
pub const TALKING_CLEAR_MS: u64 = 5_000;

/// muted-while-live: muted for the hold time while live. Clears the moment the
/// mic is unmuted (mute is a deliberate switch, not a value that hovers).
#[derive(Debug, Clone, Default)]
pub struct MutedWhileLive {
    episode: Episode,
}

impl MutedWhileLive {
    pub fn sample(&mut self, settings: &AlertSettings, now_ms: u64, live: bool, muted: bool) -> Option<Transition> {
        if !live || !muted {
            return transition(self.episode.end(now_ms), AlertDetail::default);
        }
        let edge = self.episode.observe(now_ms, Reading::Bad, ms(settings.muted_while_live_s), 0);
        transition(edge, AlertDetail::default)
    }

    pub fn end(&mut self, now_ms: u64) -> Option<Transition> {
        transition(self.episode.end(now_ms), AlertDetail::default)
    }

    pub fn open_since(&self) -> Option<u64> {
        self.episode.open_since()
    }
}

/// talking-while-muted: a muted mic's raw input peak above the threshold for
/// the hold time while live or recording. Clears at once when the mic is
/// unmuted (or nothing is live or recording any more), or when the input has
/// stayed [`LEVEL_MARGIN_DB`] under the threshold for [`TALKING_CLEAR_MS`].
#[derive(Debug, Clone, Default)]
pub struct TalkingWhileMuted {
    episode: Episode,
}

impl TalkingWhileMuted {
    pub fn sample(
        &mut self,
        settings: &AlertSettings,
        now_ms: u64,
        live_or_recording: bool,
        muted: bool,
        input_peak_dbfs: Option<f64>,
    ) -> Option<Transition> {
        if !live_or_recording || !muted {
            return self.end(now_ms);
        }
        let threshold = settings.talking_while_muted_dbfs;
        let reading = match input_peak_dbfs.filter(|v| !v.is_nan()) {
            None => Reading::Between,
            Some(peak) if peak > threshold => Reading::Bad,
            Some(peak) if peak <= threshold - LEVEL_MARGIN_DB => Reading::Good,
            Some(_) => Reading::Between,
        };
        let edge = self.episode.observe(now_ms, reading, ms(settings.talking_while_muted_s), TALKING_CLEAR_MS);
        transition(edge, || AlertDetail { dbfs: input_peak_dbfs, ..Default::default() })
    }

    pub fn end(&mut self, now_ms: u64) -> Option<Transition> {
        transition(self.episode.end(now_ms), AlertDetail::default)
    }

    pub fn open_since(&self) -> Option<u64> {
        self.episode.open_since()
    }
}

/// mic-silent: an unmuted mic's level below the threshold for the hold time
/// while live. Clears as soon as the level is [`LEVEL_MARGIN_DB`] above the
/// threshold (the mic heard something), or when it is muted (then it is
/// muted-while-live's business) or the stream ends.
#[derive(Debug, Clone, Default)]
pub struct MicSilent {
    episode: Episode,
}

impl MicSilent {
    pub fn sample(
        &mut self,
        settings: &AlertSettings,
        now_ms: u64,
        live: bool,
        muted: bool,
        peak_dbfs: Option<f64>,
    ) -> Option<Transition> {
        if !live || muted {
            return self.end(now_ms);
        }
        let threshold = settings.mic_silent_dbfs;
        let reading = match peak_dbfs.filter(|v| !v.is_nan()) {
            None => Reading::Between,
            Some(peak) if peak < threshold => Reading::Bad,
            Some(peak) if peak >= threshold + LEVEL_MARGIN_DB => Reading::Good,
            Some(_) => Reading::Between,
        };
        let edge = self.episode.observe(now_ms, reading, ms(settings.mic_silent_s), 0);
        transition(edge, || AlertDetail { dbfs: peak_dbfs, ..Default::default() })
    }

    pub fn end(&mut self, now_ms: u64) -> Option<Transition> {
        transition(self.episode.end(now_ms), AlertDetail::default)
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

    fn cleared(lasted_ms: u64) -> Option<Transition> {
        Some(Transition::Cleared { lasted_ms })
    }

    #[test]
    fn muted_while_live_starts_after_three_seconds_once_and_clears_on_unmute() {
        let s = AlertSettings::default();
        let mut d = MutedWhileLive::default();
        assert_eq!(d.sample(&s, 10_000, true, true), None);
        assert_eq!(d.sample(&s, 12_999, true, true), None, "not before the hold");
        assert_eq!(d.sample(&s, 13_000, true, true), started(10_000));
        for t in (13_250..52_000).step_by(250) {
            assert_eq!(d.sample(&s, t, true, true), None, "one alert per episode");
        }
        assert_eq!(d.open_since(), Some(10_000));
        assert_eq!(d.sample(&s, 52_000, true, false), cleared(42_000));
        assert_eq!(d.sample(&s, 53_000, true, false), None);
    }

    #[test]
    fn muted_while_live_a_quick_mute_and_unmute_says_nothing() {
        let s = AlertSettings::default();
        let mut d = MutedWhileLive::default();
        let mut out = Vec::new();
        for i in 0..200u64 {
            // Muted two seconds of every three: never three in a row.
            let muted = i % 3 != 2;
            out.extend(d.sample(&s, i * 1000, true, muted));
        }
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn muted_while_live_nothing_while_not_live_and_the_end_of_the_stream_clears() {
        let s = AlertSettings::default();
        let mut d = MutedWhileLive::default();
        for t in (0..60_000).step_by(500) {
            assert_eq!(d.sample(&s, t, false, true), None, "muted while offline is fine");
        }
        assert_eq!(d.sample(&s, 60_000, true, true), None, "the hold starts at going live");
        assert_eq!(d.sample(&s, 63_000, true, true), started(60_000));
        assert_eq!(d.sample(&s, 70_000, false, true), cleared(10_000));
        assert_eq!(d.sample(&s, 71_000, true, true), None, "a new stream counts anew");
    }

    #[test]
    fn talking_while_muted_starts_after_one_second_above_minus_30() {
        let s = AlertSettings::default();
        let mut d = TalkingWhileMuted::default();
        assert_eq!(d.sample(&s, 0, true, true, Some(-40.0)), None);
        assert_eq!(d.sample(&s, 500, true, true, Some(-12.0)), None);
        assert_eq!(d.sample(&s, 1499, true, true, Some(-12.0)), None);
        assert_eq!(
            d.sample(&s, 1500, true, true, Some(-10.0)),
            Some(Transition::Started {
                since_ms: 500,
                detail: AlertDetail { dbfs: Some(-10.0), ..Default::default() }
            })
        );
        for t in (1600..30_000).step_by(100) {
            // Speech with short pauses: one alert.
            let peak = if (t / 1000) % 3 == 0 { -50.0 } else { -15.0 };
            assert_eq!(d.sample(&s, t, true, true, Some(peak)), None, "at {t}");
        }
    }

    #[test]
    fn talking_while_muted_clears_after_five_quiet_seconds_or_at_once_on_unmute() {
        let s = AlertSettings::default();
        let mut d = TalkingWhileMuted::default();
        d.sample(&s, 0, false, true, Some(-10.0));
        assert!(d.sample(&s, 0, true, true, Some(-10.0)).is_none());
        assert!(d.sample(&s, 1000, true, true, Some(-10.0)).is_some());
        assert_eq!(d.sample(&s, 4000, true, true, Some(-50.0)), None);
        assert_eq!(d.sample(&s, 8999, true, true, Some(-50.0)), None);
        assert_eq!(d.sample(&s, 9000, true, true, Some(-50.0)), cleared(4000));
        // Again, then unmuted.
        assert_eq!(d.sample(&s, 20_000, true, true, Some(-10.0)), None);
        assert!(d.sample(&s, 21_000, true, true, Some(-10.0)).is_some());
        assert_eq!(d.sample(&s, 22_500, true, false, Some(-10.0)), cleared(2500));
    }

    #[test]
    fn talking_while_muted_hovering_at_minus_30_does_not_flap() {
        let s = AlertSettings::default();
        let mut d = TalkingWhileMuted::default();
        let mut out = Vec::new();
        for i in 0..600u64 {
            let peak = if i % 2 == 0 { -29.5 } else { -31.0 };
            out.extend(d.sample(&s, i * 500, true, true, Some(peak)));
        }
        assert!(out.is_empty(), "never a second above without a break: {out:?}");
        // Opened, then hovering in the band: it stays one alert.
        let mut out = Vec::new();
        for i in 0..600u64 {
            let peak = if i < 4 {
                -20.0
            } else if i % 2 == 0 {
                -29.5
            } else {
                -33.0
            };
            out.extend(d.sample(&s, 400_000 + i * 500, true, true, Some(peak)));
        }
        assert_eq!(out.len(), 1, "{out:?}");
    }

    #[test]
    fn talking_while_muted_counts_while_recording_and_not_when_nothing_is_on() {
        let s = AlertSettings::default();
        let mut d = TalkingWhileMuted::default();
        for t in (0..10_000).step_by(250) {
            assert_eq!(d.sample(&s, t, false, true, Some(-5.0)), None);
        }
        // Without a meter reading nothing starts.
        for t in (10_000..20_000).step_by(250) {
            assert_eq!(d.sample(&s, t, true, true, None), None);
        }
    }

    #[test]
    fn mic_silent_starts_after_twenty_seconds_under_minus_60_while_live() {
        let s = AlertSettings::default();
        let mut d = MicSilent::default();
        assert_eq!(d.sample(&s, 0, true, false, Some(-70.0)), None);
        assert_eq!(d.sample(&s, 19_999, true, false, Some(-70.0)), None);
        assert_eq!(
            d.sample(&s, 20_000, true, false, Some(-80.0)),
            Some(Transition::Started { since_ms: 0, detail: AlertDetail { dbfs: Some(-80.0), ..Default::default() } })
        );
        assert_eq!(d.sample(&s, 30_000, true, false, Some(-70.0)), None);
        assert_eq!(d.sample(&s, 31_000, true, false, Some(-57.0)), None, "within the margin");
        assert_eq!(d.sample(&s, 32_000, true, false, Some(-30.0)), cleared(32_000));
    }

    #[test]
    fn mic_silent_hovering_at_minus_60_does_not_flap_and_muting_hands_over() {
        let s = AlertSettings::default();
        let mut d = MicSilent::default();
        let mut out = Vec::new();
        for i in 0..1000u64 {
            let peak = if i < 21 {
                -70.0
            } else if i % 2 == 0 {
                -61.0
            } else {
                -58.0
            };
            out.extend(d.sample(&s, i * 1000, true, false, Some(peak)));
        }
        assert_eq!(out, [started(0).unwrap().with_dbfs(-70.0)]);
        assert_eq!(
            d.sample(&s, 1_000_000, true, true, Some(-70.0)),
            cleared(1_000_000),
            "muted: not silent's business"
        );
        for t in (0..60_000).step_by(1000) {
            assert_eq!(d.sample(&s, 2_000_000 + t, false, false, Some(-90.0)), None, "nothing while not live");
        }
    }

    impl Transition {
        fn with_dbfs(self, dbfs: f64) -> Transition {
            match self {
                Transition::Started { since_ms, .. } => {
                    Transition::Started { since_ms, detail: AlertDetail { dbfs: Some(dbfs), ..Default::default() } }
                }
                other => other,
            }
        }
    }
}
