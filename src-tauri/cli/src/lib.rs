//! The lean `onair` command: the GUI-free half of OnAir with the OS keyring.
//!
//! Commands are what status bars call every few seconds and what Wayland users
//! bind to keys, so they must not pay for WebKitGTK and GTK. The `onair` binary
//! built here runs every command on `onair_headless::cli`; with no command it
//! hands over to the tray app, `onair-tray`, installed beside it ([`tray`]).
//! The keyring adapter ([`secrets`]) is here rather than in the tray app so
//! both binaries share it without the headless crate taking on an OS
//! dependency (and a cargo feature that would build it twice).

pub mod secrets;
pub mod tray;
