//! Handing over to the tray app: `onair` with no command (or only the tray's
//! flags, `--show`, `--demo`, `--host`...) becomes `onair-tray` with the same
//! arguments.
//!
//! On Unix it is an `exec`, not a child: the process keeps its PID, stdio and
//! environment, so whatever started `onair` (a desktop session, autostart, a
//! test harness tracking the PID, WebDriver) is left holding the tray app
//! itself, and the lean binary's memory is gone rather than kept waiting.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use onair_headless::cli::Cli;

/// The tray app's file name.
pub const TRAY_BINARY: &str = "onair-tray";

/// Where the tray app is: beside `exe` (the running `onair`, as installed or
/// as cargo builds it) when it is there, else the bare name, for `PATH`.
pub fn tray_binary(exe: Option<&Path>) -> PathBuf {
    let file_name = format!("{TRAY_BINARY}{}", std::env::consts::EXE_SUFFIX);
    exe.and_then(Path::parent)
        .map(|dir| dir.join(&file_name))
        .filter(|beside| beside.is_file())
        .unwrap_or_else(|| PathBuf::from(file_name))
}

/// Replaces this process with the tray app, passing every argument on. Only
/// returns when that could not be done.
pub fn hand_over(_cli: Cli) -> ExitCode {
    let exe = std::env::current_exe().ok();
    let tray = tray_binary(exe.as_deref());
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let error = run_tray(&tray, &args);
    let beside = exe.as_deref().and_then(Path::parent).map(|d| d.display().to_string()).unwrap_or_default();
    eprintln!(
        "onair: cannot start the tray app {}: {error} (looked beside onair in {beside}, then on PATH)",
        tray.display()
    );
    ExitCode::FAILURE
}

#[cfg(unix)]
fn run_tray(tray: &Path, args: &[OsString]) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    std::process::Command::new(tray).args(args).exec()
}

/// Without `exec`, the tray app runs as a child and its exit status is ours.
#[cfg(not(unix))]
fn run_tray(tray: &Path, args: &[OsString]) -> std::io::Error {
    match std::process::Command::new(tray).args(args).status() {
        Ok(status) => std::process::exit(status.code().unwrap_or(1)),
        Err(error) => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tray_app_beside_onair_wins_over_path() {
        let dir = std::env::temp_dir().join(format!("onair-cli-tray-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let onair = dir.join("onair");
        let beside = dir.join(format!("{TRAY_BINARY}{}", std::env::consts::EXE_SUFFIX));
        let _ = std::fs::remove_file(&beside);
        assert_eq!(tray_binary(Some(&onair)), PathBuf::from(beside.file_name().unwrap()), "none beside: PATH");
        std::fs::write(&beside, b"").unwrap();
        assert_eq!(tray_binary(Some(&onair)), beside);
        assert_eq!(tray_binary(None), PathBuf::from(beside.file_name().unwrap()), "no exe known: PATH");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
