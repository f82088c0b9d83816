//! [`FakeConn`]: one accepted connection as the test drives it, frame by frame: send Hello,
//! Identified, responses, events or any raw frame, receive what the client sent, close, drop
//! or go silent. [`FakeConn::handshake`] plays obs-websocket's own handshake; auto-serving a
//! handshaken connection is in `serve`.

use std::time::Duration;

use onair_headless::obs::protocol::op;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tracing::debug;

use super::socket::{self, ConnLink, Incoming};
use super::wire::{
    check_identify, decode_client_frame, event_intent, event_json, hello_json, identified_json, random_token,
    response_json, status, Challenge, ClientFrame, FakeRequest, EVENT_SUBSCRIPTION_ALL,
};
use super::Profile;

/// How long [`FakeConn::handshake`] waits for the client's Identify.
const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// One accepted websocket connection, driven by the test.
pub struct FakeConn {
    pub(super) link: ConnLink,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    subprotocol: Option<String>,
    salt: String,
    challenge: String,
    pub(super) event_subscriptions: Option<u64>,
    closed: Option<Option<u16>>,
    skipped: Vec<ClientFrame>,
}

impl FakeConn {
    pub(super) fn spawn(ws: WebSocketStream<TcpStream>, subprotocol: Option<String>, salt: String) -> FakeConn {
        let (link, incoming) = socket::spawn(ws);
        FakeConn {
            link,
            incoming,
            subprotocol,
            salt,
            challenge: random_token(),
            event_subscriptions: None,
            closed: None,
            skipped: Vec::new(),
        }
    }

    /// The `Sec-WebSocket-Protocol` value(s) the client offered, comma-joined; `None` if it
    /// offered none. The fake accepts `obswebsocket.json` when offered.
    pub fn subprotocol(&self) -> Option<String> {
        self.subprotocol.clone()
    }

    /// The salt [`FakeConn::handshake`] sends (fixed per [`FakeObs`](super::FakeObs), like real OBS).
    pub fn salt(&self) -> &str {
        &self.salt
    }

    /// The challenge [`FakeConn::handshake`] sends (fresh per connection).
    pub fn challenge(&self) -> &str {
        &self.challenge
    }

    /// `eventSubscriptions` from the last Identify (or Reidentify, while serving) seen.
    pub fn event_subscriptions(&self) -> Option<u64> {
        self.event_subscriptions
    }

    /// Frames that `recv_*` passed over because they were not what it waited for.
    pub fn skipped_frames(&self) -> &[ClientFrame] {
        &self.skipped
    }

    /// Number of websocket Ping frames received from the client so far (not counted once silent).
    pub fn pings_received(&self) -> usize {
        self.link.pings()
    }

    // --- sending ---

    /// Op 0 Hello; with `Some((salt, challenge))` it asks for authentication.
    pub async fn send_hello(&mut self, auth: Option<(&str, &str)>, ws_version: &str) {
        self.send_hello_from(auth, ws_version, None).await
    }

    /// Op 0 Hello as obs-websocket 5.6+ sends it, with `obsStudioVersion` when given.
    pub async fn send_hello_from(
        &mut self,
        auth: Option<(&str, &str)>,
        ws_version: &str,
        obs_studio_version: Option<&str>,
    ) {
        self.link.send_text(hello_json(auth, ws_version, obs_studio_version)).await
    }

    /// Op 2 Identified, `negotiatedRpcVersion` 1.
    pub async fn send_identified(&mut self) {
        self.link.send_text(identified_json()).await
    }

    /// Op 7 for `req`; `result` is `code == status::SUCCESS` (100).
    pub async fn respond(&mut self, req: &FakeRequest, code: u32, comment: Option<&str>, data: Option<Value>) {
        self.link.send_text(response_json(req, code, comment, data)).await
    }

    /// Op 7 success (code 100) with `responseData`.
    pub async fn respond_ok(&mut self, req: &FakeRequest, data: Value) {
        self.respond(req, status::SUCCESS, None, Some(data)).await
    }

    /// Op 5 with the usual `eventIntent` for the type ([`event_intent`]); a `Value::Null` `data`
    /// leaves `eventData` out, as OBS does for events without data. Never filtered by the
    /// client's subscriptions.
    pub async fn send_event(&mut self, event_type: &str, data: Value) {
        self.link.send_text(event_json(event_type, data)).await
    }

    /// Any text frame (malformed JSON, unknown op, ...).
    pub async fn send_text(&mut self, raw: &str) {
        self.link.send_text(raw.to_owned()).await
    }

    /// Any binary frame.
    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.link.send_binary(bytes.to_vec()).await
    }

    /// Sends a close frame with `code` and `reason` (any code, even ones the RFC reserves), then
    /// keeps reading until the client answers; see [`FakeConn::wait_closed`].
    pub async fn close(&mut self, code: u16, reason: &str) {
        self.link.close(code, reason).await
    }

    /// Drops the TCP connection without a close frame (the client sees 1006).
    pub async fn drop_tcp(self) {
        self.link.drop_tcp().await
    }

    /// Half-open simulation: from now on nothing is read from the websocket, so pings are never
    /// answered and requests never seen, and everything sent through this connection is
    /// discarded; the TCP connection stays open. Only `drop_tcp` still acts. The fake still
    /// notices the client dropping the TCP connection (`wait_closed` then gives `Some(None)`).
    pub fn go_silent(&mut self) {
        self.link.go_silent()
    }

    // --- receiving ---

    /// The next thing from the connection task; `None` on timeout. Remembers the close.
    pub(super) async fn next_incoming(&mut self, deadline: Option<Instant>) -> Option<Incoming> {
        if let Some(code) = self.closed {
            return Some(Incoming::Closed(code));
        }
        let next = match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, self.incoming.recv()).await.ok()?,
            None => self.incoming.recv().await,
        };
        let item = next.unwrap_or(Incoming::Closed(None));
        if let Incoming::Closed(code) = item {
            self.closed = Some(code);
        }
        Some(item)
    }

    /// The next text or binary frame from the client; `None` on timeout or once closed.
    pub async fn recv_frame(&mut self, timeout: Duration) -> Option<ClientFrame> {
        match self.next_incoming(Some(Instant::now() + timeout)).await? {
            Incoming::Frame(frame) => Some(frame),
            Incoming::Closed(_) => None,
        }
    }

    /// The `d` of the next JSON frame with this `op`; other frames are skipped and recorded in
    /// [`FakeConn::skipped_frames`]. `None` on timeout or once closed.
    pub async fn recv_op(&mut self, op: u64, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let frame = match self.next_incoming(Some(deadline)).await? {
                Incoming::Frame(frame) => frame,
                Incoming::Closed(_) => return None,
            };
            match decode_client_frame(&frame) {
                Ok((got, d)) if got == op => return Some(d),
                _ => {
                    debug!("fake OBS: skipping {frame:?} while waiting for op {op}");
                    self.skipped.push(frame);
                }
            }
        }
    }

    /// The `d` of the next op 1 Identify (other frames skipped and recorded).
    pub async fn recv_identify(&mut self, timeout: Duration) -> Option<Value> {
        let d = self.recv_op(op::IDENTIFY, timeout).await?;
        self.event_subscriptions = Some(d["eventSubscriptions"].as_u64().unwrap_or(EVENT_SUBSCRIPTION_ALL));
        Some(d)
    }

    /// The next op 6 Request (other frames skipped and recorded).
    pub async fn recv_request(&mut self, timeout: Duration) -> Option<FakeRequest> {
        self.recv_op(op::REQUEST, timeout).await.map(|d| FakeRequest::from_d(&d))
    }

    /// Waits until the connection ends, skipping (and recording) frames. `None`: still open after
    /// `timeout`; `Some(Some(code))`: the client sent a close frame with `code` (1005 if it had
    /// none; when the fake closed first this is the client's echo); `Some(None)`: the socket
    /// ended without a close frame.
    pub async fn wait_closed(&mut self, timeout: Duration) -> Option<Option<u16>> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_incoming(Some(deadline)).await? {
                Incoming::Frame(frame) => self.skipped.push(frame),
                Incoming::Closed(code) => return Some(code),
            }
        }
    }

    // --- handshakes ---

    /// The full handshake as OBS 29 / obs-websocket 5.1.0 does it; see [`FakeConn::handshake_as`].
    pub async fn handshake(&mut self, password: Option<&str>) -> Result<Value, String> {
        self.handshake_as(password, "5.1.0").await
    }

    /// Hello (asking for authentication when `password` is set, with [`FakeConn::salt`] and
    /// [`FakeConn::challenge`]), then the client's first frame must be a valid Identify.
    /// Anything else closes the session with the code real OBS uses (4009 for missing or wrong
    /// authentication, 4010 for an unsupported rpcVersion, 4007 for a non-Identify message, ...)
    /// and returns `Err`. On success sends Identified and returns the Identify `d`.
    pub async fn handshake_as(&mut self, password: Option<&str>, ws_version: &str) -> Result<Value, String> {
        self.handshake_hello(password, ws_version, None).await
    }

    /// The handshake as the release `profile` does it (its version, and `obsStudioVersion` in
    /// Hello from 5.6 on); otherwise like [`FakeConn::handshake_as`]. Serve the connection with a
    /// [`FakeState`](super::FakeState) of the same profile
    /// ([`FakeState::for_profile`](super::FakeState::for_profile)).
    pub async fn handshake_profile(&mut self, password: Option<&str>, profile: Profile) -> Result<Value, String> {
        let obs_version = profile.hello_has_obs_version().then(|| profile.obs_version());
        self.handshake_hello(password, profile.ws_version(), obs_version).await
    }

    async fn handshake_hello(
        &mut self,
        password: Option<&str>,
        ws_version: &str,
        obs_studio_version: Option<&str>,
    ) -> Result<Value, String> {
        let (salt, challenge) = (self.salt.clone(), self.challenge.clone());
        let auth = password.map(|_| (salt.as_str(), challenge.as_str()));
        self.send_hello_from(auth, ws_version, obs_studio_version).await;

        let frame = self
            .recv_frame(IDENTIFY_TIMEOUT)
            .await
            .ok_or_else(|| format!("no Identify within {IDENTIFY_TIMEOUT:?} (or the client left)"))?;
        let expected = password.map(|password| Challenge { password, salt: &salt, challenge: &challenge });
        let identify = match check_identify(&frame, expected.as_ref()) {
            Ok((identify, subscriptions)) => {
                self.event_subscriptions = Some(subscriptions);
                identify
            }
            Err((code, reason)) => return self.fail(code, reason).await,
        };
        self.send_identified().await;
        Ok(identify)
    }

    async fn fail<T>(&mut self, code: u16, reason: String) -> Result<T, String> {
        self.close(code, &reason).await;
        Err(format!("closed with {code}: {reason}"))
    }

    /// Whether the client subscribed to this event type (everything until it identified).
    pub(super) fn subscribed_to(&self, event_type: &str) -> bool {
        self.event_subscriptions.map_or(true, |subs| subs & event_intent(event_type) != 0)
    }
}
