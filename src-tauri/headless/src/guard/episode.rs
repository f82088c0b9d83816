//! The one hysteresis rule every detector is built on, so "starts once after
//! its hold time, clears once, does not flap" is written (and tested) once.
//!
//! A detector judges each sample as [`Reading::Bad`] (the problem is there),
//! [`Reading::Good`] (clearly gone: past a margin from the threshold) or
//! [`Reading::Between`] (neither: the band around the threshold where a
//! hovering value lives). An episode starts when readings have been Bad without
//! a break for the hold time, and clears when they have been Good without a
//! break for the clear time; Between breaks both runs, so a value going back
//! and forth across a threshold neither starts nor clears anything.

use crate::guard::{AlertDetail, Transition};

/// How one sample looks to a detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    Bad,
    Between,
    Good,
}

/// An episode starting or ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// `since_ms`: when the bad run began.
    Started { since_ms: u64 },
    /// `lasted_ms`: from when the bad run began to the first sample of the good
    /// run that cleared it (or to the end, for [`Episode::end`]).
    Cleared { lasted_ms: u64 },
}

/// An edge as the guard says it: a started alert with the figures `detail`
/// gives (asked only when it starts), or a cleared one.
pub(crate) fn transition(edge: Option<Edge>, detail: impl FnOnce() -> AlertDetail) -> Option<Transition> {
    match edge? {
        Edge::Started { since_ms } => Some(Transition::Started { since_ms, detail: detail() }),
        Edge::Cleared { lasted_ms } => Some(Transition::Cleared { lasted_ms }),
    }
}

/// One problem's state: not there, building up, or open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Episode {
    /// When the current bad run began; while open, when the episode began.
    bad_since: Option<u64>,
    open: bool,
    /// While open: when the current good run began.
    good_since: Option<u64>,
}

impl Episode {
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// When the open episode began.
    pub fn open_since(&self) -> Option<u64> {
        self.bad_since.filter(|_| self.open)
    }

    /// One sample at `now_ms`.
    pub fn observe(&mut self, now_ms: u64, reading: Reading, hold_ms: u64, clear_ms: u64) -> Option<Edge> {
        self.observe_from(now_ms, reading, now_ms, hold_ms, clear_ms)
    }

    /// One sample at `now_ms` whose problem (if Bad) is known to have begun at
    /// `began_ms` already (stalled: at the last time the bytes grew).
    pub fn observe_from(
        &mut self,
        now_ms: u64,
        reading: Reading,
        began_ms: u64,
        hold_ms: u64,
        clear_ms: u64,
    ) -> Option<Edge> {
        match reading {
            Reading::Bad => {
                self.good_since = None;
                let since = *self.bad_since.get_or_insert(began_ms.min(now_ms));
                if !self.open && now_ms.saturating_sub(since) >= hold_ms {
                    self.open = true;
                    return Some(Edge::Started { since_ms: since });
                }
                None
            }
            Reading::Between => {
                self.good_since = None;
                if !self.open {
                    self.bad_since = None;
                }
                None
            }
            Reading::Good => {
                if !self.open {
                    self.bad_since = None;
                    return None;
                }
                let good_since = *self.good_since.get_or_insert(now_ms);
                if now_ms.saturating_sub(good_since) < clear_ms {
                    return None;
                }
                let lasted_ms = good_since.saturating_sub(self.bad_since.unwrap_or(good_since));
                *self = Episode::default();
                Some(Edge::Cleared { lasted_ms })
            }
        }
    }

    /// The problem no longer matters (not live, switched off) or is gone
    /// outright (the mic was unmuted): clears an open episode at `now_ms` and
    /// forgets any run building up.
    pub fn end(&mut self, now_ms: u64) -> Option<Edge> {
        let was = std::mem::take(self);
        match (was.open, was.bad_since) {
            (true, Some(since)) => Some(Edge::Cleared { lasted_ms: now_ms.saturating_sub(since) }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Reading::*;

    /// Feeds readings one a second from `start_ms`, returning each edge with its time.
    fn run(episode: &mut Episode, start_ms: u64, readings: &[Reading], hold: u64, clear: u64) -> Vec<(u64, Edge)> {
        let mut edges = Vec::new();
        for (i, &r) in readings.iter().enumerate() {
            let now = start_ms + i as u64 * 1000;
            if let Some(e) = episode.observe(now, r, hold, clear) {
                edges.push((now, e));
            }
        }
        edges
    }

    #[test]
    fn starts_after_exactly_the_hold_and_once() {
        let mut e = Episode::default();
        assert_eq!(e.observe(0, Bad, 3000, 0), None);
        assert_eq!(e.observe(2999, Bad, 3000, 0), None);
        assert_eq!(e.observe(3000, Bad, 3000, 0), Some(Edge::Started { since_ms: 0 }));
        assert!(e.is_open());
        assert_eq!(e.open_since(), Some(0));
        for t in 4..100 {
            assert_eq!(e.observe(t * 1000, Bad, 3000, 0), None, "never repeated while it lasts");
        }
    }

    #[test]
    fn a_zero_hold_starts_on_the_first_bad_sample() {
        let mut e = Episode::default();
        assert_eq!(e.observe(7, Bad, 0, 0), Some(Edge::Started { since_ms: 7 }));
    }

    #[test]
    fn a_break_in_the_bad_run_starts_the_hold_over() {
        let mut e = Episode::default();
        let edges = run(&mut e, 0, &[Bad, Bad, Between, Bad, Bad, Good, Bad, Bad, Bad, Bad], 3000, 0);
        assert_eq!(edges, [(9000, Edge::Started { since_ms: 6000 })]);
    }

    #[test]
    fn clears_after_the_clear_time_with_the_length_up_to_the_good_run() {
        let mut e = Episode::default();
        let edges = run(&mut e, 0, &[Bad, Bad, Bad, Bad, Good, Good, Good], 2000, 2000);
        assert_eq!(edges, [(2000, Edge::Started { since_ms: 0 }), (6000, Edge::Cleared { lasted_ms: 4000 })]);
        assert!(!e.is_open());
    }

    #[test]
    fn hovering_between_neither_clears_nor_restarts() {
        let mut e = Episode::default();
        let mut readings = vec![Bad; 3];
        for _ in 0..50 {
            readings.extend([Between, Bad, Between, Good]);
        }
        let edges = run(&mut e, 0, &readings, 2000, 2000);
        assert_eq!(edges, [(2000, Edge::Started { since_ms: 0 })], "one alert, no flapping");
        // And the other way: hovering never starts one.
        let mut quiet = Episode::default();
        let hover: Vec<Reading> = (0..200).map(|i| if i % 2 == 0 { Bad } else { Between }).collect();
        assert!(run(&mut quiet, 0, &hover, 2000, 0).is_empty());
    }

    #[test]
    fn end_clears_an_open_episode_and_forgets_a_building_one() {
        let mut e = Episode::default();
        e.observe(0, Bad, 1000, 0);
        assert_eq!(e.end(500), None, "not open yet: nothing to clear");
        assert_eq!(e.observe(600, Bad, 1000, 0), None, "the run starts over after end");
        assert_eq!(e.observe(1600, Bad, 1000, 0), Some(Edge::Started { since_ms: 600 }));
        assert_eq!(e.end(42_600), Some(Edge::Cleared { lasted_ms: 42_000 }));
        assert_eq!(e.end(50_000), None, "cleared once");
        assert_eq!(e, Episode::default());
    }

    #[test]
    fn a_known_beginning_counts_the_hold_from_there() {
        let mut e = Episode::default();
        assert_eq!(e.observe_from(4000, Bad, 0, 5000, 0), None);
        assert_eq!(e.observe_from(5000, Bad, 0, 5000, 0), Some(Edge::Started { since_ms: 0 }));
    }
}
