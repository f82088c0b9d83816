//! Auto-serving: [`FakeConn::serve`] and [`FakeConn::serve_with`] answer a handshaken connection
//! from a [`FakeState`] until it closes, the way a real OBS of the state's [`Profile`] would:
//! events only to subscribers, 207 NotReady (or silence) while a 5.3+ OBS loads or switches scene
//! collections, the session closed with OBS's close code when the client sends something
//! malformed. The [`ServeHandle`] steers it meanwhile: it changes the state, plays OBS-side
//! happenings, lets the state run in real time ([`ServeHandle::run_clock`]), and injects faults
//! (held or reordered responses, a close, a dropped or silent connection).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use onair_headless::obs::protocol::op;
use onair_headless::sim::{Answer, Event};
use serde_json::{json, Map, Value};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::conn::FakeConn;
use super::socket::{ConnLink, Incoming};
use super::wire::{
    close_code, decode_client_frame, event_intent, event_json, frame_json, request_status, response_json, status,
    FakeRequest, NOT_READY_COMMENT,
};
use super::{FakeState, Profile};

/// In out-of-order mode, responses are released once no frame arrived for this long.
const OUT_OF_ORDER_QUIET: Duration = Duration::from_millis(50);

impl FakeConn {
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
}

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
    /// With [`ServeHandle::run_clock`]: the time the state has been advanced to.
    clock: Option<Instant>,
}

impl ServeInner {
    /// Whether requests wait for the end of a silent collection switch.
    fn defers_requests(&self) -> bool {
        self.collection_switching && self.state.profile.answers_not_ready() && self.state.collection_switch_silent
    }

    /// With the clock running, lets the state's outputs run until now.
    fn tick(&mut self) {
        if let Some(advanced_to) = self.clock {
            let now = Instant::now();
            self.state.advance(now.saturating_duration_since(advanced_to));
            self.clock = Some(now);
        }
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
                clock: None,
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

    /// The client's event subscriptions now (after any Reidentify); `None`: not said.
    pub fn event_subscriptions(&self) -> Option<u64> {
        self.shared.lock().event_subscriptions
    }

    pub fn pings_received(&self) -> usize {
        self.link.pings()
    }

    /// A copy of the current state (after the changes requests made).
    pub fn state(&self) -> FakeState {
        let mut inner = self.shared.lock();
        inner.tick();
        inner.state.clone()
    }

    /// Replaces the state answers come from. Sends no events: push those with `send_event`.
    pub fn set_state(&self, state: FakeState) {
        let mut inner = self.shared.lock();
        inner.tick();
        inner.state = state;
    }

    /// Changes the state in place (no events sent). With the clock running, what ran until now
    /// ran at the old rates, and the change applies from now on.
    pub fn update_state(&self, change: impl FnOnce(&mut FakeState)) {
        let mut inner = self.shared.lock();
        inner.tick();
        change(&mut inner.state)
    }

    /// From now on the served OBS runs in real time: before each answer and each change the
    /// state is advanced ([`FakeState::advance`]) by the time since the last, so a live stream's
    /// bytes and frames grow at its bitrate and frame rate (and skip as its knobs say) as a
    /// real OBS's do, with no test pumping them.
    pub fn run_clock(&self) {
        let mut inner = self.shared.lock();
        if inner.clock.is_none() {
            inner.clock = Some(Instant::now());
        }
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
    async fn happen(&self, change: impl FnOnce(&mut FakeState) -> Vec<Event>) {
        let events = {
            let mut inner = self.shared.lock();
            inner.tick();
            change(&mut inner.state)
        };
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
        self.happen(FakeState::rtmp_outage).await
    }

    /// One more reconnect attempt during an outage: 5.1+ says RECONNECTING again (real OBS did
    /// four times in a 10 s outage); 5.0 says nothing.
    pub async fn rtmp_retry(&self) {
        self.happen(FakeState::rtmp_retry).await
    }

    /// The ingest server is back: `outputReconnecting` turns false and OBS restarts the stream's
    /// counters (duration, bytes, frames) from zero, as measured on OBS 29; 5.1+ says RECONNECTED.
    pub async fn rtmp_recovered(&self) {
        self.happen(FakeState::rtmp_recovered).await
    }

    /// The mute button of an input clicked in OBS: InputMuteStateChanged, to a client
    /// subscribed to Inputs, when it changed the mute.
    pub async fn mute_in_obs(&self, input: &str, muted: bool) {
        self.happen(|st| st.mute_in_obs(input, muted)).await
    }

    /// OBS splits the recording into a new file (automatic file splitting): 5.5+ says
    /// RecordFileChanged `{newOutputPath}`; older releases say nothing.
    pub async fn split_recording(&self, new_path: &str) {
        self.happen(|st| st.split_recording(new_path)).await
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
            inner.tick();
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
        self.happen(|st| st.switch_scene(name)).await
    }

    /// A scene renamed in OBS: SceneNameChanged `{oldSceneName, sceneName}` (and the unchanged
    /// `sceneUuid` from 5.4), then SceneListChanged.
    pub async fn rename_scene(&self, old: &str, new: &str) {
        self.happen(|st| st.rename_scene(old, new)).await
    }

    /// A scene added at the top of OBS's list: SceneCreated, then SceneListChanged.
    pub async fn create_scene(&self, name: &str) {
        self.happen(|st| st.create_scene(name)).await
    }

    /// A scene removed: SceneRemoved, then SceneListChanged; when it was the program scene, OBS
    /// puts the top remaining scene on program first (CurrentProgramSceneChanged).
    pub async fn remove_scene(&self, name: &str) {
        self.happen(|st| st.remove_scene(name)).await
    }

    /// An input renamed: InputNameChanged `{oldInputName, inputName}` (and `inputUuid` from 5.4).
    pub async fn rename_input(&self, old: &str, new: &str) {
        self.happen(|st| st.rename_input(old, new)).await
    }

    /// An audio input added in OBS (kind `kind`; in OBS's mic slot `mic_slot` if given):
    /// InputCreated, with `inputUuid` from 5.4.
    pub async fn create_input(&self, name: &str, kind: &str, mic_slot: Option<&str>) {
        self.happen(|st| st.create_input(name, kind, mic_slot)).await
    }

    /// An input removed in OBS: InputRemoved, with `inputUuid` from 5.4.
    pub async fn remove_input(&self, name: &str) {
        self.happen(|st| st.remove_input(name)).await
    }

    /// The user picks another OBS settings profile `name`: CurrentProfileChanging, `change` (what
    /// depends on the profile: replay buffer and virtual camera availability, ...), then
    /// CurrentProfileChanged.
    pub async fn switch_obs_profile(&self, name: &str, change: impl FnOnce(&mut FakeState)) {
        self.happen(|st| st.switch_obs_profile(name, change)).await
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
        let (opcode, d) = match decode_client_frame(&frame) {
            Ok(decoded) => decoded,
            Err((code, reason)) => {
                warn!("fake OBS: closing with {code}: {reason}");
                conn.close(code, &reason).await;
                continue;
            }
        };
        match opcode {
            op::IDENTIFY => {
                conn.close(close_code::ALREADY_IDENTIFIED, "You are already Identified with the obs-websocket server.")
                    .await
            }
            op::REIDENTIFY => {
                match d.get("eventSubscriptions") {
                    None => {}
                    Some(v) => match v.as_u64() {
                        Some(subscriptions) => {
                            conn.event_subscriptions = Some(subscriptions);
                            shared.lock().event_subscriptions = Some(subscriptions);
                        }
                        None => {
                            conn.close(
                                close_code::INVALID_DATA_FIELD_TYPE,
                                "Your `eventSubscriptions` is not an unsigned number.",
                            )
                            .await;
                            continue;
                        }
                    },
                }
                conn.send_identified().await;
            }
            op::REQUEST => serve_request(&mut conn, &shared, &d, &mut held_back).await,
            op::REQUEST_BATCH => serve_batch(&mut conn, &shared, &d).await,
            _ => conn.close(close_code::UNKNOWN_OP_CODE, &format!("Unknown OpCode: {opcode}")).await,
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
        return Answer::error(status::NOT_READY, Some(NOT_READY_COMMENT));
    }
    inner.tick();
    inner.state.answer(&req.request_type, req.data.as_ref())
}

async fn send_events(conn: &mut FakeConn, events: Vec<Event>) {
    for (event_type, data) in events {
        // Real OBS only sends what the client subscribed to.
        if conn.subscribed_to(event_type) {
            conn.send_event(event_type, data).await;
        }
    }
}

async fn serve_request(conn: &mut FakeConn, shared: &ServeShared, d: &Value, held_back: &mut Vec<String>) {
    if d.get("requestId").is_none() {
        return conn.close(close_code::MISSING_DATA_FIELD, "Your payload data is missing a `requestId`.").await;
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
        return conn.close(close_code::MISSING_DATA_FIELD, "Your payload data is missing a `requestId`.").await;
    };
    let Some(requests) = d.get("requests").and_then(Value::as_array) else {
        return conn.close(close_code::INVALID_DATA_FIELD_TYPE, "Your `requests` is not an array.").await;
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
        if halt_on_failure && answer.code != status::SUCCESS {
            break;
        }
    }
    conn.link
        .send_text(frame_json(op::REQUEST_BATCH_RESPONSE, json!({ "requestId": batch_id, "results": results })))
        .await;
    send_events(conn, events).await;
}
