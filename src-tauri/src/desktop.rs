//! Starting the tray app from the command line: settings, password, logging,
//! then the GUI. Everything that can go wrong here becomes a message and a
//! default, never a refusal to start: OnAir must not get in the way.

use std::process::ExitCode;

use onair_engine::cli::Cli;
use onair_engine::config::SettingsFile;
use onair_engine::secrets::{FallbackStore, PasswordStore};
use onair_engine::settings::Target;

use crate::core::{run, AppOptions};
use crate::keyring_store::KeyringStore;
use crate::logging;

pub fn start(cli: Cli) -> ExitCode {
    let log_path = logging::init();
    tracing::info!(log = ?log_path, "OnAir starting");
    let path = cli.config.clone().or_else(SettingsFile::default_path);
    let (mut settings, mut warnings, settings_file) = match &path {
        Some(path) => {
            let loaded = SettingsFile::load(path);
            (loaded.settings, loaded.warnings, Some(loaded.file))
        }
        None => {
            (Default::default(), vec!["no config directory on this system; using default settings".to_string()], None)
        }
    };
    // Flags override the file for this run only.
    if let Some(host) = &cli.host {
        settings.host = host.clone();
    }
    let port = cli.port.unwrap_or(i64::from(settings.port));
    let mut target = Target::new(&settings.host, port);
    let mut settings_file = settings_file;
    if cli.demo {
        // The simulated OBS runs on Tauri's runtime, on loopback; the user's
        // settings file is left alone.
        match tauri::async_runtime::block_on(onair_engine::demo::start()) {
            Ok(demo) => {
                tracing::info!(port = demo.port, "demo mode: a simulated OBS plays a scripted show");
                target = Target::new("127.0.0.1", i64::from(demo.port));
                settings_file = onair_engine::demo::settings_path().map(|path| SettingsFile::load(&path).file);
            }
            Err(e) => warnings.push(format!("the demo OBS could not start: {e}")),
        }
    }
    if let Err(e) = &target {
        warnings.push(format!("invalid connection settings: {e}"));
    }
    let store = std::sync::Arc::new(FallbackStore::new(KeyringStore));
    let given = onair_engine::cli::given_password(&cli).unwrap_or_else(|e| {
        warnings.push(e);
        None
    });
    let password = match given.filter(|_| !cli.demo) {
        Some(p) => Some(p),
        None => target.as_ref().ok().and_then(|t| match store.get(t) {
            Ok(p) => p,
            Err(e) => {
                warnings.push(format!("cannot read the stored password: {e}"));
                None
            }
        }),
    };
    let options = AppOptions {
        settings,
        settings_file,
        store: std::sync::Arc::clone(&store),
        warnings,
        target,
        password,
        keyring_problem: store.degraded(),
        show_window: cli.show,
    };
    match run(tauri::Builder::default(), options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "OnAir could not start");
            eprintln!("onair: cannot start the tray app: {e}");
            ExitCode::FAILURE
        }
    }
}
