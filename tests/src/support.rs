//! Shared helpers for tests that drive the engine: quick timings, waiting on
//! state, recording every moment, and finding the `onair` binary.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onair_engine::session::{Session, SessionConfig};
use onair_engine::settings::{Password, Target};
use onair_engine::state::{Noticed, State};

/// A session config with timeouts short enough for tests, on 127.0.0.1.
pub fn fast_config(port: u16, password: Option<&str>) -> SessionConfig {
    let mut config = SessionConfig::new(Target::new("127.0.0.1", i64::from(port)), password.map(|p| Password::new(p.to_string())));
    config.client.request_timeout = Duration::from_secs(2);
    config.client.handshake_timeout = Duration::from_secs(3);
    config.client.ping_interval = Duration::from_millis(300);
    config.client.dead_after = Duration::from_millis(1500);
    config.poll_interval = Duration::from_millis(500);
    config
}

/// Waits until the state satisfies `pred`; panics with the last state otherwise.
pub async fn wait_state(session: &Session, what: &str, timeout: Duration, pred: impl Fn(&State) -> bool) -> State {
    let mut rx = session.state();
    let reached = matches!(tokio::time::timeout(timeout, rx.wait_for(|s| pred(s))).await, Ok(Ok(_)));
    let last = rx.borrow().clone();
    match reached {
        true => last,
        false => panic!("timed out after {timeout:?} waiting for {what}; last state: {last:#?}"),
    }
}

/// Every moment a session announces, recorded from the moment it is created.
#[derive(Clone)]
pub struct MomentLog {
    seen: Arc<Mutex<Vec<Noticed>>>,
}

impl MomentLog {
    pub fn record(session: &Session) -> MomentLog {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut rx = session.subscribe();
        let sink = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok(noticed) = rx.recv().await {
                sink.lock().expect("moment log lock").push(noticed);
            }
        });
        MomentLog { seen }
    }

    pub fn all(&self) -> Vec<Noticed> {
        self.seen.lock().expect("moment log lock").clone()
    }

    pub fn kinds(&self) -> Vec<&'static str> {
        self.all().iter().map(|n| n.moment.kind()).collect()
    }

    pub fn count(&self, kind: &str) -> usize {
        self.kinds().iter().filter(|k| **k == kind).count()
    }

    /// Waits until `kind` has been announced `n` times in all.
    pub async fn wait_for(&self, kind: &str, n: usize, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.count(kind) < n {
            if tokio::time::Instant::now() >= deadline {
                panic!("timed out after {timeout:?} waiting for moment {kind} x{n}; seen: {:?}", self.kinds());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The `onair` binary of this workspace, built if it is not there yet.
pub fn onair_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target"));
    let bin = target.join("debug").join("onair");
    if !bin.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "-p", "onair-engine", "--bin", "onair"])
            .status()
            .expect("run cargo build for the onair binary");
        assert!(status.success(), "cargo build of the onair binary failed");
    }
    bin
}
