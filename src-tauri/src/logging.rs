//! Logs through `tracing` to stderr and to a log file in the platform's state
//! directory (`$XDG_STATE_HOME/onair/` on Linux), level from `RUST_LOG`.
//!
//! A tray app runs for weeks, so the file is rotated daily
//! (`onair.YYYY-MM-DD.log`, UTC dates) and only the last few days are kept;
//! `onair.log` points at the current one where the platform has symlinks.

use std::path::{Path, PathBuf};

use tracing_appender::rolling::{InitError, RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

/// How many daily files are kept, today's included.
const DAYS_KEPT: usize = 7;
const PREFIX: &str = "onair";
const SUFFIX: &str = "log";
/// The name that points at today's file.
const LATEST: &str = "onair.log";
/// Where an `onair.log` written before rotation existed is set aside, under a
/// name the rotation counts, so it ages out with the dated files.
const SET_ASIDE: &str = "onair.unrotated.log";

pub fn log_dir() -> Option<PathBuf> {
    dirs::state_dir().or_else(dirs::data_local_dir).map(|d| d.join("onair"))
}

/// A daily rotating file in `dir`; files past [`DAYS_KEPT`] are removed now and
/// at each rotation.
fn open_appender(dir: &Path) -> Result<RollingFileAppender, InitError> {
    set_aside_unrotated(dir);
    let builder = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(PREFIX)
        .filename_suffix(SUFFIX)
        .max_log_files(DAYS_KEPT);
    #[cfg(unix)]
    let builder = builder.latest_symlink(LATEST);
    builder.build(dir)
}

/// The single growing `onair.log` of older versions would otherwise be deleted
/// to make room for the link, or kept forever.
fn set_aside_unrotated(dir: &Path) {
    let old = dir.join(LATEST);
    let is_plain_file = std::fs::symlink_metadata(&old).is_ok_and(|m| m.file_type().is_file());
    if is_plain_file {
        if let Err(e) = std::fs::rename(&old, dir.join(SET_ASIDE)) {
            eprintln!("onair: cannot set aside the old log file {}: {e}", old.display());
        }
    }
}

/// Starts logging; returns where the log file is, when there is one.
pub fn init() -> Option<PathBuf> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let file = log_dir().and_then(|dir| match open_appender(&dir) {
        Ok(appender) => Some((dir.join(LATEST), appender)),
        Err(e) => {
            eprintln!("onair: no log file in {}: {e}", dir.display());
            None
        }
    });
    let (path, file_layer) = match file {
        Some((path, appender)) => (Some(path), Some(fmt::layer().with_ansi(false).with_writer(appender))),
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(std::io::stderr))
        .with(file_layer)
        .try_init();
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("onair-logging-test-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn old_daily_files_are_pruned_and_others_left_alone() {
        let dir = TempDir::new("prune");
        // Oldest first: the pruning goes by creation time.
        let old: Vec<String> = (1..=10).map(|day| format!("onair.2020-01-{day:02}.log")).collect();
        for name in &old {
            std::fs::write(dir.0.join(name), "old\n").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        std::fs::write(dir.0.join("notes.txt"), "mine\n").unwrap();

        let mut appender = open_appender(&dir.0).unwrap();
        writeln!(appender, "today").unwrap();
        appender.flush().unwrap();

        let left = names(&dir.0);
        let dated: Vec<&String> = left.iter().filter(|n| n.starts_with("onair.") && n.as_str() != LATEST).collect();
        assert_eq!(dated.len(), DAYS_KEPT, "{left:?}");
        for kept in &old[old.len() - (DAYS_KEPT - 1)..] {
            assert!(left.contains(kept), "the newest old files stay: {left:?}");
        }
        assert!(!left.contains(&old[0]), "{left:?}");
        assert!(left.contains(&"notes.txt".to_string()), "files that are not logs stay: {left:?}");
    }

    #[cfg(unix)]
    #[test]
    fn onair_log_points_at_today_and_an_unrotated_log_is_set_aside_to_age_out() {
        let dir = TempDir::new("latest");
        std::fs::write(dir.0.join(LATEST), "from an older OnAir\n").unwrap();

        let mut appender = open_appender(&dir.0).unwrap();
        writeln!(appender, "today").unwrap();
        appender.flush().unwrap();

        let latest = dir.0.join(LATEST);
        assert!(std::fs::symlink_metadata(&latest).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&latest).unwrap(), "today\n");
        assert_eq!(std::fs::read_to_string(dir.0.join(SET_ASIDE)).unwrap(), "from an older OnAir\n");
        let set_aside = SET_ASIDE.to_string();
        assert!(set_aside.starts_with(PREFIX) && set_aside.ends_with(SUFFIX), "the rotation counts and prunes it");
    }
}
