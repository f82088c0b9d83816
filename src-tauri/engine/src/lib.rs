//! The GUI-free OBS engine of OnAir.
//!
//! It holds one obs-websocket v5 session with OBS and turns what OBS says into one
//! state model and a stream of "moments" a streamer should hear about. The tray
//! app, the window and the `onair` command line are all thin faces on this crate,
//! which builds and tests without any GUI toolkit.

pub mod auth;
pub mod backoff;
pub mod cli;
pub mod client;
pub mod config;
pub mod control;
pub mod demo;
pub mod hotkeys;
pub mod menu;
pub mod model;
pub mod notify;
pub mod protocol;
pub mod secrets;
pub mod session;
pub mod settings;
pub mod state;
pub mod text;
