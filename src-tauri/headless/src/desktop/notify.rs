//! Which moments become desktop notifications, and how they replace each other.
//!
//! One notification per moment, never a storm: the "reconnected" notification
//! replaces the "reconnecting" one in place (and "OBS is back" replaces "lost
//! OBS"), the same notification repeated back to back within a short window is
//! dropped, and each kind can be switched off. Every notification carries the
//! category hint `x-onair.<kind>` so users can write rules for them in their
//! notification daemon.
//!
//! "Reconnecting" and "lost OBS" are critical: they stay on screen until
//! dismissed. So the moment that answers one of these alarms always takes it
//! down: it replaces the alarm in place, or, when that moment is not shown
//! (switched off, or a repeat), closes it. A stream that ends after
//! reconnecting (OBS gave up) answers the "reconnecting" alarm too.
//!
//! The stream guard's alerts work the same way: each kind of alert has its slot,
//! its category names the alert (`x-onair.stalled`), the critical ones stay until
//! answered, and the alert's clearing replaces it in place with a short,
//! low-urgency note (`x-onair.alert-cleared`), or closes it when not shown.
//! The two mute alerts carry an "Unmute" button for their mic
//! ([`NotificationButton`]); the adapter shows it where the notification server
//! lists the `actions` capability, and a press comes back to the controller
//! as the control the button names.

use std::collections::HashMap;

use crate::control::Control;
use crate::guard::AlertKind;
use crate::settings::Settings;
use crate::state::{Moment, MomentKind, Noticed};
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
    /// The moment kind's wire name, as in `"moment"` (the app's own notices
    /// use names of their own, e.g. `keyring`).
    pub kind: &'static str,
    pub summary: String,
    pub body: String,
    pub urgency: Urgency,
    /// Notifications sharing a slot replace each other in place.
    pub slot: &'static str,
    /// Replace what is showing in the slot (rather than stack a new one).
    pub replace: bool,
    /// The button it offers, where the notification server shows buttons.
    pub button: Option<NotificationButton>,
    /// Which OBS it is about: its index in the settings' connections (0 is the
    /// first, and OnAir's own notices). Slots are each connection's own, and a
    /// button acts on the OBS its notification was about.
    pub connection: usize,
}

/// A button on a notification: what pressing it asks of OBS, or of OnAir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationButton {
    /// Unmutes this mic (by its name in OBS): the mute alerts' answer.
    Unmute(String),
    /// Takes OBS's own WebSocket settings, found on this machine at the first
    /// start, into OnAir's: the first-run offer's answer.
    UseObsSettings,
}

impl NotificationButton {
    /// The action key the notification server sends back when it is pressed.
    pub fn key(&self) -> &'static str {
        match self {
            NotificationButton::Unmute(_) => "unmute",
            NotificationButton::UseObsSettings => "use-obs-settings",
        }
    }

    /// The button's label.
    pub fn label(&self) -> &'static str {
        match self {
            NotificationButton::Unmute(_) => "Unmute",
            NotificationButton::UseObsSettings => "Use OBS's settings",
        }
    }

    /// What a press sends OBS: an explicit unmute, never a toggle, so a mic
    /// unmuted meanwhile in OBS stays unmuted. `None` for a button OnAir
    /// answers itself.
    pub fn control(&self) -> Option<Control> {
        match self {
            NotificationButton::Unmute(input) => Some(Control::Mute { input: input.clone(), muted: Some(false) }),
            NotificationButton::UseObsSettings => None,
        }
    }
}

impl NotificationPlan {
    /// The freedesktop `category` hint.
    pub fn category(&self) -> String {
        format!("x-onair.{}", self.kind)
    }
}

/// What the desktop should do about a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationAction {
    Show(NotificationPlan),
    /// Take down what shows in this slot: its alarm was answered by a moment
    /// that is not itself shown.
    Close {
        connection: usize,
        slot: &'static str,
    },
}

/// The slot of the stream's "reconnecting" alarm and what answers it.
pub const STREAM_SLOT: &str = "stream-connection";
/// The slot of the "lost OBS" alarm and what answers it.
pub const OBS_SLOT: &str = "obs-connection";

#[derive(Debug, Default)]
pub struct NotificationPolicy {
    /// The connection whose moments it plans for ([`NotificationPlan::connection`]).
    connection: usize,
    /// Put before each summary ("Game PC: Stream is LIVE") when OnAir watches several OBS.
    name: Option<String>,
    /// (kind, summary + body, when) of the last notification shown.
    last_shown: Option<(MomentKind, String, u64)>,
    /// Slots whose opening notification ("reconnecting", "lost OBS") is showing.
    open_slots: HashMap<&'static str, MomentKind>,
}

impl NotificationPolicy {
    pub fn new() -> NotificationPolicy {
        NotificationPolicy::default()
    }

    /// Heads the notifications with this name from now on (`None`: no name,
    /// as with a single OBS); what is open stays open.
    pub fn set_name(&mut self, name: Option<String>) {
        self.name = name;
    }

    /// The policy for the OBS at this index of the settings' connections, whose
    /// notifications are headed with `name` (given when there are several).
    pub fn for_connection(connection: usize, name: Option<String>) -> NotificationPolicy {
        NotificationPolicy { connection, name, ..NotificationPolicy::default() }
    }

    /// What to do for this moment: show a notification, close an answered
    /// alarm, or nothing (switched off or a repeat, with no alarm to answer).
    pub fn plan(&mut self, noticed: &Noticed, settings: &Settings) -> Option<NotificationAction> {
        let kind = noticed.moment.kind();
        // An alert's category names its alert (`x-onair.stalled`), not the moment.
        let category = match &noticed.moment {
            Moment::Alert { alert, .. } => alert.wire_name(),
            _ => kind.wire_name(),
        };
        let opens = match &noticed.moment {
            Moment::Reconnecting { .. } => Some(STREAM_SLOT),
            Moment::ObsLost { .. } => Some(OBS_SLOT),
            // Each kind of alert has its slot, which its clearing note replaces.
            Moment::Alert { alert, .. } => Some(alert.wire_name()),
            _ => None,
        };
        let answers = match &noticed.moment {
            // A new stream going live also makes an old stream's alarm stale.
            Moment::Reconnected { .. } | Moment::Ended { .. } | Moment::Live { .. } => Some(STREAM_SLOT),
            Moment::ObsBack { .. } => Some(OBS_SLOT),
            Moment::AlertCleared { alert, .. } => Some(alert.wire_name()),
            _ => None,
        };
        // Whatever happens to this moment's own notification, the alarm it
        // answers is over, and must not stay on screen.
        let answered = answers.filter(|slot| self.open_slots.remove(slot).is_some());
        let shown = self.shown(noticed, settings).map(|(summary, body)| match &self.name {
            Some(name) => (format!("{name}: {summary}"), body),
            None => (summary, body),
        });
        let button = button(&noticed.moment);
        let connection = self.connection;
        match (shown, answered) {
            (Some((summary, body)), Some(slot)) => Some(NotificationAction::Show(NotificationPlan {
                kind: category,
                summary,
                body,
                urgency: urgency(&noticed.moment),
                slot,
                replace: true,
                button,
                connection,
            })),
            (None, Some(slot)) => Some(NotificationAction::Close { connection, slot }),
            (Some((summary, body)), None) => {
                let slot = opens.unwrap_or(kind.wire_name());
                // An alarm raised again while its first one still shows takes its place.
                let replace = opens.is_some_and(|slot| self.open_slots.contains_key(slot));
                if let Some(slot) = opens {
                    self.open_slots.insert(slot, kind);
                }
                Some(NotificationAction::Show(NotificationPlan {
                    kind: category,
                    summary,
                    body,
                    urgency: urgency(&noticed.moment),
                    slot,
                    replace,
                    button,
                    connection,
                }))
            }
            (None, None) => None,
        }
    }

    /// The words for this moment's notification, or `None` when it is
    /// switched off or repeats the last one shown.
    fn shown(&mut self, noticed: &Noticed, settings: &Settings) -> Option<(String, String)> {
        let kind = noticed.moment.kind();
        if !settings.notifies(kind) {
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
        Some((summary, body))
    }
}

/// The mute alerts offer to unmute their mic; nothing else has a button.
fn button(moment: &Moment) -> Option<NotificationButton> {
    match moment {
        Moment::Alert { alert: AlertKind::MutedWhileLive | AlertKind::TalkingWhileMuted, mic: Some(mic), .. } => {
            Some(NotificationButton::Unmute(mic.clone()))
        }
        _ => None,
    }
}

fn urgency(moment: &Moment) -> Urgency {
    match moment {
        Moment::Reconnecting { .. } | Moment::ObsLost { .. } | Moment::StartFailed { .. } => Urgency::Critical,
        Moment::AuthFailed { .. } => Urgency::Critical,
        Moment::Alert { alert, .. } if alert.is_critical() => Urgency::Critical,
        Moment::RecordingPaused | Moment::RecordingResumed | Moment::AlertCleared { .. } => Urgency::Low,
        _ => Urgency::Normal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(at_ms: u64, moment: Moment) -> Noticed {
        Noticed { at_ms, moment }
    }

    /// The notification a plan shows; panics on anything else.
    fn shown(action: Option<NotificationAction>) -> NotificationPlan {
        match action {
            Some(NotificationAction::Show(plan)) => plan,
            other => panic!("expected a notification, got {other:?}"),
        }
    }

    fn off(kinds: &[MomentKind]) -> Settings {
        let mut settings = Settings::default();
        for kind in kinds {
            settings.notifications.insert(kind.wire_name().to_string(), false);
        }
        settings
    }

    fn ended() -> Moment {
        Moment::Ended {
            duration_ms: Some(1_000),
            bytes: None,
            dropped_frames: None,
            total_frames: None,
            reconnects: 0,
            down_ms: 0,
            alerts: Vec::new(),
            avg_kbps: None,
            peak_kbps: None,
            while_away: false,
        }
    }

    fn lost() -> Moment {
        Moment::ObsLost { reason: "dropped".into(), was_live: true, was_recording: false }
    }

    #[test]
    fn reconnected_replaces_reconnecting_in_place() {
        let mut policy = NotificationPolicy::new();
        let settings = Settings::default();
        let first = shown(policy.plan(&at(0, Moment::Reconnecting { since_ms: 0 }), &settings));
        assert_eq!((first.slot, first.replace, first.urgency), (STREAM_SLOT, false, Urgency::Critical));
        assert_eq!(first.category(), "x-onair.reconnecting");
        let second = shown(policy.plan(&at(5_000, Moment::Reconnected { down_ms: 5_000 }), &settings));
        assert_eq!((second.slot, second.replace), (STREAM_SLOT, true));
        assert_eq!(second.category(), "x-onair.reconnected");
        // A later, unrelated "reconnected" (after a fresh outage whose notification
        // was switched off) does not replace anything.
        let quiet = off(&[MomentKind::Reconnecting]);
        assert_eq!(policy.plan(&at(60_000, Moment::Reconnecting { since_ms: 0 }), &quiet), None);
        let third = shown(policy.plan(&at(70_000, Moment::Reconnected { down_ms: 10_000 }), &quiet));
        assert!(!third.replace);
    }

    #[test]
    fn reconnected_switched_off_still_closes_the_reconnecting_alarm() {
        let mut policy = NotificationPolicy::new();
        let settings = off(&[MomentKind::Reconnected]);
        shown(policy.plan(&at(0, Moment::Reconnecting { since_ms: 0 }), &settings));
        assert_eq!(
            policy.plan(&at(5_000, Moment::Reconnected { down_ms: 5_000 }), &settings),
            Some(NotificationAction::Close { connection: 0, slot: STREAM_SLOT })
        );
        // Answered once: the stream ending later has nothing left to close.
        assert_eq!(shown(policy.plan(&at(9_000, ended()), &settings)).slot, "ended");
    }

    #[test]
    fn a_stream_that_ends_while_reconnecting_takes_the_alarm_down() {
        // OBS gave up reconnecting: "ended" replaces "reconnecting" in place...
        let mut policy = NotificationPolicy::new();
        let settings = Settings::default();
        shown(policy.plan(&at(0, Moment::Reconnecting { since_ms: 0 }), &settings));
        let ended_plan = shown(policy.plan(&at(60_000, ended()), &settings));
        assert_eq!((ended_plan.kind, ended_plan.slot, ended_plan.replace), ("ended", STREAM_SLOT, true));
        // ... and the next outage raises a fresh alarm rather than replacing "ended".
        let next = shown(policy.plan(&at(90_000, Moment::Reconnecting { since_ms: 0 }), &settings));
        assert!(!next.replace);

        // With "ended" switched off, the alarm is closed.
        let mut policy = NotificationPolicy::new();
        let settings = off(&[MomentKind::Ended]);
        shown(policy.plan(&at(0, Moment::Reconnecting { since_ms: 0 }), &settings));
        assert_eq!(
            policy.plan(&at(60_000, ended()), &settings),
            Some(NotificationAction::Close { connection: 0, slot: STREAM_SLOT })
        );
    }

    #[test]
    fn obs_back_replaces_lost_obs() {
        let mut policy = NotificationPolicy::new();
        let settings = Settings::default();
        let lost_plan = shown(policy.plan(&at(0, lost()), &settings));
        assert_eq!((lost_plan.slot, lost_plan.replace, lost_plan.urgency), (OBS_SLOT, false, Urgency::Critical));
        let back = shown(policy.plan(&at(9_000, Moment::ObsBack { down_ms: 9_000, still_live: true }), &settings));
        assert!(back.replace);
        assert_eq!(back.slot, OBS_SLOT);
    }

    #[test]
    fn obs_back_switched_off_still_closes_lost_obs() {
        let mut policy = NotificationPolicy::new();
        let settings = off(&[MomentKind::ObsBack]);
        shown(policy.plan(&at(0, lost()), &settings));
        let back = at(9_000, Moment::ObsBack { down_ms: 9_000, still_live: false });
        assert_eq!(policy.plan(&back, &settings), Some(NotificationAction::Close { connection: 0, slot: OBS_SLOT }));
        assert_eq!(policy.plan(&back, &settings), None, "closed once");
    }

    #[test]
    fn each_alarm_is_answered_by_its_own_recovery() {
        // The stream reconnects, then OnAir loses OBS too: two alarms on screen.
        let mut policy = NotificationPolicy::new();
        let settings = off(&[MomentKind::ObsBack]);
        shown(policy.plan(&at(0, Moment::Reconnecting { since_ms: 0 }), &settings));
        shown(policy.plan(&at(1_000, lost()), &settings));
        let back = at(4_000, Moment::ObsBack { down_ms: 3_000, still_live: true });
        assert_eq!(policy.plan(&back, &settings), Some(NotificationAction::Close { connection: 0, slot: OBS_SLOT }));
        let reconnected = shown(policy.plan(&at(6_000, Moment::Reconnected { down_ms: 6_000 }), &settings));
        assert_eq!((reconnected.slot, reconnected.replace), (STREAM_SLOT, true));
        // An alarm raised again while it still shows takes the old one's place.
        shown(policy.plan(&at(7_000, lost()), &settings));
        let again = shown(policy.plan(
            &at(8_000, Moment::ObsLost { reason: "again".into(), was_live: true, was_recording: false }),
            &settings,
        ));
        assert_eq!((again.slot, again.replace), (OBS_SLOT, true));
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
        assert!(policy.plan(&at(1_000, ended()), &settings).is_some());
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
    fn the_mute_alerts_offer_to_unmute_their_mic_and_their_clearing_does_not() {
        use crate::guard::AlertDetail;
        let mut policy = NotificationPolicy::new();
        let settings = Settings::default();
        let alert = |alert: AlertKind, mic: Option<&str>| Moment::Alert {
            alert,
            mic: mic.map(String::from),
            since_ms: 0,
            detail: AlertDetail::default(),
        };
        let muted = shown(policy.plan(&at(3_000, alert(AlertKind::MutedWhileLive, Some("Mic/Aux"))), &settings));
        let unmute = NotificationButton::Unmute("Mic/Aux".into());
        assert_eq!((muted.slot, muted.button.as_ref()), ("muted-while-live", Some(&unmute)));
        assert_eq!((unmute.key(), unmute.label()), ("unmute", "Unmute"));
        assert_eq!(unmute.control(), Some(Control::Mute { input: "Mic/Aux".into(), muted: Some(false) }));
        let setup = NotificationButton::UseObsSettings;
        assert_eq!((setup.key(), setup.label(), setup.control()), ("use-obs-settings", "Use OBS's settings", None));
        let talking = shown(policy.plan(&at(4_000, alert(AlertKind::TalkingWhileMuted, Some("Podcast"))), &settings));
        assert_eq!(talking.button, Some(NotificationButton::Unmute("Podcast".into())));

        // The note that replaces the alert in place has nothing left to unmute.
        let cleared =
            Moment::AlertCleared { alert: AlertKind::MutedWhileLive, mic: Some("Mic/Aux".into()), lasted_ms: 9 };
        let note = shown(policy.plan(&at(9_000, cleared), &settings));
        assert_eq!((note.slot, note.replace, note.button), ("muted-while-live", true, None));
        // Other alerts, and a mute alert that names no mic, offer nothing.
        assert_eq!(
            shown(policy.plan(&at(10_000, alert(AlertKind::MicSilent, Some("Mic/Aux"))), &settings)).button,
            None
        );
        assert_eq!(shown(policy.plan(&at(11_000, alert(AlertKind::Stalled, None)), &settings)).button, None);
        assert_eq!(shown(policy.plan(&at(12_000, alert(AlertKind::MutedWhileLive, None)), &settings)).button, None);
        assert_eq!(shown(policy.plan(&at(13_000, Moment::Live { since_ms: 0 }), &settings)).button, None);
    }

    #[test]
    fn switched_off_kinds_are_not_shown() {
        let mut policy = NotificationPolicy::new();
        let settings = off(&[MomentKind::RecordingStarted]);
        assert!(policy.plan(&at(0, Moment::RecordingStarted { path: None }), &settings).is_none());
        assert!(policy
            .plan(&at(0, Moment::RecordingStopped { path: Some("/r/a.mkv".into()), duration_ms: None }), &settings)
            .is_some());
    }

    #[test]
    fn another_obs_heads_its_notifications_with_its_name_and_keeps_its_own_slots() {
        let settings = Settings::default();
        let mut game_pc = NotificationPolicy::for_connection(1, Some("Game PC".into()));
        let down = game_pc.plan(&at(1_000, Moment::Reconnecting { since_ms: 1_000 }), &settings);
        let plan = shown(down);
        assert!(plan.summary.starts_with("Game PC: "), "{plan:?}");
        assert_eq!((plan.connection, plan.slot), (1, STREAM_SLOT));
        let back = game_pc.plan(&at(60_000, ended()), &settings);
        let Some(NotificationAction::Show(answer)) = back else { panic!("{back:?}") };
        assert_eq!((answer.connection, answer.slot, answer.replace), (1, STREAM_SLOT, true));
        let first = NotificationPolicy::new().plan(&at(1_000, Moment::Reconnecting { since_ms: 1_000 }), &settings);
        let first = shown(first);
        assert_eq!(first.connection, 0);
        assert!(!first.summary.contains(':'), "one OBS: no name: {first:?}");
    }
}
