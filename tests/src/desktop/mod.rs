//! A private, headless desktop session for GUI-level system tests of the app: what a
//! user's Linux session gives a tray app, minus the screen.
//!
//! One [`Desktop`] owns, each in its own process group so it can be torn down whole:
//! - a private X server (`Xvfb -displayfd`, so parallel tests never fight over a display),
//! - a private session bus (`dbus-daemon` with its own config file and NO service
//!   directories: nothing is D-Bus-activated behind the test's back, so a stopped
//!   notification server or a missing keyring really stays missing),
//! - a bus monitor (`busctl monitor --json=short`) that records every
//!   `org.freedesktop.Notifications.Notify` call ([`NotificationMonitor`]),
//! - optionally `dunst`, a real notification server, so `Notify` gets an id back,
//! - optionally `gnome-keyring-daemon --foreground --unlock --components=secrets`, an
//!   unlocked Secret Service (`org.freedesktop.secrets`) with a fresh login keyring,
//! - optionally (by default) a StatusNotifierWatcher with a host, so the app finds a
//!   tray as on KDE or GNOME with the AppIndicator extension (`watcher`),
//! - whatever the test starts with [`Desktop::spawn_tracked`] (the app under test).
//!
//! The app's tray menu (libayatana-appindicator exports it as `com.canonical.dbusmenu`)
//! can be found, read and clicked over the bus ([`Desktop::find_menu`],
//! [`Desktop::menu_layout`], [`Desktop::menu_click`]); global hotkeys can be pressed
//! with `xdotool` ([`Desktop::key`]); secrets can be checked with `secret-tool`.
//!
//! Everything is torn down on drop (also when a test panics). A watchdog shell process
//! kills the process groups and removes the temp dir if the test process dies without
//! dropping the desktop (SIGKILL, Ctrl-C). Set `ONAIR_KEEP_DESKTOP=1` to keep the temp
//! dir (HOME, configs and `logs/`).
//!
//! Why `busctl monitor --json=short` and not `dbus-monitor`: dbus-monitor prints string
//! arguments raw, without escaping quotes or newlines (`string "Live: "Main""`), so a
//! summary or body that contains `"` or a newline cannot be parsed unambiguously.
//! busctl's JSON is exact, and it also shows the server's reply (the notification id).
//!
//! How each piece was made to work headless, and what to watch for, is in
//! `docs/desktop-testing.md`.
//!
//! Layout, one job per file: `bus` (the private session bus and `busctl`), `notifications`
//! (dunst and the `Notify` monitor), `dbusmenu` (the tray menu over the bus), `keyring`
//! (gnome-keyring and `secret-tool`), `procs` (tracked processes, helper commands, and finding
//! what is left behind), `watcher` (a tray's StatusNotifierWatcher, and the visible windows).
//! This file holds the desktop itself: options, start, environment,
//! the X display and teardown.

mod bus;
mod dbusmenu;
mod keyring;
mod notifications;
mod portal;
mod procs;
mod watcher;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::sandbox::{write_file, xvfb_command, Group, Kind, Sandbox};

pub use dbusmenu::MenuNode;
pub use notifications::{NotificationMonitor, SeenNotification};
pub use portal::{BoundShortcut, FakePortal, PortalOptions, PortalRecord};
pub use procs::{processes_mentioning, AsStdCommand};

use bus::bus_config;
use notifications::DUNSTRC;
use procs::run;

/// Variables [`Desktop::command`] removes from the inherited environment, so a child
/// cannot reach the developer's real session: a Wayland compositor, an X cookie file,
/// a running keyring.
pub const REMOVED_ENV: &[&str] = &["WAYLAND_DISPLAY", "XAUTHORITY", "GNOME_KEYRING_CONTROL", "SESSION_MANAGER"];

/// Names the desktop's temp dir (`onair-desktop-...`) and keeps it when `ONAIR_KEEP_DESKTOP=1`.
const DESKTOP: Kind = Kind { name: "desktop", label: "desktop", keep_var: "ONAIR_KEEP_DESKTOP" };

/// What to start besides the display, the bus and the notification monitor.
#[derive(Debug, Clone)]
pub struct DesktopOptions {
    /// Start `dunst` as the notification server (`org.freedesktop.Notifications`).
    pub notification_server: bool,
    /// Start `gnome-keyring-daemon` with an unlocked login keyring (`org.freedesktop.secrets`).
    pub keyring: bool,
    /// Own `org.kde.StatusNotifierWatcher` with a host registered: a desktop with a
    /// tray. Without it the app finds no tray and opens its window at start.
    pub tray_watcher: bool,
}

impl Default for DesktopOptions {
    fn default() -> Self {
        DesktopOptions { notification_server: true, keyring: true, tray_watcher: true }
    }
}

/// A running private desktop session. See the module docs.
pub struct Desktop {
    /// The temp dir, the watchdog, Xvfb and the session bus.
    sandbox: Sandbox,
    monitor_proc: Option<Group>,
    monitor: NotificationMonitor,
    dunst: Option<Group>,
    dunst_starts: u32,
    keyring: Option<Group>,
    watcher: Option<watcher::TrayWatcher>,
    tracked: Vec<Group>,
}

impl Desktop {
    /// Starts Xvfb, then the session bus, then the notification monitor, then (per
    /// `opts`) dunst, gnome-keyring and the tray's watcher, and checks each is up before going on.
    pub async fn start(opts: DesktopOptions) -> Result<Desktop, String> {
        // From here on `desktop` owns everything: an early return drops it and cleans up.
        let mut desktop = Desktop {
            sandbox: Sandbox::create(
                DESKTOP,
                &["dbus-services", ".config/dunst", ".cache", ".local/share", ".local/state"],
            )?,
            monitor_proc: None,
            monitor: NotificationMonitor::new(),
            dunst: None,
            dunst_starts: 0,
            keyring: None,
            watcher: None,
            tracked: Vec::new(),
        };
        write_file(&desktop.home().join("bus.conf"), &bus_config(desktop.home()))?;
        write_file(&desktop.dunstrc(), DUNSTRC)?;
        desktop.start_xvfb().await?;
        desktop.start_bus().await?;
        desktop.start_monitor().await?;
        if opts.notification_server {
            desktop.start_notification_server().await?;
        }
        if opts.keyring {
            desktop.start_keyring().await?;
        }
        if opts.tray_watcher {
            desktop.start_tray_watcher().await?;
        }
        Ok(desktop)
    }

    /// The X display (`:N`) of this desktop's own Xvfb.
    pub fn display(&self) -> &str {
        self.sandbox.display()
    }

    /// The address of this desktop's session bus (`unix:path=<home>/bus,guid=...`).
    pub fn bus_address(&self) -> &str {
        self.sandbox.bus_address()
    }

    /// The temp dir: HOME of everything in this desktop (XDG dirs below it).
    pub fn home(&self) -> &Path {
        self.sandbox.home()
    }

    /// Stdout/stderr of the desktop's own helpers (`xvfb.log`, `dbus.log`, `dunst-1.log`,
    /// `keyring.log`, `notification-monitor.log`). A good place for the app's log too.
    pub fn logs_dir(&self) -> PathBuf {
        self.sandbox.logs_dir()
    }

    /// The environment a child process needs to live in this desktop: DISPLAY, the
    /// session bus, HOME and XDG dirs in the temp dir, `XDG_RUNTIME_DIR` (0700),
    /// `NO_AT_BRIDGE=1` (WebKitGTK can stall without an accessibility bus),
    /// `XDG_SESSION_TYPE=x11`, `GDK_BACKEND=x11`, and `GSETTINGS_BACKEND=memory` (there
    /// is no dconf service on the private bus). [`REMOVED_ENV`] must be removed too.
    pub fn env(&self) -> Vec<(String, String)> {
        let path = |sub: &str| self.home().join(sub).to_string_lossy().into_owned();
        [
            ("DISPLAY", self.display().to_string()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus_address().to_string()),
            ("HOME", self.home().to_string_lossy().into_owned()),
            ("XDG_CONFIG_HOME", path(".config")),
            ("XDG_STATE_HOME", path(".local/state")),
            ("XDG_DATA_HOME", path(".local/share")),
            ("XDG_CACHE_HOME", path(".cache")),
            ("XDG_RUNTIME_DIR", path("runtime")),
            ("NO_AT_BRIDGE", "1".into()),
            ("XDG_SESSION_TYPE", "x11".into()),
            ("GDK_BACKEND", "x11".into()),
            ("GSETTINGS_BACKEND", "memory".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// A tokio command living in this desktop ([`Desktop::env`] applied,
    /// [`REMOVED_ENV`] removed) with `kill_on_drop`. For short helper processes; start
    /// the app under test with [`Desktop::spawn_tracked`].
    pub fn command(&self, program: impl AsRef<OsStr>) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(program);
        self.apply_env(cmd.as_std_mut());
        cmd.kill_on_drop(true);
        cmd
    }

    /// The same as [`Desktop::command`], as a `std::process::Command`.
    pub fn std_command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new(program);
        self.apply_env(&mut cmd);
        cmd
    }

    fn apply_env(&self, cmd: &mut Command) {
        for key in REMOVED_ENV {
            cmd.env_remove(key);
        }
        cmd.envs(self.env());
    }

    /// Presses keys with `xdotool key` through XTEST, e.g. `"ctrl+alt+shift+s"` (several
    /// chords separated by spaces). Passive grabs on the root window (global hotkeys)
    /// fire; no window needs focus and `--clearmodifiers` is not needed under Xvfb.
    pub async fn key(&self, keys: &str) -> Result<(), String> {
        let mut cmd = self.command("xdotool");
        cmd.arg("key").args(keys.split_whitespace());
        let out = run(cmd, None, "xdotool key").await?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        // xdotool exits 0 even for an unknown key name; it says so on stderr.
        if out.status.success() && !stderr.contains("No such key name") {
            Ok(())
        } else {
            Err(format!("xdotool key {keys} failed ({}): {}", out.status, stderr.trim()))
        }
    }

    /// Processes (pid, command line) alive right now whose command line or environment
    /// mentions this desktop's temp dir: everything started with [`Desktop::command`],
    /// [`Desktop::std_command`] or by the desktop itself.
    pub fn processes(&self) -> Vec<(u32, String)> {
        processes_mentioning(self.home())
    }

    async fn start_xvfb(&mut self) -> Result<(), String> {
        let mut cmd = xvfb_command("1280x800x24");
        // Only so that `processes()` finds Xvfb by the temp dir.
        cmd.env("HOME", self.home());
        self.sandbox.start_xvfb(cmd).await
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        // The watchdog goes first so it never signals groups whose ids may be reused.
        self.sandbox.dismiss_watchdog();
        for mut group in self.tracked.drain(..) {
            group.kill(None);
        }
        self.watcher = None;
        for mut group in [self.keyring.take(), self.dunst.take(), self.monitor_proc.take()].into_iter().flatten() {
            group.kill(None);
        }
        // Then `sandbox` drops: it kills the bus, then Xvfb, then removes the temp dir.
    }
}
