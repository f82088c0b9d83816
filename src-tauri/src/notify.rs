//! Desktop notifications through notify-rust, on a thread of their own: the
//! adapter that carries out what `onair_headless::desktop`'s notification
//! policy decides.
//!
//! D-Bus calls block, so they never run on the app's async tasks. The thread
//! keeps each notification's handle (and so its bus connection) alive while it
//! may still be showing: recent GNOME drops a notification whose sender left the
//! bus. Replacing in place (reconnecting -> reconnected) reuses the slot's id as
//! `replaces_id`; closing a slot (an alarm answered by a moment that is not
//! shown) closes the notification that shows in it. The handle of each slot's
//! latest notification is kept until it is replaced or closed, however long
//! that takes: a critical alarm stays on screen until then. With no
//! notification server, it says so once in the log and carries on.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use notify_rust::{Hint, Notification, NotificationHandle};
use onair_headless::desktop::{NotificationAction, NotificationPlan, Urgency};

/// How long a handle is kept after its notification was shown.
const KEEP_HANDLES_FOR: Duration = Duration::from_secs(15 * 60);
const MAX_KEPT_HANDLES: usize = 64;

pub struct DesktopNotifier {
    actions: std::sync::mpsc::Sender<NotificationAction>,
}

impl DesktopNotifier {
    pub fn start(app_name: &'static str, desktop_entry: &'static str) -> DesktopNotifier {
        let (actions, inbox) = std::sync::mpsc::channel::<NotificationAction>();
        let spawned = std::thread::Builder::new().name("notifications".into()).spawn(move || {
            let mut shower =
                Shower { app_name, desktop_entry, slots: HashMap::new(), kept: VecDeque::new(), server_missing: false };
            while let Ok(action) = inbox.recv() {
                match action {
                    NotificationAction::Show(plan) => shower.show(&plan),
                    NotificationAction::Close { slot } => shower.close(slot),
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the notification thread; notifications are off");
        }
        DesktopNotifier { actions }
    }
}

impl DesktopNotifier {
    /// Shows, replaces or closes a notification, on the notification thread.
    pub fn act(&self, action: NotificationAction) {
        let _ = self.actions.send(action);
    }
}

struct Shower {
    app_name: &'static str,
    desktop_entry: &'static str,
    /// The handle of the latest notification in each slot, for `replaces_id`
    /// and for closing it.
    slots: HashMap<&'static str, NotificationHandle>,
    kept: VecDeque<(Instant, NotificationHandle)>,
    server_missing: bool,
}

impl Shower {
    fn show(&mut self, plan: &NotificationPlan) {
        let mut notification = Notification::new();
        notification
            .appname(self.app_name)
            .summary(&plan.summary)
            .body(&plan.body)
            .icon(icon_for(plan))
            .hint(Hint::Category(plan.category()))
            .hint(Hint::DesktopEntry(self.desktop_entry.to_string()));
        #[cfg(all(unix, not(target_os = "macos")))]
        notification.urgency(match plan.urgency {
            Urgency::Low => notify_rust::Urgency::Low,
            Urgency::Normal => notify_rust::Urgency::Normal,
            Urgency::Critical => notify_rust::Urgency::Critical,
        });
        if plan.replace {
            if let Some(previous) = self.slots.get(plan.slot) {
                notification.id(previous.id());
            }
        }
        match notification.show() {
            Ok(handle) => {
                if self.server_missing {
                    tracing::info!("a notification server is back");
                    self.server_missing = false;
                }
                // The slot's previous notification may still show (stacked, not
                // replaced): its handle lives on for a while like any other.
                if let Some(previous) = self.slots.insert(plan.slot, handle) {
                    self.keep(previous);
                }
            }
            Err(error) => {
                if !self.server_missing {
                    tracing::warn!(%error, "no notification server answered; notifications are not shown until one does");
                    self.server_missing = true;
                }
            }
        }
    }

    fn close(&mut self, slot: &'static str) {
        if let Some(handle) = self.slots.remove(slot) {
            tracing::debug!(slot, id = handle.id(), "closing an answered notification");
            handle.close();
        }
    }

    fn keep(&mut self, handle: NotificationHandle) {
        let now = Instant::now();
        self.kept.push_back((now, handle));
        while self.kept.len() > MAX_KEPT_HANDLES
            || self.kept.front().is_some_and(|(at, _)| now.duration_since(*at) > KEEP_HANDLES_FOR)
        {
            self.kept.pop_front();
        }
    }
}

fn icon_for(plan: &NotificationPlan) -> &'static str {
    match plan.kind {
        "live" | "recording-started" | "recording-file-changed" => "media-record",
        "ended" | "recording-stopped" => "media-playback-stop",
        "recording-paused" => "media-playback-pause",
        "recording-resumed" | "reconnected" | "obs-back" => "media-playback-start",
        "replay-saved" => "document-save",
        "reconnecting" => "network-wireless-acquiring",
        _ => "dialog-warning",
    }
}
