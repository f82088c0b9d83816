//! The other OBS the tray watches besides the first (`[[connections]]` after
//! the first): each has its own session, state, notifications and stop
//! confirmation, so one failing never delays another.
//!
//! The first OBS stays the controller's own: the window, the hotkeys and the
//! settings act on it. The others are seen in the tray (a section each, the
//! icon is the most pressing state of all) and in notifications headed with
//! their names, and are driven from their sections' submenus. Their sessions'
//! moments and state changes reach the controller's loop on one channel, each
//! marked with its connection's index.

use onair_headless::desktop::{MenuContext, NotificationPolicy, StopGuard};
use onair_headless::guard::AlertSettings;
use onair_headless::obs::{Session, SessionConfig};
use onair_headless::settings::{Password, PendingCall, Target};
use onair_headless::state::{Noticed, ObsStatus, State};
use tokio::sync::{broadcast, mpsc};

use crate::window::WindowFeed;

/// How one of the other OBS starts: where, and with the password the keyring gave.
pub struct OtherStart {
    /// What the user calls it (`name`, or `HOST:PORT`).
    pub name: String,
    pub target: Result<Target, String>,
    pub password: Option<Password>,
    /// The keyring lookup, when it did not answer in time at start: its answer
    /// is used when it comes.
    pub pending: Option<PendingCall<Option<Password>>>,
}

impl std::fmt::Debug for OtherStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtherStart")
            .field("name", &self.name)
            .field("target", &self.target)
            .field("password", &self.password)
            .field("pending", &self.pending.is_some())
            .finish()
    }
}

/// What one of the other sessions said, marked with its index in the
/// settings' connections (1 is the second OBS) and the generation of the list
/// it belongs to: after the list is edited, a late word of a session that is
/// gone is not taken for its successor's at the same index.
#[derive(Debug)]
pub enum OtherEvent {
    Moment { index: usize, generation: u64, noticed: Noticed },
    StateChanged { index: usize, generation: u64 },
}

/// One of the other OBS, as the controller keeps it.
pub struct OtherObs {
    pub name: String,
    pub target: Result<Target, String>,
    pub session: Session,
    /// Whether this run has a password for it, so a late keyring answer is
    /// used only when it had none.
    pub has_password: bool,
    pub policy: NotificationPolicy,
    pub guard: StopGuard,
    /// OBS as last seen while connected, so a press while it is away says what
    /// it would have done.
    pub last_seen: Option<ObsStatus>,
    /// Whether its section last showed the stop confirmation.
    pub shown_armed: bool,
    /// Its moments and bitrate, for the window when it shows this OBS.
    pub feed: WindowFeed,
    moments: Option<broadcast::Receiver<Noticed>>,
}

impl OtherObs {
    /// Starts its session (inside the runtime) with the settings' guard and
    /// mics; the keyring call still under way comes back with it.
    pub fn spawn(
        index: usize,
        start: OtherStart,
        alerts: &AlertSettings,
        mics: &[String],
    ) -> (OtherObs, Option<PendingCall<Option<Password>>>) {
        let OtherStart { name, target, password, pending } = start;
        let config = SessionConfig {
            alerts: alerts.clone(),
            mics: mics.to_vec(),
            ..SessionConfig::new(target.clone(), password.clone())
        };
        let (session, moments, _task) = Session::spawn_subscribed(config);
        let other = OtherObs {
            policy: NotificationPolicy::for_connection(index, Some(name.clone())),
            name,
            target,
            session,
            has_password: password.is_some(),
            guard: StopGuard::default(),
            last_seen: None,
            shown_armed: false,
            feed: WindowFeed::default(),
            moments: Some(moments),
        };
        (other, pending)
    }

    pub fn state(&self) -> State {
        self.session.state().borrow().clone()
    }

    pub fn context(&self) -> MenuContext {
        MenuContext { stop_armed: self.shown_armed }
    }

    /// Passes its moments and state changes to `events`, marked with `index`,
    /// until its session ends or the controller stops listening.
    pub fn forward(&mut self, index: usize, generation: u64, events: mpsc::Sender<OtherEvent>) {
        let Some(mut moments) = self.moments.take() else { return };
        let moment_events = events.clone();
        tokio::spawn(async move {
            loop {
                match moments.recv().await {
                    Ok(noticed) => {
                        if moment_events.send(OtherEvent::Moment { index, generation, noticed }).await.is_err() {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(connection = index, missed, "missed moments");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        let mut state = self.session.state();
        tokio::spawn(async move {
            while state.changed().await.is_ok() {
                if events.send(OtherEvent::StateChanged { index, generation }).await.is_err() {
                    return;
                }
            }
        });
    }
}
