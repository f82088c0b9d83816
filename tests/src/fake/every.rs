//! Serving every connection a fake OBS gets: a command's, a watch's reconnects,
//! an app's session and its Test connection, each from a default state.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{FakeObs, FakeState, ServeHandle};

/// The handles of every connection served so far, newest last, to steer them.
pub type Served = Arc<Mutex<Vec<ServeHandle>>>;

/// Serves every connection `fake` gets that completes the handshake (for ten minutes).
pub fn serve_every_connection(mut fake: FakeObs) -> Served {
    let handles = Arc::new(Mutex::new(Vec::new()));
    let served = Arc::clone(&handles);
    tokio::spawn(async move {
        while let Some(mut conn) = fake.accept(Duration::from_secs(600)).await {
            if conn.handshake(None).await.is_ok() {
                served.lock().expect("handles lock").push(conn.serve_with(FakeState::default()));
            }
        }
    });
    handles
}

/// How many requests of `request_type` every connection served so far received.
pub fn requests_served(handles: &Served, request_type: &str) -> usize {
    handles.lock().expect("handles lock").iter().map(|h| h.request_count(request_type)).sum()
}
