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

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Write as _};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::watch;

use crate::sandbox::{
    log_excerpt, pids, proc_stat, send_signal, write_file, xvfb_command, Group, Kind, Pipes, Sandbox,
    HELPER_READY_TIMEOUT,
};

/// How long one helper command (busctl call, secret-tool, xdotool) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The login keyring's password. It must not be empty: with an empty one
/// gnome-keyring-daemon tries to prompt, which fails headless.
const KEYRING_PASSWORD: &str = "onair-desktop-keyring";
/// What `busctl monitor` writes to stderr once it has become a monitor.
const MONITOR_READY_LINE: &str = "Monitoring bus message stream.";
const NOTIFICATIONS: &str = "org.freedesktop.Notifications";
const SECRETS: &str = "org.freedesktop.secrets";
const DBUSMENU: &str = "com.canonical.dbusmenu";

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
}

impl Default for DesktopOptions {
    fn default() -> Self {
        DesktopOptions { notification_server: true, keyring: true }
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
    tracked: Vec<Group>,
}

impl Desktop {
    /// Starts Xvfb, then the session bus, then the notification monitor, then (per
    /// `opts`) dunst and gnome-keyring, and checks each is up before going on.
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

    /// Spawns `cmd` (a `std::process::Command` or a `tokio::process::Command`, e.g. from
    /// [`Desktop::command`]) as the leader of a new process group that the desktop kills
    /// on drop (and the watchdog if the test dies). Stdio stays as `cmd` has it. Returns
    /// the pid, which is also the process group id.
    pub fn spawn_tracked(&mut self, cmd: &mut impl AsStdCommand) -> Result<u32, String> {
        let cmd = cmd.as_std_command();
        let program = cmd.get_program().to_string_lossy().into_owned();
        cmd.process_group(0);
        let child = cmd.spawn().map_err(|e| format!("cannot start {program}: {e}"))?;
        let group = Group { child };
        let pid = group.pgid();
        if let Some(w) = self.sandbox.watchdog() {
            w.register(pid);
        }
        self.tracked.push(group);
        Ok(pid)
    }

    /// SIGKILLs the process group of a tracked process and waits until it is gone.
    pub fn kill_tracked(&mut self, pid: u32) {
        if let Some(i) = self.tracked.iter().position(|g| g.pgid() == pid) {
            let mut group = self.tracked.remove(i);
            group.kill(self.sandbox.watchdog());
        }
    }

    /// Sends `signal` (a name `kill -s` knows: "TERM", "INT", "STOP", ...) to the
    /// process group of a tracked process.
    pub fn signal_tracked(&self, pid: u32, signal: &str) {
        if self.tracked.iter().any(|g| g.pgid() == pid) {
            send_signal(signal, &format!("-{pid}"));
        }
    }

    /// The exit status of a tracked process once it has exited; `None` while it runs
    /// (or when `pid` is not tracked).
    pub fn tracked_status(&mut self, pid: u32) -> Option<ExitStatus> {
        self.tracked.iter_mut().find(|g| g.pgid() == pid).and_then(Group::exit_status)
    }

    /// Waits until a tracked process exits (e.g. after its "Quit" menu item).
    pub async fn wait_tracked(&mut self, pid: u32, timeout: Duration) -> Result<ExitStatus, String> {
        if !self.tracked.iter().any(|g| g.pgid() == pid) {
            return Err(format!("pid {pid} is not a tracked process of this desktop"));
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.tracked_status(pid) {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(format!("tracked process {pid} still runs after {timeout:?}"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The notification monitor started with the desktop (clones share one record).
    pub fn notifications(&self) -> NotificationMonitor {
        self.monitor.clone()
    }

    /// Whether some connection owns `name` on this desktop's bus right now.
    pub async fn name_has_owner(&self, name: &str) -> Result<bool, String> {
        let reply = self.bus_driver_call("NameHasOwner", &["s", name]).await?;
        reply["data"][0].as_bool().ok_or_else(|| format!("NameHasOwner({name}): unexpected reply {reply}"))
    }

    /// Starts dunst (when not running) and waits until it owns
    /// `org.freedesktop.Notifications`.
    pub async fn start_notification_server(&mut self) -> Result<(), String> {
        if self.dunst.as_mut().is_some_and(Group::running) {
            return Ok(());
        }
        self.stop_notification_server().await;
        self.dunst_starts += 1;
        let log = self.logs_dir().join(format!("dunst-{}.log", self.dunst_starts));
        let mut cmd = self.std_command("dunst");
        cmd.arg("-config").arg(self.dunstrc());
        let group = self.sandbox.spawn_group("dunst", &mut cmd, &log, Pipes::default())?;
        self.dunst = Some(group);
        let started = Instant::now();
        loop {
            if let Some(dunst) = self.dunst.as_mut() {
                dunst.check_startup("dunst", &log, 20)?;
            }
            if self.name_has_owner(NOTIFICATIONS).await? {
                return Ok(());
            }
            if started.elapsed() > HELPER_READY_TIMEOUT {
                return Err(format!(
                    "dunst did not own {NOTIFICATIONS} within {HELPER_READY_TIMEOUT:?}; {}",
                    log_excerpt(&log, 20)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills dunst and waits until `org.freedesktop.Notifications` has no owner, so the
    /// app meets "no notification server" (the bus activates nothing in its place).
    pub async fn stop_notification_server(&mut self) {
        let Some(mut dunst) = self.dunst.take() else {
            return;
        };
        dunst.kill(self.sandbox.watchdog());
        let deadline = Instant::now() + HELPER_READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(false) = self.name_has_owner(NOTIFICATIONS).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `secret-tool lookup k v ...`: the secret stored under these attributes, `None`
    /// when there is none or no Secret Service answers.
    pub async fn secret_lookup(&self, attrs: &[(&str, &str)]) -> Option<String> {
        let mut cmd = self.command("secret-tool");
        cmd.arg("lookup");
        for (k, v) in attrs {
            cmd.arg(k).arg(v);
        }
        let out = run(cmd, None, "secret-tool lookup").await.ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `secret-tool store --label=<label> k v ...` with the secret on stdin.
    pub async fn secret_store(&self, label: &str, attrs: &[(&str, &str)], secret: &str) -> Result<(), String> {
        let mut cmd = self.command("secret-tool");
        cmd.arg("store").arg(format!("--label={label}"));
        for (k, v) in attrs {
            cmd.arg(k).arg(v);
        }
        let out = run(cmd, Some(secret.as_bytes()), "secret-tool store").await?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("secret-tool store failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
        }
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

    /// Finds an object path ending in `/Menu` that implements `com.canonical.dbusmenu`,
    /// exported by a bus connection of process `pid` or of one of its descendants
    /// (`GetConnectionUnixProcessID`), waiting up to `timeout`. Returns (unique bus
    /// name, path), e.g. (":1.7", "/org/ayatana/NotificationItem/<id>/Menu").
    pub async fn find_menu(&self, pid: u32, timeout: Duration) -> Result<(String, String), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.try_find_menu(pid).await {
                Ok(Ok(found)) => return Ok(found),
                Ok(Err(why)) | Err(why) => why,
            };
            if Instant::now() >= deadline {
                return Err(format!("no {DBUSMENU} menu of pid {pid} on the bus within {timeout:?}: {last}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ok(Ok(found)), Ok(Err(why not yet)), or Err(bus trouble).
    async fn try_find_menu(&self, pid: u32) -> Result<Result<(String, String), String>, String> {
        let names = self.bus_driver_call("ListNames", &[]).await?;
        let names: Vec<String> = names["data"][0]
            .as_array()
            .map(|a| a.iter().filter_map(|n| n.as_str()).filter(|n| n.starts_with(':')).map(String::from).collect())
            .unwrap_or_default();
        let mut of_pid = Vec::new();
        for name in &names {
            let Ok(reply) = self.bus_driver_call("GetConnectionUnixProcessID", &["s", name]).await else {
                continue; // the connection went away meanwhile
            };
            if reply["data"][0].as_u64().is_some_and(|p| is_same_or_descendant(p as u32, pid)) {
                of_pid.push(name.clone());
            }
        }
        if of_pid.is_empty() {
            return Ok(Err(format!("no bus connection of pid {pid} (or its children)")));
        }
        for name in &of_pid {
            let Ok(tree) = self.busctl_text(&["tree", "--list", name]).await else {
                continue;
            };
            for path in tree.lines().map(str::trim).filter(|p| p.ends_with("/Menu")) {
                let Ok(xml) = self
                    .busctl_json(&["call", "--", name, path, "org.freedesktop.DBus.Introspectable", "Introspect"])
                    .await
                else {
                    continue;
                };
                if xml["data"][0].as_str().is_some_and(|x| x.contains(DBUSMENU)) {
                    return Ok(Ok((name.clone(), path.to_string())));
                }
            }
        }
        Ok(Err(format!("connections {of_pid:?} of pid {pid} export no {DBUSMENU} object at a path ending in /Menu")))
    }

    /// Reads the whole menu: `AboutToShow(0)` (errors ignored), then
    /// `GetLayout(0, -1, [])` (all properties).
    pub async fn menu_layout(&self, bus_name: &str, path: &str) -> Result<MenuNode, String> {
        let _ = self.busctl_json(&["call", "--", bus_name, path, DBUSMENU, "AboutToShow", "i", "0"]).await;
        let reply =
            self.busctl_json(&["call", "--", bus_name, path, DBUSMENU, "GetLayout", "iias", "0", "-1", "0"]).await?;
        parse_layout(&reply)
    }

    /// Clicks item `id`: `Event(id, "clicked", <s "">, 0)`, which the toolkit turns into
    /// an "activate" (Tauri's `on_menu_event`). Works for items in submenus too.
    pub async fn menu_click(&self, bus_name: &str, path: &str, id: i32) -> Result<(), String> {
        let id = id.to_string();
        self.busctl_json(&["call", "--", bus_name, path, DBUSMENU, "Event", "isvu", &id, "clicked", "s", "", "0"])
            .await
            .map(|_| ())
    }

    /// Reads the menu, finds the first item whose label starts with `label_prefix`
    /// (depth-first) and clicks it, enabled or not. Returns the item as it was.
    pub async fn menu_click_label(&self, bus_name: &str, path: &str, label_prefix: &str) -> Result<MenuNode, String> {
        let menu = self.menu_layout(bus_name, path).await?;
        let item = menu
            .find(label_prefix)
            .cloned()
            .ok_or_else(|| format!("no menu item starts with {label_prefix:?}; menu:\n{}", menu.render()))?;
        self.menu_click(bus_name, path, item.id).await?;
        Ok(item)
    }

    /// Processes (pid, command line) alive right now whose command line or environment
    /// mentions this desktop's temp dir: everything started with [`Desktop::command`],
    /// [`Desktop::std_command`] or by the desktop itself.
    pub fn processes(&self) -> Vec<(u32, String)> {
        processes_mentioning(self.home())
    }

    /// `busctl --address=<bus> --json=short <args>`, parsed (Null when it printed nothing).
    pub async fn busctl_json(&self, args: &[&str]) -> Result<Value, String> {
        let mut cmd = self.command("busctl");
        cmd.arg(format!("--address={}", self.bus_address())).arg("--json=short").args(args);
        let text = busctl_output(cmd, args).await?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(text.trim()).map_err(|e| format!("busctl {}: invalid JSON ({e}): {text}", args.join(" ")))
    }

    /// `busctl call -- org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus
    /// <method> <args>`: a call to the bus driver itself, parsed.
    async fn bus_driver_call(&self, method: &str, args: &[&str]) -> Result<Value, String> {
        let driver = "org.freedesktop.DBus";
        let mut all = vec!["call", "--", driver, "/org/freedesktop/DBus", driver, method];
        all.extend_from_slice(args);
        self.busctl_json(&all).await
    }

    async fn busctl_text(&self, args: &[&str]) -> Result<String, String> {
        let mut cmd = self.command("busctl");
        cmd.arg(format!("--address={}", self.bus_address())).arg("--no-pager").args(args);
        busctl_output(cmd, args).await
    }

    fn dunstrc(&self) -> PathBuf {
        self.home().join(".config/dunst/dunstrc")
    }

    async fn start_xvfb(&mut self) -> Result<(), String> {
        let mut cmd = xvfb_command("1280x800x24");
        // Only so that `processes()` finds Xvfb by the temp dir.
        cmd.env("HOME", self.home());
        self.sandbox.start_xvfb(cmd).await
    }

    async fn start_bus(&mut self) -> Result<(), String> {
        let mut cmd = self.std_command("dbus-daemon");
        cmd.arg("--nofork")
            .arg("--nopidfile")
            .arg(format!("--config-file={}", self.home().join("bus.conf").display()))
            .arg("--print-address=1");
        self.sandbox.start_bus(cmd).await
    }

    async fn start_monitor(&mut self) -> Result<(), String> {
        let log = self.logs_dir().join("notification-monitor.log");
        let mut cmd = self.std_command("busctl");
        cmd.arg(format!("--address={}", self.bus_address())).args([
            "monitor",
            "--json=short",
            "--match=type='method_call',interface='org.freedesktop.Notifications'",
            // The server's answers (the id) and errors; the monitor keeps only those
            // that answer a recorded Notify.
            "--match=type='method_return'",
            "--match=type='error'",
        ]);
        let pipes = Pipes { stdout: true, stderr: true, ..Pipes::default() };
        let mut group = self.sandbox.spawn_group("busctl monitor", &mut cmd, &log, pipes)?;
        let stdout = group.child.stdout.take().ok_or("busctl monitor: stdout was not piped")?;
        let stderr = group.child.stderr.take().ok_or("busctl monitor: stderr was not piped")?;
        self.monitor_proc = Some(group);

        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let log_path = log.clone();
        std::thread::Builder::new()
            .name("desktop-monitor-stderr".into())
            .spawn(move || {
                let mut out = fs::OpenOptions::new().create(true).append(true).open(&log_path).ok();
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(f) = out.as_mut() {
                        let _ = writeln!(f, "{line}");
                    }
                    if line.contains(MONITOR_READY_LINE) {
                        let _ = ready_tx.send(());
                    }
                }
            })
            .map_err(|e| format!("cannot start the monitor's stderr thread: {e}"))?;
        let monitor = self.monitor.clone();
        std::thread::Builder::new()
            .name("desktop-monitor".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    monitor.ingest(&line);
                }
                monitor.ended();
            })
            .map_err(|e| format!("cannot start the monitor thread: {e}"))?;

        let started = Instant::now();
        loop {
            if ready_rx.try_recv().is_ok() {
                return Ok(());
            }
            if let Some(monitor) = self.monitor_proc.as_mut() {
                monitor.check_startup("busctl monitor", &log, 20)?;
            }
            if started.elapsed() > HELPER_READY_TIMEOUT {
                return Err(format!(
                    "busctl monitor did not become a monitor within {HELPER_READY_TIMEOUT:?}; {}",
                    log_excerpt(&log, 20)
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// gnome-keyring-daemon in the foreground (with `--daemonize` it forks into its own
    /// session, out of reach of process-group kills), password on stdin then EOF.
    async fn start_keyring(&mut self) -> Result<(), String> {
        let log = self.logs_dir().join("keyring.log");
        let mut cmd = self.std_command("gnome-keyring-daemon");
        cmd.args(["--foreground", "--unlock", "--components=secrets"]);
        let pipes = Pipes { stdin: true, ..Pipes::default() };
        let mut group = self.sandbox.spawn_group("gnome-keyring-daemon", &mut cmd, &log, pipes)?;
        let stdin = group.child.stdin.take();
        self.keyring = Some(group);
        {
            let mut stdin = stdin.ok_or("gnome-keyring-daemon: stdin was not piped")?;
            stdin
                .write_all(KEYRING_PASSWORD.as_bytes())
                .map_err(|e| format!("cannot write the keyring password to gnome-keyring-daemon: {e}"))?;
            // Dropping stdin sends EOF: the daemon reads the password up to it.
        }
        let started = Instant::now();
        let mut last;
        loop {
            if let Some(keyring) = self.keyring.as_mut() {
                keyring.check_startup("gnome-keyring-daemon", &log, 20)?;
            }
            // Owned name and an unlocked default collection (the fresh login keyring).
            if self.name_has_owner(SECRETS).await? {
                match self
                    .busctl_json(&[
                        "get-property",
                        "--",
                        SECRETS,
                        "/org/freedesktop/secrets/aliases/default",
                        "org.freedesktop.Secret.Collection",
                        "Locked",
                    ])
                    .await
                {
                    Ok(v) if v["data"] == Value::Bool(false) => return Ok(()),
                    Ok(v) => last = format!("default collection Locked = {v}"),
                    Err(e) => last = e,
                }
            } else {
                last = format!("{SECRETS} has no owner");
            }
            if started.elapsed() > HELPER_READY_TIMEOUT {
                return Err(format!(
                    "gnome-keyring-daemon not ready within {HELPER_READY_TIMEOUT:?} ({last}); {}",
                    log_excerpt(&log, 20)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        // The watchdog goes first so it never signals groups whose ids may be reused.
        self.sandbox.dismiss_watchdog();
        for mut group in self.tracked.drain(..) {
            group.kill(None);
        }
        for mut group in [self.keyring.take(), self.dunst.take(), self.monitor_proc.take()].into_iter().flatten() {
            group.kill(None);
        }
        // Then `sandbox` drops: it kills the bus, then Xvfb, then removes the temp dir.
    }
}

/// A command [`Desktop::spawn_tracked`] can start: `std::process::Command` or
/// `tokio::process::Command`.
pub trait AsStdCommand {
    fn as_std_command(&mut self) -> &mut Command;
}

impl AsStdCommand for Command {
    fn as_std_command(&mut self) -> &mut Command {
        self
    }
}

impl AsStdCommand for tokio::process::Command {
    fn as_std_command(&mut self) -> &mut Command {
        self.as_std_mut()
    }
}

// ---------------------------------------------------------------------------------
// Notifications

/// One `org.freedesktop.Notifications.Notify` call seen on the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenNotification {
    /// When the bus passed the call on (from the monitor's timestamp).
    pub at: Instant,
    /// Unique bus name of the caller (":1.7").
    pub sender: String,
    pub app_name: String,
    pub replaces_id: u32,
    pub icon: String,
    pub summary: String,
    pub body: String,
    /// Action keys and labels, alternating, as sent.
    pub actions: Vec<String>,
    /// Hints with basic values as text ("category" -> "x-onair.live", "urgency" -> "2",
    /// "transient" -> "true"); container values (e.g. image-data) as `<signature>`.
    pub hints: BTreeMap<String, String>,
    pub expire_timeout: i32,
    /// The id the server answered; `None` until the answer arrives, or when there was none.
    pub id: Option<u32>,
    /// The error the call got instead ("org.freedesktop.DBus.Error.ServiceUnknown: ...").
    pub error: Option<String>,
}

impl SeenNotification {
    /// The "category" hint.
    pub fn category(&self) -> Option<&str> {
        self.hint("category")
    }

    pub fn hint(&self, key: &str) -> Option<&str> {
        self.hints.get(key).map(String::as_str)
    }
}

#[derive(Default)]
struct MonitorState {
    seen: Vec<SeenNotification>,
    /// (caller, cookie) of Notify calls not answered yet -> index in `seen`.
    pending: HashMap<(String, u64), usize>,
    closed: Vec<(Instant, u32)>,
    ended: bool,
}

struct MonitorShared {
    state: Mutex<MonitorState>,
    changed: watch::Sender<u64>,
}

/// Every notification sent on the desktop's bus since it started (with or without a
/// notification server). Cheap to clone; clones share the record.
#[derive(Clone)]
pub struct NotificationMonitor {
    shared: Arc<MonitorShared>,
}

impl NotificationMonitor {
    fn new() -> NotificationMonitor {
        let (changed, _) = watch::channel(0u64);
        NotificationMonitor { shared: Arc::new(MonitorShared { state: Mutex::new(MonitorState::default()), changed }) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MonitorState> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Feeds one line of `busctl monitor --json=short` output.
    fn ingest(&self, line: &str) {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            return;
        };
        let changed = ingest_message(&mut self.state(), &msg, Instant::now(), SystemTime::now());
        if changed {
            self.shared.changed.send_modify(|n| *n += 1);
        }
    }

    fn ended(&self) {
        self.state().ended = true;
        self.shared.changed.send_modify(|n| *n += 1);
    }

    /// All notifications so far, oldest first.
    pub fn all(&self) -> Vec<SeenNotification> {
        self.state().seen.clone()
    }

    /// Those whose "category" hint is exactly `category`.
    pub fn with_category(&self, category: &str) -> Vec<SeenNotification> {
        self.state().seen.iter().filter(|n| n.category() == Some(category)).cloned().collect()
    }

    /// How many have a "category" hint starting with `category_prefix`.
    pub fn count(&self, category_prefix: &str) -> usize {
        self.state().seen.iter().filter(|n| n.category().is_some_and(|c| c.starts_with(category_prefix))).count()
    }

    /// Ids passed to `CloseNotification`, oldest first.
    pub fn closed(&self) -> Vec<u32> {
        self.state().closed.iter().map(|(_, id)| *id).collect()
    }

    /// Waits until some notification (seen before or after the call) satisfies `pred`
    /// and returns the first such one.
    pub async fn wait_for(
        &self,
        pred: impl Fn(&SeenNotification) -> bool,
        timeout: Duration,
    ) -> Result<SeenNotification, String> {
        let found = self.wait_until(timeout, |st| st.seen.iter().find(|n| pred(n)).cloned()).await;
        found.map_err(|why| format!("no matching notification {why}; seen:\n{}", self.describe()))
    }

    /// Waits until at least `n` notifications have a "category" hint starting with
    /// `category_prefix`.
    pub async fn wait_count(&self, category_prefix: &str, n: usize, timeout: Duration) -> Result<(), String> {
        let matches = |st: &MonitorState| {
            st.seen.iter().filter(|x| x.category().is_some_and(|c| c.starts_with(category_prefix))).count()
        };
        let done = self.wait_until(timeout, |st| (matches(st) >= n).then_some(())).await;
        done.map_err(|why| {
            format!(
                "fewer than {n} notifications with category {category_prefix:?}* ({}) {why}; seen:\n{}",
                matches(&self.state()),
                self.describe()
            )
        })
    }

    async fn wait_until<T>(&self, timeout: Duration, check: impl Fn(&MonitorState) -> Option<T>) -> Result<T, String> {
        let mut rx = self.shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            {
                let st = self.state();
                if let Some(found) = check(&st) {
                    return Ok(found);
                }
                if st.ended {
                    return Err("(the bus monitor has stopped)".into());
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err("(the monitor is gone)".into()),
                Err(_) => return Err(format!("within {timeout:?}")),
            }
        }
    }

    /// One line per notification, for error messages.
    pub fn describe(&self) -> String {
        let st = self.state();
        if st.seen.is_empty() {
            return "  (none)".into();
        }
        st.seen
            .iter()
            .map(|n| {
                format!(
                    "  [{}] {:?} {:?} body={:?} hints={:?} id={:?}{}",
                    n.app_name,
                    n.summary,
                    n.category().unwrap_or("-"),
                    n.body,
                    n.hints,
                    n.id,
                    n.error.as_deref().map(|e| format!(" error={e}")).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Applies one monitored bus message to the record; true when something changed.
fn ingest_message(st: &mut MonitorState, msg: &Value, now: Instant, now_sys: SystemTime) -> bool {
    let s = |key: &str| msg[key].as_str().unwrap_or_default();
    match s("type") {
        "method_call" if s("interface") == NOTIFICATIONS => {
            let at = message_instant(msg, now, now_sys);
            match s("member") {
                "Notify" => {
                    let Some(n) = parse_notify(msg, at) else {
                        return false;
                    };
                    if let Some(cookie) = msg["cookie"].as_u64() {
                        st.pending.insert((n.sender.clone(), cookie), st.seen.len());
                    }
                    st.seen.push(n);
                    true
                }
                "CloseNotification" => match msg["payload"]["data"][0].as_u64() {
                    Some(id) => {
                        st.closed.push((at, id as u32));
                        true
                    }
                    None => false,
                },
                _ => false,
            }
        }
        kind @ ("method_return" | "error") => {
            let (Some(reply_cookie), dest) = (msg["reply_cookie"].as_u64(), s("destination")) else {
                return false;
            };
            let Some(i) = st.pending.remove(&(dest.to_string(), reply_cookie)) else {
                return false;
            };
            let Some(n) = st.seen.get_mut(i) else {
                return false;
            };
            if kind == "method_return" {
                n.id = msg["payload"]["data"][0].as_u64().map(|id| id as u32);
            } else {
                let text = msg["payload"]["data"][0].as_str().unwrap_or_default();
                n.error = Some(format!("{}: {text}", s("error_name")));
            }
            true
        }
        _ => false,
    }
}

/// The monitor's `timestamp-realtime` (µs since the epoch) as an Instant; `now` when
/// it is missing or implausible.
fn message_instant(msg: &Value, now: Instant, now_sys: SystemTime) -> Instant {
    let Some(us) = msg["timestamp-realtime"].as_u64() else {
        return now;
    };
    let stamp = UNIX_EPOCH + Duration::from_micros(us);
    match now_sys.duration_since(stamp) {
        Ok(age) if age < Duration::from_secs(60) => now.checked_sub(age).unwrap_or(now),
        _ => now,
    }
}

/// A `Notify` call (`susssasa{sv}i`) as busctl's JSON shows it.
fn parse_notify(msg: &Value, at: Instant) -> Option<SeenNotification> {
    let data = msg["payload"]["data"].as_array()?;
    if data.len() != 8 {
        return None;
    }
    let text = |i: usize| data[i].as_str().map(String::from);
    let hints = data[6].as_object()?.iter().map(|(k, v)| (k.clone(), variant_text(v))).collect::<BTreeMap<_, _>>();
    Some(SeenNotification {
        at,
        sender: msg["sender"].as_str().unwrap_or_default().to_string(),
        app_name: text(0)?,
        replaces_id: data[1].as_u64()? as u32,
        icon: text(2)?,
        summary: text(3)?,
        body: text(4)?,
        actions: data[5].as_array()?.iter().filter_map(|a| a.as_str().map(String::from)).collect(),
        hints,
        expire_timeout: data[7].as_i64()? as i32,
        id: None,
        error: None,
    })
}

/// A variant (`{"type": sig, "data": value}`) as text: strings as they are, numbers
/// and booleans as Rust prints them, containers as `<sig>`.
fn variant_text(v: &Value) -> String {
    let sig = v["type"].as_str().unwrap_or_default();
    let data = &v["data"];
    match (sig, data) {
        ("s" | "o" | "g", Value::String(s)) => s.clone(),
        ("b", Value::Bool(b)) => b.to_string(),
        ("d", Value::Number(n)) => n.as_f64().map(|f| f.to_string()).unwrap_or_else(|| n.to_string()),
        ("y" | "n" | "q" | "i" | "u" | "x" | "t" | "h", Value::Number(n)) => n.to_string(),
        _ => format!("<{sig}>"),
    }
}

// ---------------------------------------------------------------------------------
// Tray menu (com.canonical.dbusmenu)

/// One item of a dbusmenu layout (dbusmenu's defaults applied for absent properties).
#[derive(Debug, Clone, PartialEq)]
pub struct MenuNode {
    /// dbusmenu's id (not Tauri's menu id): use it for [`Desktop::menu_click`].
    pub id: i32,
    /// The label with mnemonics removed ("_Quit" -> "Quit", "a__b" -> "a_b").
    pub label: String,
    pub enabled: bool,
    pub visible: bool,
    /// 1 checked, 0 unchecked (check and radio items only).
    pub toggle_state: Option<i32>,
    /// "checkmark" or "radio" (check and radio items only).
    pub toggle_type: Option<String>,
    /// "standard" or "separator".
    pub kind: String,
    pub children: Vec<MenuNode>,
}

impl MenuNode {
    /// The first node (this one included, then depth-first) whose label starts with
    /// `label_prefix`.
    pub fn find(&self, label_prefix: &str) -> Option<&MenuNode> {
        if self.kind != "separator" && self.label.starts_with(label_prefix) {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(label_prefix))
    }

    /// Labels of the visible top-level items, separators as "---": what a user sees.
    pub fn labels(&self) -> Vec<String> {
        self.children
            .iter()
            .filter(|c| c.visible)
            .map(|c| if c.kind == "separator" { "---".to_string() } else { c.label.clone() })
            .collect()
    }

    /// An indented text picture of the menu, for error messages.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(0, &mut out);
        out
    }

    fn render_into(&self, depth: usize, out: &mut String) {
        use std::fmt::Write as _;
        let text = if self.kind == "separator" { "---".to_string() } else { format!("{:?}", self.label) };
        let mut flags = Vec::new();
        if !self.enabled {
            flags.push("disabled".to_string());
        }
        if !self.visible {
            flags.push("hidden".to_string());
        }
        if let Some(state) = self.toggle_state {
            flags.push(format!("{}={state}", self.toggle_type.as_deref().unwrap_or("toggle")));
        }
        let _ = writeln!(out, "{}#{} {text} {}", "  ".repeat(depth), self.id, flags.join(" "));
        for c in &self.children {
            c.render_into(depth + 1, out);
        }
    }
}

/// The reply of `GetLayout` (`u(ia{sv}av)`) as busctl's JSON shows it.
fn parse_layout(reply: &Value) -> Result<MenuNode, String> {
    parse_menu_node(&reply["data"][1]).map_err(|e| format!("unexpected GetLayout reply ({e}): {reply}"))
}

/// One `(ia{sv}av)`: id, properties, children (each a variant of the same).
fn parse_menu_node(v: &Value) -> Result<MenuNode, String> {
    let parts = v.as_array().filter(|a| a.len() == 3).ok_or("a node is not [id, props, children]")?;
    let id = parts[0].as_i64().ok_or("a node id is not a number")? as i32;
    let props = parts[1].as_object().ok_or("node properties are not a map")?;
    let prop = |name: &str| props.get(name).map(|p| &p["data"]);
    let children = parts[2]
        .as_array()
        .ok_or("node children are not an array")?
        .iter()
        .map(|c| parse_menu_node(&c["data"]))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MenuNode {
        id,
        label: strip_mnemonics(prop("label").and_then(Value::as_str).unwrap_or_default()),
        enabled: prop("enabled").and_then(Value::as_bool).unwrap_or(true),
        visible: prop("visible").and_then(Value::as_bool).unwrap_or(true),
        toggle_state: prop("toggle-state").and_then(Value::as_i64).map(|s| s as i32),
        toggle_type: prop("toggle-type").and_then(Value::as_str).filter(|t| !t.is_empty()).map(String::from),
        kind: prop("type").and_then(Value::as_str).unwrap_or("standard").to_string(),
        children,
    })
}

/// dbusmenu labels mark mnemonics with '_' and a literal underscore with "__".
fn strip_mnemonics(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut chars = label.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' {
            if chars.peek() == Some(&'_') {
                chars.next();
                out.push('_');
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Processes

/// Processes (pid, command line) alive right now, other than this one, whose command
/// line or environment mentions `dir`: after a [`Desktop`] is dropped there must be none
/// for its [`Desktop::home`].
pub fn processes_mentioning(dir: &Path) -> Vec<(u32, String)> {
    let needle = dir.as_os_str().as_encoded_bytes();
    let me = std::process::id();
    let mut found = Vec::new();
    for pid in pids() {
        if pid == me {
            continue;
        }
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let mentions = |hay: &[u8]| !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle);
        if mentions(&cmdline) || mentions(&environ) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            found.push((pid, text.trim().to_string()));
        }
    }
    found
}

/// Whether `pid` is `ancestor` or one of its descendants (walks /proc/<pid>/stat).
fn is_same_or_descendant(mut pid: u32, ancestor: u32) -> bool {
    for _ in 0..64 {
        if pid == ancestor {
            return true;
        }
        if pid <= 1 {
            return false;
        }
        match parent_pid(pid) {
            Some(parent) => pid = parent,
            None => return false,
        }
    }
    false
}

fn parent_pid(pid: u32) -> Option<u32> {
    proc_stat(pid).map(|s| s.ppid)
}

/// Runs a short helper command (stdout and stderr captured, `stdin` written then closed)
/// with [`CALL_TIMEOUT`]; the process is killed when it takes longer.
async fn run(
    mut cmd: tokio::process::Command,
    stdin: Option<&[u8]>,
    what: &str,
) -> Result<std::process::Output, String> {
    use tokio::io::AsyncWriteExt;
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {what}: {e} (is it installed?)"))?;
    let work = async {
        if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(bytes).await.map_err(|e| format!("{what}: writing stdin failed: {e}"))?;
            drop(pipe);
        }
        child.wait_with_output().await.map_err(|e| format!("{what}: {e}"))
    };
    tokio::time::timeout(CALL_TIMEOUT, work).await.map_err(|_| format!("{what}: no answer within {CALL_TIMEOUT:?}"))?
}

async fn busctl_output(cmd: tokio::process::Command, args: &[&str]) -> Result<String, String> {
    let what = format!("busctl {}", args.join(" "));
    let out = run(cmd, None, &what).await?;
    if !out.status.success() {
        return Err(format!("{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A session bus that activates nothing: an empty service dir instead of the standard
/// ones (which would start a second dunst or an unlocked-less keyring on demand).
fn bus_config(dir: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <keep_umask/>
  <listen>unix:path={bus}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{services}</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        bus = dir.join("bus").display(),
        services = dir.join("dbus-services").display(),
    )
}

/// dunst that never waits for anyone: no idle detection, short timeouts for every
/// urgency (critical ones otherwise stay forever), no dmenu or browser.
const DUNSTRC: &str = "[global]
    monitor = 0
    follow = none
    idle_threshold = 0
    show_indicators = no
    sticky_history = no
    history_length = 5
    dmenu = /bin/false
    browser = /bin/false
    mouse_left_click = close_current
    mouse_middle_click = close_current
    mouse_right_click = close_current

[urgency_low]
    timeout = 5

[urgency_normal]
    timeout = 5

[urgency_critical]
    timeout = 5
";

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `busctl monitor --json=short` on a private bus with dunst while
    /// running:
    /// notify-send -p -a onair --hint=string:category:x-test.one
    ///   --hint=string:desktop-entry:foo -u critical -i media-record 'Live: "Main" stream'
    ///   $'First line\nSecond line with "quotes" and a back\\\\slash\n\tindented third'
    /// (dunst's answer, then a CloseNotification(2) from gdbus).
    const CAPTURED_NOTIFY: &str = r#"{"type":"method_call","endian":"l","flags":0,"version":1,"cookie":9,"timestamp-realtime":1795309097718387,"sender":":1.2","destination":":1.0","path":"/org/freedesktop/Notifications","interface":"org.freedesktop.Notifications","member":"Notify","payload":{"type":"susssasa{sv}i","data":["onair",0,"media-record","Live: \"Main\" stream","First line\nSecond line with \"quotes\" and a back\\slash\n\tindented third",[],{"category":{"type":"s","data":"x-test.one"},"desktop-entry":{"type":"s","data":"foo"},"urgency":{"type":"y","data":2},"sender-pid":{"type":"x","data":23538}},-1]}}"#;
    const CAPTURED_REPLY: &str = r#"{"type":"method_return","endian":"l","flags":1,"version":1,"cookie":5,"reply_cookie":9,"timestamp-realtime":1795309097721073,"sender":":1.0","destination":":1.2","payload":{"type":"u","data":[2]}}"#;
    const CAPTURED_CLOSE: &str = r#"{"type":"method_call","endian":"l","flags":0,"version":1,"cookie":3,"timestamp-realtime":1795309097773552,"sender":":1.4","destination":"org.freedesktop.Notifications","path":"/org/freedesktop/Notifications","interface":"org.freedesktop.Notifications","member":"CloseNotification","payload":{"type":"u","data":[2]}}"#;
    /// notify-send --hint=byte:b:7 --hint=int:n:42 --hint=boolean:transient:true
    ///   --hint=double:d:1.5 -t 5000 -p 'Second' 'plain body'
    const CAPTURED_TYPED_HINTS: &str = r#"{"type":"method_call","endian":"l","flags":0,"version":1,"cookie":9,"timestamp-realtime":1795308923644069,"sender":":1.9","destination":":1.0","path":"/org/freedesktop/Notifications","interface":"org.freedesktop.Notifications","member":"Notify","payload":{"type":"susssasa{sv}i","data":["notify-send",0,"","Second","plain body",[],{"n":{"type":"i","data":42},"b":{"type":"y","data":7},"transient":{"type":"b","data":true},"d":{"type":"d","data":1.500000000000000000000e+00},"urgency":{"type":"y","data":1},"sender-pid":{"type":"x","data":20471}},5000]}}"#;
    /// The bus driver's answer when no notification server runs.
    const CAPTURED_ERROR: &str = r#"{"type":"error","endian":"l","flags":1,"version":1,"cookie":8,"reply_cookie":9,"timestamp-realtime":1795309057040869,"sender":"org.freedesktop.DBus","destination":":1.9","error_name":"org.freedesktop.DBus.Error.ServiceUnknown","payload":{"type":"s","data":["The name org.freedesktop.Notifications was not provided by any .service files"]}}"#;

    /// A real `GetLayout 0 -1 []` reply from libayatana-appindicator3 (Python GTK test
    /// menu: disabled "Status: _idle" row, separator, "_Go live", a "Scenes" submenu
    /// with two radio items and a check item, a hidden item, "Quit").
    const CAPTURED_LAYOUT: &str = r#"{"type":"u(ia{sv}av)","data":[2,[0,{"children-display":{"type":"s","data":"submenu"}},[{"type":"(ia{sv}av)","data":[2,{"enabled":{"type":"b","data":false},"label":{"type":"s","data":"Status: __idle"}},[]]},{"type":"(ia{sv}av)","data":[3,{"enabled":{"type":"b","data":true},"type":{"type":"s","data":"separator"}},[]]},{"type":"(ia{sv}av)","data":[4,{"label":{"type":"s","data":"_Go live"}},[]]},{"type":"(ia{sv}av)","data":[5,{"children-display":{"type":"s","data":"submenu"},"label":{"type":"s","data":"Scenes"}},[{"type":"(ia{sv}av)","data":[6,{"toggle-state":{"type":"i","data":1},"toggle-type":{"type":"s","data":"radio"},"label":{"type":"s","data":"Scene A"}},[]]},{"type":"(ia{sv}av)","data":[7,{"toggle-state":{"type":"i","data":0},"toggle-type":{"type":"s","data":"radio"},"label":{"type":"s","data":"Scene B"}},[]]},{"type":"(ia{sv}av)","data":[8,{"toggle-state":{"type":"i","data":1},"toggle-type":{"type":"s","data":"checkmark"},"label":{"type":"s","data":"Mute"}},[]]}]]},{"type":"(ia{sv}av)","data":[9,{"visible":{"type":"b","data":false},"label":{"type":"s","data":"Hidden"}},[]]},{"type":"(ia{sv}av)","data":[10,{"label":{"type":"s","data":"Quit"}},[]]}]]]}"#;

    fn feed(lines: &[&str]) -> MonitorState {
        let mut st = MonitorState::default();
        let now = Instant::now();
        let now_sys = UNIX_EPOCH + Duration::from_micros(1795309097800000);
        for line in lines {
            let v: Value = serde_json::from_str(line).expect("captured line is JSON");
            ingest_message(&mut st, &v, now, now_sys);
        }
        st
    }

    #[test]
    fn parses_a_captured_notify_with_quotes_newlines_and_string_hints() {
        let st = feed(&[CAPTURED_NOTIFY, CAPTURED_REPLY, CAPTURED_CLOSE]);
        assert_eq!(st.seen.len(), 1);
        let n = &st.seen[0];
        assert_eq!(n.sender, ":1.2");
        assert_eq!(n.app_name, "onair");
        assert_eq!(n.replaces_id, 0);
        assert_eq!(n.icon, "media-record");
        assert_eq!(n.summary, "Live: \"Main\" stream");
        assert_eq!(n.body, "First line\nSecond line with \"quotes\" and a back\\slash\n\tindented third");
        assert!(n.actions.is_empty());
        assert_eq!(n.category(), Some("x-test.one"));
        assert_eq!(n.hint("desktop-entry"), Some("foo"));
        assert_eq!(n.hint("urgency"), Some("2"));
        assert_eq!(n.hint("sender-pid"), Some("23538"));
        assert_eq!(n.hints.len(), 4);
        assert_eq!(n.expire_timeout, -1);
        assert_eq!(n.id, Some(2), "the reply's id is attached to the call");
        assert_eq!(n.error, None);
        assert!(st.pending.is_empty());
        assert_eq!(st.closed.iter().map(|c| c.1).collect::<Vec<_>>(), vec![2]);
        // The bus's timestamp (about 82 ms before "now" here) becomes the Instant.
        let age = Instant::now().duration_since(n.at);
        assert!(age >= Duration::from_millis(80) && age < Duration::from_secs(5), "age {age:?}");
    }

    #[test]
    fn renders_byte_int_boolean_and_double_hints_as_text() {
        let st = feed(&[CAPTURED_TYPED_HINTS]);
        let n = &st.seen[0];
        assert_eq!(n.summary, "Second");
        assert_eq!(n.body, "plain body");
        assert_eq!(n.icon, "");
        assert_eq!(n.expire_timeout, 5000);
        assert_eq!(n.hint("b"), Some("7"));
        assert_eq!(n.hint("n"), Some("42"));
        assert_eq!(n.hint("transient"), Some("true"));
        assert_eq!(n.hint("d"), Some("1.5"));
        assert_eq!(n.hint("urgency"), Some("1"));
        assert_eq!(n.category(), None);
        assert_eq!(n.id, None, "no answer seen yet");
    }

    #[test]
    fn an_error_answer_is_attached_to_its_call() {
        let st = feed(&[CAPTURED_TYPED_HINTS, CAPTURED_ERROR]);
        let n = &st.seen[0];
        assert_eq!(n.id, None);
        let error = n.error.as_deref().unwrap_or_default();
        assert!(error.starts_with("org.freedesktop.DBus.Error.ServiceUnknown: The name"), "{error}");
    }

    #[test]
    fn ignores_unrelated_messages_and_answers() {
        let other_reply = CAPTURED_REPLY.replace("\"reply_cookie\":9", "\"reply_cookie\":10");
        let st = feed(&[
            r#"{"type":"signal","sender":"org.freedesktop.DBus","member":"NameAcquired","payload":{"type":"s","data":[":1.3"]}}"#,
            r#"{"type":"method_call","cookie":7,"sender":":1.2","interface":"org.freedesktop.Notifications","member":"GetServerInformation","payload":{"type":"","data":[]}}"#,
            CAPTURED_NOTIFY,
            &other_reply,
        ]);
        assert_eq!(st.seen.len(), 1);
        assert_eq!(st.seen[0].id, None);
    }

    #[test]
    fn variant_text_renders_containers_by_signature() {
        let v: Value = serde_json::from_str(r#"{"type":"(iiibiiay)","data":[1,1,4,true,8,4,[0,0,0,255]]}"#).unwrap();
        assert_eq!(variant_text(&v), "<(iiibiiay)>");
        let v: Value = serde_json::from_str(r#"{"type":"u","data":4294967295}"#).unwrap();
        assert_eq!(variant_text(&v), "4294967295");
    }

    #[test]
    fn parses_a_captured_appindicator_layout() {
        let reply: Value = serde_json::from_str(CAPTURED_LAYOUT).unwrap();
        let menu = parse_layout(&reply).expect("layout parses");
        assert_eq!(menu.id, 0);
        assert_eq!(menu.labels(), vec!["Status: _idle", "---", "Go live", "Scenes", "Quit"]);
        let status = menu.find("Status").unwrap();
        assert_eq!((status.id, status.enabled, status.kind.as_str()), (2, false, "standard"));
        let sep = &menu.children[1];
        assert_eq!((sep.id, sep.kind.as_str(), sep.label.as_str()), (3, "separator", ""));
        let go = menu.find("Go").unwrap();
        assert_eq!((go.id, go.enabled, go.visible, go.toggle_state), (4, true, true, None));
        let scenes = menu.find("Scenes").unwrap();
        assert_eq!(scenes.children.len(), 3);
        let b = menu.find("Scene B").unwrap();
        assert_eq!((b.id, b.toggle_state, b.toggle_type.as_deref()), (7, Some(0), Some("radio")));
        assert_eq!(menu.find("Scene A").unwrap().toggle_state, Some(1));
        let mute = menu.find("Mute").unwrap();
        assert_eq!((mute.toggle_state, mute.toggle_type.as_deref()), (Some(1), Some("checkmark")));
        let hidden = menu.find("Hidden").unwrap();
        assert!(!hidden.visible);
        assert_eq!(menu.find("Quit").unwrap().id, 10);
        assert!(menu.find("Nope").is_none());
        let picture = menu.render();
        assert!(picture.contains("#2 \"Status: _idle\" disabled"), "{picture}");
        assert!(picture.contains("    #7 \"Scene B\" radio=0"), "{picture}");
    }

    #[test]
    fn mnemonics_are_removed_and_double_underscores_kept_once() {
        assert_eq!(strip_mnemonics("_Quit"), "Quit");
        assert_eq!(strip_mnemonics("Status: __idle"), "Status: _idle");
        assert_eq!(strip_mnemonics("a__b_c"), "a_bc");
        assert_eq!(strip_mnemonics("trailing_"), "trailing");
        assert_eq!(strip_mnemonics(""), "");
    }

    #[test]
    fn a_process_is_its_own_descendant_and_init_is_nobodys() {
        let me = std::process::id();
        assert!(is_same_or_descendant(me, me));
        assert!(is_same_or_descendant(me, parent_pid(me).unwrap()));
        assert!(!is_same_or_descendant(1, me));
    }
}
