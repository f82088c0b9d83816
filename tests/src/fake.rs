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

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tracing::{debug, warn};

/// The websocket subprotocol obs-websocket speaks in JSON mode.
pub const SUBPROTOCOL: &str = "obswebsocket.json";
/// `outputPath` reported for recordings (StopRecord, RecordStateChanged).
pub const FAKE_RECORD_PATH: &str = "/tmp/fake/rec.mkv";
/// `savedReplayPath` reported by ReplayBufferSaved.
pub const FAKE_REPLAY_PATH: &str = "/tmp/fake/replay.mkv";
/// `eventSubscriptions` default when Identify omits it (All, as of obs-websocket 5.1).
pub const EVENT_SUBSCRIPTION_ALL: u64 = 2047;

/// How long a TCP connection may take to finish the websocket upgrade.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long [`FakeConn::handshake`] waits for the client's Identify.
const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// In out-of-order mode, responses are released once no frame arrived for this long.
const OUT_OF_ORDER_QUIET: Duration = Duration::from_millis(50);

/// The `comment` obs-websocket 5.3+ sends with 207 NotReady.
pub const NOT_READY_COMMENT: &str = "OBS is not ready to perform the request.";

// ---------------------------------------------------------------------------------------------
// Version profiles
// ---------------------------------------------------------------------------------------------

/// An obs-websocket release the auto-server imitates: the differences a client must survive,
/// as read from obs-websocket's source at each release tag (see the protocol notes).
/// Ordered by version, so `profile >= Profile::V5_3` reads as "5.3 or newer".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Profile {
    /// 5.0.x (OBS 28): no RECONNECTING/RECONNECTED stream states; an RTMP outage shows only as
    /// `GetStreamStatus.outputReconnecting`.
    V5_0,
    /// 5.1.0 (OBS 29.0), what CI's real OBS runs: reconnect events, no 207, no uuids.
    #[default]
    V5_1,
    /// 5.3.x (OBS 30.0): answers 207 NotReady until OBS finished loading and between
    /// CurrentSceneCollectionChanging and ...Changed (and sends no events then).
    V5_3,
    /// 5.4.x (OBS 30.1): `sceneUuid` / `inputUuid` everywhere scenes and inputs are named.
    V5_4,
    /// 5.5.x (OBS 30.2, 31.0): RecordFileChanged `{newOutputPath}` when a recording splits.
    V5_5,
    /// 5.7.x (OBS 32.1): `obsStudioVersion` in Hello (from 5.6), and `currentProgramSceneName`
    /// may be `null`.
    V5_7,
}

impl Profile {
    /// Every profile, oldest first.
    pub const ALL: [Profile; 6] =
        [Profile::V5_0, Profile::V5_1, Profile::V5_3, Profile::V5_4, Profile::V5_5, Profile::V5_7];

    /// `obsWebSocketVersion`, as the release reports it.
    pub fn ws_version(self) -> &'static str {
        match self {
            Profile::V5_0 => "5.0.1",
            Profile::V5_1 => "5.1.0",
            Profile::V5_3 => "5.3.4",
            Profile::V5_4 => "5.4.2",
            Profile::V5_5 => "5.5.4",
            Profile::V5_7 => "5.7.3",
        }
    }

    /// The OBS Studio version that shipped the release.
    pub fn obs_version(self) -> &'static str {
        match self {
            Profile::V5_0 => "28.1.2",
            Profile::V5_1 => "29.0.2",
            Profile::V5_3 => "30.0.2",
            Profile::V5_4 => "30.1.2",
            Profile::V5_5 => "31.0.3",
            Profile::V5_7 => "32.1.0",
        }
    }

    /// RECONNECTING / RECONNECTED stream states (5.1+).
    pub fn has_reconnect_events(self) -> bool {
        self >= Profile::V5_1
    }

    /// 207 NotReady while loading and during a scene collection switch (5.3+).
    pub fn answers_not_ready(self) -> bool {
        self >= Profile::V5_3
    }

    /// `sceneUuid`, `inputUuid` (5.4+).
    pub fn has_uuids(self) -> bool {
        self >= Profile::V5_4
    }

    /// RecordFileChanged on a file split (5.5+).
    pub fn has_record_file_changed(self) -> bool {
        self >= Profile::V5_5
    }

    /// `obsStudioVersion` in Hello (5.6+).
    pub fn hello_has_obs_version(self) -> bool {
        self >= Profile::V5_7
    }

    /// `currentProgramSceneName: null` when OBS has no program scene (5.7+).
    pub fn program_scene_may_be_null(self) -> bool {
        self >= Profile::V5_7
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "obs-websocket {}", self.ws_version())
    }
}

/// A stable uuid for a named scene or input, as obs-websocket 5.4+ reports them (the fake derives
/// it from the name unless [`FakeState::uuids`] fixed one, e.g. to keep it across a rename).
pub fn derived_uuid(name: &str) -> String {
    let digest = Sha256::digest(format!("onair-fake-uuid:{name}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

// ---------------------------------------------------------------------------------------------
// Protocol helpers
// ---------------------------------------------------------------------------------------------

/// The `authentication` string a client must send:
/// `base64(sha256(base64(sha256(password + salt)) + challenge))`, everything as text.
pub fn obs_auth_response(password: &str, salt: &str, challenge: &str) -> String {
    let secret = BASE64.encode(Sha256::digest(format!("{password}{salt}").as_bytes()));
    BASE64.encode(Sha256::digest(format!("{secret}{challenge}").as_bytes()))
}

/// The `eventIntent` (subscription bit) obs-websocket attaches to an event type.
/// Unknown event types get General (1).
pub fn event_intent(event_type: &str) -> u64 {
    match event_type {
        "InputVolumeMeters" => 1 << 16,
        "InputActiveStateChanged" => 1 << 17,
        "InputShowStateChanged" => 1 << 18,
        "SceneItemTransformChanged" => 1 << 19,
        "StreamStateChanged"
        | "RecordStateChanged"
        | "RecordFileChanged"
        | "ReplayBufferStateChanged"
        | "ReplayBufferSaved"
        | "VirtualcamStateChanged" => 64,
        "StudioModeStateChanged" | "ScreenshotSaved" => 1024,
        "VendorEvent" => 512,
        "ExitStarted" | "CustomEvent" => 1,
        t if t.starts_with("CurrentSceneCollection")
            || t.starts_with("SceneCollection")
            || t.starts_with("CurrentProfile")
            || t.starts_with("Profile") =>
        {
            2
        }
        t if t.starts_with("SceneItem") => 128,
        t if t.starts_with("MediaInput") => 256,
        t if t.starts_with("SourceFilter") => 32,
        t if t.contains("Transition") => 16,
        t if t.starts_with("Scene") || t.starts_with("CurrentProgramScene") || t.starts_with("CurrentPreviewScene") => {
            4
        }
        t if t.starts_with("Input") => 8,
        t if t.starts_with("Canvas") => 2048,
        _ => 1,
    }
}

/// `HH:MM:SS.mmm`, as obs-websocket formats `outputTimecode`.
fn timecode(ms: u64) -> String {
    format!("{:02}:{:02}:{:02}.{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// A fresh base64 token for salts and challenges (unpredictable enough for tests).
fn random_token() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    BASE64.encode(Sha256::digest(format!("onair-fake-{}-{n}-{nanos}", std::process::id()).as_bytes()))
}

fn frame_json(op: u8, d: Value) -> String {
    json!({ "op": op, "d": d }).to_string()
}

fn event_json(event_type: &str, data: Value) -> String {
    let mut d = json!({ "eventType": event_type, "eventIntent": event_intent(event_type) });
    if !data.is_null() {
        d["eventData"] = data;
    }
    frame_json(5, d)
}

fn request_status(code: u16, comment: Option<&str>) -> Value {
    let mut status = json!({ "result": code == 100, "code": code });
    if let Some(comment) = comment {
        status["comment"] = json!(comment);
    }
    status
}

fn response_json(req: &FakeRequest, code: u16, comment: Option<&str>, data: Option<Value>) -> String {
    let mut d = json!({
        "requestType": req.request_type,
        "requestId": req.request_id,
        "requestStatus": request_status(code, comment),
    });
    if let Some(data) = data {
        d["responseData"] = data;
    }
    frame_json(7, d)
}

/// Decodes a client frame the way obs-websocket does, into `(op, d)`.
/// `Err((close code, reason))` is what real OBS would close the session with.
/// Does not check ops or identification state.
fn decode_client_frame(frame: &ClientFrame) -> Result<(u64, Value), (u16, String)> {
    let text = match frame {
        ClientFrame::Binary(_) => {
            return Err((4002, "Your session encoding is set to Json, but a binary message was received.".into()))
        }
        ClientFrame::Text(text) => text,
    };
    let message: Value = serde_json::from_str(text).map_err(|e| (4002, format!("Unable to decode Json: {e}")))?;
    let Value::Object(mut message) = message else {
        return Err((4002, "You sent a non-object payload.".into()));
    };
    if message.contains_key("request-type") {
        return Err((
            4010,
            "You appear to be attempting to connect with the pre-5.0.0 plugin protocol. \
             Check to make sure your client is updated."
                .into(),
        ));
    }
    let op = match message.get("op") {
        None => return Err((4006, "Your request is missing an `op`.".into())),
        Some(op) => op.as_u64().ok_or((4006, "Your `op` is not a number.".to_string()))?,
    };
    match message.remove("d") {
        None | Some(Value::Null) => Err((4003, "Your payload is missing data (`d`).".into())),
        Some(d @ Value::Object(_)) => Ok((op, d)),
        Some(_) => Err((4004, "Your payload's data (`d`) is not an object.".into())),
    }
}

// ---------------------------------------------------------------------------------------------
// FakeObs: the listener
// ---------------------------------------------------------------------------------------------

/// A fake OBS listening on `127.0.0.1` (random port). Every TCP connection is upgraded to a
/// websocket in the background and queued for [`FakeObs::accept`]; nothing is sent to the client
/// until the test says so (real OBS sends Hello at once: use [`FakeConn::handshake`]).
pub struct FakeObs {
    port: u16,
    salt: String,
    accepted: Arc<AtomicUsize>,
    conn_tx: mpsc::UnboundedSender<FakeConn>,
    conn_rx: mpsc::UnboundedReceiver<FakeConn>,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeObs {
    /// Starts listening on `127.0.0.1:0`. Panics if loopback cannot be bound (test setup error).
    pub async fn start() -> FakeObs {
        let listener = bind_loopback(0).expect("fake OBS: cannot listen on 127.0.0.1");
        let port = listener.local_addr().expect("fake OBS: listener has no local address").port();
        let (conn_tx, conn_rx) = mpsc::unbounded_channel();
        let mut fake = FakeObs {
            port,
            // Real OBS keeps one salt per server start and a fresh challenge per connection.
            salt: random_token(),
            accepted: Arc::new(AtomicUsize::new(0)),
            conn_tx,
            conn_rx,
            acceptor: None,
        };
        fake.spawn_acceptor(listener);
        fake
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `ws://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// The next connection that finished the websocket upgrade, in upgrade order, waiting up to
    /// `timeout`. Connections queue up even when nobody calls this.
    pub async fn accept(&mut self, timeout: Duration) -> Option<FakeConn> {
        tokio::time::timeout(timeout, self.conn_rx.recv()).await.ok().flatten()
    }

    /// How many TCP connections were accepted so far (upgraded or not).
    pub fn connection_count(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    pub fn is_listening(&self) -> bool {
        self.acceptor.is_some()
    }

    /// Closes the listening socket: new connects are refused. Established connections live on.
    pub async fn stop_listening(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
            // Awaiting the aborted task guarantees the listener has been dropped (port closed).
            let _ = acceptor.await;
        }
    }

    /// Listens again on the same port. Fails if something else took the port meanwhile.
    pub async fn resume_listening(&mut self) -> io::Result<()> {
        if self.acceptor.is_none() {
            let listener = bind_loopback(self.port)?;
            self.spawn_acceptor(listener);
        }
        Ok(())
    }

    fn spawn_acceptor(&mut self, listener: TcpListener) {
        let accepted = Arc::clone(&self.accepted);
        let conn_tx = self.conn_tx.clone();
        let salt = self.salt.clone();
        self.acceptor = Some(tokio::spawn(accept_loop(listener, accepted, conn_tx, salt)));
    }
}

impl Drop for FakeObs {
    fn drop(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
        }
    }
}

fn bind_loopback(port: u16) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    // So that resume_listening can rebind while old connections sit in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    socket.listen(128)
}

async fn accept_loop(
    listener: TcpListener,
    accepted: Arc<AtomicUsize>,
    conn_tx: mpsc::UnboundedSender<FakeConn>,
    salt: String,
) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                accepted.fetch_add(1, Ordering::SeqCst);
                debug!(%peer, "fake OBS: TCP connection accepted");
                tokio::spawn(upgrade(stream, conn_tx.clone(), salt.clone()));
            }
            Err(e) => {
                // E.g. out of file descriptors: do not spin.
                warn!("fake OBS: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Performs the websocket upgrade, accepting `obswebsocket.json` when the client offers it.
async fn upgrade(stream: TcpStream, conn_tx: mpsc::UnboundedSender<FakeConn>, salt: String) {
    let _ = stream.set_nodelay(true);
    let mut offered: Option<String> = None;
    // The signature is tungstenite's; its large Err type is not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, mut response: Response| -> Result<Response, ErrorResponse> {
        let protocols: Vec<&str> =
            request.headers().get_all(SEC_WEBSOCKET_PROTOCOL).iter().filter_map(|v| v.to_str().ok()).collect();
        if !protocols.is_empty() {
            let joined = protocols.join(", ");
            if joined.split(',').any(|p| p.trim() == SUBPROTOCOL) {
                response.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(SUBPROTOCOL));
            }
            offered = Some(joined);
        }
        Ok(response)
    };
    let ws = match tokio::time::timeout(UPGRADE_TIMEOUT, tokio_tungstenite::accept_hdr_async(stream, callback)).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => return debug!("fake OBS: websocket upgrade failed: {e}"),
        Err(_) => return debug!("fake OBS: websocket upgrade timed out"),
    };
    let conn = FakeConn::spawn(ws, offered, salt);
    // Fails only when the FakeObs is gone; dropping the conn then closes the socket.
    let _ = conn_tx.send(conn);
}

// ---------------------------------------------------------------------------------------------
// The connection task
// ---------------------------------------------------------------------------------------------

/// A frame the client sent (control frames are handled by the connection task).
#[derive(Clone, Debug, PartialEq)]
pub enum ClientFrame {
    Text(String),
    Binary(Vec<u8>),
}

enum Incoming {
    Frame(ClientFrame),
    /// The connection ended; the close code the client sent, if any.
    Closed(Option<u16>),
}

enum Action {
    Send(Message),
    Close(u16, String),
    /// A frame and the close frame right behind it, flushed together, so the client
    /// reads both at once (OBS's ExitStarted and its 1001 close, ~60 ms apart at most).
    SendThenClose(Message, u16, String),
    DropTcp,
    GoSilent,
}

struct Command {
    action: Action,
    done: Option<oneshot::Sender<()>>,
}

/// The sending side of a connection, shared by [`FakeConn`] and [`ServeHandle`].
#[derive(Clone)]
struct ConnLink {
    commands: mpsc::UnboundedSender<Command>,
    pings: Arc<AtomicUsize>,
}

impl ConnLink {
    /// Queues an action and waits until the connection task has carried it out
    /// (a frame is written to the socket), or until the connection is gone.
    async fn run(&self, action: Action) {
        let (done, finished) = oneshot::channel();
        if self.commands.send(Command { action, done: Some(done) }).is_err() {
            debug!("fake OBS: connection already gone, action dropped");
            return;
        }
        let _ = finished.await;
    }

    async fn send_text(&self, text: String) {
        self.run(Action::Send(Message::Text(text))).await
    }

    async fn send_binary(&self, bytes: Vec<u8>) {
        self.run(Action::Send(Message::Binary(bytes))).await
    }

    async fn close(&self, code: u16, reason: &str) {
        self.run(Action::Close(code, reason.to_owned())).await
    }

    async fn send_text_then_close(&self, text: String, code: u16, reason: &str) {
        self.run(Action::SendThenClose(Message::Text(text), code, reason.to_owned())).await
    }

    async fn drop_tcp(&self) {
        self.run(Action::DropTcp).await
    }

    fn go_silent(&self) {
        let _ = self.commands.send(Command { action: Action::GoSilent, done: None });
    }

    fn pings(&self) -> usize {
        self.pings.load(Ordering::SeqCst)
    }
}

enum Flow {
    Continue,
    Stop,
}

/// Owns the websocket: forwards client frames, counts pings (tungstenite answers them with pongs
/// as it reads), and carries out commands. In silent mode the websocket is no longer read at all;
/// raw bytes are drained and discarded only to notice when the client drops the TCP connection.
async fn run_connection(
    mut ws: WebSocketStream<TcpStream>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    incoming: mpsc::UnboundedSender<Incoming>,
    pings: Arc<AtomicUsize>,
) {
    let mut silent = false;
    let mut peer_close: Option<u16> = None;
    let mut scratch = vec![0u8; 16 * 1024];
    let outcome = loop {
        let flow = if silent {
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(command) => apply(&mut ws, command, &mut silent).await,
                    None => Flow::Stop,
                },
                read = ws.get_mut().read(&mut scratch) => match read {
                    Ok(0) | Err(_) => Flow::Stop,
                    Ok(_) => Flow::Continue,
                },
            }
        } else {
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(command) => apply(&mut ws, command, &mut silent).await,
                    None => Flow::Stop,
                },
                message = ws.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        let _ = incoming.send(Incoming::Frame(ClientFrame::Text(text)));
                        Flow::Continue
                    }
                    Some(Ok(Message::Binary(bytes))) => {
                        let _ = incoming.send(Incoming::Frame(ClientFrame::Binary(bytes)));
                        Flow::Continue
                    }
                    Some(Ok(Message::Ping(_))) => {
                        pings.fetch_add(1, Ordering::SeqCst);
                        Flow::Continue
                    }
                    Some(Ok(Message::Close(frame))) => {
                        // 1005: a close frame without a status code.
                        peer_close = Some(frame.map_or(1005, |f| u16::from(f.code)));
                        Flow::Continue // tungstenite echoes the close; the stream ends next.
                    }
                    Some(Ok(Message::Pong(_) | Message::Frame(_))) => Flow::Continue,
                    Some(Err(e)) => {
                        debug!("fake OBS: connection error: {e}");
                        Flow::Stop
                    }
                    None => Flow::Stop,
                },
            }
        };
        if let Flow::Stop = flow {
            break peer_close;
        }
    };
    let _ = incoming.send(Incoming::Closed(outcome));
}

async fn apply(ws: &mut WebSocketStream<TcpStream>, command: Command, silent: &mut bool) -> Flow {
    let flow = match command.action {
        Action::DropTcp => Flow::Stop,
        Action::GoSilent => {
            *silent = true;
            Flow::Continue
        }
        Action::Send(_) | Action::Close(..) | Action::SendThenClose(..) if *silent => {
            debug!("fake OBS: connection is silent, frame discarded");
            Flow::Continue
        }
        Action::Send(message) => {
            if let Err(e) = ws.send(message).await {
                debug!("fake OBS: send failed: {e}");
            }
            Flow::Continue
        }
        Action::Close(code, reason) => {
            let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
            if let Err(e) = ws.close(Some(frame)).await {
                debug!("fake OBS: close failed: {e}");
            }
            Flow::Continue // keep reading until the client answers the close
        }
        Action::SendThenClose(message, code, reason) => {
            // `feed` only buffers; the close writes and flushes both in one go.
            if let Err(e) = ws.feed(message).await {
                debug!("fake OBS: send failed: {e}");
            }
            let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
            if let Err(e) = ws.close(Some(frame)).await {
                debug!("fake OBS: close failed: {e}");
            }
            Flow::Continue
        }
    };
    if let Some(done) = command.done {
        let _ = done.send(());
    }
    flow
}

// ---------------------------------------------------------------------------------------------
// FakeConn: one scripted connection
// ---------------------------------------------------------------------------------------------

/// A request (op 6) the client sent.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeRequest {
    pub request_type: String,
    /// Empty when the client left it out (real OBS closes such a session with 4003).
    pub request_id: String,
    pub data: Option<Value>,
}

impl FakeRequest {
    /// From the `d` of an op 6 (or one entry of an op 8 `requests` array).
    fn from_d(d: &Value) -> FakeRequest {
        let text = |key: &str| match d.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        FakeRequest {
            request_type: text("requestType"),
            request_id: text("requestId"),
            data: d.get("requestData").filter(|v| !v.is_null()).cloned(),
        }
    }
}

/// One accepted websocket connection, driven by the test.
pub struct FakeConn {
    link: ConnLink,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    subprotocol: Option<String>,
    salt: String,
    challenge: String,
    event_subscriptions: Option<u64>,
    closed: Option<Option<u16>>,
    skipped: Vec<ClientFrame>,
}

impl FakeConn {
    fn spawn(ws: WebSocketStream<TcpStream>, subprotocol: Option<String>, salt: String) -> FakeConn {
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (incoming_tx, incoming) = mpsc::unbounded_channel();
        let pings = Arc::new(AtomicUsize::new(0));
        tokio::spawn(run_connection(ws, command_rx, incoming_tx, Arc::clone(&pings)));
        FakeConn {
            link: ConnLink { commands, pings },
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

    /// The salt [`FakeConn::handshake`] sends (fixed per [`FakeObs`], like real OBS).
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
        let mut d = json!({ "obsWebSocketVersion": ws_version, "rpcVersion": 1 });
        if let Some(obs_version) = obs_studio_version {
            d["obsStudioVersion"] = json!(obs_version);
        }
        if let Some((salt, challenge)) = auth {
            d["authentication"] = json!({ "challenge": challenge, "salt": salt });
        }
        self.link.send_text(frame_json(0, d)).await
    }

    /// Op 2 Identified, `negotiatedRpcVersion` 1.
    pub async fn send_identified(&mut self) {
        self.link.send_text(frame_json(2, json!({ "negotiatedRpcVersion": 1 }))).await
    }

    /// Op 7 for `req`; `result` is `code == 100`.
    pub async fn respond(&mut self, req: &FakeRequest, code: u16, comment: Option<&str>, data: Option<Value>) {
        self.link.send_text(response_json(req, code, comment, data)).await
    }

    /// Op 7 success (code 100) with `responseData`.
    pub async fn respond_ok(&mut self, req: &FakeRequest, data: Value) {
        self.respond(req, 100, None, Some(data)).await
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
    async fn next_incoming(&mut self, deadline: Option<Instant>) -> Option<Incoming> {
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
        let d = self.recv_op(1, timeout).await?;
        self.event_subscriptions = Some(d["eventSubscriptions"].as_u64().unwrap_or(EVENT_SUBSCRIPTION_ALL));
        Some(d)
    }

    /// The next op 6 Request (other frames skipped and recorded).
    pub async fn recv_request(&mut self, timeout: Duration) -> Option<FakeRequest> {
        self.recv_op(6, timeout).await.map(|d| FakeRequest::from_d(&d))
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
    /// [`FakeState`] of the same profile ([`FakeState::for_profile`]).
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
        let identify = match decode_client_frame(&frame) {
            Ok((1, d)) => d,
            Ok((op, _)) => {
                return self
                    .fail(4007, format!("You attempted to send a non-Identify message while not identified. (op {op})"))
                    .await
            }
            Err((code, reason)) => return self.fail(code, reason).await,
        };

        if let Some(password) = password {
            match identify.get("authentication") {
                None => {
                    return self
                        .fail(
                            4009,
                            "Your payload's data is missing an `authentication` string, \
                             however authentication is required."
                                .into(),
                        )
                        .await
                }
                Some(auth) if auth.as_str() != Some(obs_auth_response(password, &salt, &challenge).as_str()) => {
                    return self.fail(4009, "Authentication failed.".into()).await
                }
                Some(_) => {}
            }
        }
        match identify.get("rpcVersion") {
            None => return self.fail(4003, "Your payload's data is missing an `rpcVersion`.".into()).await,
            Some(v) if v.as_u64().is_none() => {
                return self.fail(4004, "Your `rpcVersion` is not an unsigned number.".into()).await
            }
            Some(v) if v.as_u64() != Some(1) => {
                return self.fail(4010, "Your requested RPC version is not supported by this server.".into()).await
            }
            Some(_) => {}
        }
        self.event_subscriptions = Some(match identify.get("eventSubscriptions") {
            None => EVENT_SUBSCRIPTION_ALL,
            Some(v) => match v.as_u64() {
                Some(subscriptions) => subscriptions,
                None => return self.fail(4004, "Your `eventSubscriptions` is not an unsigned number.".into()).await,
            },
        });
        self.send_identified().await;
        Ok(identify)
    }

    async fn fail<T>(&mut self, code: u16, reason: String) -> Result<T, String> {
        self.close(code, &reason).await;
        Err(format!("closed with {code}: {reason}"))
    }

    // --- auto-serving ---

    /// Answers requests from `state` until the connection closes (run it after the handshake).
    pub async fn serve(self, state: FakeState) {
        let (closed_tx, _) = watch::channel(None);
        let shared = Arc::new(ServeShared::new(state, self.event_subscriptions));
        serve_loop(self, shared, closed_tx).await;
    }

    /// Like [`FakeConn::serve`], in a spawned task, with a handle to steer it while it serves.
    pub fn serve_with(self, state: FakeState) -> ServeHandle {
        let shared = Arc::new(ServeShared::new(state, self.event_subscriptions));
        let (closed_tx, closed) = watch::channel(None);
        let link = self.link.clone();
        tokio::spawn(serve_loop(self, Arc::clone(&shared), closed_tx));
        ServeHandle { link, shared, closed }
    }

    fn subscribed_to(&self, event_type: &str) -> bool {
        self.event_subscriptions.map_or(true, |subs| subs & event_intent(event_type) != 0)
    }
}

// ---------------------------------------------------------------------------------------------
// FakeState: what the auto-server answers
// ---------------------------------------------------------------------------------------------

/// The OBS state the auto-server answers from, in the response shapes of [`FakeState::profile`]
/// (obs-websocket 5.1 by default).
#[derive(Clone, Debug, PartialEq)]
pub struct FakeState {
    /// The obs-websocket release whose behaviour the auto-server imitates. [`FakeState::for_profile`]
    /// also sets the matching version strings.
    pub profile: Profile,
    /// 5.3+ only: every request is answered 207 NotReady for this long after serving began (just
    /// after Identified), as OBS 30+ does while it finishes loading.
    pub not_ready_for: Duration,
    /// 5.3+ only: during a scene collection switch, leave requests unanswered until the switch
    /// ends (then answer them from the new state) instead of answering 207 NotReady. obs-websocket's
    /// source answers 207; this is the "answers nothing" reading of it, for clients that must
    /// survive both.
    pub collection_switch_silent: bool,
    /// How long the output events a control causes (STARTING, STARTED, ...) come after
    /// its answer: real OBS answers StartStream before it says STARTING.
    pub output_events_delay: Duration,
    pub obs_version: String,
    pub ws_version: String,
    pub stream_active: bool,
    pub stream_reconnecting: bool,
    pub stream_duration_ms: u64,
    pub stream_bytes: u64,
    pub stream_skipped: u64,
    pub stream_total: u64,
    /// 0..1
    pub congestion: f64,
    /// GetStats `renderTotalFrames`: frames OBS rendered since it started (only an OBS restart
    /// takes it back).
    pub render_total_frames: u64,
    pub record_active: bool,
    pub record_paused: bool,
    pub record_duration_ms: u64,
    pub record_bytes: u64,
    /// `outputPath` of the current (or last) recording file.
    pub record_path: String,
    /// `false`: replay buffer requests answer 604 "Replay buffer is not available."
    pub replay_available: bool,
    pub replay_active: bool,
    /// `false`: virtual camera requests answer 604 "VirtualCam is not available."
    pub vcam_available: bool,
    pub vcam_active: bool,
    /// Top to bottom as the OBS UI shows them (GetSceneList reverses them).
    pub scenes: Vec<String>,
    /// Empty: OBS has no program scene (5.7+ answers `null`; older releases the empty string).
    pub program_scene: String,
    pub studio_mode: bool,
    /// Input names in OBS's order (GetInputList).
    pub inputs: Vec<String>,
    /// uuids fixed by scene or input name (5.4+), e.g. kept across a rename; any other name gets
    /// [`derived_uuid`].
    pub uuids: BTreeMap<String, String>,
    pub scene_collection: String,
    /// OBS's own settings profile (Profile menu), not to be confused with [`FakeState::profile`].
    pub current_profile: String,
}

impl FakeState {
    /// A fresh OBS of this release: [`FakeState::default`] with its version strings.
    pub fn for_profile(profile: Profile) -> FakeState {
        FakeState {
            profile,
            obs_version: profile.obs_version().into(),
            ws_version: profile.ws_version().into(),
            ..FakeState::default()
        }
    }

    /// The uuid obs-websocket 5.4+ reports for the scene or input with this name.
    pub fn uuid_of(&self, name: &str) -> String {
        self.uuids.get(name).cloned().unwrap_or_else(|| derived_uuid(name))
    }

    /// The name of the scene with this uuid.
    fn scene_by_uuid(&self, uuid: &str) -> Option<&String> {
        self.scenes.iter().find(|name| self.uuid_of(name) == uuid)
    }

    /// A scene as GetSceneList lists it, with its uuid from 5.4 on.
    fn scene_entry(&self, name: &str, index: usize) -> Value {
        let mut entry = json!({ "sceneName": name, "sceneIndex": index });
        if self.profile.has_uuids() {
            entry["sceneUuid"] = json!(self.uuid_of(name));
        }
        entry
    }

    /// The program scene's name as obs-websocket answers it: `null` when there is none (5.7+).
    fn program_scene_value(&self) -> Value {
        if self.program_scene.is_empty() && self.profile.program_scene_may_be_null() {
            Value::Null
        } else {
            json!(self.program_scene)
        }
    }

    /// `{sceneName}` plus `sceneUuid` from 5.4 on: the data of the events about one scene.
    fn scene_event_data(&self, name: &str) -> Value {
        let mut data = json!({ "sceneName": name });
        if self.profile.has_uuids() {
            data["sceneUuid"] = json!(self.uuid_of(name));
        }
        data
    }
}

impl Default for FakeState {
    /// A fresh OBS 29.0.2 / obs-websocket 5.1.0: everything off, scenes "Scene" and "Gameplay",
    /// replay buffer and virtual camera not configured.
    fn default() -> Self {
        FakeState {
            profile: Profile::V5_1,
            output_events_delay: Duration::ZERO,
            not_ready_for: Duration::ZERO,
            collection_switch_silent: false,
            obs_version: "29.0.2".into(),
            ws_version: "5.1.0".into(),
            stream_active: false,
            stream_reconnecting: false,
            stream_duration_ms: 0,
            stream_bytes: 0,
            stream_skipped: 0,
            stream_total: 0,
            congestion: 0.0,
            render_total_frames: 3600,
            record_active: false,
            record_paused: false,
            record_duration_ms: 0,
            record_bytes: 0,
            record_path: FAKE_RECORD_PATH.into(),
            replay_available: false,
            replay_active: false,
            vcam_available: false,
            vcam_active: false,
            scenes: vec!["Scene".into(), "Gameplay".into()],
            program_scene: "Scene".into(),
            studio_mode: false,
            inputs: vec!["Mic/Aux".into(), "Desktop Audio".into()],
            uuids: BTreeMap::new(),
            scene_collection: "Untitled".into(),
            current_profile: "Untitled".into(),
        }
    }
}

/// What the auto-server does with one request.
struct Answer {
    code: u16,
    comment: Option<String>,
    data: Option<Value>,
    events: Vec<(&'static str, Value)>,
}

impl Answer {
    fn ok(data: Value) -> Answer {
        Answer { code: 100, comment: None, data: Some(data), events: Vec::new() }
    }

    fn ok_empty() -> Answer {
        Answer { code: 100, comment: None, data: None, events: Vec::new() }
    }

    fn error(code: u16, comment: Option<&str>) -> Answer {
        Answer { code, comment: comment.map(str::to_owned), data: None, events: Vec::new() }
    }

    fn with_events(mut self, events: Vec<(&'static str, Value)>) -> Answer {
        self.events.extend(events);
        self
    }
}

const REPLAY_UNAVAILABLE: &str = "Replay buffer is not available.";
const VCAM_UNAVAILABLE: &str = "VirtualCam is not available.";

fn output_state(state: &str) -> String {
    format!("OBS_WEBSOCKET_OUTPUT_{state}")
}

/// `outputActive` as obs-websocket derives it from the state.
fn state_is_active(state: &str) -> bool {
    matches!(state, "STARTED" | "RESUMED" | "RECONNECTED")
}

/// A `*StateChanged` event for one state.
fn state_event(event_type: &'static str, state: &str) -> (&'static str, Value) {
    let mut data = json!({ "outputActive": state_is_active(state), "outputState": output_state(state) });
    if event_type == "RecordStateChanged" {
        let path = matches!(state, "STARTED" | "STOPPED").then_some(FAKE_RECORD_PATH);
        data["outputPath"] = json!(path);
    }
    (event_type, data)
}

/// STARTING, STARTED or STOPPING, STOPPED.
fn transition_events(event_type: &'static str, start: bool) -> Vec<(&'static str, Value)> {
    let states = if start { ["STARTING", "STARTED"] } else { ["STOPPING", "STOPPED"] };
    states.iter().map(|state| state_event(event_type, state)).collect()
}

/// Start/Stop/Toggle for an output whose on/off state is `active`.
fn start_stop(request_type: &str, active: &mut bool, event_type: &'static str) -> Answer {
    let start = match request_type {
        t if t.starts_with("Start") => true,
        t if t.starts_with("Stop") => false,
        _ => !*active, // Toggle*
    };
    let toggle = request_type.starts_with("Toggle");
    if !toggle && start == *active {
        return Answer::error(if start { 500 } else { 501 }, None);
    }
    *active = start;
    let answer = if toggle { Answer::ok(json!({ "outputActive": start })) } else { Answer::ok_empty() };
    answer.with_events(transition_events(event_type, start))
}

/// A required string field of `requestData`, or the error obs-websocket gives.
fn required_string<'a>(req: &'a FakeRequest, field: &str) -> Result<&'a str, Answer> {
    let Some(Value::Object(data)) = &req.data else {
        return Err(Answer::error(301, Some("Your request data is missing or invalid (non-object)")));
    };
    match data.get(field) {
        None | Some(Value::Null) => {
            Err(Answer::error(300, Some(&format!("Your request is missing the `{field}` field."))))
        }
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(Answer::error(400, Some(&format!("The field value of `{field}` must be a string.")))),
    }
}

/// The existing scene a request names by `sceneName` (or, from 5.4, `sceneUuid`), or the error
/// obs-websocket gives.
fn scene_named_in(st: &FakeState, req: &FakeRequest) -> Result<String, Answer> {
    if st.profile.has_uuids() {
        if let Some(uuid) = req.data.as_ref().and_then(|d| d.get("sceneUuid")).and_then(Value::as_str) {
            return st
                .scene_by_uuid(uuid)
                .cloned()
                .ok_or_else(|| Answer::error(600, Some(&format!("No source was found by the uuid of `{uuid}`."))));
        }
    }
    let name = required_string(req, "sceneName")?;
    if !st.scenes.iter().any(|s| s == name) {
        return Err(Answer::error(600, Some(&format!("No source was found by the name of `{name}`."))));
    }
    Ok(name.to_owned())
}

fn required_bool(req: &FakeRequest, field: &str) -> Result<bool, Answer> {
    let Some(Value::Object(data)) = &req.data else {
        return Err(Answer::error(301, Some("Your request data is missing or invalid (non-object)")));
    };
    match data.get(field) {
        None | Some(Value::Null) => {
            Err(Answer::error(300, Some(&format!("Your request is missing the `{field}` field."))))
        }
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(Answer::error(400, Some(&format!("The field value of `{field}` must be boolean.")))),
    }
}

/// Answers one request from `st`, updating it for requests that change OBS.
fn answer_request(st: &mut FakeState, req: &FakeRequest) -> Answer {
    let request_type = req.request_type.as_str();
    match request_type {
        "" => Answer::error(203, Some("Your request is missing a `requestType`")),

        "GetVersion" => Answer::ok(json!({
            "obsVersion": st.obs_version,
            "obsWebSocketVersion": st.ws_version,
            "rpcVersion": 1,
            "availableRequests": [],
            "supportedImageFormats": ["png", "jpg"],
            "platform": "debian",
            "platformDescription": "Debian GNU/Linux 12 (bookworm)",
        })),
        "GetStats" => Answer::ok(json!({
            "cpuUsage": 2.5,
            "memoryUsage": 180.0,
            "availableDiskSpace": 50_000.0,
            "activeFps": 30.0,
            "averageFrameRenderTime": 0.8,
            "renderSkippedFrames": 0,
            "renderTotalFrames": st.render_total_frames,
            "outputSkippedFrames": st.stream_skipped,
            "outputTotalFrames": st.stream_total,
        })),

        "GetStreamStatus" => Answer::ok(json!({
            "outputActive": st.stream_active,
            "outputReconnecting": st.stream_reconnecting,
            "outputTimecode": timecode(st.stream_duration_ms),
            "outputDuration": st.stream_duration_ms,
            "outputCongestion": st.congestion,
            "outputBytes": st.stream_bytes,
            "outputSkippedFrames": st.stream_skipped,
            "outputTotalFrames": st.stream_total,
        })),
        "StartStream" | "StopStream" | "ToggleStream" => {
            let answer = start_stop(request_type, &mut st.stream_active, "StreamStateChanged");
            if !st.stream_active {
                st.stream_reconnecting = false;
            }
            answer
        }

        "GetRecordStatus" => Answer::ok(json!({
            "outputActive": st.record_active,
            "outputPaused": st.record_paused,
            "outputTimecode": timecode(st.record_duration_ms),
            "outputDuration": st.record_duration_ms,
            "outputBytes": st.record_bytes,
        })),
        "StartRecord" | "StopRecord" | "ToggleRecord" => {
            let mut answer = start_stop(request_type, &mut st.record_active, "RecordStateChanged");
            if !st.record_active {
                st.record_paused = false;
            }
            if request_type == "StopRecord" && answer.code == 100 {
                answer.data = Some(json!({ "outputPath": st.record_path }));
            }
            for (_, data) in &mut answer.events {
                if data["outputPath"].is_string() {
                    data["outputPath"] = json!(st.record_path);
                }
            }
            answer
        }
        "PauseRecord" | "ResumeRecord" | "ToggleRecordPause" => {
            if !st.record_active {
                return Answer::error(501, None);
            }
            let pause = match request_type {
                "PauseRecord" if st.record_paused => return Answer::error(502, None),
                "ResumeRecord" if !st.record_paused => return Answer::error(503, None),
                "PauseRecord" => true,
                "ResumeRecord" => false,
                _ => !st.record_paused,
            };
            st.record_paused = pause;
            let answer = if request_type == "ToggleRecordPause" {
                Answer::ok(json!({ "outputPaused": pause }))
            } else {
                Answer::ok_empty()
            };
            answer.with_events(vec![state_event("RecordStateChanged", if pause { "PAUSED" } else { "RESUMED" })])
        }

        "GetReplayBufferStatus"
        | "StartReplayBuffer"
        | "StopReplayBuffer"
        | "ToggleReplayBuffer"
        | "SaveReplayBuffer"
        | "GetLastReplayBufferReplay"
            if !st.replay_available =>
        {
            Answer::error(604, Some(REPLAY_UNAVAILABLE))
        }
        "GetReplayBufferStatus" => Answer::ok(json!({ "outputActive": st.replay_active })),
        "StartReplayBuffer" | "StopReplayBuffer" | "ToggleReplayBuffer" => {
            start_stop(request_type, &mut st.replay_active, "ReplayBufferStateChanged")
        }
        "SaveReplayBuffer" | "GetLastReplayBufferReplay" if !st.replay_active => Answer::error(501, None),
        "SaveReplayBuffer" => {
            Answer::ok_empty().with_events(vec![("ReplayBufferSaved", json!({ "savedReplayPath": FAKE_REPLAY_PATH }))])
        }
        "GetLastReplayBufferReplay" => Answer::ok(json!({ "savedReplayPath": FAKE_REPLAY_PATH })),

        "GetVirtualCamStatus" | "StartVirtualCam" | "StopVirtualCam" | "ToggleVirtualCam" if !st.vcam_available => {
            Answer::error(604, Some(VCAM_UNAVAILABLE))
        }
        "GetVirtualCamStatus" => Answer::ok(json!({ "outputActive": st.vcam_active })),
        "StartVirtualCam" | "StopVirtualCam" | "ToggleVirtualCam" => {
            start_stop(request_type, &mut st.vcam_active, "VirtualcamStateChanged")
        }

        "GetSceneList" => {
            // Index 0 is the BOTTOM of OBS's list; the array is ordered by index.
            let scenes: Vec<Value> =
                st.scenes.iter().rev().enumerate().map(|(index, name)| st.scene_entry(name, index)).collect();
            let program = st.program_scene_value();
            let preview = if st.studio_mode { program.clone() } else { Value::Null };
            let mut data = json!({
                "currentProgramSceneName": program,
                "currentPreviewSceneName": preview,
                "scenes": scenes,
            });
            if st.profile.has_uuids() {
                let program_uuid = program.as_str().map(|name| st.uuid_of(name));
                data["currentProgramSceneUuid"] = json!(program_uuid);
                data["currentPreviewSceneUuid"] = json!(program_uuid.filter(|_| st.studio_mode));
            }
            Answer::ok(data)
        }
        "GetCurrentProgramScene" => {
            let program = st.program_scene_value();
            let mut data = json!({ "currentProgramSceneName": program });
            if st.profile.has_uuids() {
                let uuid = program.as_str().map(|name| st.uuid_of(name));
                data["sceneName"] = program;
                data["sceneUuid"] = json!(uuid);
                data["currentProgramSceneUuid"] = json!(uuid);
            }
            Answer::ok(data)
        }
        "GetCurrentPreviewScene" if !st.studio_mode => Answer::error(506, Some("Studio mode is not active.")),
        "GetCurrentPreviewScene" => Answer::ok(json!({ "currentPreviewSceneName": st.program_scene })),
        "SetCurrentProgramScene" => {
            let name = match scene_named_in(st, req) {
                Ok(name) => name,
                Err(answer) => return answer,
            };
            if st.program_scene == name {
                return Answer::ok_empty();
            }
            let data = st.scene_event_data(&name);
            st.program_scene = name;
            Answer::ok_empty().with_events(vec![("CurrentProgramSceneChanged", data)])
        }

        "GetInputList" => {
            let inputs: Vec<Value> = st
                .inputs
                .iter()
                .map(|name| {
                    let mut input = json!({
                        "inputName": name,
                        "inputKind": "pulse_input_capture",
                        "unversionedInputKind": "pulse_input_capture",
                    });
                    if st.profile.has_uuids() {
                        input["inputUuid"] = json!(st.uuid_of(name));
                    }
                    input
                })
                .collect();
            Answer::ok(json!({ "inputs": inputs }))
        }
        "GetSceneCollectionList" => Answer::ok(json!({
            "currentSceneCollectionName": st.scene_collection,
            "sceneCollections": [st.scene_collection],
        })),
        "GetProfileList" => Answer::ok(json!({
            "currentProfileName": st.current_profile,
            "profiles": [st.current_profile],
        })),

        "GetStudioModeEnabled" => Answer::ok(json!({ "studioModeEnabled": st.studio_mode })),
        "SetStudioModeEnabled" => {
            let enabled = match required_bool(req, "studioModeEnabled") {
                Ok(enabled) => enabled,
                Err(answer) => return answer,
            };
            if st.studio_mode == enabled {
                return Answer::ok_empty();
            }
            st.studio_mode = enabled;
            Answer::ok_empty().with_events(vec![("StudioModeStateChanged", json!({ "studioModeEnabled": enabled }))])
        }

        _ => Answer::error(204, Some("Your request type is not valid.")),
    }
}

// ---------------------------------------------------------------------------------------------
// Auto-serving
// ---------------------------------------------------------------------------------------------

struct ServeShared {
    inner: Mutex<ServeInner>,
    request_logged: Notify,
}

struct ServeInner {
    state: FakeState,
    requests: Vec<FakeRequest>,
    held: HashSet<String>,
    out_of_order: bool,
    /// When serving began (just after Identified): the start of 5.3+'s "still loading" window.
    serving_since: Instant,
    /// Between CurrentSceneCollectionChanging and ...Changed.
    collection_switching: bool,
    /// The client's `eventSubscriptions` (None: not known, send everything).
    event_subscriptions: Option<u64>,
    /// Requests left unanswered during a silent collection switch, answered when it ends.
    deferred: Vec<FakeRequest>,
}

impl ServeInner {
    /// Whether requests wait for the end of a silent collection switch.
    fn defers_requests(&self) -> bool {
        self.collection_switching && self.state.profile.answers_not_ready() && self.state.collection_switch_silent
    }

    /// Whether a 5.3+ OBS would answer 207 NotReady now (loading, or switching collections).
    fn not_ready(&self) -> bool {
        self.state.profile.answers_not_ready()
            && (self.collection_switching || self.serving_since.elapsed() < self.state.not_ready_for)
    }

    /// Whether OBS would send this event to this client now: it must be subscribed, and a 5.3+
    /// OBS sends nothing while it switches collections.
    fn sends_event(&self, event_type: &str) -> bool {
        let subscribed = self.event_subscriptions.map_or(true, |subs| subs & event_intent(event_type) != 0);
        let gated = self.collection_switching && self.state.profile.answers_not_ready();
        subscribed && !gated
    }
}

impl ServeShared {
    fn new(state: FakeState, event_subscriptions: Option<u64>) -> ServeShared {
        ServeShared {
            inner: Mutex::new(ServeInner {
                state,
                requests: Vec::new(),
                held: HashSet::new(),
                out_of_order: false,
                serving_since: Instant::now(),
                collection_switching: false,
                event_subscriptions,
                deferred: Vec::new(),
            }),
            request_logged: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, ServeInner> {
        // A panicking test thread must not hide the log from the others.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Steers a connection that [`FakeConn::serve_with`] is auto-answering. Dropping the handle
/// does not stop serving; the serving ends when the connection does.
pub struct ServeHandle {
    link: ConnLink,
    shared: Arc<ServeShared>,
    closed: watch::Receiver<Option<Option<u16>>>,
}

impl ServeHandle {
    /// Op 5 (see [`FakeConn::send_event`]); ordered with the auto-server's own frames.
    pub async fn send_event(&self, event_type: &str, data: Value) {
        self.link.send_text(event_json(event_type, data)).await
    }

    /// Any text frame.
    pub async fn send_text(&self, raw: &str) {
        self.link.send_text(raw.to_owned()).await
    }

    /// Any binary frame.
    pub async fn send_binary(&self, bytes: &[u8]) {
        self.link.send_binary(bytes.to_vec()).await
    }

    /// Close frame with this code (see [`FakeConn::close`]).
    pub async fn close(&self, code: u16, reason: &str) {
        self.link.close(code, reason).await
    }

    /// An event and the close frame right behind it, in one write: the client reads both at once.
    pub async fn send_event_then_close(&self, event_type: &str, data: Value, code: u16, reason: &str) {
        self.link.send_text_then_close(event_json(event_type, data), code, reason).await
    }

    /// Abrupt end, no close frame (the client sees 1006).
    pub async fn drop_tcp(&self) {
        self.link.drop_tcp().await
    }

    /// Half-open simulation (see [`FakeConn::go_silent`]): no more pongs, responses or events.
    pub fn go_silent(&self) {
        self.link.go_silent()
    }

    pub fn pings_received(&self) -> usize {
        self.link.pings()
    }

    /// A copy of the current state (after the changes requests made).
    pub fn state(&self) -> FakeState {
        self.shared.lock().state.clone()
    }

    /// Replaces the state answers come from. Sends no events: push those with `send_event`.
    pub fn set_state(&self, state: FakeState) {
        self.shared.lock().state = state;
    }

    /// Changes the state in place (no events sent).
    pub fn update_state(&self, change: impl FnOnce(&mut FakeState)) {
        change(&mut self.shared.lock().state)
    }

    /// Every request received so far (held ones included, batch entries too), in arrival order.
    pub fn requests(&self) -> Vec<FakeRequest> {
        self.shared.lock().requests.clone()
    }

    /// Every request logged so far, emptying the log (long runs keep it from growing; counts and
    /// waits start over from the next request).
    pub fn take_requests(&self) -> Vec<FakeRequest> {
        std::mem::take(&mut self.shared.lock().requests)
    }

    /// How many requests of this type arrived so far.
    pub fn request_count(&self, request_type: &str) -> usize {
        self.shared.lock().requests.iter().filter(|r| r.request_type == request_type).count()
    }

    /// Waits until at least `count` requests of this type arrived; false on timeout.
    pub async fn wait_for_request_count(&self, request_type: &str, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            // Register before checking so a request logged in between is not missed.
            let logged = self.shared.request_logged.notified();
            if self.request_count(request_type) >= count {
                return true;
            }
            if tokio::time::timeout_at(deadline, logged).await.is_err() {
                return false;
            }
        }
    }

    /// The first request of this type, waiting up to `timeout` for it to arrive.
    pub async fn wait_for_request(&self, request_type: &str, timeout: Duration) -> Option<FakeRequest> {
        if !self.wait_for_request_count(request_type, 1, timeout).await {
            return None;
        }
        self.shared.lock().requests.iter().find(|r| r.request_type == request_type).cloned()
    }

    /// Never answer requests of this type from now on (they are still logged).
    pub fn hold_requests(&self, request_type: &str) {
        self.shared.lock().held.insert(request_type.to_owned());
    }

    /// Answer requests of this type again (the held ones stay unanswered).
    pub fn release_requests(&self, request_type: &str) {
        self.shared.lock().held.remove(request_type);
    }

    /// When on, responses are held back until no frame arrived for 50 ms, then sent newest
    /// first, so a burst of concurrent requests is answered in reverse order (and after the
    /// events the requests caused).
    pub fn respond_out_of_order(&self, on: bool) {
        self.shared.lock().out_of_order = on;
    }

    // --- OBS-side happenings, said the way the served release would say them ---

    /// The release being imitated ([`FakeState::profile`]).
    pub fn profile(&self) -> Profile {
        self.shared.lock().state.profile
    }

    /// Whether a 5.3+ OBS would answer 207 NotReady right now.
    pub fn is_not_ready(&self) -> bool {
        self.shared.lock().not_ready()
    }

    /// Changes the state, then sends the events `change` returns as OBS would send them to this
    /// client: only those it subscribed to, and none while a 5.3+ OBS switches collections.
    async fn happen(&self, change: impl FnOnce(&mut FakeState) -> Vec<(&'static str, Value)>) {
        let events = change(&mut self.shared.lock().state);
        for (event_type, data) in events {
            let sends = self.shared.lock().sends_event(event_type);
            if sends {
                self.link.send_text(event_json(event_type, data)).await;
            }
        }
    }

    /// The stream loses its ingest server: `outputReconnecting` turns true and `outputBytes` reads
    /// 0 (as measured on OBS 29), and 5.1+ says RECONNECTING. 5.0 says nothing: there the outage
    /// shows only in GetStreamStatus.
    pub async fn rtmp_outage(&self) {
        self.happen(|st| {
            st.stream_reconnecting = true;
            st.stream_bytes = 0;
            reconnect_event(st.profile, "RECONNECTING")
        })
        .await
    }

    /// One more reconnect attempt during an outage: 5.1+ says RECONNECTING again (real OBS did
    /// four times in a 10 s outage); 5.0 says nothing.
    pub async fn rtmp_retry(&self) {
        self.happen(|st| reconnect_event(st.profile, "RECONNECTING")).await
    }

    /// The ingest server is back: `outputReconnecting` turns false and OBS restarts the stream's
    /// counters (duration, bytes, frames) from zero, as measured on OBS 29; 5.1+ says RECONNECTED.
    pub async fn rtmp_recovered(&self) {
        self.happen(|st| {
            st.stream_reconnecting = false;
            st.stream_duration_ms = 0;
            st.stream_bytes = 0;
            st.stream_total = 0;
            st.stream_skipped = 0;
            reconnect_event(st.profile, "RECONNECTED")
        })
        .await
    }

    /// OBS splits the recording into a new file (automatic file splitting): 5.5+ says
    /// RecordFileChanged `{newOutputPath}`; older releases say nothing.
    pub async fn split_recording(&self, new_path: &str) {
        self.happen(|st| {
            st.record_path = new_path.to_owned();
            if st.profile.has_record_file_changed() {
                vec![("RecordFileChanged", json!({ "newOutputPath": new_path }))]
            } else {
                Vec::new()
            }
        })
        .await
    }

    /// The user picks another scene collection: CurrentSceneCollectionChanging, then a 5.3+ OBS
    /// answers every request with 207 NotReady (or, with [`FakeState::collection_switch_silent`],
    /// not at all until the switch ends) and sends no events until
    /// [`ServeHandle::end_collection_switch`]. 5.0 and 5.1 answer as usual meanwhile.
    pub async fn begin_collection_switch(&self) {
        let data = json!({ "sceneCollectionName": self.shared.lock().state.scene_collection });
        // Sent before the gate closes, as obs-websocket does.
        self.happen(|_| vec![("CurrentSceneCollectionChanging", data)]).await;
        self.shared.lock().collection_switching = true;
    }

    /// The new collection `name` has loaded: applies `change` (its scenes, program scene, ...),
    /// opens the gate again and says CurrentSceneCollectionChanged.
    pub async fn end_collection_switch(&self, name: &str, change: impl FnOnce(&mut FakeState)) {
        let deferred = {
            let mut inner = self.shared.lock();
            change(&mut inner.state);
            inner.state.scene_collection = name.to_owned();
            inner.collection_switching = false;
            std::mem::take(&mut inner.deferred)
        };
        // What waited through a silent switch is answered from the new collection.
        for req in deferred {
            let answer = answer_served(&mut self.shared.lock(), &req);
            self.link.send_text(response_json(&req, answer.code, answer.comment.as_deref(), answer.data)).await;
            self.happen(|_| answer.events).await;
        }
        self.happen(|_| vec![("CurrentSceneCollectionChanged", json!({ "sceneCollectionName": name }))]).await
    }

    /// The user picks another program scene in OBS: CurrentProgramSceneChanged (with `sceneUuid`
    /// from 5.4).
    pub async fn switch_scene(&self, name: &str) {
        self.happen(|st| {
            st.program_scene = name.to_owned();
            vec![("CurrentProgramSceneChanged", st.scene_event_data(name))]
        })
        .await
    }

    /// A scene renamed in OBS: SceneNameChanged `{oldSceneName, sceneName}` (and the unchanged
    /// `sceneUuid` from 5.4), then SceneListChanged.
    pub async fn rename_scene(&self, old: &str, new: &str) {
        self.happen(|st| {
            let uuid = st.uuid_of(old);
            st.uuids.remove(old);
            st.uuids.insert(new.to_owned(), uuid.clone());
            for scene in st.scenes.iter_mut().filter(|s| *s == old) {
                *scene = new.to_owned();
            }
            if st.program_scene == old {
                st.program_scene = new.to_owned();
            }
            let mut data = json!({ "oldSceneName": old, "sceneName": new });
            if st.profile.has_uuids() {
                data["sceneUuid"] = json!(uuid);
            }
            vec![("SceneNameChanged", data), scene_list_changed(st)]
        })
        .await
    }

    /// A scene added at the top of OBS's list: SceneCreated, then SceneListChanged.
    pub async fn create_scene(&self, name: &str) {
        self.happen(|st| {
            st.scenes.insert(0, name.to_owned());
            let mut data = st.scene_event_data(name);
            data["isGroup"] = json!(false);
            vec![("SceneCreated", data), scene_list_changed(st)]
        })
        .await
    }

    /// A scene removed: SceneRemoved, then SceneListChanged; when it was the program scene, OBS
    /// puts the top remaining scene on program first (CurrentProgramSceneChanged).
    pub async fn remove_scene(&self, name: &str) {
        self.happen(|st| {
            let mut data = st.scene_event_data(name);
            data["isGroup"] = json!(false);
            st.scenes.retain(|s| s != name);
            let mut events = Vec::new();
            if st.program_scene == name {
                st.program_scene = st.scenes.first().cloned().unwrap_or_default();
                if !st.program_scene.is_empty() {
                    events.push(("CurrentProgramSceneChanged", st.scene_event_data(&st.program_scene)));
                }
            }
            events.push(("SceneRemoved", data));
            events.push(scene_list_changed(st));
            events
        })
        .await
    }

    /// An input renamed: InputNameChanged `{oldInputName, inputName}` (and `inputUuid` from 5.4).
    pub async fn rename_input(&self, old: &str, new: &str) {
        self.happen(|st| {
            let uuid = st.uuid_of(old);
            st.uuids.remove(old);
            st.uuids.insert(new.to_owned(), uuid.clone());
            for input in st.inputs.iter_mut().filter(|i| *i == old) {
                *input = new.to_owned();
            }
            let mut data = json!({ "oldInputName": old, "inputName": new });
            if st.profile.has_uuids() {
                data["inputUuid"] = json!(uuid);
            }
            vec![("InputNameChanged", data)]
        })
        .await
    }

    /// The user picks another OBS settings profile `name`: CurrentProfileChanging, `change` (what
    /// depends on the profile: replay buffer and virtual camera availability, ...), then
    /// CurrentProfileChanged.
    pub async fn switch_obs_profile(&self, name: &str, change: impl FnOnce(&mut FakeState)) {
        self.happen(|st| {
            let changing = ("CurrentProfileChanging", json!({ "profileName": st.current_profile }));
            change(st);
            st.current_profile = name.to_owned();
            vec![changing, ("CurrentProfileChanged", json!({ "profileName": name }))]
        })
        .await
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.closed.borrow().is_some()
    }

    /// Waits until the connection ends; same meaning as [`FakeConn::wait_closed`].
    pub async fn wait_closed(&self, timeout: Duration) -> Option<Option<u16>> {
        let mut closed = self.closed.clone();
        let outcome = match tokio::time::timeout(timeout, closed.wait_for(Option::is_some)).await {
            Ok(Ok(code)) => *code,
            // The serve task is gone without reporting (it panicked): treat as an abrupt end.
            Ok(Err(_)) => Some(None),
            Err(_) => None,
        };
        outcome
    }
}

/// A StreamStateChanged for RECONNECTING / RECONNECTED, which 5.0 does not have.
fn reconnect_event(profile: Profile, state: &str) -> Vec<(&'static str, Value)> {
    if profile.has_reconnect_events() {
        vec![state_event("StreamStateChanged", state)]
    } else {
        Vec::new()
    }
}

/// SceneListChanged with the scenes as GetSceneList lists them.
fn scene_list_changed(st: &FakeState) -> (&'static str, Value) {
    let scenes: Vec<Value> =
        st.scenes.iter().rev().enumerate().map(|(index, name)| st.scene_entry(name, index)).collect();
    ("SceneListChanged", json!({ "scenes": scenes }))
}

/// Answers frames on `conn` until it closes, closing the session like real OBS when the client
/// sends something malformed. Reports the close code on `closed_tx`.
async fn serve_loop(mut conn: FakeConn, shared: Arc<ServeShared>, closed_tx: watch::Sender<Option<Option<u16>>>) {
    // Serialized responses held back in out-of-order mode, oldest first.
    let mut held_back: Vec<String> = Vec::new();
    loop {
        let deadline = (!held_back.is_empty()).then(|| Instant::now() + OUT_OF_ORDER_QUIET);
        let Some(item) = conn.next_incoming(deadline).await else {
            // Quiet for a while: release the held-back responses, newest first.
            for response in held_back.drain(..).rev() {
                conn.link.send_text(response).await;
            }
            continue;
        };
        let frame = match item {
            Incoming::Frame(frame) => frame,
            Incoming::Closed(code) => {
                let _ = closed_tx.send(Some(code));
                return;
            }
        };
        let (op, d) = match decode_client_frame(&frame) {
            Ok(decoded) => decoded,
            Err((code, reason)) => {
                warn!("fake OBS: closing with {code}: {reason}");
                conn.close(code, &reason).await;
                continue;
            }
        };
        match op {
            1 => conn.close(4008, "You are already Identified with the obs-websocket server.").await,
            3 => {
                match d.get("eventSubscriptions") {
                    None => {}
                    Some(v) => match v.as_u64() {
                        Some(subscriptions) => {
                            conn.event_subscriptions = Some(subscriptions);
                            shared.lock().event_subscriptions = Some(subscriptions);
                        }
                        None => {
                            conn.close(4004, "Your `eventSubscriptions` is not an unsigned number.").await;
                            continue;
                        }
                    },
                }
                conn.send_identified().await;
            }
            6 => serve_request(&mut conn, &shared, &d, &mut held_back).await,
            8 => serve_batch(&mut conn, &shared, &d).await,
            _ => conn.close(4006, &format!("Unknown OpCode: {op}")).await,
        }
    }
}

fn log_request(shared: &ServeShared, req: &FakeRequest) {
    shared.lock().requests.push(req.clone());
    shared.request_logged.notify_waiters();
}

/// Answers one request from the served state, unless a 5.3+ OBS is not ready for it.
fn answer_served(inner: &mut ServeInner, req: &FakeRequest) -> Answer {
    if inner.not_ready() {
        return Answer::error(207, Some(NOT_READY_COMMENT));
    }
    answer_request(&mut inner.state, req)
}

async fn send_events(conn: &mut FakeConn, events: Vec<(&'static str, Value)>) {
    for (event_type, data) in events {
        // Real OBS only sends what the client subscribed to.
        if conn.subscribed_to(event_type) {
            conn.send_event(event_type, data).await;
        }
    }
}

async fn serve_request(conn: &mut FakeConn, shared: &ServeShared, d: &Value, held_back: &mut Vec<String>) {
    if d.get("requestId").is_none() {
        return conn.close(4003, "Your payload data is missing a `requestId`.").await;
    }
    let req = FakeRequest::from_d(d);
    log_request(shared, &req);
    let (answer, out_of_order, events_delay) = {
        let mut inner = shared.lock();
        if inner.held.contains(&req.request_type) {
            debug!("fake OBS: holding {} {}", req.request_type, req.request_id);
            return;
        }
        if inner.defers_requests() {
            debug!("fake OBS: {} {} waits for the collection switch", req.request_type, req.request_id);
            inner.deferred.push(req);
            return;
        }
        (answer_served(&mut inner, &req), inner.out_of_order, inner.state.output_events_delay)
    };
    let response = response_json(&req, answer.code, answer.comment.as_deref(), answer.data);
    if out_of_order {
        held_back.push(response);
    } else {
        conn.link.send_text(response).await;
    }
    if !answer.events.is_empty() && !events_delay.is_zero() {
        tokio::time::sleep(events_delay).await;
    }
    send_events(conn, answer.events).await;
}

/// Op 8: answers every request in order (holds and reordering do not apply), op 9, then events.
async fn serve_batch(conn: &mut FakeConn, shared: &ServeShared, d: &Value) {
    let Some(batch_id) = d.get("requestId").cloned() else {
        return conn.close(4003, "Your payload data is missing a `requestId`.").await;
    };
    let Some(requests) = d.get("requests").and_then(Value::as_array) else {
        return conn.close(4004, "Your `requests` is not an array.").await;
    };
    let halt_on_failure = d.get("haltOnFailure").and_then(Value::as_bool).unwrap_or(false);
    let mut results = Vec::new();
    let mut events = Vec::new();
    for entry in requests {
        let req = FakeRequest::from_d(entry);
        log_request(shared, &req);
        let answer = answer_served(&mut shared.lock(), &req);
        let mut result = Map::new();
        result.insert("requestType".into(), json!(req.request_type));
        if let Some(id) = entry.get("requestId") {
            result.insert("requestId".into(), id.clone());
        }
        result.insert("requestStatus".into(), request_status(answer.code, answer.comment.as_deref()));
        if let Some(data) = answer.data {
            result.insert("responseData".into(), data);
        }
        results.push(Value::Object(result));
        events.extend(answer.events);
        if halt_on_failure && answer.code != 100 {
            break;
        }
    }
    conn.link.send_text(frame_json(9, json!({ "requestId": batch_id, "results": results }))).await;
    send_events(conn, events).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_matches_the_documented_test_vector() {
        assert_eq!(
            obs_auth_response(
                "supersecretpassword",
                "lM1GncleQOaCu9lT1yeUZhFYnqhsLLP1G5lAGo3ixaI=",
                "+IxH4CnCiqpX1rM9scsNynZzbOe4KhDeYcTNS3PDaeY="
            ),
            "1Ct943GAT+6YQUUX47Ia/ncufilbe6+oD6lY+5kaCu4="
        );
    }

    #[test]
    fn timecode_format() {
        assert_eq!(timecode(0), "00:00:00.000");
        assert_eq!(timecode(3_723_045), "01:02:03.045");
    }

    #[test]
    fn intents() {
        assert_eq!(event_intent("StreamStateChanged"), 64);
        assert_eq!(event_intent("CurrentProgramSceneChanged"), 4);
        assert_eq!(event_intent("SceneItemEnableStateChanged"), 128);
        assert_eq!(event_intent("SceneTransitionStarted"), 16);
        assert_eq!(event_intent("CurrentSceneCollectionChanging"), 2);
        assert_eq!(event_intent("StudioModeStateChanged"), 1024);
        assert_eq!(event_intent("InputVolumeMeters"), 1 << 16);
        assert_eq!(event_intent("SomethingFromTheFuture"), 1);
    }

    #[test]
    fn toggle_stream_reports_new_state_and_emits_events() {
        let mut st = FakeState::default();
        let req = FakeRequest { request_type: "ToggleStream".into(), request_id: "1".into(), data: None };
        let answer = answer_request(&mut st, &req);
        assert_eq!(answer.code, 100);
        assert_eq!(answer.data, Some(json!({ "outputActive": true })));
        assert!(st.stream_active);
        let states: Vec<_> = answer.events.iter().map(|(_, d)| d["outputState"].clone()).collect();
        assert_eq!(states, [json!("OBS_WEBSOCKET_OUTPUT_STARTING"), json!("OBS_WEBSOCKET_OUTPUT_STARTED")]);
        let start = FakeRequest { request_type: "StartStream".into(), ..req };
        assert_eq!(answer_request(&mut st, &start).code, 500);
    }
}
