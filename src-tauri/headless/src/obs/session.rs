//! The session: one long-lived connection with OBS, as the rest of OnAir holds it.
//!
//! [`Session::spawn`] starts the [`Supervisor`] task, which connects, syncs and
//! follows OBS and reconnects with backoff (see `supervisor.rs`). State goes out
//! on a `watch` channel, moments on a `broadcast` channel; the cloneable
//! [`Session`] handle sends controls and settings over `mpsc`.

use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use super::supervisor::Supervisor;
use crate::control::{Control, ControlError, ControlOutcome};
use crate::guard::AlertSettings;
use crate::obs::{AudioInput, Backoff, ClientOptions};
use crate::settings::{Password, Target};
use crate::state::{ConnectionState, Noticed, State};

/// Where to connect, how to log in, and how patient to be.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// `Err` holds why the user's settings are unusable; nothing is attempted then.
    pub target: Result<Target, String>,
    pub password: Option<Password>,
    pub client: ClientOptions,
    pub backoff: Backoff,
    /// How often stream health and OBS stats are polled while an output is active.
    pub poll_interval: Duration,
    /// A connection that lasted at least this long resets the backoff.
    pub healthy_after: Duration,
    pub moment_capacity: usize,
    /// The stream guard's switches and thresholds.
    pub alerts: AlertSettings,
    /// Inputs to watch as mics besides OBS's own mic slots (settings `[audio] mics`, or `--mic`).
    pub mics: Vec<String>,
}

impl SessionConfig {
    pub fn new(target: Result<Target, String>, password: Option<Password>) -> SessionConfig {
        SessionConfig {
            target,
            password,
            client: ClientOptions::default(),
            backoff: Backoff::default(),
            poll_interval: Duration::from_secs(2),
            healthy_after: Duration::from_secs(10),
            moment_capacity: 1024,
            alerts: AlertSettings::default(),
            mics: Vec::new(),
        }
    }
}

/// What a [`Session`] handle asks of its supervisor.
pub(super) enum Command {
    Control(Control, oneshot::Sender<Result<ControlOutcome, ControlError>>),
    Reconfigure(Result<Target, String>, Option<Password>),
    ReconnectNow,
    /// New switches and thresholds for the stream guard; the connection stays.
    SetAlerts(AlertSettings),
    /// Every audio input OBS has, with its mute.
    AudioInputs(oneshot::Sender<Result<Vec<AudioInput>, ControlError>>),
    Shutdown,
}

/// A cloneable handle to the running session.
#[derive(Clone)]
pub struct Session {
    commands: mpsc::Sender<Command>,
    state: watch::Receiver<State>,
    moments: broadcast::Sender<Noticed>,
}

impl Session {
    /// Starts the session task. The returned handle ends it with [`Session::shutdown`].
    pub fn spawn(config: SessionConfig) -> (Session, tokio::task::JoinHandle<()>) {
        let (session, _moments, task) = Session::spawn_subscribed(config);
        (session, task)
    }

    /// [`Session::spawn`], with a moment receiver subscribed before the task
    /// starts, so not even the first moment (a password rejected within
    /// milliseconds of start) can be missed.
    pub fn spawn_subscribed(
        config: SessionConfig,
    ) -> (Session, broadcast::Receiver<Noticed>, tokio::task::JoinHandle<()>) {
        let target_text = describe_target(&config.target);
        let (state_tx, state_rx) =
            watch::channel(State { target: target_text, connection: ConnectionState::Connecting, obs: None });
        let (moments_tx, moments_rx) = broadcast::channel(config.moment_capacity);
        let (commands_tx, commands_rx) = mpsc::channel(64);
        let supervisor = Supervisor::new(config, state_tx, moments_tx.clone(), commands_rx);
        let task = tokio::spawn(supervisor.run());
        (Session { commands: commands_tx, state: state_rx, moments: moments_tx }, moments_rx, task)
    }

    pub fn state(&self) -> watch::Receiver<State> {
        self.state.clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Noticed> {
        self.moments.subscribe()
    }

    pub async fn control(&self, control: Control) -> Result<ControlOutcome, ControlError> {
        let (reply, answer) = oneshot::channel();
        if self.commands.send(Command::Control(control, reply)).await.is_err() {
            return Err(ControlError::NotConnected("OnAir's session has stopped".into()));
        }
        answer.await.unwrap_or_else(|_| Err(ControlError::NotConnected("OnAir's session has stopped".into())))
    }

    /// Every audio input OBS has (`GetInputList`, then `GetInputMute` of each), with its
    /// mute and whether it is a watched mic.
    pub async fn audio_inputs(&self) -> Result<Vec<AudioInput>, ControlError> {
        let (reply, answer) = oneshot::channel();
        if self.commands.send(Command::AudioInputs(reply)).await.is_err() {
            return Err(ControlError::NotConnected("OnAir's session has stopped".into()));
        }
        answer.await.unwrap_or_else(|_| Err(ControlError::NotConnected("OnAir's session has stopped".into())))
    }

    /// New settings: drop the current connection and start over with these.
    pub async fn reconfigure(&self, target: Result<Target, String>, password: Option<Password>) {
        let _ = self.commands.send(Command::Reconfigure(target, password)).await;
    }

    /// New switches and thresholds for the stream guard, without reconnecting.
    pub async fn set_alert_settings(&self, alerts: AlertSettings) {
        let _ = self.commands.send(Command::SetAlerts(alerts)).await;
    }

    /// Try again now, also from a state that waits for the user.
    pub async fn reconnect_now(&self) {
        let _ = self.commands.send(Command::ReconnectNow).await;
    }

    /// Closes the connection cleanly and ends the task.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
    }

    /// Waits until connected and synced, or until the connection lands in a state
    /// that needs the user (returned as the error), or the timeout passes.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<State, State> {
        let mut state = self.state();
        let settled =
            |s: &State| s.obs.is_some() || s.connection.needs_user() || s.connection == ConnectionState::Stopped;
        let settled = matches!(tokio::time::timeout(timeout, state.wait_for(settled)).await, Ok(Ok(_)));
        let current = state.borrow().clone();
        if settled && current.obs.is_some() {
            Ok(current)
        } else {
            Err(current)
        }
    }
}

/// The target as the state shows it.
pub(super) fn describe_target(target: &Result<Target, String>) -> String {
    match target {
        Ok(t) => t.to_string(),
        Err(_) => "(invalid settings)".into(),
    }
}
