//! Logs through `tracing` to stderr and to `onair.log` in the platform's state
//! directory (`$XDG_STATE_HOME/onair/` on Linux), level from `RUST_LOG`.

use std::path::PathBuf;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter};

pub fn log_dir() -> Option<PathBuf> {
    dirs::state_dir().or_else(dirs::data_local_dir).map(|d| d.join("onair"))
}

/// Starts logging; returns where the log file is, when there is one.
pub fn init() -> Option<PathBuf> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let file = log_dir().and_then(|dir| {
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join("onair.log");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).ok()?;
        Some((path, file))
    });
    let (path, file_layer) = match file {
        Some((path, file)) => {
            (Some(path), Some(fmt::layer().with_ansi(false).with_writer(std::sync::Mutex::new(file))))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_writer(std::io::stderr))
        .with(file_layer)
        .try_init();
    path
}
