//! Whether anyone shows OnAir's tray icon, and what to do when no one does.
//!
//! On Linux the tray icon is a StatusNotifierItem: it is only drawn when a
//! `org.kde.StatusNotifierWatcher` is on the session bus and a host (a panel)
//! has registered with it. GNOME without the AppIndicator extension has
//! neither, and OnAir, which starts hidden in the tray, would run with nothing
//! on screen. So the app looks at the bus once at start, and this decides: with
//! a host, nothing to do; without one, say so once (log and notification) and
//! open the window, which stays reachable from the app launcher. An XEmbed
//! system tray on the X screen shows the icon too (libappindicator falls back
//! to it), so it counts as a tray.

/// The notification's kind: its category is `x-onair.no-tray`.
pub const NO_TRAY_KIND: &str = "no-tray";

/// What the session bus said about the tray at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayHostSeen {
    /// `org.kde.StatusNotifierWatcher` has an owner. `host_registered` is its
    /// `IsStatusNotifierHostRegistered`, `None` when it would not say.
    Watcher { host_registered: Option<bool> },
    /// No one owns `org.kde.StatusNotifierWatcher`.
    NoWatcher,
    /// No StatusNotifier host, but an XEmbed system tray owns the X screen's
    /// `_NET_SYSTEM_TRAY_S<n>` selection (i3bar, trayer, older panels), where
    /// libappindicator falls back to an embedded icon.
    XEmbedTray,
    /// The bus could not be asked (no session bus, no answer in time): why.
    Unknown(String),
}

/// What the app does about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayHostPlan {
    /// No one shows the tray icon: logged as a warning, not as information.
    pub invisible: bool,
    /// The log line.
    pub log: String,
    /// The notification (summary, body), shown once.
    pub notice: Option<(String, String)>,
    /// Open the window in place of the tray no one sees.
    pub open_window: bool,
}

const ADVICE: &str = "On GNOME, install and enable the AppIndicator extension \
    (gnome-shell-extension-appindicator) and log in again. OnAir's window stays \
    available from the app launcher.";

/// Decides from what the bus said. A watcher that will not say whether a host
/// registered is trusted (older watchers do not keep the property), and a bus
/// that cannot be asked changes nothing: the icon may well show, and a window
/// opened on every start for nothing would be worse than today.
pub fn tray_host_plan(seen: &TrayHostSeen) -> TrayHostPlan {
    let why = match seen {
        TrayHostSeen::Watcher { host_registered: Some(true) } => {
            return quiet("a StatusNotifierWatcher with a host is on the session bus: the tray icon shows")
        }
        TrayHostSeen::Watcher { host_registered: None } => {
            return quiet("a StatusNotifierWatcher is on the session bus (it does not say whether a host registered)")
        }
        TrayHostSeen::XEmbedTray => {
            return quiet(
                "no StatusNotifier host is on the session bus, but an XEmbed system tray is on the X screen: \
                 the tray icon shows there",
            )
        }
        TrayHostSeen::Unknown(why) => {
            return quiet(&format!("cannot tell whether a tray shows OnAir's icon ({why}); staying in the tray"))
        }
        TrayHostSeen::Watcher { host_registered: Some(false) } => {
            "a StatusNotifierWatcher is on the session bus, but no panel has registered to show its icons"
        }
        TrayHostSeen::NoWatcher => "no StatusNotifierWatcher is on the session bus, so no tray shows OnAir's icon",
    };
    TrayHostPlan {
        invisible: true,
        log: format!("OnAir has no tray here: {why}; opening the window instead"),
        notice: Some(("OnAir has no tray here".to_string(), format!("Its tray icon cannot be shown: {why}. {ADVICE}"))),
        open_window: true,
    }
}

fn quiet(log: &str) -> TrayHostPlan {
    TrayHostPlan { invisible: false, log: log.to_string(), notice: None, open_window: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_watcher_it_says_so_and_opens_the_window() {
        let plan = tray_host_plan(&TrayHostSeen::NoWatcher);
        assert!(plan.invisible && plan.open_window);
        let (summary, body) = plan.notice.expect("a notice");
        assert_eq!(summary, "OnAir has no tray here");
        assert!(body.contains("no StatusNotifierWatcher"), "{body}");
        assert!(body.contains("AppIndicator extension") && body.contains("app launcher"), "{body}");
        assert!(plan.log.starts_with("OnAir has no tray here: no StatusNotifierWatcher"), "{}", plan.log);
    }

    #[test]
    fn a_watcher_without_a_host_is_no_tray_either() {
        let plan = tray_host_plan(&TrayHostSeen::Watcher { host_registered: Some(false) });
        assert!(plan.invisible && plan.open_window);
        let (_, body) = plan.notice.expect("a notice");
        assert!(body.contains("no panel has registered"), "{body}");
    }

    #[test]
    fn a_watcher_with_a_host_or_one_that_will_not_say_leaves_the_app_in_the_tray() {
        for seen in
            [TrayHostSeen::Watcher { host_registered: Some(true) }, TrayHostSeen::Watcher { host_registered: None }]
        {
            let plan = tray_host_plan(&seen);
            assert_eq!((plan.invisible, plan.open_window, plan.notice), (false, false, None), "{seen:?}");
        }
    }

    #[test]
    fn an_xembed_tray_shows_the_icon_so_the_app_stays_in_the_tray() {
        let plan = tray_host_plan(&TrayHostSeen::XEmbedTray);
        assert_eq!((plan.invisible, plan.open_window, plan.notice), (false, false, None));
        assert!(plan.log.contains("XEmbed system tray"), "{}", plan.log);
    }

    #[test]
    fn a_bus_that_cannot_be_asked_changes_nothing_but_is_logged() {
        let plan = tray_host_plan(&TrayHostSeen::Unknown("no session bus".into()));
        assert_eq!((plan.invisible, plan.open_window, plan.notice), (false, false, None));
        assert!(plan.log.contains("no session bus"), "{}", plan.log);
    }
}
