//! Shared helpers for tests that drive the engine: quick timings, waiting on
//! state, recording every moment, and finding the `onair` binary.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onair_headless::obs::{Session, SessionConfig};
use onair_headless::settings::{Password, Target};
use onair_headless::state::{Noticed, State};

/// A session config with timeouts short enough for tests, on 127.0.0.1.
pub fn fast_config(port: u16, password: Option<&str>) -> SessionConfig {
    let mut config =
        SessionConfig::new(Target::new("127.0.0.1", i64::from(port)), password.map(|p| Password::new(p.to_string())));
    config.client.request_timeout = Duration::from_secs(2);
    config.client.handshake_timeout = Duration::from_secs(3);
    config.client.ping_interval = Duration::from_millis(300);
    config.client.dead_after = Duration::from_millis(1500);
    config.poll_interval = Duration::from_millis(500);
    config
}

/// Waits until the state satisfies `pred`; panics with the last state otherwise.
pub async fn wait_state(session: &Session, what: &str, timeout: Duration, pred: impl Fn(&State) -> bool) -> State {
    let mut rx = session.state();
    let reached = matches!(tokio::time::timeout(timeout, rx.wait_for(|s| pred(s))).await, Ok(Ok(_)));
    let last = rx.borrow().clone();
    match reached {
        true => last,
        false => panic!("timed out after {timeout:?} waiting for {what}; last state: {last:#?}"),
    }
}

/// Every moment a session announces, recorded from the moment it is created.
#[derive(Clone)]
pub struct MomentLog {
    seen: Arc<Mutex<Vec<Noticed>>>,
}

impl MomentLog {
    pub fn record(session: &Session) -> MomentLog {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut rx = session.subscribe();
        let sink = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok(noticed) = rx.recv().await {
                sink.lock().expect("moment log lock").push(noticed);
            }
        });
        MomentLog { seen }
    }

    pub fn all(&self) -> Vec<Noticed> {
        self.seen.lock().expect("moment log lock").clone()
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.all().iter().map(|n| n.moment.kind().wire_name()).collect()
    }

    pub fn count(&self, kind: &str) -> usize {
        self.kinds().iter().filter(|k| **k == kind).count()
    }

    /// Waits until `kind` has been announced `n` times in all.
    pub async fn wait_for(&self, kind: &str, n: usize, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.count(kind) < n {
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for moment {kind} x{n}; seen: {:?}", self.kinds());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The binaries `onair_bin` and `onair_release_bin` build: the lean `onair`
/// command (onair-cli) and the tray app it execs when given no command
/// (onair-tray), which must sit beside it.
const BINARIES: [&str; 8] = ["-p", "onair-cli", "-p", "onair", "--bin", "onair", "--bin", "onair-tray"];

/// Builds both binaries with `profile_args` (e.g. `--release`) and returns the
/// `onair` command's path; `onair-tray` is beside it.
fn build_binaries(profile_args: &[&str], profile_dir: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet"])
        .args(profile_args)
        .args(BINARIES)
        .current_dir(&root)
        .status()
        .expect("run cargo build for the onair and onair-tray binaries");
    assert!(status.success(), "cargo build of the onair and onair-tray binaries failed");
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join(profile_dir)
        .join("onair")
}

/// The `onair` binary of this workspace, with `onair-tray` beside it, brought up
/// to date once per test process (a stale binary would test old code).
/// `ONAIR_BIN` points the tests at another build instead, e.g. the release
/// binary users get (its `onair-tray` beside it).
pub fn onair_bin() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| match std::env::var_os("ONAIR_BIN") {
            Some(bin) => PathBuf::from(bin),
            None => build_binaries(&[], "debug"),
        })
        .clone()
}

/// The tray app that `onair` (as [`onair_bin`] finds it) execs with no command.
pub fn onair_tray_bin() -> PathBuf {
    onair_bin().with_file_name("onair-tray")
}

/// The release build of the `onair` binary, with `onair-tray` beside it, both
/// built now (benchmarks measure them), as the packages ship them: the window's
/// pages built in (`custom-protocol`), the same build `scripts/package` makes, so
/// the two do not rebuild each other.
pub fn onair_release_bin() -> PathBuf {
    build_binaries(&["--release", "--features", "onair/custom-protocol"], "release")
}

/// `onair watch --json` running as a child process: the CLI contract, read line by line.
pub struct Watcher {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<serde_json::Value>>>,
    pub started: std::time::Instant,
}

impl Watcher {
    /// Starts `onair watch --json` against 127.0.0.1:`port`; the password goes
    /// through `ONAIR_PASSWORD` when given.
    pub fn spawn(port: u16, password: Option<&str>) -> Watcher {
        Watcher::spawn_with(port, password, &[])
    }

    /// [`Watcher::spawn`] with more arguments (e.g. `--mic NAME`).
    pub fn spawn_with(port: u16, password: Option<&str>, args: &[&str]) -> Watcher {
        let mut command = tokio::process::Command::new(onair_bin());
        command
            .args(["watch", "--json", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(args)
            .env_remove("ONAIR_PASSWORD")
            .env("XDG_CONFIG_HOME", std::env::temp_dir().join("onair-tests-no-config"))
            .stdin(std::process::Stdio::null());
        if let Some(password) = password {
            command.env("ONAIR_PASSWORD", password);
        }
        Watcher::from_command(command)
    }

    /// Starts an `onair watch --json` command line made ready by the caller (e.g.
    /// with `--config` and no address, or in a [`Desktop`](crate::desktop::Desktop)
    /// for its keyring); its stdout is read here.
    pub fn from_command(mut command: tokio::process::Command) -> Watcher {
        command.stdout(std::process::Stdio::piped()).kill_on_drop(true);
        let mut child = command.spawn().expect("start onair watch");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt;
            let mut reader = tokio::io::BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let value: serde_json::Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("watch printed a non-JSON line {line:?}: {e}"));
                sink.lock().expect("watch lines lock").push(value);
            }
        });
        Watcher { child, lines, started: std::time::Instant::now() }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.lines.lock().expect("watch lines lock").clone()
    }

    /// The lines about the connection called `name` (their `"connection"`).
    pub fn lines_of(&self, name: &str) -> Vec<serde_json::Value> {
        self.lines().into_iter().filter(|l| l["connection"] == name).collect()
    }

    /// The `"moment"` of every moment line about the connection called `name`, in order.
    pub fn moments_of(&self, name: &str) -> Vec<String> {
        self.lines_of(name).iter().filter_map(|l| l["moment"].as_str().map(String::from)).collect()
    }

    /// Waits for a state line about the connection called `name` that satisfies
    /// `pred`, and returns its state.
    pub async fn wait_state_of(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let states: Vec<serde_json::Value> = self
                .lines_of(name)
                .into_iter()
                .filter(|l| l.get("moment").is_none())
                .filter_map(|l| l.get("state").cloned())
                .collect();
            if let Some(state) = states.iter().rev().find(|s| pred(s)) {
                return state.clone();
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for {name}: {what}; its last state: {:?}", states.last());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits until the connection called `name` has announced `kind` `n` times.
    pub async fn wait_moment_of(&self, name: &str, kind: &str, n: usize, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.moments_of(name).iter().filter(|m| *m == kind).count() < n {
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {name}'s moment {kind} x{n}; its moments: {:?}",
                    self.moments_of(name)
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The `"moment"` of every moment line, in order.
    pub fn moments(&self) -> Vec<String> {
        self.lines().iter().filter_map(|l| l.get("moment").and_then(|m| m.as_str()).map(String::from)).collect()
    }

    pub fn moment_lines(&self, kind: &str) -> Vec<serde_json::Value> {
        self.lines().into_iter().filter(|l| l.get("moment").and_then(|m| m.as_str()) == Some(kind)).collect()
    }

    /// State lines (those without a `"moment"`), as their `state` object.
    pub fn states(&self) -> Vec<serde_json::Value> {
        self.lines().into_iter().filter(|l| l.get("moment").is_none()).filter_map(|l| l.get("state").cloned()).collect()
    }

    pub async fn wait_moment(&self, kind: &str, n: usize, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.moments().iter().filter(|m| *m == kind).count() < n {
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for moment {kind} x{n}; moments: {:?}; last state: {}",
                    self.moments(),
                    self.states().last().cloned().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The newest state line that satisfies `pred`, once one has been printed within
    /// `timeout`; `None` otherwise. For tests that gather every unmet expectation
    /// before failing.
    pub async fn find_state(
        &self,
        timeout: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> Option<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(state) = self.states().into_iter().rev().find(|s| pred(s)) {
                return Some(state);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The newest state line, if any.
    pub fn last_state(&self) -> Option<serde_json::Value> {
        self.states().pop()
    }

    /// Waits for a state line that satisfies `pred`, and returns it.
    pub async fn wait_state(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(state) = self.states().into_iter().rev().find(|s| pred(s)) {
                return state;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "timed out after {timeout:?} waiting for {what}; last state: {}",
                    self.states().last().cloned().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Ends the watch with SIGTERM as a user's Ctrl-C would, and returns its exit code.
    pub async fn stop(mut self) -> Option<i32> {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
        }
        match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => None,
        }
    }
}

/// Runs `onair ARGS` against 127.0.0.1:`port`; returns (exit code, stdout, stderr).
pub async fn onair(port: u16, password: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut command = tokio::process::Command::new(onair_bin());
    command
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(args)
        .env_remove("ONAIR_PASSWORD")
        .env("XDG_CONFIG_HOME", std::env::temp_dir().join("onair-tests-no-config"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(password) = password {
        command.env("ONAIR_PASSWORD", password);
    }
    run_onair(&mut command).await
}

/// Runs an `onair` command line made ready by the caller (at most 60 s); returns
/// (exit code, stdout, stderr).
pub async fn run_onair(command: &mut tokio::process::Command) -> (i32, String, String) {
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("onair finished within 60 s")
        .expect("run onair");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The tray app (`onair` with no subcommand, which execs `onair-tray` in the same
/// process) running in a private [`Desktop`](crate::desktop::Desktop),
/// with its menu found on the session bus.
pub struct TrayApp {
    pub pid: u32,
    pub bus_name: String,
    pub menu_path: String,
    pub started: std::time::Instant,
}

impl TrayApp {
    /// Starts the app against 127.0.0.1:`port`, with `env` added (e.g. `ONAIR_PASSWORD`),
    /// and waits for its menu on the bus.
    pub async fn start(desktop: &mut crate::desktop::Desktop, port: u16, env: &[(&str, &str)]) -> TrayApp {
        TrayApp::start_binary(desktop, &onair_bin(), port, env).await
    }

    /// [`TrayApp::start`] with a given build of the binary (benchmarks use release).
    pub async fn start_binary(
        desktop: &mut crate::desktop::Desktop,
        binary: &std::path::Path,
        port: u16,
        env: &[(&str, &str)],
    ) -> TrayApp {
        TrayApp::start_with_args(desktop, binary, &["--host", "127.0.0.1", "--port", &port.to_string()], env).await
    }

    /// Starts the app with these arguments only: with none, it watches what
    /// the settings file in the desktop's home lists.
    pub async fn start_with_args(
        desktop: &mut crate::desktop::Desktop,
        binary: &std::path::Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> TrayApp {
        let mut command = desktop.std_command(binary);
        command
            .args(args)
            .env_remove("ONAIR_PASSWORD")
            .env("RUST_LOG", "info,onair_headless=debug,onair_app=debug")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(desktop.logs_dir().join("onair-app.log")).expect("app log file"));
        for (key, value) in env {
            command.env(key, value);
        }
        let started = std::time::Instant::now();
        let pid = desktop.spawn_tracked(&mut command).expect("start the tray app");
        let (bus_name, menu_path) = desktop.find_menu(pid, Duration::from_secs(30)).await.unwrap_or_else(|e| {
            let log = std::fs::read_to_string(desktop.logs_dir().join("onair-app.log")).unwrap_or_default();
            panic!("{e}\napp log:\n{log}")
        });
        TrayApp { pid, bus_name, menu_path, started }
    }

    pub async fn menu(&self, desktop: &crate::desktop::Desktop) -> crate::desktop::MenuNode {
        desktop.menu_layout(&self.bus_name, &self.menu_path).await.unwrap_or_else(|e| panic!("read the menu: {e}"))
    }

    /// Waits until the menu satisfies `pred`; panics with the menu otherwise.
    pub async fn wait_menu(
        &self,
        desktop: &crate::desktop::Desktop,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&crate::desktop::MenuNode) -> bool,
    ) -> crate::desktop::MenuNode {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let menu = self.menu(desktop).await;
            if pred(&menu) {
                return menu;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for the menu to show {what}; menu:\n{}", menu.render());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn click(&self, desktop: &crate::desktop::Desktop, label_prefix: &str) {
        desktop
            .menu_click_label(&self.bus_name, &self.menu_path, label_prefix)
            .await
            .unwrap_or_else(|e| panic!("click {label_prefix:?}: {e}"));
    }
}

/// Whether an item with a label starting with `prefix` is in the menu and enabled.
pub fn enabled(menu: &crate::desktop::MenuNode, prefix: &str) -> bool {
    menu.find(prefix).is_some_and(|n| n.enabled)
}

/// Runs `onair ARGS` inside a desktop (its bus, its keyring), with `stdin` fed.
pub async fn onair_in(desktop: &crate::desktop::Desktop, args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut command = desktop.command(onair_bin());
    command
        .args(args)
        .env_remove("ONAIR_PASSWORD")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().expect("run onair");
    if let Some(mut pipe) = child.stdin.take() {
        if let Some(text) = stdin {
            let _ = pipe.write_all(text.as_bytes()).await;
        }
    }
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("onair finished within 60 s")
        .expect("onair output");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
