//! Starting the tray app from the command line: settings, password, logging,
//! then the GUI. Everything that can go wrong here becomes a message and a
//! default, never a refusal to start: OnAir must not get in the way.

use std::process::ExitCode;

use onair_cli::secrets::KeyringStore;
use onair_headless::cli::Cli;
use onair_headless::settings::{FallbackStore, KeyringWorker, PasswordStore, StoreError, KEYRING_TIMEOUT};
use onair_headless::settings::{Given, Settings, SettingsFile};

use crate::controller::{ControllerParts, StartupNotes};
use crate::logging;
use crate::other_obs::OtherStart;
use crate::{run, AppOptions};

pub fn start(cli: Cli) -> ExitCode {
    let log_path = logging::init();
    tracing::info!(log = ?log_path, "OnAir starting");
    // Flags, environment, file and keyring are weighed by the one resolver the
    // `onair` commands use too.
    let flags = cli.given_flags();
    let path = flags.settings_path();
    // Before the file is read: only a first start, with no file yet, offers OBS's settings.
    let obs_offer = crate::first_run::offer_at_start(path.as_deref(), cli.demo, &flags.run_override());
    let (settings, mut warnings, settings_file) = match &path {
        Some(path) => {
            let loaded = SettingsFile::load(path);
            (loaded.settings, loaded.warnings, Some(loaded.file))
        }
        None => {
            (Default::default(), vec!["no config directory on this system; using default settings".to_string()], None)
        }
    };
    // Flags override the file for this run only: the settings keep the file's values.
    let mut this_run = flags.run_override();
    let mut settings_file = settings_file;
    if cli.demo {
        // The simulated OBS runs on Tauri's runtime, on loopback; the user's
        // settings file is left alone.
        match tauri::async_runtime::block_on(onair_headless::demo::start()) {
            Ok(demo) => {
                tracing::info!(port = demo.port, "demo mode: a simulated OBS plays a scripted show");
                this_run = onair_headless::settings::RunOverride {
                    host: Some("127.0.0.1".into()),
                    port: Some(i64::from(demo.port)),
                    source: "the demo",
                };
                settings_file = onair_headless::demo::settings_path().map(|path| SettingsFile::load(&path).file);
            }
            Err(e) => warnings.push(format!("the demo OBS could not start: {e}")),
        }
    }
    let target = this_run.target(&settings.host, settings.port);
    if let Err(e) = &target {
        warnings.push(format!("invalid connection settings: {e}"));
    }
    let store: std::sync::Arc<dyn PasswordStore> = std::sync::Arc::new(FallbackStore::new(KeyringStore));
    let keyring = KeyringWorker::start(std::sync::Arc::clone(&store));
    let given = cli.given().unwrap_or_else(|e| {
        warnings.push(e);
        flags.clone()
    });
    // The demo logs in to its own simulated OBS: a password given for the real one stays out of it.
    let given = if cli.demo { Given { password: None, ..given } } else { given };
    // The keyring is asked before the first connection, so that no attempt is
    // made without a password that is stored; but a locked keyring gets a few
    // seconds, not forever, and its late answer is used when it comes.
    let (mut password_stored, mut pending_password, mut keyring_warning) = (None, None, None);
    let password = match &target {
        Ok(t) => given
            .password_or(|| {
                let mut call = keyring.get(t);
                match tauri::async_runtime::block_on(call.within(KEYRING_TIMEOUT)) {
                    Ok(p) => {
                        password_stored = Some(p.is_some());
                        Ok(p)
                    }
                    Err(e @ StoreError::TimedOut(_)) => {
                        keyring_warning = Some(format!(
                            "Reading the password for {t}: {e} OnAir connects without one until it answers."
                        ));
                        pending_password = Some(call);
                        Ok(None)
                    }
                    Err(e) => Err(e),
                }
            })
            .unwrap_or_else(|e| {
                warnings.push(format!("cannot read the stored password: {e}"));
                None
            }),
        Err(_) => given.password.clone(),
    };
    // The other OBS of the settings, each with its stored password; with a
    // connection given for this run (flags, the demo) only that one is watched.
    let others = if this_run.is_empty() && !cli.demo { other_starts(&settings, &keyring) } else { Vec::new() };
    let notes =
        StartupNotes { warnings, keyring_problem: store.degraded(), keyring_warning, pending_password, obs_offer };
    // The demo's simulated streams are not the streamer's: its history stays in memory.
    let history = if cli.demo { None } else { onair_headless::history::default_path() };
    let parts =
        ControllerParts { settings, settings_file, run: this_run, store, keyring, password, password_stored, history };
    let options = AppOptions { parts, notes, show_window: cli.show, run_mics: cli.mics.clone(), others };
    match run(tauri::Builder::default(), options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "OnAir could not start");
            eprintln!("onair: cannot start the tray app: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The other OBS's starts, each with what the keyring holds for it. The
/// lookups are asked all at once and share one time limit, so a locked
/// keyring costs the start a few seconds, not a few seconds per OBS; an
/// answer that comes later is used then.
fn other_starts(settings: &Settings, keyring: &KeyringWorker) -> Vec<OtherStart> {
    let connections = settings.more_connections.clone();
    let calls: Vec<_> = connections.iter().map(|c| c.target().ok().map(|t| keyring.get(&t))).collect();
    tauri::async_runtime::block_on(async move {
        let deadline = std::time::Instant::now() + KEYRING_TIMEOUT;
        let mut starts = Vec::new();
        for (connection, call) in connections.into_iter().zip(calls) {
            let (password, pending) = match call {
                None => (None, None),
                Some(mut call) => {
                    match call.within(deadline.saturating_duration_since(std::time::Instant::now())).await {
                        Ok(password) => (password, None),
                        Err(StoreError::TimedOut(_)) => (None, Some(call)),
                        Err(error) => {
                            tracing::warn!(connection = connection.name.as_str(), %error, "cannot read the stored password");
                            (None, None)
                        }
                    }
                }
            };
            starts.push(OtherStart { target: connection.target(), name: connection.name, password, pending });
        }
        starts
    })
}
