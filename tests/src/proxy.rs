//! A TCP proxy in front of OBS's websocket port, so a test can cut OnAir's own link
//! to OBS (a network blip, a remote OBS out of reach, a frozen router) while OBS
//! carries on and the test's admin client still reaches OBS directly.
//!
//! Bytes are copied as they arrive, with no read timeout: obs-websocket may say
//! nothing for long stretches, and a proxy that gave up on a quiet link would cut it
//! by itself. [`TcpProxy::cut`] drops every open connection and turns new ones away
//! (accepted and closed at once, so a client sees its link die, not hang) until
//! [`TcpProxy::restore`]. [`TcpProxy::hold_after`] makes OBS's next message that
//! contains a marker be followed by a pause, as when a busy OBS sends an event late
//! (to that end what comes from upstream is cut at websocket message boundaries).
//! [`TcpProxy::stall`] keeps every connection open but stops copying bytes either
//! way until [`TcpProxy::resume`]: in front of an RTMP server, that is an ingest
//! that stopped taking the stream while the network still looks up.
//! [`TcpProxy::shutdown`] stops it and waits for every task; dropping it stops it
//! too (aborting the tasks).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// How long [`TcpProxy::cut`] waits for the open connections to be closed.
const CUT_TIMEOUT: Duration = Duration::from_secs(5);
/// A pause after a failed accept (e.g. out of file descriptors), so the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Open,
    Cut,
    Shutdown,
}

/// Counts and the armed hold, shared between the proxy handle and its tasks.
#[derive(Debug, Default)]
struct Counters {
    /// Armed by [`TcpProxy::hold_after`]; taken by the first message that matches.
    hold: Mutex<Option<Hold>>,
    /// Holds that have been applied.
    held: AtomicUsize,
    /// Connections forwarded since the start (each reached the upstream).
    forwarded: AtomicUsize,
    /// Connections currently forwarding.
    open: AtomicUsize,
    /// Connections accepted while cut and closed at once.
    turned_away: AtomicUsize,
}

/// A one-shot pause in what upstream sends: after the next message containing `marker`.
#[derive(Debug)]
struct Hold {
    marker: Vec<u8>,
    delay: Duration,
}

impl Counters {
    /// The pause to make after forwarding `message`, taking the hold it matches.
    fn take_hold(&self, message: &[u8]) -> Option<Duration> {
        let mut hold = self.hold.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let matches = hold.as_ref().is_some_and(|h| find(message, &h.marker).is_some());
        let delay = hold.take_if(|_| matches)?.delay;
        self.held.fetch_add(1, Ordering::SeqCst);
        Some(delay)
    }
}

/// A running proxy from `127.0.0.1:<port>` to an upstream port on 127.0.0.1.
pub struct TcpProxy {
    port: u16,
    link: watch::Sender<Link>,
    stalled: watch::Sender<bool>,
    counters: Arc<Counters>,
    task: Option<JoinHandle<()>>,
}

impl TcpProxy {
    /// Listens on a free loopback port and forwards every connection to
    /// `127.0.0.1:<upstream_port>`, connecting upstream once per client.
    pub async fn start(upstream_port: u16) -> Result<TcpProxy, String> {
        let listener =
            TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| format!("proxy: bind 127.0.0.1:0: {e}"))?;
        let port = listener.local_addr().map_err(|e| format!("proxy: local address: {e}"))?.port();
        let upstream = SocketAddr::from(([127, 0, 0, 1], upstream_port));
        let (link, link_rx) = watch::channel(Link::Open);
        let (stalled, stalled_rx) = watch::channel(false);
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(serve(listener, upstream, link_rx, stalled_rx, Arc::clone(&counters)));
        Ok(TcpProxy { port, link, stalled, counters, task: Some(task) })
    }

    /// The loopback port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every open connection and turns new ones away until [`TcpProxy::restore`].
    /// Returns once the open connections are closed (or after 5 s, with an Err).
    pub async fn cut(&self) -> Result<(), String> {
        self.link.send_replace(Link::Cut);
        let started = Instant::now();
        while self.open() > 0 {
            if started.elapsed() >= CUT_TIMEOUT {
                return Err(format!("proxy: {} connections still open {CUT_TIMEOUT:?} after the cut", self.open()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.link.send_replace(Link::Open);
    }

    /// Stops copying bytes, both ways, on every connection (open ones stay open, and
    /// new ones are accepted and connected upstream), until [`TcpProxy::resume`].
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    /// Copies bytes again after [`TcpProxy::stall`].
    pub fn resume(&self) {
        self.stalled.send_replace(false);
    }

    /// Once: after forwarding the next message from upstream (the HTTP upgrade answer
    /// or a websocket frame) that contains `marker`, holds back what follows on that
    /// connection for `delay`. E.g. `"requestType":"StartStream"` delays every event
    /// OBS sends after its answer to StartStream. Replaces a hold not yet applied.
    pub fn hold_after(&self, marker: &str, delay: Duration) {
        let hold = Hold { marker: marker.as_bytes().to_vec(), delay };
        *self.counters.hold.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(hold);
    }

    /// How many holds armed by [`TcpProxy::hold_after`] have been applied.
    pub fn holds_applied(&self) -> usize {
        self.counters.held.load(Ordering::SeqCst)
    }

    /// Connections forwarded to the upstream since the start.
    pub fn forwarded(&self) -> usize {
        self.counters.forwarded.load(Ordering::SeqCst)
    }

    /// Connections forwarding right now.
    pub fn open(&self) -> usize {
        self.counters.open.load(Ordering::SeqCst)
    }

    /// Connections accepted while cut and closed at once.
    pub fn turned_away(&self) -> usize {
        self.counters.turned_away.load(Ordering::SeqCst)
    }

    /// Stops listening, closes every connection and waits for all tasks to end.
    pub async fn shutdown(mut self) {
        self.link.send_replace(Link::Shutdown);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.link.send_replace(Link::Shutdown);
        // Aborting the accept loop drops its JoinSet, which aborts every connection.
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The accept loop; it owns the connection tasks, so they end with it.
async fn serve(
    listener: TcpListener,
    upstream: SocketAddr,
    mut link: watch::Receiver<Link>,
    stalled: watch::Receiver<bool>,
    counters: Arc<Counters>,
) {
    let mut connections = JoinSet::new();
    let mut shutdown = link.clone();
    loop {
        tokio::select! {
            biased;
            () = until(&mut shutdown, |l| l == Link::Shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((client, _)) => {
                    if *link.borrow_and_update() == Link::Open {
                        let stalled = stalled.clone();
                        connections.spawn(forward(client, upstream, link.clone(), stalled, Arc::clone(&counters)));
                    } else {
                        counters.turned_away.fetch_add(1, Ordering::SeqCst);
                        drop(client);
                    }
                }
                Err(e) => {
                    tracing::debug!("proxy: accept failed: {e}");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    // Every connection task watches the link too and is ending; abort any straggler.
    connections.shutdown().await;
}

/// One client: connect upstream, then copy both ways until either side closes or
/// the link is cut. Both sockets are closed when this returns.
async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    mut link: watch::Receiver<Link>,
    stalled: watch::Receiver<bool>,
    counters: Arc<Counters>,
) {
    let _open = OpenGuard::new(&counters);
    tokio::select! {
        () = until(&mut link, |l| l != Link::Open) => {}
        () = async {
            // Upstream away: the client sees its connection close, as with no proxy.
            let Ok(server) = TcpStream::connect(upstream).await else { return };
            counters.forwarded.fetch_add(1, Ordering::SeqCst);
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (client_read, client_write) = client.into_split();
            let (server_read, server_write) = server.into_split();
            tokio::join!(
                upstream_bound(client_read, server_write, stalled.clone()),
                client_bound(server_read, client_write, stalled, &counters)
            );
        } => {}
    }
}

/// Client to upstream, as it comes; the client's end of input ends the upstream's.
/// While stalled nothing is read, so the client's sends back up as on a dead path.
async fn upstream_bound(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut stalled: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        until_flowing(&mut stalled).await;
        match from.read(&mut buf).await {
            Ok(n @ 1..) => {
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            _ => break,
        }
    }
    let _ = to.shutdown().await;
}

/// Returns at once unless the proxy is stalled, else when it resumes (or is dropped).
async fn until_flowing(stalled: &mut watch::Receiver<bool>) {
    while *stalled.borrow_and_update() {
        if stalled.changed().await.is_err() {
            return;
        }
    }
}

/// Upstream to client, message by message, pausing after a message an armed hold matches.
async fn client_bound(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut stalled: watch::Receiver<bool>,
    counters: &Counters,
) {
    let mut messages = Messages::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        until_flowing(&mut stalled).await;
        let Ok(n @ 1..) = from.read(&mut buf).await else { break };
        messages.push(&buf[..n]);
        while let Some(message) = messages.next_message() {
            if to.write_all(&message).await.is_err() {
                return;
            }
            if let Some(delay) = counters.take_hold(&message) {
                tokio::time::sleep(delay).await;
            }
        }
    }
    let _ = to.shutdown().await;
}

/// Cuts a server's byte stream into whole messages: the HTTP upgrade answer, then
/// websocket frames. A stream that does not open as an HTTP answer passes as it comes.
#[derive(Debug, Default)]
struct Messages {
    pending: Vec<u8>,
    framing: Framing,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Framing {
    #[default]
    Http,
    Frames,
    Raw,
}

impl Messages {
    fn push(&mut self, bytes: &[u8]) {
        self.pending.extend_from_slice(bytes);
    }

    /// The next whole message, once all of it has arrived.
    fn next_message(&mut self) -> Option<Vec<u8>> {
        if self.pending.is_empty() {
            return None;
        }
        let len = match self.framing {
            Framing::Http if !b"HTTP/".starts_with(&self.pending[..self.pending.len().min(5)]) => {
                self.framing = Framing::Raw;
                self.pending.len()
            }
            Framing::Http => {
                let end = find(&self.pending, b"\r\n\r\n")? + 4;
                self.framing = Framing::Frames;
                end
            }
            Framing::Frames => frame_len(&self.pending)?,
            Framing::Raw => self.pending.len(),
        };
        Some(self.pending.drain(..len).collect())
    }
}

/// The length of the websocket frame at the start of `bytes`, once all of it is there.
fn frame_len(bytes: &[u8]) -> Option<usize> {
    let second = *bytes.get(1)?;
    let (payload, header) = match second & 0x7f {
        126 => (u64::from(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?)), 4),
        127 => (u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?), 10),
        n => (u64::from(n), 2),
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    let total = usize::try_from(payload).ok()?.checked_add(header + mask)?;
    (bytes.len() >= total).then_some(total)
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Resolves once the link satisfies `pred` (or the proxy handle is gone).
async fn until(link: &mut watch::Receiver<Link>, pred: impl Fn(Link) -> bool) {
    loop {
        if pred(*link.borrow_and_update()) {
            return;
        }
        if link.changed().await.is_err() {
            return;
        }
    }
}

/// Counts a connection as open for as long as its task runs (also when aborted).
struct OpenGuard {
    counters: Arc<Counters>,
}

impl OpenGuard {
    fn new(counters: &Arc<Counters>) -> OpenGuard {
        counters.open.fetch_add(1, Ordering::SeqCst);
        OpenGuard { counters: Arc::clone(counters) }
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.counters.open.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An unmasked text frame, as a server sends.
    fn frame(text: &str) -> Vec<u8> {
        let mut f = vec![0x81];
        match text.len() {
            n if n < 126 => f.push(n as u8),
            n => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        f.extend_from_slice(text.as_bytes());
        f
    }

    #[test]
    fn a_server_stream_is_cut_into_the_upgrade_answer_and_whole_frames_however_it_arrives() {
        let head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
        let long = "x".repeat(300);
        let stream = [head.clone(), frame("{\"op\":0}"), frame(&long), frame("{\"op\":5}")].concat();
        for chunk in [1, 2, 7, stream.len()] {
            let mut messages = Messages::default();
            let mut got = Vec::new();
            for piece in stream.chunks(chunk) {
                messages.push(piece);
                got.extend(std::iter::from_fn(|| messages.next_message()));
            }
            assert_eq!(
                got,
                vec![head.clone(), frame("{\"op\":0}"), frame(&long), frame("{\"op\":5}")],
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_stream_that_is_not_http_passes_as_it_comes() {
        let mut messages = Messages::default();
        messages.push(b"hello");
        assert_eq!(messages.next_message(), Some(b"hello".to_vec()));
        messages.push(b"HTTP/ later is just bytes");
        assert_eq!(messages.next_message(), Some(b"HTTP/ later is just bytes".to_vec()));
        assert_eq!(messages.next_message(), None);
    }

    #[test]
    fn a_hold_is_taken_once_by_the_first_message_that_matches() {
        let counters = Counters::default();
        *counters.hold.lock().unwrap() = Some(Hold { marker: b"StartStream".to_vec(), delay: Duration::from_secs(1) });
        assert_eq!(counters.take_hold(b"{\"requestType\":\"GetStats\"}"), None);
        assert_eq!(counters.take_hold(b"{\"requestType\":\"StartStream\"}"), Some(Duration::from_secs(1)));
        assert_eq!(counters.take_hold(b"{\"requestType\":\"StartStream\"}"), None);
        assert_eq!(counters.held.load(Ordering::SeqCst), 1);
    }
}
