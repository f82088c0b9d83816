//! The process sandbox the test harnesses build on: a fresh temp dir, helper processes
//! that each lead their own process group, a watchdog for when the test process dies,
//! and a private X server and session bus.
//!
//! [`crate::world`] (a real OBS Studio) and [`crate::desktop`] (a headless desktop
//! session) both start long-lived helpers (Xvfb, dbus-daemon, OBS, nginx, dunst, ...)
//! that must never outlive a test, also when it panics or is killed, and
//! [`crate::webdriver`] kills tauri-driver's process group the same way. Getting that
//! right takes care (kill the whole group, reap the leader, wait until the other members
//! are gone too, dismiss the watchdog before killing so it never signals a reused group
//! id, SIGTERM Xvfb so it removes its lock file), so it lives here once:
//!
//! - `Sandbox`: the temp dir (HOME of everything in it; kept when `ONAIR_KEEP_<KIND>=1`),
//!   the watchdog, Xvfb (`-displayfd`, so parallel tests never fight over a display) and
//!   the session bus (`--print-address`). Dropping it kills the bus, then Xvfb, then
//!   removes the dir. An owner with groups of its own calls `Sandbox::dismiss_watchdog`
//!   and kills them in its `Drop` first.
//! - `Group`: a child leading its own process group; `Group::kill` SIGKILLs the group,
//!   reaps the leader and waits until no member is left.
//! - `Watchdog`: a `sh` process in its own group that kills every registered group (and
//!   removes the temp dir) once its stdin closes, i.e. when the test process dies without
//!   dropping its harness (SIGKILL, Ctrl-C).
//! - Small helpers: signals, process groups in `/proc`, free loopback ports, file helpers
//!   whose errors name the path, and log tails for error messages.

use std::fs;
use std::io::{BufRead, BufReader, Write as _};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a helper (Xvfb, dbus-daemon, and each harness's own: nginx, dunst, the
/// notification monitor, the keyring) may take to come up.
pub(crate) const HELPER_READY_TIMEOUT: Duration = Duration::from_secs(10);

static SANDBOX_COUNTER: AtomicU32 = AtomicU32::new(0);

/// What a [`Sandbox`] is for; names its temp dir, its watchdog and its messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kind {
    /// "world": temp dir `onair-world-<pid>-<n>-<nanos>`, watchdog `onair-world-watchdog`.
    pub(crate) name: &'static str,
    /// "OBS world": "kept the OBS world in ...", "could not remove the OBS world dir ...".
    pub(crate) label: &'static str,
    /// The variable that keeps the temp dir when it is "1" (`ONAIR_KEEP_WORLD`).
    pub(crate) keep_var: &'static str,
}

/// A temp dir with `logs/` and `runtime/` (0700), a watchdog, and (once started) a
/// private Xvfb and session bus. See the module docs.
pub(crate) struct Sandbox {
    kind: Kind,
    dir: PathBuf,
    keep_dir: bool,
    watchdog: Option<Watchdog>,
    display: String,
    bus_address: String,
    /// Keeps Xvfb's stdout (where `-displayfd` wrote) open, so Xvfb never gets SIGPIPE.
    xvfb: Option<Group>,
    bus: Option<Group>,
}

impl Sandbox {
    /// Creates a fresh temp dir, starts the watchdog, and creates `logs`, `runtime`
    /// (0700) and `subdirs` in the dir. An error removes the dir again.
    pub(crate) fn create(kind: Kind, subdirs: &[&str]) -> Result<Sandbox, String> {
        let dir = unique_temp_dir(kind.name)?;
        let keep_dir = std::env::var(kind.keep_var).map(|v| v == "1").unwrap_or(false);
        // From here on `sandbox` owns the dir: an early return drops it and cleans up.
        let mut sandbox = Sandbox {
            kind,
            dir,
            keep_dir,
            watchdog: None,
            display: String::new(),
            bus_address: String::new(),
            xvfb: None,
            bus: None,
        };
        sandbox.watchdog = Some(Watchdog::spawn(&sandbox.dir, keep_dir, kind.name)?);
        for sub in ["logs", "runtime"].iter().chain(subdirs) {
            create_dir(&sandbox.dir.join(sub))?;
        }
        set_mode_0700(&sandbox.dir.join("runtime"))?;
        Ok(sandbox)
    }

    /// The temp dir.
    pub(crate) fn home(&self) -> &Path {
        &self.dir
    }

    /// `<home>/logs`: stdout/stderr of the helpers (`xvfb.log`, `dbus.log`, ...).
    pub(crate) fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// The X display (`:N`) of the sandbox's Xvfb; empty until [`Sandbox::start_xvfb`].
    pub(crate) fn display(&self) -> &str {
        &self.display
    }

    /// The session bus address; empty until [`Sandbox::start_bus`].
    pub(crate) fn bus_address(&self) -> &str {
        &self.bus_address
    }

    /// The watchdog, for [`Group::kill`] and [`Watchdog::register`]; `None` once dismissed.
    pub(crate) fn watchdog(&mut self) -> Option<&mut Watchdog> {
        self.watchdog.as_mut()
    }

    /// Stops the watchdog without letting it act: the owner cleans up itself. Owners
    /// call it first in their `Drop`, so it never signals groups whose ids may be reused.
    pub(crate) fn dismiss_watchdog(&mut self) {
        if let Some(w) = self.watchdog.take() {
            w.dismiss();
        }
    }

    /// Spawns `cmd` as the leader of a new process group, stdin null (unless piped),
    /// stdout and stderr (unless piped) appended to `log`, and registers the group with
    /// the watchdog.
    pub(crate) fn spawn_group(
        &mut self,
        name: &str,
        cmd: &mut Command,
        log: &Path,
        pipes: Pipes,
    ) -> Result<Group, String> {
        let out = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("cannot open log {}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| format!("cannot dup log {}: {e}", log.display()))?;
        cmd.stdin(if pipes.stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(if pipes.stdout { Stdio::piped() } else { Stdio::from(out) })
            .stderr(if pipes.stderr { Stdio::piped() } else { Stdio::from(err) })
            .process_group(0);
        let child = cmd.spawn().map_err(|e| format!("cannot start {name}: {e} (is it installed?)"))?;
        let group = Group { child };
        if let Some(w) = self.watchdog.as_mut() {
            w.register(group.pgid());
        }
        Ok(group)
    }

    /// Starts `cmd` (from [`xvfb_command`], plus whatever the owner adds), logging to
    /// `xvfb.log`, and waits until it names its display.
    pub(crate) async fn start_xvfb(&mut self, mut cmd: Command) -> Result<(), String> {
        let log = self.logs_dir().join("xvfb.log");
        let xvfb = self.spawn_group("Xvfb", &mut cmd, &log, Pipes::STDOUT)?;
        let line = self.xvfb.insert(xvfb).first_line("Xvfb -displayfd", &log).await?;
        let number: u32 = line
            .trim()
            .parse()
            .map_err(|_| format!("Xvfb wrote {line:?} instead of a display number; see {}", log.display()))?;
        self.display = format!(":{number}");
        Ok(())
    }

    /// Starts `cmd` (a `dbus-daemon` with `--print-address=1`), logging to `dbus.log`,
    /// and waits until it prints the bus address.
    pub(crate) async fn start_bus(&mut self, mut cmd: Command) -> Result<(), String> {
        let log = self.logs_dir().join("dbus.log");
        let bus = self.spawn_group("dbus-daemon", &mut cmd, &log, Pipes::STDOUT)?;
        let line = self.bus.insert(bus).first_line("dbus-daemon --print-address", &log).await?;
        self.bus_address = line.trim().to_string();
        Ok(())
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // The watchdog goes first so it never signals groups whose ids may be reused.
        self.dismiss_watchdog();
        if let Some(mut bus) = self.bus.take() {
            bus.kill(None);
        }
        if let Some(mut xvfb) = self.xvfb.take() {
            // SIGTERM first so Xvfb removes its /tmp/.X<n>-lock and socket.
            xvfb.terminate_then_kill(Duration::from_secs(3));
        }
        let Kind { label, keep_var, .. } = self.kind;
        if self.keep_dir {
            eprintln!("{keep_var}=1: kept the {label} in {}", self.dir.display());
        } else if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("could not remove the {label} dir {}: {e}", self.dir.display());
        }
    }
}

/// `Xvfb -displayfd 1 -screen 0 <screen> -nolisten tcp -noreset`, for [`Sandbox::start_xvfb`].
pub(crate) fn xvfb_command(screen: &str) -> Command {
    let mut cmd = Command::new("Xvfb");
    cmd.args(["-displayfd", "1", "-screen", "0", screen, "-nolisten", "tcp", "-noreset"]);
    cmd
}

/// Which of a helper's stdio streams are piped (the others go to its log, stdin to null).
#[derive(Default, Clone, Copy)]
pub(crate) struct Pipes {
    pub(crate) stdin: bool,
    pub(crate) stdout: bool,
    pub(crate) stderr: bool,
}

impl Pipes {
    pub(crate) const STDOUT: Pipes = Pipes { stdin: false, stdout: true, stderr: false };
}

// ---------------------------------------------------------------------------------
// Process groups and the watchdog

/// A child process leading its own process group.
pub(crate) struct Group {
    pub(crate) child: Child,
}

impl Group {
    pub(crate) fn pgid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub(crate) fn running(&mut self) -> bool {
        self.exit_status().is_none()
    }

    /// Ok while the leader runs; once it has exited, Err("<what> exited during startup
    /// (<status>); log <path>:\n<its last `lines` lines>").
    pub(crate) fn check_startup(&mut self, what: &str, log: &Path, lines: usize) -> Result<(), String> {
        match self.exit_status() {
            Some(status) => Err(format!("{what} exited during startup ({status}); {}", log_excerpt(log, lines))),
            None => Ok(()),
        }
    }

    /// Sends `signal` to the leader only, not to the rest of its group.
    pub(crate) fn signal_leader(&self, signal: &str) {
        send_signal(signal, &self.pgid().to_string());
    }

    /// SIGKILLs the group, reaps the leader, and waits (up to 5 s) until no live
    /// process is left in the group.
    pub(crate) fn kill(&mut self, watchdog: Option<&mut Watchdog>) {
        let pgid = self.pgid();
        send_signal("KILL", &format!("-{pgid}"));
        let _ = self.child.wait();
        // Members other than the leader are reaped by init, not by us: wait until they
        // are dead, then briefly until they are gone, so no zombie outlives the sandbox.
        for (count_zombies, limit) in [(false, 5), (true, 3)] {
            let deadline = Instant::now() + Duration::from_secs(limit);
            while group_alive(pgid, count_zombies) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        if let Some(w) = watchdog {
            w.unregister(pgid);
        }
    }

    fn terminate_then_kill(&mut self, grace: Duration) {
        send_signal("TERM", &format!("-{}", self.pgid()));
        let deadline = Instant::now() + grace;
        while self.running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill(None);
    }

    /// Reads the first line the leader writes to its piped stdout (display number, bus
    /// address) without blocking the runtime, then puts the pipe back so it stays open
    /// as long as the group.
    async fn first_line(&mut self, what: &str, log: &Path) -> Result<String, String> {
        let stdout = self.child.stdout.take().ok_or_else(|| format!("{what}: stdout was not piped"))?;
        let read = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let n = reader.read_line(&mut line);
            (reader.into_inner(), n.map(|_| line))
        });
        match tokio::time::timeout(HELPER_READY_TIMEOUT, read).await {
            Ok(Ok((stdout, Ok(line)))) if !line.trim().is_empty() => {
                self.child.stdout = Some(stdout);
                Ok(line)
            }
            Ok(Ok((_, Ok(_)))) => Err(format!("{what}: process exited without output; {}", log_excerpt(log, 20))),
            Ok(Ok((_, Err(e)))) => Err(format!("{what}: reading stdout failed: {e}")),
            Ok(Err(e)) => Err(format!("{what}: reader task failed: {e}")),
            Err(_) => Err(format!("{what}: no output within {HELPER_READY_TIMEOUT:?}; {}", log_excerpt(log, 20))),
        }
    }
}

/// A `sh` process in its own group that kills the registered process groups (TERM,
/// then KILL a second later) and removes the temp dir (unless kept) once its stdin
/// closes, i.e. when the test process dies without dropping its sandbox.
pub(crate) struct Watchdog {
    child: Child,
    stdin: ChildStdin,
}

const WATCHDOG_SCRIPT: &str = r#"
groups=""
while read -r line; do
  case "$line" in
    +*) groups="$groups ${line#+}" ;;
    -*) groups=$(for g in $groups; do [ "$g" = "${line#-}" ] || printf '%s ' "$g"; done) ;;
  esac
done
for g in $groups; do /usr/bin/kill -s TERM -- "-$g" 2>/dev/null; done
sleep 1
for g in $groups; do /usr/bin/kill -s KILL -- "-$g" 2>/dev/null; done
[ "$2" = 1 ] || rm -rf -- "$1"
"#;

impl Watchdog {
    fn spawn(dir: &Path, keep_dir: bool, kind: &str) -> Result<Watchdog, String> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg(format!("onair-{kind}-watchdog"))
            .arg(dir)
            .arg(if keep_dir { "1" } else { "0" })
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start the watchdog shell: {e}"))?;
        let stdin = child.stdin.take().ok_or("watchdog has no stdin pipe")?;
        Ok(Watchdog { child, stdin })
    }

    /// Makes the watchdog kill process group `pgid` if the test process dies.
    pub(crate) fn register(&mut self, pgid: u32) {
        let _ = writeln!(self.stdin, "+{pgid}");
    }

    fn unregister(&mut self, pgid: u32) {
        let _ = writeln!(self.stdin, "-{pgid}");
    }

    fn dismiss(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `kill -s <signal> -- <target>` (a negative target is a process group). Errors such
/// as "no such process" are expected during teardown and ignored.
pub(crate) fn send_signal(signal: &str, target: &str) {
    let _ = Command::new("kill")
        .args(["-s", signal, "--", target])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

// ---------------------------------------------------------------------------------
// Processes in /proc

/// The fields of /proc/<pid>/stat the harnesses need.
pub(crate) struct ProcStat {
    /// "R", "S", ..., "Z" (zombie), "X" (dead).
    pub(crate) state: String,
    pub(crate) ppid: u32,
    pub(crate) pgrp: u32,
}

impl ProcStat {
    fn dead(&self) -> bool {
        matches!(&*self.state, "Z" | "X")
    }
}

/// Reads /proc/<pid>/stat; `None` when the process is gone.
pub(crate) fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ...": comm may contain spaces, so split after ')'.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.to_string();
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some(ProcStat { state, ppid, pgrp })
}

/// The pids in /proc right now (empty when /proc cannot be read).
pub(crate) fn pids() -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries.flatten().filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()).collect()
}

/// Whether `pid` is in process group `pgid` (a zombie only if `with_zombies`).
fn in_group(pid: u32, pgid: u32, with_zombies: bool) -> bool {
    proc_stat(pid).is_some_and(|s| s.pgrp == pgid && (with_zombies || !s.dead()))
}

/// Whether any process (zombies only if `count_zombies`) is in process group `pgid`.
pub(crate) fn group_alive(pgid: u32, count_zombies: bool) -> bool {
    pids().into_iter().any(|pid| in_group(pid, pgid, count_zombies))
}

/// Processes (pid, command line) in process group `pgid` (zombies only if asked).
pub(crate) fn group_members(pgid: u32, with_zombies: bool) -> Vec<(u32, String)> {
    let mut found: Vec<(u32, String)> = pids()
        .into_iter()
        .filter(|&pid| in_group(pid, pgid, with_zombies))
        .map(|pid| {
            let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            (pid, String::from_utf8_lossy(&cmdline).replace('\0', " ").trim().to_string())
        })
        .collect();
    found.sort();
    found
}

/// Whether `pid` exists (a zombie counts) and leads its own process group.
pub(crate) fn pid_leads_group(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|s| s.pgrp == pid)
}

// ---------------------------------------------------------------------------------
// Ports, files and logs

/// A loopback port that was free a moment ago (bind to port 0, read it, release it).
pub(crate) fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free loopback port: {e}"))
}

/// Two distinct free TCP ports on 127.0.0.1 (both listeners are held until both are
/// picked, so they differ).
pub(crate) fn two_free_ports() -> Result<(u16, u16), String> {
    let a = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot pick a free port: {e}"))?;
    let b = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot pick a free port: {e}"))?;
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).map_err(|e| e.to_string());
    Ok((port(&a)?, port(&b)?))
}

/// A new, empty `<tmp>/onair-<kind>-<pid>-<n>-<nanos>`.
fn unique_temp_dir(kind: &str) -> Result<PathBuf, String> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let n = SANDBOX_COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("onair-{kind}-{}-{n}-{nanos}", std::process::id()));
    fs::create_dir(&dir).map_err(|e| format!("cannot create {kind} dir {}: {e}", dir.display()))?;
    Ok(dir)
}

pub(crate) fn create_dir(path: &Path) -> Result<(), String> {
    fs::create_dir_all(path).map_err(|e| format!("cannot create {}: {e}", path.display()))
}

fn set_mode_0700(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("cannot chmod {}: {e}", path.display()))
}

pub(crate) fn write_file(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// The last `lines` lines of a log file.
pub(crate) fn try_tail(path: &Path, lines: usize) -> std::io::Result<String> {
    let bytes = fs::read(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    Ok(all[all.len().saturating_sub(lines)..].join("\n"))
}

/// The last `lines` lines of a log file (or a note that it cannot be read).
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    try_tail(path, lines).unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

/// "log <path>:\n<its last `lines` lines>", the way startup errors show a helper's log.
pub(crate) fn log_excerpt(log: &Path, lines: usize) -> String {
    format!("log {}:\n{}", log.display(), tail(log, lines))
}
