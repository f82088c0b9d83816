//! [`FakeObs`]: the fake's loopback listener. It accepts TCP connections, upgrades them to
//! websockets (accepting `obswebsocket.json` when offered) and queues them for the test as
//! [`FakeConn`]s; it can stop and resume listening on the same port, as an OBS that quits
//! and starts again does.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tracing::{debug, warn};

use super::conn::FakeConn;
use super::wire::{random_token, SUBPROTOCOL};

/// How long a TCP connection may take to finish the websocket upgrade.
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(10);

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
