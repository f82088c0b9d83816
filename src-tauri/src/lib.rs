//! The OnAir desktop app: the engine in the tray.
//!
//! One binary: with a subcommand it is the `onair` command line (the engine's
//! `cli`), with none it starts the tray app. The app is an actor too: one task
//! ([`core`]) owns the session, the settings and the notification policy;
//! menu clicks, hotkeys and window commands reach it over a channel, and it
//! renders the tray and sends notifications through small adapters.

mod commands;
mod core;
mod desktop;
mod hotkeys;
mod keyring_store;
mod logging;
mod notifier;
mod tray;

use std::process::ExitCode;

pub use crate::core::run;

/// Entry point of the `onair` binary.
pub fn main() -> ExitCode {
    let store = keyring_store::KeyringStore;
    onair_headless::cli::main_with(&store, desktop::start)
}
