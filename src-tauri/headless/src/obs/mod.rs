//! The obs-websocket v5 side: the wire format, the client that owns one
//! socket, the session that keeps one connection to OBS alive for as long as
//! OnAir runs, and the model that turns what OBS says into [`crate::state`].
//!
//! `protocol` is public because it is the wire vocabulary (the system tests'
//! fake OBS and the fuzzer speak it); everything else is reached through the
//! re-exports below.

mod auth;
mod backoff;
mod client;
mod model;
pub mod protocol;
mod session;
mod supervisor;

pub use auth::authentication_string;
pub use backoff::{Backoff, FailureKind};
pub use client::{
    connect, Client, ClientEvent, ClientOptions, CloseReason, ConnectError, Connection, HandshakeStep, RequestError,
};
pub use model::{AudioInput, Model, SyncAnswers};
pub use session::{Session, SessionConfig};
