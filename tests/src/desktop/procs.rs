//! Processes on the desktop: the app under test started as a tracked process group (killed on
//! drop, and by the watchdog if the test dies), short helper commands run with a timeout, and
//! finding processes that mention the desktop, so a test can check nothing was left behind.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::Desktop;
use crate::sandbox::{pids, proc_stat, send_signal, Group};

/// How long one helper command (busctl call, secret-tool, xdotool) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

impl Desktop {
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

/// Whether `pid` is `ancestor` or one of its descendants (walks `/proc/<pid>/stat`).
pub(super) fn is_same_or_descendant(mut pid: u32, ancestor: u32) -> bool {
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
pub(super) async fn run(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_its_own_descendant_and_init_is_nobodys() {
        let me = std::process::id();
        assert!(is_same_or_descendant(me, me));
        assert!(is_same_or_descendant(me, parent_pid(me).unwrap()));
        assert!(!is_same_or_descendant(1, me));
    }
}
