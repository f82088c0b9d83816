//! Which moments become desktop notifications, and how they replace each other.
//!
//! One notification per moment, never a storm: the "reconnected" notification
//! replaces the "reconnecting" one in place (and "OBS is back" replaces "lost
//! OBS"), the same notification repeated back to back within a short window is
//! dropped, and
//! each kind can be switched off. Every notification carries the category hint
//! `x-onair.<kind>` so users can write rules for them in their notification daemon.

use std::collections::HashMap;

use crate::config::Settings;
use crate::state::{Moment, Noticed};
use crate::text;

/// Identical notifications closer together than this are one.
pub const COALESCE_MS: u64 = 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Low,
    Normal,
    Critical,
}

/// A notification to show, before it meets the desktop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationPlan {
    /// The moment kind, as in `"moment"`.
    pub kind: &'static str,
    pub summary: String,
    pub body: String,
    pub urgency: Urgency,
    /// Notifications sharing a slot replace each other in place.
    pub slot: &'static str,
    /// Replace what is showing in the slot (rather than stack a new one).
    pub replace: bool,
}

impl NotificationPlan {
    /// The freedesktop `category` hint.
    pub fn category(&self) -> String {
        format!("x-onair.{}", self.kind)
    }
}

#[derive(Debug, Default)]
pub struct NotificationPolicy {
    /// (kind, summary + body, when) of the last notification shown.
    last_shown: Option<(&'static str, String, u64)>,
    /// Slots whose opening notification ("reconnecting", "lost OBS") is showing.
    open_slots: HashMap<&'static str, &'static str>,
}

impl NotificationPolicy {
    pub fn new() -> NotificationPolicy {
        NotificationPolicy::default()
    }

    /// The notification for this moment, or `None` when it is switched off or a repeat.
    pub fn plan(&mut self, noticed: &Noticed, settings: &Settings) -> Option<NotificationPlan> {
        let kind = noticed.moment.kind();
        let (slot, opens, closes) = match noticed.moment {
            Moment::Reconnecting { .. } => ("stream-connection", true, false),
            Moment::Reconnected { .. } => ("stream-connection", false, true),
            Moment::ObsLost { .. } => ("obs-connection", true, false),
            Moment::ObsBack { .. } => ("obs-connection", false, true),
            _ => (kind, false, false),
        };
        // Whatever happens to the notification, the slot's story moved on.
        let replace = closes && self.open_slots.remove(slot).is_some();
        if !settings.notification_enabled(kind) {
            return None;
        }
        let (summary, body) = text::moment_text(&noticed.moment);
        let fingerprint = format!("{summary}\n{body}");
        // Only back-to-back repeats are noise: live, ended, live is a story.
        if let Some((last_kind, previous, at)) = &self.last_shown {
            if *last_kind == kind && *previous == fingerprint && noticed.at_ms.saturating_sub(*at) < COALESCE_MS {
                return None;
            }
        }
        self.last_shown = Some((kind, fingerprint, noticed.at_ms));
        if opens {
            self.open_slots.insert(slot, kind);
        }
        Some(NotificationPlan { kind, summary, body, urgency: urgency(&noticed.moment), slot, replace })
    }
}

fn urgency(moment: &Moment) -> Urgency {
    match moment {
        Moment::Reconnecting { .. } | Moment::ObsLost { .. } | Moment::StartFailed { .. } => Urgency::Critical,
        Moment::AuthFailed { .. } => Urgency::Critical,
        Moment::RecordingPaused | Moment::RecordingResumed => Urgency::Low,
        _ => Urgency::Normal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(at_ms: u64, moment: Moment) -> Noticed {
        Noticed { at_ms, moment }
    }

    #[test]
    fn reconnected_replaces_reconnecting_in_place() {
        let mut policy = NotificationPolicy::new();
        let settings = Settings::default();
        let first = policy.plan(&at(0, Moment::Reconnecting { since_ms: 0 }), &settings).unwrap();
        assert_eq!((first.slot, first.replace, first.urgency), ("stream-connection", false, Urgency::Critical));
        assert_eq!(first.category(), "x-onair.reconnecting");
        let second = policy.plan(&at(5_000, Moment::Reconnected { down_ms: 5_000 }), &settings).unwrap();
        assert_eq!((second.slot, second.replace), ("stream-connection", true));
        assert_eq!(second.category(), "x-onair.reconnected");
        // A later, unrelated "reconnected" (after a fresh outage whose notification
        // was switched off) does not replace anything.
        let mut quiet = settings.clone();
        quiet.notifications.insert("reconnecting".into(), false);
        assert!(policy.plan(&at(60_000, Moment::Reconnecting { since_ms: 0 }), &quiet).is_none());
        let third = policy.plan(&at(70_000, Moment::Reconnected { down_ms: 10_000 }), &quiet).unwrap();
        assert!(!third.replace);
    }

    #[test]
    fn obs_back_replaces_lost_obs() {
        let mut policy = NotificationPolicy::new();
        let settings = Settings::default();
        let lost = Moment::ObsLost { reason: "dropped".into(), was_live: true, was_recording: false };
        assert!(!policy.plan(&at(0, lost), &settings).unwrap().replace);
        let back = policy.plan(&at(9_000, Moment::ObsBack { down_ms: 9_000, still_live: true }), &settings).unwrap();
        assert!(back.replace);
        assert_eq!(back.slot, "obs-connection");
    }

    #[test]
    fn identical_repeats_are_coalesced_but_news_is_not() {
        let mut policy = NotificationPolicy::new();
        let settings = Settings::default();
        let failed = || Moment::AuthFailed { message: "OBS rejected the password".into() };
        assert!(policy.plan(&at(0, failed()), &settings).is_some());
        assert!(policy.plan(&at(1_000, failed()), &settings).is_none());
        assert!(policy.plan(&at(COALESCE_MS + 1, failed()), &settings).is_some());
        assert!(policy.plan(&at(0, Moment::Live { since_ms: 0 }), &settings).is_some());
        let ended = Moment::Ended {
            duration_ms: Some(1_000),
            bytes: None,
            dropped_frames: None,
            total_frames: None,
            while_away: false,
        };
        assert!(policy.plan(&at(1_000, ended), &settings).is_some());
        assert!(
            policy.plan(&at(2_000, Moment::Live { since_ms: 2_000 }), &settings).is_some(),
            "live, ended, live is news each time"
        );
        assert!(
            policy.plan(&at(2_500, Moment::Live { since_ms: 2_000 }), &settings).is_none(),
            "the same 'live' twice in a row is noise"
        );
    }

    #[test]
    fn switched_off_kinds_are_not_shown() {
        let mut policy = NotificationPolicy::new();
        let mut settings = Settings::default();
        settings.notifications.insert("recording-started".into(), false);
        assert!(policy.plan(&at(0, Moment::RecordingStarted { path: None }), &settings).is_none());
        assert!(policy
            .plan(&at(0, Moment::RecordingStopped { path: Some("/r/a.mkv".into()), duration_ms: None }), &settings)
            .is_some());
    }
}
