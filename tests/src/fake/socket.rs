//! The task that owns one accepted websocket. It reads all the time, so pings are answered
//! (tungstenite pongs as it reads) even while the test is busy elsewhere; it forwards the
//! client's frames to the test side and carries out what the test side asks over a
//! [`ConnLink`]: send, close, drop the TCP connection, or go silent (half-open).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use tracing::debug;

use super::wire::{close_code, ClientFrame};

/// What the connection task passes to the test side.
pub(super) enum Incoming {
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

/// The sending side of a connection, shared by [`super::FakeConn`] and [`super::ServeHandle`].
#[derive(Clone)]
pub(super) struct ConnLink {
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

    pub(super) async fn send_text(&self, text: String) {
        self.run(Action::Send(Message::Text(text))).await
    }

    pub(super) async fn send_binary(&self, bytes: Vec<u8>) {
        self.run(Action::Send(Message::Binary(bytes))).await
    }

    pub(super) async fn close(&self, code: u16, reason: &str) {
        self.run(Action::Close(code, reason.to_owned())).await
    }

    pub(super) async fn send_text_then_close(&self, text: String, code: u16, reason: &str) {
        self.run(Action::SendThenClose(Message::Text(text), code, reason.to_owned())).await
    }

    pub(super) async fn drop_tcp(&self) {
        self.run(Action::DropTcp).await
    }

    pub(super) fn go_silent(&self) {
        let _ = self.commands.send(Command { action: Action::GoSilent, done: None });
    }

    pub(super) fn pings(&self) -> usize {
        self.pings.load(Ordering::SeqCst)
    }
}

enum Flow {
    Continue,
    Stop,
}

/// Starts the task that owns `ws`: what the test side sends it goes through the [`ConnLink`],
/// what the client sends comes out of the receiver.
pub(super) fn spawn(ws: WebSocketStream<TcpStream>) -> (ConnLink, mpsc::UnboundedReceiver<Incoming>) {
    let (commands, command_rx) = mpsc::unbounded_channel();
    let (incoming_tx, incoming) = mpsc::unbounded_channel();
    let pings = Arc::new(AtomicUsize::new(0));
    tokio::spawn(run_connection(ws, command_rx, incoming_tx, Arc::clone(&pings)));
    (ConnLink { commands, pings }, incoming)
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
                        peer_close = Some(frame.map_or(close_code::NO_STATUS, |f| u16::from(f.code)));
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
