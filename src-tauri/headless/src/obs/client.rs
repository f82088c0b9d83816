//! The obs-websocket connection: handshake, then an actor that owns the socket.
//!
//! [`connect`] opens the websocket, answers Hello with Identify (authenticating
//! when OBS asks) and waits for Identified. Then one task owns the socket: a
//! cloneable [`Client`] sends it requests over `mpsc` and gets each answer back on
//! a `oneshot`, matched by `requestId`, with a per-request timeout. Events go out
//! on a `broadcast` channel. OBS never pings, so the actor does: a connection that
//! stays silent past `dead_after` is declared dead, which is how a half-open socket
//! (OBS frozen, cable pulled) is noticed within seconds instead of never.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::connect::Cause;
use crate::obs::authentication_string;
use crate::obs::protocol::{
    client_frame, close, op, Hello, Identify, InputEvent, ObsEvent, Reidentify, Request, ServerMessage, RPC_VERSION,
    SUBPROTOCOL,
};

type Socket = WebSocketStream<TcpStream>;

/// Timings and subscriptions of one connection.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    pub event_subscriptions: u32,
    /// TCP connect, websocket upgrade, Hello, Identify and Identified together.
    pub handshake_timeout: Duration,
    pub request_timeout: Duration,
    pub ping_interval: Duration,
    /// Nothing at all heard from OBS for this long (not even a pong) means the
    /// connection is dead.
    pub dead_after: Duration,
    /// Capacity of the event channel; a receiver that falls further behind is told
    /// it lagged and must resynchronise.
    pub event_capacity: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            event_subscriptions: crate::obs::protocol::TRAY_EVENT_SUBSCRIPTIONS,
            handshake_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(1),
            dead_after: Duration::from_secs(4),
            event_capacity: 4096,
        }
    }
}

/// Why a connection could not be set up. [`ConnectError::cause`] says it in
/// the words every face of OnAir uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectError {
    /// The host name did not resolve.
    Unresolved(String),
    /// Nothing accepts connections at that address (OBS not running, websocket server off, wrong port).
    Refused(String),
    /// The connection could not be made otherwise (no route, network down, ...).
    Unreachable(String),
    /// The connection dropped during the handshake.
    Dropped(String),
    /// A web server answered the upgrade with this HTTP status.
    Http(u16),
    /// Something answered but did not speak obs-websocket.
    NotObs(String),
    /// OBS asked for a password and none is set.
    PasswordRequired,
    /// OBS closed the connection during the handshake (4009 wrong password, 4010 ...).
    Closed { code: u16, reason: String },
    /// A handshake step took longer than the timeout.
    TimedOut(HandshakeStep),
    /// OBS speaks an RPC version this client does not.
    Incompatible(String),
}

/// The steps of a handshake, for saying which one took too long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeStep {
    Tcp,
    Upgrade,
    Hello,
    Identify,
    Identified,
}

impl std::fmt::Display for HandshakeStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HandshakeStep::Tcp => "the TCP connection",
            HandshakeStep::Upgrade => "the websocket upgrade",
            HandshakeStep::Hello => "Hello",
            HandshakeStep::Identify => "Identify to be sent",
            HandshakeStep::Identified => "Identified",
        })
    }
}

impl ConnectError {
    /// The cause, by kind: what the state, the tray, the window and the CLI word.
    pub fn cause(&self) -> Cause {
        match self {
            ConnectError::Unresolved(_) => Cause::Unresolved,
            ConnectError::Refused(_) => Cause::Refused,
            ConnectError::Unreachable(_) => Cause::Unreachable,
            ConnectError::Dropped(_) => Cause::Dropped,
            ConnectError::Http(_) => Cause::Http,
            ConnectError::NotObs(_) => Cause::NotObs,
            ConnectError::PasswordRequired => Cause::PasswordMissing,
            ConnectError::Closed { code, .. } if *code == close::AUTHENTICATION_FAILED => Cause::PasswordRejected,
            ConnectError::Closed { code, .. } if *code == close::UNSUPPORTED_RPC_VERSION => Cause::Incompatible,
            ConnectError::Closed { .. } => Cause::Other,
            ConnectError::TimedOut(HandshakeStep::Tcp) => Cause::NoAnswer,
            ConnectError::TimedOut(_) => Cause::Silent,
            ConnectError::Incompatible(_) => Cause::Incompatible,
        }
    }
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Unresolved(m) | ConnectError::Refused(m) | ConnectError::Unreachable(m) => {
                write!(f, "{m}")
            }
            ConnectError::Dropped(m) => write!(f, "{m}"),
            ConnectError::Http(status) => write!(f, "not obs-websocket: an HTTP server answered ({status})"),
            ConnectError::NotObs(m) => write!(f, "not obs-websocket: {m}"),
            ConnectError::PasswordRequired => f.write_str("OBS requires a password and none is set"),
            ConnectError::Closed { code, reason } if reason.is_empty() => {
                write!(f, "OBS closed the connection (code {code})")
            }
            ConnectError::Closed { code, reason } => write!(f, "OBS closed the connection (code {code}): {reason}"),
            ConnectError::TimedOut(step) => write!(f, "timed out waiting for {step}"),
            ConnectError::Incompatible(m) => f.write_str(m),
        }
    }
}

/// Why an established connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// OBS sent a close frame.
    ClosedByObs { code: u16, reason: String },
    /// The socket dropped without a close frame (OBS killed or crashed): 1006.
    Dropped(String),
    /// Nothing heard from OBS for longer than `dead_after`.
    Unresponsive(Duration),
    /// This side closed it (or every handle was dropped).
    ClosedByClient,
}

impl CloseReason {
    /// The cause, by kind, as [`ConnectError::cause`] says it for a connect.
    pub fn cause(&self) -> Cause {
        match self {
            CloseReason::ClosedByObs { code, .. } if *code == close::AUTHENTICATION_FAILED => Cause::PasswordRejected,
            CloseReason::ClosedByObs { code, .. } if *code == close::UNSUPPORTED_RPC_VERSION => Cause::Incompatible,
            CloseReason::ClosedByObs { .. } | CloseReason::ClosedByClient => Cause::Other,
            CloseReason::Dropped(_) => Cause::Dropped,
            // "OBS stopped answering (nothing heard for 4.0 s)" says it best.
            CloseReason::Unresponsive(_) => Cause::Other,
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CloseReason::ClosedByObs { code, reason } if reason.is_empty() => {
                write!(f, "OBS closed the connection (code {code})")
            }
            CloseReason::ClosedByObs { code, reason } => write!(f, "OBS closed the connection (code {code}): {reason}"),
            CloseReason::Dropped(m) => write!(f, "the connection to OBS dropped ({m})"),
            CloseReason::Unresponsive(d) => {
                write!(f, "OBS stopped answering (nothing heard for {:.1} s)", d.as_secs_f64())
            }
            CloseReason::ClosedByClient => f.write_str("closed by OnAir"),
        }
    }
}

/// Why a request got no successful answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// OBS answered with a failure status.
    Failed {
        code: u32,
        comment: Option<String>,
    },
    TimedOut(Duration),
    ConnectionClosed,
    /// The answer did not have the expected shape.
    BadResponse(String),
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Failed { code, comment: Some(c) } => {
                write!(f, "OBS refused ({code} {}): {c}", crate::obs::protocol::status_code_name(*code))
            }
            RequestError::Failed { code, comment: None } => {
                write!(f, "OBS refused ({code} {})", crate::obs::protocol::status_code_name(*code))
            }
            RequestError::TimedOut(d) => write!(f, "OBS did not answer within {:.1} s", d.as_secs_f64()),
            RequestError::ConnectionClosed => f.write_str("the connection to OBS closed before it answered"),
            RequestError::BadResponse(m) => write!(f, "unexpected answer from OBS: {m}"),
        }
    }
}

/// An event as the actor received it; `received_at` is when its frame was read.
#[derive(Debug, Clone)]
pub struct ClientEvent {
    pub received_at: Instant,
    pub event: ObsEvent,
    /// The same event as an input's (mute, meters, ...), when it is one.
    pub input: Option<InputEvent>,
}

enum Command {
    Request { request_type: String, data: Option<Value>, reply: oneshot::Sender<Result<Value, RequestError>> },
    Reidentify { subscriptions: u32, reply: oneshot::Sender<Result<(), RequestError>> },
    Close,
}

/// A cloneable handle to one live connection.
#[derive(Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    events: broadcast::Sender<ClientEvent>,
    closed: watch::Receiver<Option<CloseReason>>,
    request_timeout: Duration,
}

/// What [`connect`] hands back: the handle, what OBS said in Hello, and an event
/// receiver subscribed before the first event could arrive.
pub struct Connection {
    pub client: Client,
    pub hello: Hello,
    pub events: broadcast::Receiver<ClientEvent>,
}

impl Client {
    /// Sends a request and waits for its answer, at most `request_timeout`.
    pub async fn request(&self, request_type: &str, data: Option<Value>) -> Result<Value, RequestError> {
        self.request_with_timeout(request_type, data, self.request_timeout).await
    }

    pub async fn request_with_timeout(
        &self,
        request_type: &str,
        data: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, RequestError> {
        let (reply, answer) = oneshot::channel();
        let command = Command::Request { request_type: request_type.to_string(), data, reply };
        self.commands.send(command).await.map_err(|_| RequestError::ConnectionClosed)?;
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(RequestError::ConnectionClosed),
            Err(_) => Err(RequestError::TimedOut(timeout)),
        }
    }

    /// [`Client::request`], with the answer parsed into `T`.
    pub async fn request_as<T: DeserializeOwned>(
        &self,
        request_type: &str,
        data: Option<Value>,
    ) -> Result<T, RequestError> {
        let value = self.request(request_type, data).await?;
        serde_json::from_value(value).map_err(|e| RequestError::BadResponse(format!("{request_type}: {e}")))
    }

    /// Changes the session's event subscriptions (op 3) and waits, at most
    /// `request_timeout`, for OBS to confirm with Identified. How the meters are
    /// switched on only while they are needed.
    pub async fn reidentify(&self, subscriptions: u32) -> Result<(), RequestError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Reidentify { subscriptions, reply })
            .await
            .map_err(|_| RequestError::ConnectionClosed)?;
        match tokio::time::timeout(self.request_timeout, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(RequestError::ConnectionClosed),
            Err(_) => Err(RequestError::TimedOut(self.request_timeout)),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<ClientEvent> {
        self.events.subscribe()
    }

    /// Waits until the connection has ended and says why.
    pub async fn closed(&self) -> CloseReason {
        let mut closed = self.closed.clone();
        let reason = match closed.wait_for(|r| r.is_some()).await {
            Ok(r) => r.clone(),
            Err(_) => None,
        };
        reason.unwrap_or_else(|| CloseReason::Dropped("connection task ended".into()))
    }

    /// Closes the connection normally (code 1000).
    pub async fn close(&self) {
        let _ = self.commands.send(Command::Close).await;
    }

    pub fn is_closed(&self) -> bool {
        self.closed.borrow().is_some()
    }
}

/// Opens an identified session with OBS at `host:port`.
pub async fn connect(
    host: &str,
    port: u16,
    password: Option<&str>,
    options: &ClientOptions,
) -> Result<Connection, ConnectError> {
    let deadline = tokio::time::Instant::now() + options.handshake_timeout;
    let step = |step: HandshakeStep| move |_| ConnectError::TimedOut(step);

    // Resolved apart from the connect, so a name that does not resolve is told
    // from an address that does not answer.
    let addresses: Vec<std::net::SocketAddr> = tokio::time::timeout_at(deadline, tokio::net::lookup_host((host, port)))
        .await
        .map_err(step(HandshakeStep::Tcp))?
        .map_err(|e| ConnectError::Unresolved(format!("cannot resolve {host}: {e}")))?
        .collect();
    if addresses.is_empty() {
        return Err(ConnectError::Unresolved(format!("{host} has no address")));
    }
    let tcp = tokio::time::timeout_at(deadline, TcpStream::connect(&addresses[..]))
        .await
        .map_err(step(HandshakeStep::Tcp))?
        .map_err(|e| io_error(&e, host, port))?;
    let _ = tcp.set_nodelay(true);

    let url_host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    let mut request = format!("ws://{url_host}:{port}")
        .into_client_request()
        .map_err(|e| ConnectError::Unreachable(format!("bad address {host}:{port}: {e}")))?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
    let (mut ws, _response) = tokio::time::timeout_at(deadline, tokio_tungstenite::client_async(request, tcp))
        .await
        .map_err(step(HandshakeStep::Upgrade))?
        .map_err(upgrade_error)?;

    let hello = loop {
        match next_message(&mut ws, deadline, HandshakeStep::Hello).await? {
            ServerMessage::Hello(hello) => break hello,
            other => tracing::debug!(?other, "ignoring a frame before Hello"),
        }
    };
    if hello.rpc_version < RPC_VERSION {
        return Err(ConnectError::Incompatible(format!(
            "OBS speaks obs-websocket RPC version {}, OnAir needs {RPC_VERSION} (obs-websocket 5.x)",
            hello.rpc_version
        )));
    }
    let authentication = match (&hello.authentication, password) {
        (Some(challenge), Some(password)) => {
            Some(authentication_string(password, &challenge.salt, &challenge.challenge))
        }
        (Some(_), None) => {
            let _ = ws.close(None).await;
            return Err(ConnectError::PasswordRequired);
        }
        (None, _) => None,
    };
    let identify =
        Identify { rpc_version: RPC_VERSION, authentication, event_subscriptions: options.event_subscriptions };
    tokio::time::timeout_at(deadline, ws.send(Message::Text(client_frame(op::IDENTIFY, &identify))))
        .await
        .map_err(step(HandshakeStep::Identify))?
        .map_err(|e| ConnectError::Dropped(format!("the connection dropped during the handshake: {e}")))?;
    loop {
        match next_message(&mut ws, deadline, HandshakeStep::Identified).await? {
            ServerMessage::Identified(_) => break,
            // obs-websocket does not send events before Identified, but a server
            // that does must not derail the handshake.
            other => tracing::debug!(?other, "ignoring a frame before Identified"),
        }
    }

    let (commands_tx, commands_rx) = mpsc::channel(64);
    let (events_tx, events_rx) = broadcast::channel(options.event_capacity);
    let (closed_tx, closed_rx) = watch::channel(None);
    let actor = Actor {
        ws,
        commands: commands_rx,
        events: events_tx.clone(),
        pending: HashMap::new(),
        reidentifying: VecDeque::new(),
        next_id: 1,
        options: options.clone(),
    };
    tokio::spawn(async move {
        let reason = actor.run().await;
        tracing::debug!(%reason, "connection ended");
        let _ = closed_tx.send(Some(reason));
    });
    let client = Client {
        commands: commands_tx,
        events: events_tx,
        closed: closed_rx,
        request_timeout: options.request_timeout,
    };
    Ok(Connection { client, hello, events: events_rx })
}

/// A failed TCP connect, by its cause.
fn io_error(e: &std::io::Error, host: &str, port: u16) -> ConnectError {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => {
            ConnectError::Refused(format!("nothing is listening at {host}:{port}"))
        }
        std::io::ErrorKind::TimedOut => ConnectError::TimedOut(HandshakeStep::Tcp),
        _ => ConnectError::Unreachable(format!("cannot reach {host}:{port}: {e}")),
    }
}

/// A failed websocket upgrade: a web server's answer, another websocket
/// server (one that does not speak obs-websocket's subprotocol), or a drop.
fn upgrade_error(e: tokio_tungstenite::tungstenite::Error) -> ConnectError {
    use tokio_tungstenite::tungstenite::Error;
    match e {
        Error::Http(response) => ConnectError::Http(response.status().as_u16()),
        Error::Io(e) => ConnectError::Dropped(format!("the connection dropped during the websocket upgrade: {e}")),
        Error::ConnectionClosed | Error::AlreadyClosed => {
            ConnectError::Dropped("the connection closed during the websocket upgrade".into())
        }
        other => ConnectError::NotObs(format!("websocket upgrade failed: {other}")),
    }
}

/// Reads the next obs-websocket message during the handshake, turning a close
/// frame into [`ConnectError::Closed`]. Before Hello, a frame that is not
/// obs-websocket's at all means another server; later, one is skipped.
async fn next_message(
    ws: &mut Socket,
    deadline: tokio::time::Instant,
    waiting_for: HandshakeStep,
) -> Result<ServerMessage, ConnectError> {
    let first = waiting_for == HandshakeStep::Hello;
    loop {
        let frame =
            tokio::time::timeout_at(deadline, ws.next()).await.map_err(|_| ConnectError::TimedOut(waiting_for))?;
        match frame {
            None => {
                return Err(ConnectError::Dropped(format!("the connection dropped while waiting for {waiting_for}")))
            }
            Some(Err(e)) => {
                return Err(ConnectError::Dropped(format!(
                    "the connection failed while waiting for {waiting_for}: {e}"
                )))
            }
            Some(Ok(Message::Text(text))) => match ServerMessage::parse(&text) {
                Ok(message) => return Ok(message),
                Err(e) if first => return Err(ConnectError::NotObs(format!("it said something else first ({e})"))),
                Err(e) => tracing::warn!(error = %e, "skipping a malformed frame during the handshake"),
            },
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame
                    .map(|f| (u16::from(f.code), f.reason.into_owned()))
                    .unwrap_or((close::NO_STATUS, String::new()));
                return Err(ConnectError::Closed { code, reason });
            }
            Some(Ok(Message::Binary(_))) if first => {
                return Err(ConnectError::NotObs("it sent a binary frame first, not Hello".into()))
            }
            Some(Ok(Message::Binary(_))) => tracing::warn!("skipping a binary frame during the handshake"),
            Some(Ok(_)) => {}
        }
    }
}

struct Pending {
    reply: oneshot::Sender<Result<Value, RequestError>>,
}

struct Actor {
    ws: Socket,
    commands: mpsc::Receiver<Command>,
    events: broadcast::Sender<ClientEvent>,
    pending: HashMap<String, Pending>,
    /// Reidentify calls waiting for their Identified, oldest first.
    reidentifying: VecDeque<oneshot::Sender<Result<(), RequestError>>>,
    next_id: u64,
    options: ClientOptions,
}

impl Actor {
    async fn run(mut self) -> CloseReason {
        let mut ping = tokio::time::interval(self.options.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        // Dropping `pending` on return fails every outstanding request with ConnectionClosed.
        loop {
            tokio::select! {
                frame = self.ws.next() => {
                    last_heard = Instant::now();
                    match frame {
                        None => return CloseReason::Dropped("no close frame".into()),
                        Some(Err(e)) => return CloseReason::Dropped(e.to_string()),
                        Some(Ok(Message::Text(text))) => self.on_text(&text, last_heard),
                        Some(Ok(Message::Close(frame))) => {
                            let (code, reason) = frame.map(|f| (u16::from(f.code), f.reason.into_owned())).unwrap_or((close::NO_STATUS, String::new()));
                            return CloseReason::ClosedByObs { code, reason };
                        }
                        Some(Ok(Message::Binary(b))) => tracing::warn!(len = b.len(), "ignoring a binary frame from OBS"),
                        // Pongs only matter as signs of life; tungstenite answers pings itself.
                        Some(Ok(_)) => {}
                    }
                }
                command = self.commands.recv() => match command {
                    Some(Command::Request { request_type, data, reply }) => {
                        if let Err(reason) = self.send_request(request_type, data, reply).await {
                            return reason;
                        }
                    }
                    Some(Command::Reidentify { subscriptions, reply }) => {
                        let frame = client_frame(op::REIDENTIFY, &Reidentify { event_subscriptions: subscriptions });
                        if let Err(reason) = self.write(Message::Text(frame)).await {
                            return reason;
                        }
                        // OBS answers each Reidentify with one Identified, in order.
                        self.reidentifying.push_back(reply);
                    }
                    Some(Command::Close) | None => {
                        let close = CloseFrame { code: CloseCode::Normal, reason: "".into() };
                        let _ = tokio::time::timeout(Duration::from_secs(1), self.ws.close(Some(close))).await;
                        return CloseReason::ClosedByClient;
                    }
                },
                _ = ping.tick() => {
                    let silent = last_heard.elapsed();
                    if silent >= self.options.dead_after {
                        return CloseReason::Unresponsive(silent);
                    }
                    // Requests whose caller gave up (timed out) are forgotten here.
                    self.pending.retain(|_, p| !p.reply.is_closed());
                    if let Err(reason) = self.write(Message::Ping(Vec::new())).await {
                        return reason;
                    }
                }
            }
        }
    }

    async fn send_request(
        &mut self,
        request_type: String,
        data: Option<Value>,
        reply: oneshot::Sender<Result<Value, RequestError>>,
    ) -> Result<(), CloseReason> {
        let id = self.next_id.to_string();
        self.next_id += 1;
        let frame = client_frame(
            op::REQUEST,
            &Request { request_type: &request_type, request_id: &id, request_data: data.as_ref() },
        );
        self.pending.insert(id, Pending { reply });
        self.write(Message::Text(frame)).await
    }

    /// Writes one frame. A write that cannot finish within `dead_after` means the
    /// peer stopped reading: the connection is as good as dead.
    async fn write(&mut self, message: Message) -> Result<(), CloseReason> {
        match tokio::time::timeout(self.options.dead_after, self.ws.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(CloseReason::Dropped(e.to_string())),
            Err(_) => Err(CloseReason::Unresponsive(self.options.dead_after)),
        }
    }

    fn on_text(&mut self, text: &str, received_at: Instant) {
        match ServerMessage::parse(text) {
            Ok(ServerMessage::Event(raw)) => {
                // No receiver (nobody listening yet) is fine: the event is simply not needed.
                let event =
                    ClientEvent { received_at, event: ObsEvent::from_raw(&raw), input: InputEvent::from_raw(&raw) };
                let _ = self.events.send(event);
            }
            Ok(ServerMessage::RequestResponse(response)) => match self.pending.remove(&response.request_id) {
                Some(pending) => {
                    let result = if response.request_status.result {
                        Ok(response.response_data.unwrap_or(Value::Null))
                    } else {
                        Err(RequestError::Failed {
                            code: response.request_status.code,
                            comment: response.request_status.comment,
                        })
                    };
                    let _ = pending.reply.send(result);
                }
                None => {
                    tracing::debug!(id = %response.request_id, kind = %response.request_type, "answer to a request nobody waits for")
                }
            },
            Ok(ServerMessage::Identified(_)) => match self.reidentifying.pop_front() {
                Some(reply) => {
                    let _ = reply.send(Ok(()));
                }
                None => tracing::debug!("an Identified nobody asked for"),
            },
            Ok(other) => tracing::debug!(?other, "ignoring a frame"),
            Err(e) => tracing::warn!(error = %e, "ignoring a malformed frame from OBS"),
        }
    }
}
