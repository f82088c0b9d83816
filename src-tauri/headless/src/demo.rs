//! A simulated OBS for `onair --demo`: a small obs-websocket v5 server on
//! loopback that plays a scripted show (offline, live, scene changes,
//! recording, an outage with reconnects, recovery, a saved replay, stop) and
//! obeys the controls, so someone without OBS sees every state, notification
//! and control of OnAir. It speaks the same protocol as real OBS 29, so the
//! engine under it is the real one.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;

const SCENES: [&str; 4] = ["Starting Soon", "Just Chatting", "Gameplay", "BRB"];
const RECORDING_PATH: &str = "~/Videos/OnAir demo recording.mkv";
const REPLAY_PATH: &str = "~/Videos/OnAir demo replay.mkv";

/// The simulated OBS's state.
struct Sim {
    streaming: bool,
    reconnecting: bool,
    stream_started: Option<Instant>,
    stream_bytes: f64,
    stream_frames: f64,
    stream_skipped: f64,
    last_tick: Instant,
    recording: bool,
    record_paused: bool,
    record_started: Option<Instant>,
    replay_buffer: bool,
    virtual_camera: bool,
    program_scene: String,
}

impl Sim {
    fn new() -> Sim {
        Sim {
            streaming: false,
            reconnecting: false,
            stream_started: None,
            stream_bytes: 0.0,
            stream_frames: 0.0,
            stream_skipped: 0.0,
            last_tick: Instant::now(),
            recording: false,
            record_paused: false,
            record_started: None,
            replay_buffer: true,
            virtual_camera: false,
            program_scene: SCENES[0].to_string(),
        }
    }

    /// Advances the byte and frame counters to now (about 6 Mb/s at 60 fps).
    fn tick(&mut self) {
        let dt = self.last_tick.elapsed().as_secs_f64();
        self.last_tick = Instant::now();
        if self.streaming && !self.reconnecting {
            let wobble = 1.0 + 0.08 * (self.stream_frames / 97.0).sin();
            self.stream_bytes += dt * 6_000_000.0 / 8.0 * wobble;
            self.stream_frames += dt * 60.0;
            self.stream_skipped += dt * 0.05;
        }
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

type Shared = Arc<Mutex<Sim>>;

fn lock(sim: &Shared) -> std::sync::MutexGuard<'_, Sim> {
    // A panic while holding the lock cannot leave the simulation inconsistent in a
    // way that matters for a demo: keep going with the inner value.
    sim.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts the simulated OBS on 127.0.0.1 and its scripted show.
pub async fn start() -> std::io::Result<Demo> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let sim: Shared = Arc::new(Mutex::new(Sim::new()));
    let (events, _) = broadcast::channel::<String>(256);
    tokio::spawn(script(Arc::clone(&sim), events.clone()));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream, Arc::clone(&sim), events.clone()));
        }
    });
    Ok(Demo { port })
}

fn event(event_type: &str, data: Value) -> String {
    json!({"op": 5, "d": {"eventType": event_type, "eventIntent": 64, "eventData": data}}).to_string()
}

fn output_event(event_type: &str, state: &str, path: Option<&str>) -> String {
    let active = matches!(state, "STARTED" | "RECONNECTED" | "RESUMED");
    let mut data = json!({"outputActive": active, "outputState": format!("OBS_WEBSOCKET_OUTPUT_{state}")});
    if event_type == "RecordStateChanged" {
        data["outputPath"] = path.map_or(Value::Null, |p| Value::String(p.into()));
    }
    event(event_type, data)
}

/// The show, on a loop of about 70 seconds.
async fn script(sim: Shared, events: broadcast::Sender<String>) {
    let send = |e: String| {
        let _ = events.send(e);
    };
    loop {
        let steps: [(u64, &str); 15] = [
            (4, "go-live"),
            (4, "scene:Just Chatting"),
            (6, "record"),
            (6, "scene:Gameplay"),
            (6, "outage"),
            (2, "outage-retry"),
            (3, "outage-retry"),
            (3, "recover"),
            (6, "pause"),
            (4, "resume"),
            (4, "replay"),
            (6, "scene:BRB"),
            (4, "stop-record"),
            (4, "stop-stream"),
            (8, "scene:Starting Soon"),
        ];
        for (wait, step) in steps {
            tokio::time::sleep(Duration::from_secs(wait)).await;
            let mut out = Vec::new();
            {
                let mut s = lock(&sim);
                s.tick();
                match step {
                    "go-live" if !s.streaming => {
                        s.streaming = true;
                        s.stream_started = Some(Instant::now());
                        out.push(output_event("StreamStateChanged", "STARTING", None));
                        out.push(output_event("StreamStateChanged", "STARTED", None));
                    }
                    "record" if !s.recording => {
                        s.recording = true;
                        s.record_started = Some(Instant::now());
                        out.push(output_event("RecordStateChanged", "STARTING", None));
                        out.push(output_event("RecordStateChanged", "STARTED", Some(RECORDING_PATH)));
                    }
                    "outage" | "outage-retry" if s.streaming => {
                        s.reconnecting = true;
                        out.push(output_event("StreamStateChanged", "RECONNECTING", None));
                    }
                    "recover" if s.reconnecting => {
                        s.reconnecting = false;
                        out.push(output_event("StreamStateChanged", "RECONNECTED", None));
                    }
                    "pause" if s.recording && !s.record_paused => {
                        s.record_paused = true;
                        out.push(output_event("RecordStateChanged", "PAUSED", None));
                    }
                    "resume" if s.record_paused => {
                        s.record_paused = false;
                        out.push(output_event("RecordStateChanged", "RESUMED", None));
                    }
                    "replay" if s.replay_buffer => {
                        out.push(event("ReplayBufferSaved", json!({"savedReplayPath": REPLAY_PATH})));
                    }
                    "stop-record" if s.recording => {
                        s.recording = false;
                        s.record_paused = false;
                        out.push(output_event("RecordStateChanged", "STOPPING", None));
                        out.push(output_event("RecordStateChanged", "STOPPED", Some(RECORDING_PATH)));
                    }
                    "stop-stream" if s.streaming => {
                        s.streaming = false;
                        s.reconnecting = false;
                        s.stream_bytes = 0.0;
                        s.stream_frames = 0.0;
                        s.stream_skipped = 0.0;
                        out.push(output_event("StreamStateChanged", "STOPPING", None));
                        out.push(output_event("StreamStateChanged", "STOPPED", None));
                    }
                    scene if scene.starts_with("scene:") => {
                        let name = &scene["scene:".len()..];
                        if s.program_scene != name {
                            s.program_scene = name.to_string();
                            out.push(event("CurrentProgramSceneChanged", json!({"sceneName": name})));
                        }
                    }
                    _ => {}
                }
            }
            out.into_iter().for_each(send);
        }
    }
}

async fn serve(stream: TcpStream, sim: Shared, events: broadcast::Sender<String>) {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    // Answer the client's subprotocol as OBS does. (The callback's error type is
    // tungstenite's, not ours.)
    #[allow(clippy::result_large_err)]
    let subprotocol = |request: &Request, mut response: Response| {
        let asked = request.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok()).unwrap_or_default();
        if asked.split(',').any(|p| p.trim() == crate::obs::protocol::SUBPROTOCOL) {
            if let Ok(value) = crate::obs::protocol::SUBPROTOCOL.parse() {
                response.headers_mut().insert("Sec-WebSocket-Protocol", value);
            }
        }
        Ok(response)
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, subprotocol).await else { return };
    let hello = json!({"op": 0, "d": {"obsWebSocketVersion": "5.1.0", "rpcVersion": 1}});
    if ws.send(Message::Text(hello.to_string())).await.is_err() {
        return;
    }
    // Identify, then Identified.
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                if frame["op"] == 1 {
                    let identified = json!({"op": 2, "d": {"negotiatedRpcVersion": 1}});
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
                    if frame["op"] != 6 {
                        continue;
                    }
                    let (response, emitted) = answer(&sim, &frame["d"]);
                    if ws.send(Message::Text(response)).await.is_err() {
                        return;
                    }
                    for e in emitted {
                        let _ = events.send(e);
                    }
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

/// The response frame for one request, and the events it causes.
fn answer(sim: &Shared, request: &Value) -> (String, Vec<String>) {
    let request_type = request["requestType"].as_str().unwrap_or_default().to_string();
    let request_id = request["requestId"].clone();
    let mut s = lock(sim);
    s.tick();
    let mut events = Vec::new();
    let ok = |data: Value| (100u32, None::<&str>, data);
    let (code, comment, data) = match request_type.as_str() {
        "GetVersion" => ok(
            json!({"obsVersion": "29.0.2 (demo)", "obsWebSocketVersion": "5.1.0", "rpcVersion": 1, "platform": "demo", "availableRequests": []}),
        ),
        "GetStreamStatus" => {
            let duration = s.stream_started.map_or(0, |t| t.elapsed().as_millis() as u64);
            ok(json!({
                "outputActive": s.streaming,
                "outputReconnecting": s.reconnecting,
                "outputDuration": duration,
                "outputTimecode": "",
                "outputCongestion": if s.reconnecting { 1.0 } else { 0.03 },
                "outputBytes": s.stream_bytes as u64,
                "outputSkippedFrames": s.stream_skipped as u64,
                "outputTotalFrames": s.stream_frames as u64,
            }))
        }
        "GetRecordStatus" => {
            let duration = s.record_started.filter(|_| s.recording).map_or(0, |t| t.elapsed().as_millis() as u64);
            ok(
                json!({"outputActive": s.recording, "outputPaused": s.record_paused, "outputDuration": duration, "outputTimecode": "", "outputBytes": duration * 1000}),
            )
        }
        "GetReplayBufferStatus" => ok(json!({"outputActive": s.replay_buffer})),
        "GetVirtualCamStatus" => ok(json!({"outputActive": s.virtual_camera})),
        "GetSceneList" => {
            let scenes: Vec<Value> = SCENES
                .iter()
                .rev()
                .enumerate()
                .map(|(index, name)| json!({"sceneIndex": index, "sceneName": name}))
                .collect();
            ok(json!({"currentProgramSceneName": s.program_scene, "currentPreviewSceneName": null, "scenes": scenes}))
        }
        "GetStudioModeEnabled" => ok(json!({"studioModeEnabled": false})),
        "GetStats" => ok(json!({
            "cpuUsage": 9.5, "memoryUsage": 410.0, "availableDiskSpace": 250_000.0, "activeFps": 60.0,
            "averageFrameRenderTime": 2.1, "renderSkippedFrames": 0, "renderTotalFrames": s.stream_frames as u64,
            "outputSkippedFrames": s.stream_skipped as u64, "outputTotalFrames": s.stream_frames as u64
        })),
        "StartStream" | "StopStream" | "ToggleStream" => {
            let start = match request_type.as_str() {
                "StartStream" => true,
                "StopStream" => false,
                _ => !s.streaming,
            };
            if start == s.streaming {
                (if start { 500 } else { 501 }, Some("The stream output is in the wrong state."), Value::Null)
            } else {
                s.streaming = start;
                s.reconnecting = false;
                if start {
                    s.stream_started = Some(Instant::now());
                    events.push(output_event("StreamStateChanged", "STARTING", None));
                    events.push(output_event("StreamStateChanged", "STARTED", None));
                } else {
                    s.stream_bytes = 0.0;
                    s.stream_frames = 0.0;
                    events.push(output_event("StreamStateChanged", "STOPPING", None));
                    events.push(output_event("StreamStateChanged", "STOPPED", None));
                }
                ok(if request_type == "ToggleStream" { json!({"outputActive": start}) } else { Value::Null })
            }
        }
        "StartRecord" | "StopRecord" | "ToggleRecord" => {
            let start = match request_type.as_str() {
                "StartRecord" => true,
                "StopRecord" => false,
                _ => !s.recording,
            };
            if start == s.recording {
                (if start { 500 } else { 501 }, Some("The record output is in the wrong state."), Value::Null)
            } else {
                s.recording = start;
                s.record_paused = false;
                if start {
                    s.record_started = Some(Instant::now());
                    events.push(output_event("RecordStateChanged", "STARTING", None));
                    events.push(output_event("RecordStateChanged", "STARTED", Some(RECORDING_PATH)));
                    ok(if request_type == "ToggleRecord" { json!({"outputActive": true}) } else { Value::Null })
                } else {
                    events.push(output_event("RecordStateChanged", "STOPPING", None));
                    events.push(output_event("RecordStateChanged", "STOPPED", Some(RECORDING_PATH)));
                    ok(if request_type == "ToggleRecord" {
                        json!({"outputActive": false})
                    } else {
                        json!({"outputPath": RECORDING_PATH})
                    })
                }
            }
        }
        "PauseRecord" | "ResumeRecord" | "ToggleRecordPause" => {
            let pause = match request_type.as_str() {
                "PauseRecord" => true,
                "ResumeRecord" => false,
                _ => !s.record_paused,
            };
            if !s.recording {
                (501, Some("The record output is not running."), Value::Null)
            } else if pause == s.record_paused {
                (if pause { 502 } else { 503 }, Some("The record output is in the wrong pause state."), Value::Null)
            } else {
                s.record_paused = pause;
                events.push(output_event("RecordStateChanged", if pause { "PAUSED" } else { "RESUMED" }, None));
                ok(Value::Null)
            }
        }
        "SaveReplayBuffer" if !s.replay_buffer => (501, Some("The replay buffer is not running."), Value::Null),
        "SaveReplayBuffer" => {
            events.push(event("ReplayBufferSaved", json!({"savedReplayPath": REPLAY_PATH})));
            ok(Value::Null)
        }
        "StartReplayBuffer" | "StopReplayBuffer" | "ToggleReplayBuffer" => {
            let on = match request_type.as_str() {
                "StartReplayBuffer" => true,
                "StopReplayBuffer" => false,
                _ => !s.replay_buffer,
            };
            s.replay_buffer = on;
            events.push(output_event("ReplayBufferStateChanged", if on { "STARTED" } else { "STOPPED" }, None));
            ok(json!({"outputActive": on}))
        }
        "StartVirtualCam" | "StopVirtualCam" | "ToggleVirtualCam" => {
            let on = match request_type.as_str() {
                "StartVirtualCam" => true,
                "StopVirtualCam" => false,
                _ => !s.virtual_camera,
            };
            s.virtual_camera = on;
            events.push(output_event("VirtualcamStateChanged", if on { "STARTED" } else { "STOPPED" }, None));
            ok(json!({"outputActive": on}))
        }
        "SetCurrentProgramScene" => {
            let name = request["requestData"]["sceneName"].as_str().unwrap_or_default().to_string();
            if SCENES.contains(&name.as_str()) {
                if s.program_scene != name {
                    s.program_scene = name.clone();
                    events.push(event("CurrentProgramSceneChanged", json!({"sceneName": name})));
                }
                ok(Value::Null)
            } else {
                (600, Some("No source was found by the name of that scene."), Value::Null)
            }
        }
        _ => (204, Some("Your request type is not valid."), Value::Null),
    };
    let mut status = json!({"result": code == 100, "code": code});
    if let Some(comment) = comment {
        status["comment"] = Value::String(comment.into());
    }
    let mut body = json!({"requestType": request_type, "requestId": request_id, "requestStatus": status});
    if !data.is_null() {
        body["responseData"] = data;
    }
    (json!({"op": 7, "d": body}).to_string(), events)
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
