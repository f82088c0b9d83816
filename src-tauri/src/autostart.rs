//! Start on login, carried out. On Linux OnAir keeps its own XDG autostart
//! launcher (`onair_headless::desktop::autostart` decides what it says and
//! when a stale one is rewritten); this is called with the setting at every
//! start, so a launcher left pointing at an older install, a build tree or an
//! AppImage's vanished mount is repaired then. Elsewhere tauri-plugin-autostart
//! does it (launchd, the registry).
//!
//! Called off the controller's task: it touches files (or asks the OS).

use tauri::{AppHandle, Runtime};

/// Makes OnAir start (or not) when the user logs in.
#[cfg(target_os = "linux")]
pub fn sync<R: Runtime>(_app: &AppHandle<R>, wanted: bool) {
    use onair_headless::desktop::autostart::{self, Running, SyncOutcome};

    let Some(dir) = dirs::config_dir().map(|config| config.join("autostart")) else {
        tracing::warn!("cannot change start on login: no config directory (is HOME set?)");
        return;
    };
    let running = match Running::current() {
        Ok(running) => running,
        Err(e) => {
            tracing::warn!(error = %e, "cannot change start on login: cannot tell which program is running");
            return;
        }
    };
    let program = autostart::launcher_target(&running);
    match autostart::sync(&dir, &program, wanted) {
        Ok(SyncOutcome::Unchanged) => {}
        Ok(SyncOutcome::Written(program)) => tracing::info!(program = %program.display(), "start on login: on"),
        Ok(SyncOutcome::Repaired { program, was }) => {
            tracing::info!(program = %program.display(), was = ?was, "start on login: launcher repaired")
        }
        Ok(SyncOutcome::Removed) => tracing::info!("start on login: off"),
        Err(e) => tracing::warn!(error = %e, dir = %dir.display(), "cannot change start on login"),
    }
}

/// Makes OnAir start (or not) when the user logs in.
#[cfg(not(target_os = "linux"))]
pub fn sync<R: Runtime>(app: &AppHandle<R>, wanted: bool) {
    use tauri_plugin_autostart::ManagerExt;
    let autolaunch = app.autolaunch();
    let result = match (wanted, autolaunch.is_enabled()) {
        (true, Ok(false)) => autolaunch.enable(),
        (false, Ok(true)) => autolaunch.disable(),
        (_, Err(e)) => Err(e),
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot change start on login");
    }
}
