//! A scriptable fake obs-websocket v5 server for tests.
//!
//! Real OBS Studio is the reference (see `world`), but it will not show protocol corners on
//! demand: every close code, malformed and binary frames, unknown ops and events, responses out
//! of order, a request that is never answered, events before `Identified`, a flood of events, or
//! a half-open connection that stops answering pings. This fake lets a test produce each of those
//! deliberately, on loopback, in milliseconds.
//!
//! Two ways to drive a connection:
//! * frame by frame through [`FakeConn`] (`send_hello`, `recv_request`, `respond`, `close`, ...),
//!   for scripted protocol corners;
//! * automatically through [`FakeConn::serve_with`], which answers the requests a status tray makes
//!   from a [`FakeState`] in the obs-websocket 5.1 shape (as OBS 29.0.2 answers them), emits the
//!   events a real OBS would for state changes, and gives the test a [`ServeHandle`] to push events,
//!   change the state, hold or reorder responses, and break the connection while serving.
//!
//! The auto-server speaks one obs-websocket release at a time, chosen by [`FakeState::profile`]
//! ([`Profile`]): 5.1 by default (what CI's real OBS runs), or 5.0 (no RECONNECTING/RECONNECTED
//! events), 5.3+ (207 NotReady while "loading" and during a scene collection switch), 5.4+ (uuids),
//! 5.5+ (RecordFileChanged on file splits) and 5.7 (a `null` program scene name), so the session
//! tests can run against every release a streamer may have. The [`ServeHandle`] helpers that play
//! OBS-side happenings (an RTMP outage, a file split, a collection switch, a rename) say them the
//! way the chosen release would.
//!
//! The protocol facts it follows are in `docs/obs-websocket-v5.md`. Like real OBS it
//! answers websocket pings by itself, sends no pings of its own, and (while serving) closes the
//! session with the close code real OBS uses when the client sends something malformed.
//!
//! Internally every accepted websocket is owned by one task; [`FakeConn`] and [`ServeHandle`]
//! talk to it over channels, so pings are answered even while the test is busy elsewhere.
//!
//! The OBS behind it is the headless crate's simulator ([`onair_headless::sim`], which
//! `onair --demo` plays its show on too): [`FakeState`] is its
//! [`SimObs`](onair_headless::sim::SimObs), a pure "request or happening in, answer and events
//! out" state machine, and [`Profile`] the obs-websocket release it imitates.
//!
//! Layout, one job per file:
//! * `wire`: the frames both sides write and read (envelopes, responses, events), the named close
//!   codes, and the Identify check (auth included); status codes and `eventIntent` are the
//!   simulator's;
//! * `socket`: the task that owns one websocket and the channel the test side talks to it over;
//! * `conn`: [`FakeConn`], one connection driven frame by frame;
//! * `listener`: [`FakeObs`], the loopback listener that upgrades and queues connections;
//! * `every`: [`serve_every_connection`], for a client that reconnects or connects more than once;
//! * `serve`: the auto-server and its [`ServeHandle`]: answers from the simulation, gates it the
//!   way a 5.3+ OBS does while loading or switching collections, and injects faults (held or
//!   reordered responses, closes, silence).

mod conn;
mod every;
mod listener;
mod serve;
mod socket;
mod wire;

pub use conn::FakeConn;
pub use every::{requests_served, serve_every_connection, Served};
pub use listener::FakeObs;
pub use onair_headless::sim::{
    derived_uuid, Profile, SimObs as FakeState, DEFAULT_RECORD_PATH as FAKE_RECORD_PATH,
    DEFAULT_REPLAY_PATH as FAKE_REPLAY_PATH,
};
pub use serve::ServeHandle;
pub use wire::{
    close_code, event_intent, status, ClientFrame, FakeRequest, EVENT_SUBSCRIPTION_ALL, NOT_READY_COMMENT, SUBPROTOCOL,
};
