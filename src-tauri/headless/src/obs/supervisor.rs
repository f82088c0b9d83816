//! The supervisor: the task behind a [`Session`](super::Session), which keeps
//! one connection to OBS for as long as OnAir runs and never gives up on its own.
//!
//! It owns the [`Model`] and the current connection: it connects, identifies,
//! syncs OBS's whole state, then follows events. Every way an attempt can end
//! comes down to one decision, [`Next`]: retry after a backoff, wait for the
//! user (wrong password, incompatible OBS, kicked from OBS's session list,
//! unusable settings), go again at once, or stop. `run` is a loop over that
//! decision, so each outcome is decided in one place. Shutting down is a flag
//! of its own, set by the command that asks for it, wherever it arrives.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{broadcast, mpsc, watch};

use super::session::{describe_target, Command, SessionConfig};
use crate::connect::Cause;
use crate::control::{self, ControlError};
use crate::guard::{ppm_data_url_pixels, AlertSettings};
use crate::obs::protocol::responses::{self, RecordStatus, SceneList, Stats, StreamStatus};
use crate::obs::protocol::{input_address, subscription, InputEvent, ObsEvent};
use crate::obs::FailureKind;
use crate::obs::{AudioInput, Model, SyncAnswers};
use crate::obs::{Client, ClientEvent, CloseReason, ConnectError, Connection, RequestError};
use crate::settings::{Password, Target};
use crate::state::{now_ms, ConnectionState, MicStatus, Moment, Noticed, State, WaitReason};

/// What the supervisor does next, after an attempt or a wait.
#[derive(Debug, PartialEq)]
enum Next {
    /// Connect again after the backoff for `kind`, showing `reason` meanwhile.
    Retry { kind: FailureKind, reason: WaitReason },
    /// Stay in the state just published (one that only the user can change)
    /// until new settings or a reconnect come.
    WaitForUser,
    /// Connect (again) now: the first attempt, new settings, a reconnect asked for.
    Again,
    /// Shut down.
    Stop,
}

impl Next {
    /// A retry on `kind`'s curve, or a wait for the user when `kind` is `None`
    /// (the classification has already published why).
    fn retry_or_wait(kind: Option<FailureKind>, reason: WaitReason) -> Next {
        match kind {
            Some(kind) => Next::Retry { kind, reason },
            None => Next::WaitForUser,
        }
    }
}

/// How a connected stretch ended.
enum Ended {
    Lost(CloseReason),
    SyncFailed(String),
    Reconfigured(Result<Target, String>, Option<Password>),
    ReconnectNow,
    Shutdown,
}

/// Internal results of work done off the main loop (a few a second at most, so
/// their size does not matter).
#[allow(clippy::large_enum_variant)]
enum Background {
    /// A health poll; `None` for what was not asked.
    Polled {
        stream: Option<Result<StreamStatus, RequestError>>,
        record: Option<Result<RecordStatus, RequestError>>,
        stats: Result<Stats, RequestError>,
        /// A tiny screenshot of the program scene, for the black-program check.
        shot: Option<Result<responses::SourceScreenshot, RequestError>>,
        at_ms: u64,
    },
    /// `with_program_scene`: the answer's program scene replaces the model's
    /// (only after a collection switch: otherwise events about the program scene
    /// may be newer than the answer).
    SceneList { list: Option<SceneList>, with_program_scene: bool },
    ProfileOutputs {
        replay_buffer: Result<responses::OutputActive, RequestError>,
        virtual_camera: Result<responses::OutputActive, RequestError>,
    },
    /// What OBS said of the input `name` (created, or renamed to a watched
    /// name): a mic to watch, with its mute, or `None`.
    MicFound { name: String, mic: Option<MicStatus> },
}

/// Why the whole state is being asked for.
#[derive(Clone, Copy)]
enum Sync {
    /// A new connection.
    Initial,
    /// The same connection, after falling behind its events.
    AfterLag,
}

pub(super) struct Supervisor {
    config: SessionConfig,
    model: Model,
    state: watch::Sender<State>,
    moments: broadcast::Sender<Noticed>,
    commands: mpsc::Receiver<Command>,
    connection: ConnectionState,
    /// A shutdown was asked for (or every handle is gone): the next decision is `Stop`.
    shutting_down: bool,
}

impl Supervisor {
    pub(super) fn new(
        config: SessionConfig,
        state: watch::Sender<State>,
        moments: broadcast::Sender<Noticed>,
        commands: mpsc::Receiver<Command>,
    ) -> Supervisor {
        let mut model = Model::new();
        let _ = model.set_alert_settings(config.alerts.clone(), now_ms());
        Supervisor {
            config,
            model,
            state,
            moments,
            commands,
            connection: ConnectionState::Connecting,
            shutting_down: false,
        }
    }

    /// New guard settings: a kind switched off clears (and says so) what it had open.
    fn set_alerts(&mut self, alerts: AlertSettings) {
        self.config.alerts = alerts.clone();
        let moments = self.model.set_alert_settings(alerts, now_ms());
        self.publish();
        self.announce(moments);
    }

    pub(super) async fn run(mut self) {
        let mut next = Next::Again;
        loop {
            next = match next {
                Next::Again => self.attempt().await,
                Next::Retry { kind, reason } => self.retry_later(kind, reason).await,
                Next::WaitForUser => self.wait_for_user().await,
                Next::Stop => break,
            };
        }
        self.set_connection(ConnectionState::Stopped);
    }

    /// One attempt: connect, then (if that worked) sync and follow OBS until
    /// the connection ends.
    async fn attempt(&mut self) -> Next {
        let target = match self.config.target.clone() {
            Ok(target) => target,
            Err(message) => {
                self.set_connection(ConnectionState::InvalidSettings { message });
                return Next::WaitForUser;
            }
        };
        self.set_connection(ConnectionState::Connecting);
        let password = self.config.password.clone();
        let options = self.config.client.clone();
        let connect = super::connect(&target.host, target.port, password.as_ref().map(Password::expose), &options);
        let Some(connected) = self.while_serving(connect).await else { return self.after_interruption() };
        let next = match connected {
            Ok(connection) => {
                let started = Instant::now();
                let ended = self.run_connected(connection).await;
                self.after_connection(ended, started.elapsed())
            }
            Err(error) => self.after_connect_error(&error),
        };
        match next {
            // OBS on this machine costs nothing to retry, and the streamer expects it
            // to be found within a second of coming back.
            Next::Retry { kind: FailureKind::Transient, reason } if target.is_loopback() => {
                Next::Retry { kind: FailureKind::Local, reason }
            }
            next => next,
        }
    }

    /// A connect that failed: retry, or wait where retrying cannot help.
    fn after_connect_error(&mut self, error: &ConnectError) -> Next {
        self.lose_connection(&error.to_string());
        let kind = self.classify_connect_error(error);
        Next::retry_or_wait(kind, self.wait_reason(error.cause(), error.to_string()))
    }

    /// Why OnAir waits, in the one vocabulary of causes.
    fn wait_reason(&self, cause: Cause, detail: String) -> WaitReason {
        match &self.config.target {
            Ok(target) => WaitReason::new(cause, target, detail),
            Err(_) => WaitReason::from(detail),
        }
    }

    /// A connected stretch that ended after `lasted`.
    fn after_connection(&mut self, ended: Ended, lasted: Duration) -> Next {
        match ended {
            Ended::Shutdown => Next::Stop,
            Ended::Reconfigured(target, password) => {
                self.disconnect_on_purpose();
                self.apply_settings(target, password);
                Next::Again
            }
            Ended::ReconnectNow => {
                self.disconnect_on_purpose();
                Next::Again
            }
            Ended::SyncFailed(reason) => {
                self.lose_connection(&reason);
                Next::Retry { kind: FailureKind::Transient, reason: reason.into() }
            }
            Ended::Lost(reason) => {
                if lasted >= self.config.healthy_after {
                    self.config.backoff.reset();
                }
                self.lose_connection(&reason.to_string());
                let kind = self.classify_close(&reason);
                Next::retry_or_wait(kind, self.wait_reason(reason.cause(), reason.to_string()))
            }
        }
    }

    /// Waits out the backoff for `kind`, still answering commands.
    async fn retry_later(&mut self, kind: FailureKind, reason: WaitReason) -> Next {
        let delay = self.config.backoff.next_delay(kind);
        tracing::debug!(?kind, delay_ms = delay.as_millis() as u64, cause = reason.cause.wire_name(), detail = %reason.detail, %reason, "retrying later");
        self.set_connection(ConnectionState::WaitingForObs { reason });
        match self.while_serving(tokio::time::sleep(delay)).await {
            Some(()) => Next::Again,
            None => self.after_interruption(),
        }
    }

    /// Blocks in a state that only the user can change.
    async fn wait_for_user(&mut self) -> Next {
        self.while_serving(std::future::pending::<()>()).await;
        self.after_interruption()
    }

    /// A command cut a wait or a connect short: new settings (already applied)
    /// or a reconnect go again now; a shutdown stops.
    fn after_interruption(&self) -> Next {
        if self.shutting_down {
            Next::Stop
        } else {
            Next::Again
        }
    }

    /// Runs `work` while answering commands. `None` when a command cut it short:
    /// new settings (applied here), a reconnect asked for, or a shutdown (flagged).
    async fn while_serving<F: std::future::Future>(&mut self, work: F) -> Option<F::Output> {
        tokio::pin!(work);
        loop {
            tokio::select! {
                output = &mut work => return Some(output),
                command = self.commands.recv() => match command {
                    None | Some(Command::Shutdown) => {
                        self.shutting_down = true;
                        return None;
                    }
                    Some(Command::Control(_, reply)) => {
                        let _ = reply.send(Err(self.not_connected()));
                    }
                    Some(Command::Reconfigure(target, password)) => {
                        self.apply_settings(target, password);
                        return None;
                    }
                    Some(Command::ReconnectNow) => return None,
                    Some(Command::SetAlerts(alerts)) => self.set_alerts(alerts),
                    Some(Command::AudioInputs(reply)) => {
                        let _ = reply.send(Err(self.not_connected()));
                    }
                }
            }
        }
    }

    fn apply_settings(&mut self, target: Result<Target, String>, password: Option<Password>) {
        let same_target = self.config.target == target;
        self.config.target = target;
        self.config.password = password;
        self.config.backoff.reset();
        if !same_target {
            // Another OBS: nothing learned about the old one applies.
            self.model.on_settings_changed();
        } else {
            // Same OBS, maybe a new password: a new failure deserves a new message.
            self.model.allow_new_auth_failure();
        }
        let text = describe_target(&self.config.target);
        self.state.send_modify(|s| s.target = text);
    }

    fn not_connected(&self) -> ControlError {
        let detail = match &self.connection {
            ConnectionState::Connecting => "connecting".to_string(),
            ConnectionState::Syncing => "still reading OBS's state".to_string(),
            ConnectionState::WaitingForObs { reason } => format!("waiting for OBS ({reason})"),
            ConnectionState::AuthFailed { message } => message.clone(),
            ConnectionState::Incompatible { message } => message.clone(),
            ConnectionState::SessionInvalidated { message } => message.clone(),
            ConnectionState::InvalidSettings { message } => message.clone(),
            ConnectionState::Stopped => "OnAir's session has stopped".to_string(),
            ConnectionState::Connected { .. } => "connected".to_string(),
        };
        ControlError::NotConnected(detail)
    }

    /// The retry curve for a failed connect, or `None` for failures that wait for the user.
    fn classify_connect_error(&mut self, error: &ConnectError) -> Option<FailureKind> {
        match error {
            ConnectError::Unresolved(_)
            | ConnectError::Refused(_)
            | ConnectError::Unreachable(_)
            | ConnectError::Dropped(_)
            | ConnectError::TimedOut(_) => Some(FailureKind::Transient),
            ConnectError::NotObs(_) | ConnectError::Http(_) => Some(FailureKind::Protocol),
            ConnectError::PasswordRequired => {
                self.auth_failed(Cause::PasswordMissing);
                None
            }
            ConnectError::Closed { code, reason } => self.classify_close_code(*code, reason),
            ConnectError::Incompatible(message) => {
                tracing::warn!(%message, "OBS is incompatible");
                self.incompatible();
                None
            }
        }
    }

    fn classify_close(&mut self, reason: &CloseReason) -> Option<FailureKind> {
        match reason {
            CloseReason::ClosedByObs { code, reason } => self.classify_close_code(*code, reason),
            CloseReason::Dropped(_) | CloseReason::Unresponsive(_) | CloseReason::ClosedByClient => {
                Some(FailureKind::Transient)
            }
        }
    }

    /// The close-code policy from the protocol notes.
    fn classify_close_code(&mut self, code: u16, reason: &str) -> Option<FailureKind> {
        use super::protocol::close;
        match code {
            close::AUTHENTICATION_FAILED => {
                let missing = reason.to_ascii_lowercase().contains("missing");
                self.auth_failed(if missing { Cause::PasswordMissing } else { Cause::PasswordRejected });
                None
            }
            close::UNSUPPORTED_RPC_VERSION => {
                tracing::warn!(reason, "OBS is incompatible");
                self.incompatible();
                None
            }
            close::SESSION_INVALIDATED => {
                self.set_connection(ConnectionState::SessionInvalidated {
                    message: "OBS ended this session (removed from its session list); reconnect when ready".to_string(),
                });
                None
            }
            close::MESSAGE_DECODE_ERROR..=close::ALREADY_IDENTIFIED => {
                tracing::error!(code, reason, "OBS closed the session for a protocol error: this is a bug in OnAir");
                Some(FailureKind::Protocol)
            }
            close::UNSUPPORTED_FEATURE => Some(FailureKind::Protocol),
            _ => Some(FailureKind::Transient),
        }
    }

    /// OBS speaks another protocol version: said in the vocabulary's words.
    fn incompatible(&mut self) {
        let target = self.config.target.clone().unwrap_or_default();
        let message = Cause::Incompatible.explain(&target).unwrap_or_default();
        self.set_connection(ConnectionState::Incompatible { message });
    }

    /// `cause` is one of the password causes; the state carries its words.
    fn auth_failed(&mut self, cause: Cause) {
        let target = self.config.target.clone().unwrap_or_default();
        let message = cause.what(&target).unwrap_or_default();
        let moments = self.model.on_auth_failed(&message);
        self.set_connection(ConnectionState::AuthFailed { message });
        self.announce(moments);
    }

    /// OnAir closed the connection itself: OBS is not lost, but its state is not
    /// known either until the next sync, so none is published meanwhile.
    fn disconnect_on_purpose(&mut self) {
        self.model.on_disconnected_on_purpose(now_ms());
        self.publish();
    }

    fn lose_connection(&mut self, reason: &str) {
        let moments = self.model.on_connection_lost(reason, now_ms());
        self.publish();
        self.announce(moments);
    }

    fn set_connection(&mut self, connection: ConnectionState) {
        self.connection = connection;
        self.publish();
    }

    fn publish(&self) {
        let connection = self.connection.clone();
        let obs = self.model.status().cloned();
        self.state.send_if_modified(|s| {
            let next = State { target: s.target.clone(), connection, obs };
            if *s == next {
                return false;
            }
            *s = next;
            true
        });
    }

    fn announce(&self, moments: Vec<Moment>) {
        if moments.is_empty() {
            return;
        }
        let at_ms = now_ms();
        for moment in moments {
            tracing::info!(moment = moment.kind().wire_name(), "moment");
            let _ = self.moments.send(Noticed { at_ms, moment });
        }
    }

    /// Syncs, then follows OBS until the connection ends or a command ends it.
    async fn run_connected(&mut self, connection: Connection) -> Ended {
        let Connection { client, hello, mut events } = connection;
        self.model.set_polls_drive_reconnects(lacks_reconnect_events(&hello.obs_web_socket_version));
        self.set_connection(ConnectionState::Syncing);
        let version = match self.sync(&client, &mut events, Sync::Initial).await {
            Ok(version) => version,
            Err(ended) => {
                if !matches!(ended, Ended::Lost(_)) {
                    client.close().await;
                }
                return ended;
            }
        };
        self.set_connection(ConnectionState::Connected {
            obs_version: version
                .as_ref()
                .map(|v| v.obs_version.clone())
                .or(hello.obs_studio_version.clone())
                .unwrap_or_default(),
            websocket_version: hello.obs_web_socket_version.clone(),
        });
        self.follow(client, events).await
    }

    /// Asks for the whole state while buffering events, then applies the answers
    /// and replays the buffered events on top: an event that arrives while the
    /// requests are in flight is newer than the answers and wins. If events were
    /// lost meanwhile (the channel overran), the answers cannot be trusted to be
    /// the newest word, so it asks again until a round sees every event, for as
    /// long as one request may take. OBS answers 207 NotReady while it is still
    /// loading (5.3+) and nothing at all during a scene collection switch: it is
    /// busy then, not gone, and the sync asks again on the same connection.
    async fn sync(
        &mut self,
        client: &Client,
        events: &mut broadcast::Receiver<ClientEvent>,
        kind: Sync,
    ) -> Result<Option<responses::Version>, Ended> {
        let state_rx = self.state.subscribe();
        if let Sync::AfterLag = kind {
            // What is still queued happened before the questions below are asked:
            // older than their answers, so it goes in before them, not on top.
            self.apply_queued_events(events);
        }
        let mut switching = self.model.status().is_some_and(|s| s.scene_collection_changing);
        let mut deadline = Instant::now() + self.config.client.request_timeout;
        let mut busy_since: Option<Instant> = None;
        let mut rounds = 0;
        loop {
            rounds += 1;
            let named_mics = self.config.mics.clone();
            let requests = async {
                tokio::join!(
                    client.request_as::<responses::Version>("GetVersion", None),
                    fetch_sync_answers(client, &named_mics)
                )
            };
            tokio::pin!(requests);
            let mut buffered: Vec<ObsEvent> = Vec::new();
            let mut lagged = false;
            let (version, answers) = loop {
                tokio::select! {
                    biased;
                    event = events.recv() => match event {
                        Ok(event) => {
                            switching = collection_switching_after(switching, &event.event);
                            buffered.push(event.event);
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => lagged = true,
                        Err(broadcast::error::RecvError::Closed) => return Err(Ended::Lost(client.closed().await)),
                    },
                    done = &mut requests => break done,
                    command = self.commands.recv() => if let Some(ended) = self.command_while_connected(command, Some((client, &state_rx))) {
                        return Err(ended);
                    },
                }
            };
            let answers = match answers {
                Ok(answers) => answers,
                Err(reason) if client.is_closed() => {
                    tracing::debug!(%reason, "sync ended by a closed connection");
                    return Err(Ended::Lost(client.closed().await));
                }
                Err(reason) if obs_busy(&reason, switching) => {
                    let since = *busy_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= SYNC_BUSY_LIMIT {
                        return Err(Ended::SyncFailed(format!(
                            "OBS stayed busy for {} s (still loading, or switching scene collections)",
                            SYNC_BUSY_LIMIT.as_secs()
                        )));
                    }
                    tracing::info!(%reason, rounds, "OBS is busy; asking for its state again shortly");
                    // Events of this round are older than the next round's answers.
                    self.apply_events(&buffered);
                    switching = self.wait_while_busy(client, events, &state_rx, switching).await?;
                    deadline = Instant::now() + self.config.client.request_timeout;
                    continue;
                }
                Err(reason) => {
                    return Err(Ended::SyncFailed(format!("OBS did not answer the state requests: {reason}")))
                }
            };
            if lagged {
                if Instant::now() >= deadline {
                    return Err(Ended::SyncFailed(format!("OBS's events overran OnAir through {rounds} syncs")));
                }
                tracing::warn!(rounds, "events overran while syncing; asking again");
                continue;
            }
            let now = now_ms();
            let mut moments = match kind {
                Sync::Initial => self.model.on_synced(&answers, now),
                Sync::AfterLag => self.model.on_resynced(&answers, now),
            };
            for event in &buffered {
                moments.extend(self.model.on_event(event, now));
            }
            self.publish();
            self.announce(moments);
            return Ok(version.ok());
        }
    }

    /// Waits before asking a busy OBS again, still answering commands and
    /// following events. Returns whether a scene collection switch is under way.
    async fn wait_while_busy(
        &mut self,
        client: &Client,
        events: &mut broadcast::Receiver<ClientEvent>,
        state_rx: &watch::Receiver<State>,
        mut switching: bool,
    ) -> Result<bool, Ended> {
        let pause = tokio::time::sleep(SYNC_BUSY_RETRY);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                biased;
                event = events.recv() => match event {
                    Ok(event) => {
                        switching = collection_switching_after(switching, &event.event);
                        self.apply_events(std::slice::from_ref(&event.event));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return Err(Ended::Lost(client.closed().await)),
                },
                _ = &mut pause => return Ok(switching),
                command = self.commands.recv() => if let Some(ended) = self.command_while_connected(command, Some((client, state_rx))) {
                    return Err(ended);
                },
            }
        }
    }

    /// Applies events to the model (which ignores them until it has a status).
    fn apply_events(&mut self, events: &[ObsEvent]) {
        let now = now_ms();
        let mut moments = Vec::new();
        for event in events {
            moments.extend(self.model.on_event(event, now));
        }
        self.publish();
        self.announce(moments);
    }

    /// Applies every event already queued, in order, without waiting for more.
    fn apply_queued_events(&mut self, events: &mut broadcast::Receiver<ClientEvent>) {
        let mut queued = Vec::new();
        loop {
            match events.try_recv() {
                Ok(event) => queued.push(event.event),
                Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "events overran before they could be applied");
                }
                Err(broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Closed) => break,
            }
        }
        if !queued.is_empty() {
            self.apply_events(&queued);
        }
    }

    /// Handles a command while connected. `Some` means the connected stretch ends.
    fn command_while_connected(
        &mut self,
        command: Option<Command>,
        control_context: Option<(&Client, &watch::Receiver<State>)>,
    ) -> Option<Ended> {
        match command {
            None | Some(Command::Shutdown) => {
                self.shutting_down = true;
                Some(Ended::Shutdown)
            }
            Some(Command::Reconfigure(target, password)) => Some(Ended::Reconfigured(target, password)),
            Some(Command::ReconnectNow) => Some(Ended::ReconnectNow),
            Some(Command::SetAlerts(alerts)) => {
                self.set_alerts(alerts);
                None
            }
            Some(Command::AudioInputs(reply)) => {
                match control_context {
                    // Off the loop like a control: one request per input.
                    Some((client, _)) => {
                        let client = client.clone();
                        let mics = self.model.status().map(|s| s.mics.clone()).unwrap_or_default();
                        tokio::spawn(async move {
                            let _ = reply.send(fetch_audio_inputs(&client, &mics).await);
                        });
                    }
                    None => {
                        let _ = reply.send(Err(self.not_connected()));
                    }
                }
                None
            }
            Some(Command::Control(control, reply)) => {
                match control_context {
                    // Controls run on their own task: a slow OBS answer must not stall events.
                    Some((client, state)) => {
                        let client = client.clone();
                        let state = state.clone();
                        tokio::spawn(async move {
                            let _ = reply.send(control::execute(&client, &state, &control).await);
                        });
                    }
                    None => {
                        let _ = reply.send(Err(self.not_connected()));
                    }
                }
                None
            }
        }
    }

    /// Subscribes to OBS's volume meters while the model wants them, and off
    /// again when not (Reidentify, sent off the loop). Returns whether they are on.
    fn switch_meters(&self, client: &Client, on: bool) -> bool {
        let wanted = self.model.wants_meters();
        if wanted != on {
            let base = self.config.client.event_subscriptions;
            let subscriptions = if wanted { base | subscription::INPUT_VOLUME_METERS } else { base };
            let client = client.clone();
            tokio::spawn(async move {
                match client.reidentify(subscriptions).await {
                    Ok(()) => {}
                    // The connection ended meanwhile (a command done with OBS, OBS
                    // gone): the next connection subscribes afresh, nothing to say.
                    Err(error) if client.is_closed() => {
                        tracing::debug!(%error, meters = wanted, "the connection closed before OBS took the new subscriptions");
                    }
                    Err(error) => {
                        tracing::warn!(%error, meters = wanted, "OBS did not take the new event subscriptions");
                    }
                }
            });
        }
        wanted
    }

    /// A new input may be a mic to watch: one created with a watched name or
    /// in one of OBS's mic slots, or one renamed to a watched name. Asked about
    /// at once (its mute with it), rather than at the next sync.
    fn ask_about_new_mic(
        &mut self,
        client: &Client,
        event: &ObsEvent,
        input: Option<&InputEvent>,
        tx: &mpsc::Sender<Background>,
    ) {
        let (name, uuid, maybe_in_a_slot) = match (input, event) {
            (Some(InputEvent::Created { input, .. }), _) => (&input.input_name, input.input_uuid.clone(), true),
            (_, ObsEvent::InputNameChanged { new_name, uuid, .. }) if self.config.mics.contains(new_name) => {
                (new_name, uuid.clone(), false)
            }
            _ => return,
        };
        if self.model.watches_mic(name, uuid.as_deref()) {
            return;
        }
        let named = self.config.mics.contains(name);
        if !named && !maybe_in_a_slot {
            return;
        }
        self.model.on_mic_asked(name);
        spawn_background(tx, fetch_new_mic(client.clone(), name.clone(), uuid, named));
    }

    async fn follow(&mut self, client: Client, mut events: broadcast::Receiver<ClientEvent>) -> Ended {
        let (background_tx, mut background) = mpsc::channel::<Background>(8);
        let mut poll = tokio::time::interval(self.config.poll_interval);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut poll_in_flight = false;
        let mut poll_failures_logged = false;
        let mut scene_list = SceneListFetch::default();
        let state_rx = self.state.subscribe();
        let mut levels_published = Instant::now();
        let mut last_shot: Option<Instant> = None;
        let mut meters_on = self.switch_meters(&client, false);
        let ended = loop {
            // Events first: what OBS said just before closing (ExitStarted, a last
            // STOPPED) must count before the close does.
            tokio::select! {
                biased;
                event = events.recv() => match event {
                    Ok(event) => {
                        let now = now_ms();
                        let mut moments = self.model.on_event(&event.event, now);
                        if let Some(input) = &event.input {
                            moments.extend(self.model.on_input_event(input, now));
                        }
                        // Meters come about 20 times a second: the levels are
                        // published once a second, or at once with a moment.
                        self.ask_about_new_mic(&client, &event.event, event.input.as_ref(), &background_tx);
                        let meters = matches!(event.input, Some(InputEvent::VolumeMeters(_)));
                        if !meters || !moments.is_empty() || levels_published.elapsed() >= Duration::from_secs(1) {
                            levels_published = Instant::now();
                            self.publish();
                        }
                        self.announce(moments);
                        meters_on = self.switch_meters(&client, meters_on);
                        let switching = self.model.status().is_some_and(|s| s.scene_collection_changing);
                        match &event.event {
                            // A collection switch replaces every scene; the list after it is the truth.
                            ObsEvent::SceneCollectionChanged => {
                                scene_list.ask(&background_tx, &client, true);
                            }
                            // The model applied the change; OBS's list says where a new scene sits.
                            ObsEvent::SceneCreated { .. } | ObsEvent::SceneRemoved { .. } if !switching => {
                                scene_list.ask(&background_tx, &client, false);
                            }
                            ObsEvent::CurrentProfileChanged => {
                                spawn_background(&background_tx, fetch_profile_outputs(client.clone()));
                            }
                            _ => {}
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        // Missed events cannot be replayed; ask OBS for the truth instead.
                        tracing::warn!(missed, "fell behind OBS's events; syncing again");
                        if let Err(ended) = self.sync(&client, &mut events, Sync::AfterLag).await {
                            if !matches!(ended, Ended::Lost(_)) {
                                client.close().await;
                            }
                            break ended;
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => break Ended::Lost(client.closed().await),
                },
                reason = client.closed() => {
                    self.apply_queued_events(&mut events);
                    break Ended::Lost(reason);
                }
                command = self.commands.recv() => if let Some(ended) = self.command_while_connected(command, Some((&client, &state_rx))) {
                    client.close().await;
                    break ended;
                },
                _ = poll.tick(), if !poll_in_flight && self.model.wants_polling() => {
                    poll_in_flight = true;
                    let status = self.model.status();
                    let stream_on_air = status.is_some_and(|s| s.stream.is_on_air());
                    let recording = status.is_some_and(|s| s.recording.is_active());
                    // The program (not a studio-mode preview), only while live, every 2 s at most.
                    let shot_of = status
                        .filter(|_| stream_on_air && last_shot.is_none_or_elapsed(PROGRAM_SHOT_EVERY))
                        .and_then(|s| s.program_scene.clone());
                    if shot_of.is_some() {
                        last_shot = Some(Instant::now());
                    }
                    spawn_background(&background_tx, poll_health(client.clone(), stream_on_air, recording, shot_of));
                }
                Some(done) = background.recv() => match done {
                    Background::Polled { stream, record, stats, shot, at_ms } => {
                        poll_in_flight = false;
                        let mut moments = Vec::new();
                        let mut failures = Vec::new();
                        match stream {
                            Some(Ok(stream)) => moments = self.model.on_stream_status(&stream, at_ms),
                            Some(Err(e)) => failures.push(format!("GetStreamStatus: {e}")),
                            None => {}
                        }
                        match record {
                            Some(Ok(record)) => self.model.on_record_status(&record, at_ms),
                            Some(Err(e)) => failures.push(format!("GetRecordStatus: {e}")),
                            None => {}
                        }
                        match stats {
                            Ok(stats) => self.model.on_stats(&stats, at_ms),
                            Err(e) => failures.push(format!("GetStats: {e}")),
                        }
                        match shot {
                            Some(Ok(shot)) => match ppm_data_url_pixels(&shot.image_data) {
                                Some(pixels) => self.model.on_program_shot(&pixels, at_ms),
                                None => failures.push("GetSourceScreenshot: not a PPM picture".into()),
                            },
                            Some(Err(e)) => failures.push(format!("GetSourceScreenshot: {e}")),
                            None => {}
                        }
                        moments.extend(self.model.on_polled(at_ms));
                        // The figures keep the time of their last answer, so the
                        // faces show their age; the log says why once per stretch.
                        if failures.is_empty() {
                            poll_failures_logged = false;
                        } else if !std::mem::replace(&mut poll_failures_logged, true) {
                            tracing::warn!(failures = %failures.join("; "), "OBS did not answer the health poll");
                        }
                        self.publish();
                        self.announce(moments);
                    }
                    Background::SceneList { list, with_program_scene } => {
                        if let Some(list) = list {
                            self.model.on_scene_list(&list, with_program_scene);
                            self.publish();
                        }
                        scene_list.done(&background_tx, &client);
                    }
                    Background::ProfileOutputs { replay_buffer, virtual_camera } => {
                        self.model.on_profile_outputs(&replay_buffer, &virtual_camera);
                        self.publish();
                    }
                    Background::MicFound { name, mic } => {
                        let moments = self.model.on_mic_found(&name, mic, now_ms());
                        self.publish();
                        self.announce(moments);
                        meters_on = self.switch_meters(&client, meters_on);
                    }
                },
            }
        };
        ended
    }
}

/// The scene list fetched one at a time, and once more if it was asked for
/// meanwhile (with the program scene if any of those asks wanted it).
#[derive(Default)]
struct SceneListFetch {
    in_flight: bool,
    /// `Some(with_program_scene)` when asked again while in flight.
    asked_again: Option<bool>,
}

impl SceneListFetch {
    fn ask(&mut self, tx: &mpsc::Sender<Background>, client: &Client, with_program_scene: bool) {
        if self.in_flight {
            self.asked_again = Some(self.asked_again.unwrap_or(false) || with_program_scene);
        } else {
            self.in_flight = true;
            spawn_background(tx, fetch_scene_list(client.clone(), with_program_scene));
        }
    }

    /// The fetch came back; sends the one asked for meanwhile, if any.
    fn done(&mut self, tx: &mpsc::Sender<Background>, client: &Client) {
        self.in_flight = false;
        if let Some(with_program_scene) = self.asked_again.take() {
            self.ask(tx, client, with_program_scene);
        }
    }
}

/// How long to wait before asking a busy OBS again, and for how long in all.
const SYNC_BUSY_RETRY: Duration = Duration::from_millis(500);
const SYNC_BUSY_LIMIT: Duration = Duration::from_secs(120);

/// OBS is busy rather than gone: still loading (207), or silent during a scene
/// collection switch.
fn obs_busy(error: &RequestError, switching: bool) -> bool {
    match error {
        RequestError::Failed { code, .. } => *code == crate::obs::protocol::status::NOT_READY,
        RequestError::TimedOut(_) => switching,
        _ => false,
    }
}

fn collection_switching_after(switching: bool, event: &ObsEvent) -> bool {
    match event {
        ObsEvent::SceneCollectionChanging => true,
        ObsEvent::SceneCollectionChanged => false,
        _ => switching,
    }
}

/// obs-websocket 5.0 (OBS 28) sends no RECONNECTING/RECONNECTED; 5.1 and later do.
fn lacks_reconnect_events(websocket_version: &str) -> bool {
    let mut parts = websocket_version.trim().split('.').map(|p| p.parse::<u32>());
    matches!((parts.next(), parts.next()), (Some(Ok(5)), Some(Ok(0))))
}

fn spawn_background<F>(tx: &mpsc::Sender<Background>, work: F)
where
    F: std::future::Future<Output = Option<Background>> + Send + 'static,
{
    let tx = tx.clone();
    tokio::spawn(async move {
        if let Some(done) = work.await {
            let _ = tx.send(done).await;
        }
    });
}

/// Whether `since` is unset, or at least `every` ago.
trait ElapsedOrNone {
    fn is_none_or_elapsed(&self, every: Duration) -> bool;
}

impl ElapsedOrNone for Option<Instant> {
    fn is_none_or_elapsed(&self, every: Duration) -> bool {
        self.map_or(true, |at| at.elapsed() >= every)
    }
}

/// How often the program is looked at while live, at the most.
const PROGRAM_SHOT_EVERY: Duration = Duration::from_secs(2);

async fn poll_health(
    client: Client,
    stream_on_air: bool,
    recording: bool,
    shot_of: Option<String>,
) -> Option<Background> {
    let stream = async {
        match stream_on_air {
            true => Some(client.request_as::<StreamStatus>("GetStreamStatus", None).await),
            false => None,
        }
    };
    let record = async {
        match recording {
            true => Some(client.request_as::<RecordStatus>("GetRecordStatus", None).await),
            false => None,
        }
    };
    let shot = async {
        let scene = shot_of?;
        // 32x18 PPM: enough to tell black from a picture, and cheap for OBS to make.
        let asked = json!({ "sourceName": scene, "imageFormat": "ppm", "imageWidth": 32, "imageHeight": 18 });
        Some(client.request_as::<responses::SourceScreenshot>("GetSourceScreenshot", Some(asked)).await)
    };
    let (stream, record, stats, shot) =
        tokio::join!(stream, record, client.request_as::<Stats>("GetStats", None), shot);
    Some(Background::Polled { stream, record, stats, shot, at_ms: now_ms() })
}

async fn fetch_scene_list(client: Client, with_program_scene: bool) -> Option<Background> {
    let list = client.request_as::<SceneList>("GetSceneList", None).await.ok();
    Some(Background::SceneList { list, with_program_scene })
}

async fn fetch_profile_outputs(client: Client) -> Option<Background> {
    let (replay_buffer, virtual_camera) = tokio::join!(
        client.request_as::<responses::OutputActive>("GetReplayBufferStatus", None),
        client.request_as::<responses::OutputActive>("GetVirtualCamStatus", None),
    );
    Some(Background::ProfileOutputs { replay_buffer, virtual_camera })
}

/// The sync requests, concurrently. Replay buffer and virtual camera may answer
/// "not available", which is an answer, not a failure.
async fn fetch_sync_answers(client: &Client, named_mics: &[String]) -> Result<SyncAnswers, RequestError> {
    let (stream, record, replay_buffer, virtual_camera, scenes, studio, stats, mics) = tokio::join!(
        client.request_as::<StreamStatus>("GetStreamStatus", None),
        client.request_as::<responses::RecordStatus>("GetRecordStatus", None),
        client.request_as::<responses::OutputActive>("GetReplayBufferStatus", None),
        client.request_as::<responses::OutputActive>("GetVirtualCamStatus", None),
        client.request_as::<SceneList>("GetSceneList", None),
        client.request_as::<responses::StudioMode>("GetStudioModeEnabled", None),
        // Only for OBS's render frame count, which tells a restarted OBS.
        client.request_as::<Stats>("GetStats", None),
        fetch_mics(client, named_mics),
    );
    for optional in [&replay_buffer, &virtual_camera] {
        if let Err(e @ (RequestError::TimedOut(_) | RequestError::ConnectionClosed)) = optional {
            return Err(e.clone());
        }
    }
    Ok(SyncAnswers {
        stream: stream?,
        record: record?,
        replay_buffer,
        virtual_camera,
        scenes: scenes?,
        studio_mode: studio?.studio_mode_enabled,
        stats: stats.ok(),
        mics: mics?,
    })
}

/// The watched mics that exist: OBS's own mic slots first, then the named ones,
/// each once, with its mute and, from 5.4, its uuid (from `GetInputList`; the
/// mute is asked by uuid then, as obs-websocket 5.7.1 fails some lookups by
/// name). A name OBS does not know is left out; only a lost connection or a
/// timeout fails the sync.
async fn fetch_mics(client: &Client, named: &[String]) -> Result<Vec<MicStatus>, RequestError> {
    let specials = match client.request_as::<responses::SpecialInputs>("GetSpecialInputs", None).await {
        Ok(specials) => specials.mics(),
        Err(e @ (RequestError::TimedOut(_) | RequestError::ConnectionClosed)) => return Err(e),
        Err(_) => Vec::new(),
    };
    let mut names: Vec<String> = Vec::new();
    for name in specials.into_iter().chain(named.iter().cloned()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    if names.is_empty() {
        return Ok(Vec::new());
    }
    // `None`: OBS would not list them; each is asked by name then.
    let listed = match client.request_as::<responses::InputList>("GetInputList", None).await {
        Ok(list) => Some(list.inputs),
        Err(e @ (RequestError::TimedOut(_) | RequestError::ConnectionClosed)) => return Err(e),
        Err(_) => None,
    };
    let mut mics = Vec::new();
    for name in names {
        let uuid = match listed.as_ref().map(|inputs| inputs.iter().find(|i| i.input_name == name)) {
            Some(Some(input)) => input.input_uuid.clone(),
            Some(None) => {
                tracing::debug!(mic = %name, "a watched mic is not in OBS");
                continue;
            }
            None => None,
        };
        match fetch_mic(client, name, uuid).await {
            Ok(Some(mic)) => mics.push(mic),
            Ok(None) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(mics)
}

/// One mic's mute, asked by uuid where there is one: `None` when OBS refuses
/// (no such input, or one without audio); only a lost connection or a timeout fails.
async fn fetch_mic(client: &Client, name: String, uuid: Option<String>) -> Result<Option<MicStatus>, RequestError> {
    let asked = input_address(&name, uuid.as_deref());
    match client.request_as::<responses::InputMute>("GetInputMute", Some(asked)).await {
        Ok(mute) => {
            Ok(Some(MicStatus { name, uuid, muted: mute.input_muted, level_dbfs: None, input_level_dbfs: None }))
        }
        Err(e @ (RequestError::TimedOut(_) | RequestError::ConnectionClosed)) => Err(e),
        Err(error) => {
            tracing::debug!(mic = %name, %error, "not a mic OBS can say the mute of");
            Ok(None)
        }
    }
}

/// A new input `name`: a mic when `named` (a watched name) or now in one of
/// OBS's mic slots; with its mute.
async fn fetch_new_mic(client: Client, name: String, uuid: Option<String>, named: bool) -> Option<Background> {
    let is_mic = named
        || client
            .request_as::<responses::SpecialInputs>("GetSpecialInputs", None)
            .await
            .is_ok_and(|specials| specials.mics().contains(&name));
    let mic = match is_mic {
        true => fetch_mic(&client, name.clone(), uuid).await.ok().flatten(),
        false => None,
    };
    Some(Background::MicFound { name, mic })
}

/// Every audio input: `GetInputList`, then `GetInputMute` of each at once (by
/// uuid where OBS gives one). An input without audio answers an error and is
/// left out; a lost connection or a timeout fails the list.
async fn fetch_audio_inputs(client: &Client, mics: &[MicStatus]) -> Result<Vec<AudioInput>, ControlError> {
    let list = client.request_as::<responses::InputList>("GetInputList", None).await.map_err(list_error)?;
    let asks = list.inputs.iter().map(|input| {
        let asked = input_address(&input.input_name, input.input_uuid.as_deref());
        client.request_as::<responses::InputMute>("GetInputMute", Some(asked))
    });
    let mut mutes = Vec::with_capacity(list.inputs.len());
    for answer in futures_util::future::join_all(asks).await {
        match answer {
            Ok(mute) => mutes.push(Some(mute.input_muted)),
            Err(e @ (RequestError::TimedOut(_) | RequestError::ConnectionClosed)) => return Err(list_error(e)),
            Err(_) => mutes.push(None),
        }
    }
    Ok(AudioInput::listed(&list.inputs, &mutes, mics))
}

/// Why the audio inputs could not be listed, as the controls say it.
fn list_error(error: RequestError) -> ControlError {
    match error {
        RequestError::TimedOut(after) => ControlError::TimedOut(after),
        RequestError::ConnectionClosed => {
            ControlError::NotConnected("the connection closed before OBS answered".into())
        }
        RequestError::Failed { code, comment } => ControlError::Refused { code, message: comment.unwrap_or_default() },
        RequestError::BadResponse(message) => ControlError::Refused { code: 0, message },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A supervisor that is never run: the decisions are plain methods.
    fn supervisor() -> (Supervisor, watch::Receiver<State>, mpsc::Sender<Command>) {
        let target = Target::new("127.0.0.1", 4455);
        let config = SessionConfig::new(target.clone(), None);
        let (state_tx, state_rx) = watch::channel(State {
            target: describe_target(&target),
            connection: ConnectionState::Connecting,
            obs: None,
        });
        let (moments, _) = broadcast::channel(16);
        let (commands_tx, commands_rx) = mpsc::channel(4);
        (Supervisor::new(config, state_tx, moments, commands_rx), state_rx, commands_tx)
    }

    fn closed_by_obs(code: u16, reason: &str) -> Ended {
        Ended::Lost(CloseReason::ClosedByObs { code, reason: reason.into() })
    }

    #[test]
    fn failures_retrying_can_fix_are_retried_on_their_curve() {
        let (mut s, _state, _commands) = supervisor();
        let Next::Retry { kind, reason } = s.after_connect_error(&ConnectError::Refused("nothing listens".into()))
        else {
            panic!("a refused connect is retried")
        };
        assert_eq!(
            (kind, reason.cause, reason.detail.as_str()),
            (FailureKind::Transient, Cause::Refused, "nothing listens")
        );
        assert!(reason.reason.starts_with("OBS is not running, or its WebSocket server is off: "), "{reason}");
        let Next::Retry { reason, .. } = s.after_connect_error(&ConnectError::TimedOut(crate::obs::HandshakeStep::Tcp))
        else {
            panic!("a connect that timed out is retried")
        };
        assert_eq!(reason.cause, Cause::NoAnswer);
        assert!(matches!(
            s.after_connect_error(&ConnectError::NotObs("x".into())),
            Next::Retry { kind: FailureKind::Protocol, .. }
        ));
        assert!(matches!(
            s.after_connection(Ended::Lost(CloseReason::Dropped("reset".into())), Duration::ZERO),
            Next::Retry { kind: FailureKind::Transient, .. }
        ));
        assert!(matches!(
            s.after_connection(closed_by_obs(4005, "bad"), Duration::ZERO),
            Next::Retry { kind: FailureKind::Protocol, .. }
        ));
        assert_eq!(
            s.after_connection(Ended::SyncFailed("no answer".into()), Duration::ZERO),
            Next::Retry { kind: FailureKind::Transient, reason: "no answer".into() }
        );
    }

    #[test]
    fn failures_only_the_user_can_fix_wait_for_the_user_and_say_why() {
        let (mut s, state, _commands) = supervisor();
        assert_eq!(s.after_connect_error(&ConnectError::PasswordRequired), Next::WaitForUser);
        assert!(matches!(state.borrow().connection, ConnectionState::AuthFailed { .. }));
        assert_eq!(
            s.after_connection(closed_by_obs(4009, "Authentication failed."), Duration::ZERO),
            Next::WaitForUser
        );
        assert_eq!(
            state.borrow().connection,
            ConnectionState::AuthFailed { message: "OBS rejected the password".into() }
        );
        assert_eq!(s.after_connect_error(&ConnectError::Incompatible("rpc 2".into())), Next::WaitForUser);
        assert!(matches!(state.borrow().connection, ConnectionState::Incompatible { .. }));
        assert_eq!(s.after_connection(closed_by_obs(4011, "kicked"), Duration::ZERO), Next::WaitForUser);
        assert!(matches!(state.borrow().connection, ConnectionState::SessionInvalidated { .. }));
    }

    #[test]
    fn commands_that_end_a_connection_go_again_or_stop() {
        let (mut s, state, _commands) = supervisor();
        assert_eq!(s.after_connection(Ended::ReconnectNow, Duration::ZERO), Next::Again);
        let elsewhere = Target::new("127.0.0.2", 4455);
        assert_eq!(s.after_connection(Ended::Reconfigured(elsewhere, None), Duration::ZERO), Next::Again);
        assert_eq!(state.borrow().target, "127.0.0.2:4455", "new settings are applied before going again");
        assert_eq!(s.after_connection(Ended::Shutdown, Duration::ZERO), Next::Stop);
    }

    #[tokio::test]
    async fn a_shutdown_during_a_wait_stops_and_anything_else_goes_again() {
        let (mut s, _state, commands) = supervisor();
        assert!(commands.send(Command::ReconnectNow).await.is_ok());
        assert_eq!(s.wait_for_user().await, Next::Again);
        assert!(commands.send(Command::Reconfigure(Target::new("127.0.0.3", 1), None)).await.is_ok());
        assert_eq!(s.wait_for_user().await, Next::Again);
        assert!(!s.shutting_down);
        assert!(commands.send(Command::Shutdown).await.is_ok());
        assert_eq!(s.wait_for_user().await, Next::Stop);
        assert!(s.shutting_down);
        // Every handle gone is a shutdown too.
        let (mut s, _state, commands) = supervisor();
        drop(commands);
        assert_eq!(s.retry_later(FailureKind::Transient, "gone".into()).await, Next::Stop);
    }

    #[tokio::test]
    async fn a_backoff_that_runs_out_goes_again_and_shows_why_it_waited() {
        let (mut s, state, _commands) = supervisor();
        let brief = Duration::from_millis(5);
        s.config.backoff = crate::obs::Backoff::new(brief, brief, brief, brief);
        assert_eq!(s.retry_later(FailureKind::Local, "refused".into()).await, Next::Again);
        assert_eq!(state.borrow().connection, ConnectionState::WaitingForObs { reason: "refused".into() });
    }
}
