//! `onair --demo`: the simulated OBS ([`crate::sim`]) served as a small obs-websocket v5 server on
//! loopback, playing a scripted show (offline, live, scene changes, recording, an outage with
//! reconnects, recovery, a saved replay, stop) and obeying the controls, so someone without OBS
//! sees every state, notification and control of OnAir. It speaks the protocol of real OBS 29
//! (obs-websocket 5.1), so the engine under it is the real one. This file only serves and
//! schedules: what OBS answers, says and counts is the simulator's, the same one the system
//! tests' fake OBS serves.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

use crate::obs::protocol::{op, SUBPROTOCOL};
use crate::sim::{event_intent, status, Event, Profile, SimObs};

const SCENES: [&str; 4] = ["Starting Soon", "Just Chatting", "Gameplay", "BRB"];
const RECORDING_PATH: &str = "~/Videos/OnAir demo recording.mkv";
const REPLAY_PATH: &str = "~/Videos/OnAir demo replay.mkv";

/// The OBS the demo starts with: OBS 29 with the demo's scenes, offline, the replay buffer
/// running and a virtual camera to start, on a busy but healthy machine.
fn demo_obs() -> SimObs {
    SimObs {
        obs_version: "29.0.2 (demo)".into(),
        scenes: SCENES.iter().map(|name| name.to_string()).collect(),
        program_scene: SCENES[0].into(),
        record_path: RECORDING_PATH.into(),
        replay_path: REPLAY_PATH.into(),
        replay_available: true,
        replay_active: true,
        vcam_available: true,
        congestion: CONGESTION,
        active_fps: 60.0,
        cpu_usage: 9.5,
        memory_usage: 410.0,
        available_disk_space: 250_000.0,
        average_frame_render_time: 2.1,
        ..SimObs::for_profile(Profile::V5_1)
    }
}

/// `outputCongestion` of the demo's stream: a little, and all of it while reconnecting.
const CONGESTION: f64 = 0.03;

/// One step of the show: what the streamer does in OBS, or what the network does to the stream.
/// A step that does not fit the moment (the viewer stopped the stream meanwhile) does nothing.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Step {
    /// The streamer uses OBS's own button for this request (StartStream, PauseRecord, ...).
    Press(&'static str),
    /// The streamer picks this program scene.
    Scene(&'static str),
    /// The ingest server goes away while live.
    Outage,
    /// OBS tries the ingest server again, in vain.
    Retry,
    /// The ingest server is back.
    Recover,
}

/// The show, a loop of about 70 seconds: each step after waiting this many seconds.
const SHOW: [(u64, Step); 15] = [
    (4, Step::Press("StartStream")),
    (4, Step::Scene("Just Chatting")),
    (6, Step::Press("StartRecord")),
    (6, Step::Scene("Gameplay")),
    (6, Step::Outage),
    (2, Step::Retry),
    (3, Step::Retry),
    (3, Step::Recover),
    (6, Step::Press("PauseRecord")),
    (4, Step::Press("ResumeRecord")),
    (4, Step::Press("SaveReplayBuffer")),
    (6, Step::Scene("BRB")),
    (4, Step::Press("StopRecord")),
    (4, Step::Press("StopStream")),
    (8, Step::Scene("Starting Soon")),
];

/// Plays one step on the simulated OBS: the events OBS would send.
fn play(obs: &mut SimObs, step: Step) -> Vec<Event> {
    match step {
        // A press that OBS refuses (already streaming, nothing to pause) says nothing.
        Step::Press(request_type) => obs.answer(request_type, None).events,
        Step::Scene(name) => obs.answer("SetCurrentProgramScene", Some(&json!({ "sceneName": name }))).events,
        Step::Outage if obs.stream_active && !obs.stream_reconnecting => obs.rtmp_outage(),
        Step::Retry if obs.stream_reconnecting => obs.rtmp_retry(),
        Step::Recover if obs.stream_reconnecting => obs.rtmp_recovered(),
        Step::Outage | Step::Retry | Step::Recover => Vec::new(),
    }
}

/// Where `--demo` keeps its settings, apart from the user's own: the per-user
/// runtime directory (private, cleared at logout), else the cache directory.
/// Never a fixed name in the shared temp directory, where another user could
/// plant the file first or read it.
pub fn settings_path() -> Option<PathBuf> {
    settings_path_in(dirs::runtime_dir(), dirs::cache_dir())
}

fn settings_path_in(runtime_dir: Option<PathBuf>, cache_dir: Option<PathBuf>) -> Option<PathBuf> {
    runtime_dir.or(cache_dir).map(|dir| dir.join("onair").join("demo-settings.toml"))
}

/// A running simulated OBS.
pub struct Demo {
    pub port: u16,
}

/// The simulated OBS and the wall-clock time it has been advanced to.
struct Clocked {
    obs: SimObs,
    advanced_to: Instant,
}

impl Clocked {
    /// The simulated OBS, its counters brought up to now (in whole milliseconds, so no time is
    /// lost between calls).
    fn now(&mut self) -> &mut SimObs {
        let elapsed = Duration::from_millis(u64::try_from(self.advanced_to.elapsed().as_millis()).unwrap_or(0));
        self.advanced_to += elapsed;
        self.obs.advance(elapsed);
        self.obs.congestion = if self.obs.stream_reconnecting { 1.0 } else { CONGESTION };
        &mut self.obs
    }
}

type Shared = Arc<Mutex<Clocked>>;

/// The simulated OBS, up to now.
fn with_obs<T>(shared: &Shared, act: impl FnOnce(&mut SimObs) -> T) -> T {
    // A panic while holding the lock cannot leave the simulation inconsistent in a
    // way that matters for a demo: keep going with the inner value.
    let mut clocked = shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    act(clocked.now())
}

/// Starts the simulated OBS on 127.0.0.1 and its scripted show.
pub async fn start() -> std::io::Result<Demo> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let shared: Shared = Arc::new(Mutex::new(Clocked { obs: demo_obs(), advanced_to: Instant::now() }));
    let (events, _) = broadcast::channel::<String>(256);
    tokio::spawn(show(Arc::clone(&shared), events.clone()));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, Arc::clone(&shared), events.clone()));
        }
    });
    Ok(Demo { port })
}

/// An op 5 Event frame.
fn event_frame((event_type, data): Event) -> String {
    let mut d = json!({ "eventType": event_type, "eventIntent": event_intent(event_type) });
    if !data.is_null() {
        d["eventData"] = data;
    }
    json!({ "op": op::EVENT, "d": d }).to_string()
}

/// Sends events to every connection (a closed channel only means nobody listens).
fn broadcast_events(events: &broadcast::Sender<String>, emitted: Vec<Event>) {
    for event in emitted {
        let _ = events.send(event_frame(event));
    }
}

/// The show, on a loop.
async fn show(shared: Shared, events: broadcast::Sender<String>) {
    loop {
        for (wait, step) in SHOW {
            tokio::time::sleep(Duration::from_secs(wait)).await;
            let emitted = with_obs(&shared, |obs| play(obs, step));
            broadcast_events(&events, emitted);
        }
    }
}

async fn serve(stream: TcpStream, shared: Shared, events: broadcast::Sender<String>) {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    // Answer the client's subprotocol as OBS does. (The callback's error type is
    // tungstenite's, not ours.)
    #[allow(clippy::result_large_err)]
    let subprotocol = |request: &Request, mut response: Response| {
        let asked = request.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if asked.split(',').any(|p| p.trim() == SUBPROTOCOL) {
            if let Ok(value) = SUBPROTOCOL.parse() {
                response.headers_mut().insert("Sec-WebSocket-Protocol", value);
            }
        }
        Ok(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, subprotocol).await else { return };
    let ws_version = with_obs(&shared, |obs| obs.ws_version.clone());
    let hello = json!({"op": op::HELLO, "d": {"obsWebSocketVersion": ws_version, "rpcVersion": 1}});
    if ws.send(Message::Text(hello.to_string())).await.is_err() {
        return;
    }
    // Identify, then Identified.
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if frame["op"] == op::IDENTIFY {
                    let identified = json!({"op": op::IDENTIFIED, "d": {"negotiatedRpcVersion": 1}});
                    if ws.send(Message::Text(identified.to_string())).await.is_err() {
                        return;
                    }
                    break;
                }
            }
            Some(Ok(_)) => {}
            _ => return,
        }
    }
    let mut feed = events.subscribe();
    loop {
        tokio::select! {
            frame = ws.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    if frame["op"] != op::REQUEST {
                        continue;
                    }
                    let (response, emitted) = respond(&shared, &frame["d"]);
                    if ws.send(Message::Text(response)).await.is_err() {
                        return;
                    }
                    broadcast_events(&events, emitted);
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
            event = feed.recv() => match event {
                Ok(text) => {
                    if ws.send(Message::Text(text)).await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
        }
    }
}

/// The response frame for one request (the `d` of an op 6), and the events it causes.
fn respond(shared: &Shared, request: &Value) -> (String, Vec<Event>) {
    let request_type = request["requestType"].as_str().unwrap_or_default();
    let data = request.get("requestData").filter(|data| !data.is_null());
    let answer = with_obs(shared, |obs| obs.answer(request_type, data));
    let mut request_status = json!({"result": answer.code == status::SUCCESS, "code": answer.code});
    if let Some(comment) = answer.comment {
        request_status["comment"] = Value::String(comment);
    }
    let mut body =
        json!({"requestType": request_type, "requestId": request["requestId"], "requestStatus": request_status});
    if let Some(data) = answer.data {
        body["responseData"] = data;
    }
    (json!({"op": op::REQUEST_RESPONSE, "d": body}).to_string(), answer.events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obs::{Session, SessionConfig};
    use crate::settings::Target;

    #[test]
    fn demo_settings_live_in_the_users_own_runtime_or_cache_dir() {
        let runtime = PathBuf::from("/run/user/1000");
        let cache = PathBuf::from("/home/someone/.cache");
        assert_eq!(
            settings_path_in(Some(runtime.clone()), Some(cache.clone())),
            Some(runtime.join("onair/demo-settings.toml"))
        );
        assert_eq!(settings_path_in(None, Some(cache.clone())), Some(cache.join("onair/demo-settings.toml")));
        assert_eq!(
            settings_path_in(None, None),
            None,
            "no shared fallback: the demo then keeps its settings in memory"
        );
    }

    /// What one event says, for reading a show: its type and output state, saved path or scene.
    fn said((event_type, data): &Event) -> String {
        let detail = ["outputState", "savedReplayPath", "sceneName"].iter().find_map(|key| data[*key].as_str());
        let detail = detail.map_or("", |d| d.trim_start_matches("OBS_WEBSOCKET_OUTPUT_"));
        format!("{event_type} {detail}")
    }

    #[test]
    fn one_round_of_the_show_plays_every_main_state_and_ends_where_it_began() {
        let mut obs = demo_obs();
        let mut heard = Vec::new();
        for (_, step) in SHOW {
            obs.advance(Duration::from_secs(3));
            heard.extend(play(&mut obs, step).iter().map(said));
        }
        assert_eq!(
            heard,
            [
                "StreamStateChanged STARTING",
                "StreamStateChanged STARTED",
                "CurrentProgramSceneChanged Just Chatting",
                "RecordStateChanged STARTING",
                "RecordStateChanged STARTED",
                "CurrentProgramSceneChanged Gameplay",
                "StreamStateChanged RECONNECTING",
                "StreamStateChanged RECONNECTING",
                "StreamStateChanged RECONNECTING",
                "StreamStateChanged RECONNECTED",
                "RecordStateChanged PAUSED",
                "RecordStateChanged RESUMED",
                format!("ReplayBufferSaved {REPLAY_PATH}").as_str(),
                "CurrentProgramSceneChanged BRB",
                "RecordStateChanged STOPPING",
                "RecordStateChanged STOPPED",
                "StreamStateChanged STOPPING",
                "StreamStateChanged STOPPED",
                "CurrentProgramSceneChanged Starting Soon",
            ]
        );
        assert!(!obs.stream_active && !obs.record_active);
        assert_eq!(obs.program_scene, SCENES[0]);
        let next_round = play(&mut obs, SHOW[0].1);
        assert_eq!(next_round.len(), 2, "the loop starts over: {next_round:?}");
    }

    #[test]
    fn the_show_leaves_alone_what_the_viewer_changed() {
        let mut obs = demo_obs();
        for step in [Step::Outage, Step::Retry, Step::Recover, Step::Press("PauseRecord"), Step::Press("StopStream")] {
            assert_eq!(play(&mut obs, step), Vec::new(), "{step:?} with nothing running");
        }
        assert_eq!(obs, demo_obs());
    }

    #[tokio::test]
    async fn the_real_engine_syncs_with_the_demo_and_its_controls_work() {
        let demo = start().await.unwrap();
        let (session, _task) = Session::spawn(SessionConfig::new(Target::new("127.0.0.1", demo.port.into()), None));
        let state = session.wait_connected(Duration::from_secs(5)).await.unwrap();
        let obs = state.obs.unwrap();
        assert_eq!(obs.scenes, SCENES.to_vec());
        assert_eq!(obs.program_scene.as_deref(), Some("Starting Soon"));
        let mut moments = session.subscribe();
        session.control(crate::control::Control::StartRecording).await.unwrap();
        let noticed = tokio::time::timeout(Duration::from_secs(3), moments.recv()).await.unwrap().unwrap();
        assert_eq!(noticed.moment.kind(), "recording-started");
        let err = session.control(crate::control::Control::SwitchScene("Nope".into())).await.unwrap_err();
        assert_eq!(err.code(), "scene-not-found");
        session.shutdown().await;
    }
}
