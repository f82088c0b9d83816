//! The GUI-free half of OnAir: everything that needs no GUI toolkit, so it
//! builds and tests without WebKit.
//!
//! It holds one obs-websocket v5 session with OBS and turns what OBS says into
//! one state model and a stream of "moments" a streamer should hear about. The
//! tray app, the window and the `onair` command line are thin faces on it.
//!
//! # Layout
//!
//! - [`obs`]: the obs-websocket side. `protocol` (the wire format), `auth`,
//!   `client` (one socket, requests and events), `session` (the handle: a
//!   cloneable sender of commands, state on `watch`, moments on `broadcast`),
//!   `supervisor` (the task behind it: connect, sync, follow, reconnect, one
//!   decision per outcome), `model` (OBS's answers and events into state and
//!   moments; time is an input), `backoff`.
//! - [`state`]: the state model and the moments, as every face shows them.
//! - [`control`]: start/stop/toggle for each output, and how each is awaited.
//! - [`guard`]: the stream guard: alert kinds and settings, a pure detector per problem, the `Guard`.
//! - [`text`]: the words: status lines, moment titles and bodies.
//! - [`desktop`]: the desktop's pure policy: the tray's menu model and icon
//!   (`tray`), the window's buttons (`controls`), what a click, hotkey or
//!   button sends (`actions`), the stop confirmation (`stop_guard`), which
//!   notification a moment gets (`notify`), hotkey bindings (`hotkeys`).
//! - [`settings`]: which OBS and which password, and what wins when flags,
//!   environment, file and keyring disagree (`target`), the settings file and
//!   its one reader (`file`), the password store (`secrets`).
//! - [`cli`]: the `onair` command line.
//! - [`connect`]: `onair connect` (OBS's own settings or its `obsws://` URL
//!   into OnAir's) and the one vocabulary of why a connection fails (`Cause`).
//! - [`history`]: the ended streams, one JSON line each, bounded; read newest first.
//! - [`sim`]: a simulated OBS, request in, answer and events out, no sockets, no clock.
//! - [`demo`]: a simulated OBS playing a scripted show, for `--demo`.

pub mod cli;
pub mod connect;
pub mod control;
pub mod demo;
pub mod desktop;
pub mod guard;
pub mod history;
pub mod obs;
pub mod settings;
pub mod sim;
pub mod state;
pub mod text;
