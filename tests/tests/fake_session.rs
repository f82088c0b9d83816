//! The engine against a scripted fake obs-websocket server: the protocol corners
//! real OBS will not show on demand (close codes, bad frames, floods, silence,
//! answers out of order or never), and the moments derived from them.

use std::time::{Duration, Instant};

use onair_headless::control::{Control, ControlError, Output};
use onair_headless::obs::Session;
use onair_headless::state::{ConnectionState, OutputActivity, State, StreamState};
use onair_system_tests::fake::{FakeConn, FakeObs, FakeRequest, FakeState, ServeHandle};
use onair_system_tests::support::{fast_config, wait_state, MomentLog};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(5);

fn connected(s: &State) -> bool {
    s.obs.is_some() && matches!(s.connection, ConnectionState::Connected { .. })
}

fn stream_event(state: &str) -> Value {
    let active = matches!(state, "STARTED" | "RECONNECTED");
    json!({"outputActive": active, "outputState": format!("OBS_WEBSOCKET_OUTPUT_{state}")})
}

/// A fake OBS, a session on it, and the first connection served with `state`.
async fn served(state: FakeState, password: Option<&str>) -> (FakeObs, Session, MomentLog, ServeHandle) {
    let mut fake = FakeObs::start().await;
    let (session, _task) = Session::spawn(fast_config(fake.port(), password));
    let moments = MomentLog::record(&session);
    let mut conn = fake.accept(T).await.expect("the session connects");
    conn.handshake(password).await.expect("handshake");
    let serve = conn.serve_with(state);
    wait_state(&session, "connected", T, connected).await;
    (fake, session, moments, serve)
}

async fn serve_next(fake: &mut FakeObs, state: FakeState) -> ServeHandle {
    let mut conn = fake.accept(T).await.expect("the session reconnects");
    conn.handshake(None).await.expect("handshake");
    conn.serve_with(state)
}

#[tokio::test]
async fn connects_identifies_and_syncs_the_whole_state() {
    let state = FakeState {
        scenes: vec!["Intro".into(), "Gameplay".into(), "BRB".into()],
        program_scene: "Gameplay".into(),
        vcam_available: true,
        ..FakeState::default()
    };
    let mut fake = FakeObs::start().await;
    let (session, _task) = Session::spawn(fast_config(fake.port(), None));
    let mut conn = fake.accept(T).await.unwrap();
    assert_eq!(conn.subprotocol().as_deref(), Some("obswebsocket.json"));
    let identify = conn.handshake(None).await.unwrap();
    assert_eq!(identify["eventSubscriptions"], 1103, "General|Config|Scenes|Inputs|Outputs|Ui, no high-volume events");
    let serve = conn.serve_with(state);
    let s = wait_state(&session, "connected", T, connected).await;
    assert_eq!(
        s.connection,
        ConnectionState::Connected { obs_version: "29.0.2".into(), websocket_version: "5.1.0".into() }
    );
    let obs = s.obs.unwrap();
    assert_eq!(obs.stream, StreamState::Offline);
    assert_eq!(obs.scenes, vec!["Intro", "Gameplay", "BRB"], "top first, as OBS shows them");
    assert_eq!(obs.program_scene.as_deref(), Some("Gameplay"));
    assert_eq!(obs.replay_buffer, OutputActivity::Unavailable, "604 means not configured");
    assert_eq!(obs.virtual_camera, OutputActivity::Off);
    for request in [
        "GetStreamStatus",
        "GetRecordStatus",
        "GetReplayBufferStatus",
        "GetVirtualCamStatus",
        "GetSceneList",
        "GetStudioModeEnabled",
    ] {
        assert_eq!(serve.request_count(request), 1, "{request}");
    }
}

#[tokio::test]
async fn the_right_password_authenticates() {
    let (_fake, session, _moments, _serve) = served(FakeState::default(), Some("s3cret")).await;
    assert!(connected(&session.state().borrow()));
}

#[tokio::test]
async fn a_wrong_password_is_one_clear_error_and_no_retry_storm() {
    let mut fake = FakeObs::start().await;
    let (session, _task) = Session::spawn(fast_config(fake.port(), Some("wrong")));
    let moments = MomentLog::record(&session);
    let mut conn = fake.accept(T).await.unwrap();
    assert!(conn.handshake(Some("right")).await.is_err());
    let s =
        wait_state(&session, "auth failed", T, |s| matches!(s.connection, ConnectionState::AuthFailed { .. })).await;
    assert_eq!(s.connection, ConnectionState::AuthFailed { message: "OBS rejected the password".into() });
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(fake.connection_count(), 1, "no retry with a password OBS rejected");
    assert_eq!(moments.kinds(), vec!["auth-failed"]);
    let err = session.control(Control::StartStream).await.unwrap_err();
    assert_eq!(err, ControlError::NotConnected("OBS rejected the password".into()));

    // New settings with the right password: connects at once.
    session
        .reconfigure(
            onair_headless::settings::Target::new("127.0.0.1", fake.port().into()),
            Some(onair_headless::settings::Password::new("right".into())),
        )
        .await;
    let mut conn = fake.accept(T).await.expect("reconnects after new settings");
    conn.handshake(Some("right")).await.unwrap();
    let _serve = conn.serve_with(FakeState::default());
    wait_state(&session, "connected", T, connected).await;
    assert_eq!(moments.kinds(), vec!["auth-failed"]);
}

#[tokio::test]
async fn a_missing_password_is_reported_without_sending_a_guess() {
    let mut fake = FakeObs::start().await;
    let (session, _task) = Session::spawn(fast_config(fake.port(), None));
    let mut conn = fake.accept(T).await.unwrap();
    conn.send_hello(Some(("c2FsdA==", "Y2hhbGxlbmdl")), "5.1.0").await;
    let s =
        wait_state(&session, "auth failed", T, |s| matches!(s.connection, ConnectionState::AuthFailed { .. })).await;
    assert_eq!(s.connection, ConnectionState::AuthFailed { message: "OBS wants a password and none is set".into() });
    assert_eq!(conn.recv_identify(Duration::from_millis(300)).await, None, "no Identify sent");
}

async fn closed_with(code: u16) -> (FakeObs, Session, MomentLog) {
    let (fake, session, moments, serve) = served(FakeState::default(), None).await;
    serve.close(code, "test").await;
    (fake, session, moments)
}

#[tokio::test]
async fn close_4010_incompatible_stops_retrying() {
    let (fake, session, _m) = closed_with(4010).await;
    let s =
        wait_state(&session, "incompatible", T, |s| matches!(s.connection, ConnectionState::Incompatible { .. })).await;
    assert!(s.obs.is_none());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.connection_count(), 1);
}

#[tokio::test]
async fn close_4011_session_invalidated_stops_until_asked() {
    let (mut fake, session, _m) = closed_with(4011).await;
    wait_state(&session, "invalidated", T, |s| matches!(s.connection, ConnectionState::SessionInvalidated { .. }))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.connection_count(), 1);
    session.reconnect_now().await;
    let _serve = serve_next(&mut fake, FakeState::default()).await;
    wait_state(&session, "connected again", T, connected).await;
}

#[tokio::test]
async fn close_1001_obs_quitting_reconnects_when_it_is_back() {
    let (mut fake, session, _m) = closed_with(1001).await;
    wait_state(&session, "waiting", T, |s| matches!(s.connection, ConnectionState::WaitingForObs { .. })).await;
    let _serve = serve_next(&mut fake, FakeState::default()).await;
    wait_state(&session, "connected again", T, connected).await;
}

#[tokio::test]
async fn close_4000_unknown_reason_reconnects() {
    let (mut fake, session, _m) = closed_with(4000).await;
    let _serve = serve_next(&mut fake, FakeState::default()).await;
    wait_state(&session, "connected again", T, connected).await;
}

#[tokio::test]
async fn protocol_error_closes_back_off_hard() {
    let (fake, session, _m) = closed_with(4005).await;
    wait_state(&session, "waiting", T, |s| matches!(s.connection, ConnectionState::WaitingForObs { .. })).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.connection_count(), 1, "a protocol error waits seconds, not one");
}

#[tokio::test]
async fn every_close_code_leaves_a_clear_state_and_no_panic() {
    for code in [1000u16, 1001, 1011, 4000, 4002, 4003, 4004, 4005, 4006, 4007, 4008, 4009, 4010, 4011, 4012, 4999] {
        let (_fake, session, _m) = closed_with(code).await;
        let s = wait_state(&session, "the close handled", T, |s| s.obs.is_none()).await;
        let expected_user_wait = matches!(code, 4009..=4011);
        let s = if expected_user_wait {
            wait_state(&session, "a state that waits for the user", T, |s| s.connection.needs_user()).await
        } else {
            s
        };
        assert_eq!(s.connection.needs_user(), expected_user_wait, "code {code}: {:?}", s.connection);
        session.shutdown().await;
    }
}

#[tokio::test]
async fn bad_frames_unknown_ops_and_unknown_events_are_survived() {
    let (_fake, session, moments, serve) = served(FakeState::default(), None).await;
    serve.send_text("this is not json").await;
    serve.send_text("{\"op\":\"five\"}").await;
    serve.send_text("[1,2,3]").await;
    serve.send_text("{\"op\":77,\"d\":{\"future\":true}}").await;
    serve.send_text("{\"op\":7,\"d\":{\"requestId\":\"nobody-asked\",\"requestType\":\"X\",\"requestStatus\":{\"result\":true,\"code\":100}}}").await;
    serve.send_binary(&[0, 159, 146, 150]).await;
    serve.send_event("SomeEventFromObs40", json!({"anything": [1, 2]})).await;
    serve.send_event("StreamStateChanged", json!({"outputState": 12})).await;
    serve.send_event("StreamStateChanged", stream_event("STARTED")).await;
    let s = wait_state(&session, "live after the junk", T, |s| s.is_live()).await;
    assert!(connected(&s));
    assert_eq!(moments.kinds(), vec!["live"]);
}

#[tokio::test]
async fn events_before_identified_do_not_derail_the_handshake() {
    let mut fake = FakeObs::start().await;
    let (session, _task) = Session::spawn(fast_config(fake.port(), None));
    let mut conn = fake.accept(T).await.unwrap();
    conn.send_event("StreamStateChanged", stream_event("STARTED")).await;
    conn.send_hello(None, "5.1.0").await;
    conn.send_event("CurrentProgramSceneChanged", json!({"sceneName": "Early"})).await;
    assert!(conn.recv_identify(T).await.is_some());
    conn.send_identified().await;
    let _serve = conn.serve_with(FakeState::default());
    let s = wait_state(&session, "connected", T, connected).await;
    assert_eq!(s.obs.unwrap().program_scene.as_deref(), Some("Scene"), "pre-Identified events are not state");
}

#[tokio::test]
async fn responses_out_of_order_still_sync_correctly() {
    let mut fake = FakeObs::start().await;
    let (session, _task) = Session::spawn(fast_config(fake.port(), None));
    let mut conn = fake.accept(T).await.unwrap();
    conn.handshake(None).await.unwrap();
    let serve = conn.serve_with(FakeState {
        stream_active: true,
        stream_duration_ms: 60_000,
        record_active: true,
        program_scene: "Gameplay".into(),
        ..FakeState::default()
    });
    serve.respond_out_of_order(true);
    let s = wait_state(&session, "connected", T, connected).await;
    let obs = s.obs.unwrap();
    assert!(obs.stream.is_on_air());
    assert!(obs.recording.is_active());
    assert_eq!(obs.program_scene.as_deref(), Some("Gameplay"));
}

/// Answers one sync request the way OBS 5.1 would for an idle OBS.
async fn answer_idle(conn: &mut FakeConn, req: &FakeRequest, stream_active: bool, recording: bool) {
    let data = match req.request_type.as_str() {
        "GetVersion" => {
            json!({"obsVersion": "29.0.2", "obsWebSocketVersion": "5.1.0", "rpcVersion": 1, "availableRequests": [], "platform": "debian"})
        }
        "GetStreamStatus" => {
            json!({"outputActive": stream_active, "outputReconnecting": false, "outputTimecode": "00:00:00.000", "outputDuration": 0, "outputCongestion": 0.0, "outputBytes": 0, "outputSkippedFrames": 0, "outputTotalFrames": 0})
        }
        "GetRecordStatus" => {
            json!({"outputActive": recording, "outputPaused": false, "outputTimecode": "00:00:00.000", "outputDuration": 0, "outputBytes": 0})
        }
        "GetReplayBufferStatus" | "GetVirtualCamStatus" => json!({"outputActive": false}),
        "GetSceneList" => {
            json!({"currentProgramSceneName": "Scene", "currentPreviewSceneName": null, "scenes": [{"sceneIndex": 0, "sceneName": "Scene"}]})
        }
        "GetStudioModeEnabled" => json!({"studioModeEnabled": false}),
        "GetStats" => json!({"cpuUsage": 1.0, "activeFps": 30.0}),
        // As real OBS under Xvfb, with no sound card: no mic in any slot.
        "GetSpecialInputs" => {
            json!({"desktop1": null, "desktop2": null, "mic1": null, "mic2": null, "mic3": null, "mic4": null})
        }
        other => panic!("unexpected request {other}"),
    };
    conn.respond_ok(req, data).await;
}

/// Every request of the sync: they go out together, so they are all in once none came for a while.
async fn sync_requests(conn: &mut FakeConn) -> Vec<FakeRequest> {
    let mut requests = vec![conn.recv_request(T).await.expect("a sync request")];
    while let Some(req) = conn.recv_request(Duration::from_millis(300)).await {
        requests.push(req);
    }
    for asked in ["GetStreamStatus", "GetRecordStatus", "GetSceneList"] {
        assert!(requests.iter().any(|r| r.request_type == asked), "the sync asks {asked}: {requests:?}");
    }
    requests
}

#[tokio::test]
async fn an_event_during_the_sync_wins_over_the_older_answer() {
    let mut fake = FakeObs::start().await;
    let (session, _task) = Session::spawn(fast_config(fake.port(), None));
    let moments = MomentLog::record(&session);
    let mut conn = fake.accept(T).await.unwrap();
    conn.handshake(None).await.unwrap();
    let requests = sync_requests(&mut conn).await;
    // OBS goes live while the answers (computed before) are still on their way.
    conn.send_event("StreamStateChanged", stream_event("STARTING")).await;
    conn.send_event("StreamStateChanged", stream_event("STARTED")).await;
    for req in &requests {
        answer_idle(&mut conn, req, false, false).await;
    }
    let s = wait_state(&session, "connected", T, connected).await;
    assert!(s.is_live(), "the STARTED event is newer than the 'offline' answer: {:?}", s.obs);
    assert_eq!(moments.kinds(), vec!["live"]);
}

#[tokio::test]
async fn a_control_that_never_gets_an_answer_times_out_and_the_session_lives_on() {
    let (_fake, session, _m, serve) = served(FakeState::default(), None).await;
    serve.hold_requests("StartStream");
    let started = Instant::now();
    let err = session.control(Control::StartStream).await.unwrap_err();
    assert!(matches!(err, ControlError::TimedOut(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(4));
    assert!(connected(&session.state().borrow()));
    // The connection still works for the next request.
    session.control(Control::SwitchScene("Gameplay".into())).await.unwrap();
}

#[tokio::test]
async fn a_sync_that_never_completes_is_retried() {
    let mut fake = FakeObs::start().await;
    let (session, _task) = Session::spawn(fast_config(fake.port(), None));
    let mut conn = fake.accept(T).await.unwrap();
    conn.handshake(None).await.unwrap();
    let serve = conn.serve_with(FakeState::default());
    serve.hold_requests("GetSceneList");
    wait_state(&session, "waiting after a failed sync", Duration::from_secs(8), |s| {
        matches!(s.connection, ConnectionState::WaitingForObs { .. })
    })
    .await;
    let _serve = serve_next(&mut fake, FakeState::default()).await;
    wait_state(&session, "connected on the retry", T, connected).await;
}

#[tokio::test]
async fn a_half_open_connection_is_noticed_within_seconds() {
    let (mut fake, session, _m, serve) = served(FakeState::default(), None).await;
    let silent_at = Instant::now();
    serve.go_silent();
    wait_state(&session, "the silence noticed", T, |s| s.obs.is_none()).await;
    let noticed = silent_at.elapsed();
    assert!(noticed < Duration::from_secs(3), "noticed after {noticed:?} with dead_after 1.5 s");
    assert!(serve.pings_received() > 0 || noticed >= Duration::from_millis(1400));
    let _serve = serve_next(&mut fake, FakeState::default()).await;
    wait_state(&session, "connected again", T, connected).await;
}

#[tokio::test]
async fn a_flood_of_ten_thousand_events_is_absorbed() {
    let (_fake, session, moments, serve) = served(FakeState::default(), None).await;
    for i in 0..10_000 {
        let scene = if i == 9_999 { "Final".to_string() } else { format!("Scene {i}") };
        serve.send_event("CurrentProgramSceneChanged", json!({"sceneName": scene})).await;
    }
    serve.send_event("StreamStateChanged", stream_event("STARTED")).await;
    let s = wait_state(&session, "the flood applied", Duration::from_secs(20), |s| s.is_live()).await;
    assert_eq!(s.obs.unwrap().program_scene.as_deref(), Some("Final"));
    assert!(connected(&session.state().borrow()));
    assert_eq!(moments.kinds(), vec!["live"]);
}

#[tokio::test]
async fn reconnecting_four_times_is_one_moment_and_one_recovery() {
    let (_fake, session, moments, serve) = served(FakeState::default(), None).await;
    serve.send_event("StreamStateChanged", stream_event("STARTING")).await;
    serve.send_event("StreamStateChanged", stream_event("STARTED")).await;
    for _ in 0..4 {
        serve.send_event("StreamStateChanged", stream_event("RECONNECTING")).await;
    }
    wait_state(&session, "reconnecting", T, |s| {
        s.obs.as_ref().is_some_and(|o| matches!(o.stream, StreamState::Reconnecting { .. }))
    })
    .await;
    serve.send_event("StreamStateChanged", stream_event("RECONNECTED")).await;
    moments.wait_for("reconnected", 1, T).await;
    serve.send_event("StreamStateChanged", stream_event("STOPPING")).await;
    serve.send_event("StreamStateChanged", stream_event("STOPPED")).await;
    serve.send_event("StreamStateChanged", stream_event("STOPPED")).await;
    moments.wait_for("ended", 1, T).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(moments.kinds(), vec!["live", "reconnecting", "reconnected", "ended"]);
}

#[tokio::test]
async fn obs_lost_while_live_and_back_still_live_is_not_a_new_stream() {
    let live = FakeState { stream_active: true, stream_duration_ms: 30_000, ..FakeState::default() };
    let (mut fake, session, moments, serve) = served(live.clone(), None).await;
    serve.drop_tcp().await;
    moments.wait_for("obs-lost", 1, T).await;
    let s = session.state().borrow().clone();
    assert!(s.obs.is_none() && !s.is_live(), "never claims live while it cannot see OBS");
    let _serve = serve_next(&mut fake, FakeState { stream_duration_ms: 32_000, ..live }).await;
    moments.wait_for("obs-back", 1, T).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(moments.kinds(), vec!["obs-lost", "obs-back"]);
}

#[tokio::test]
async fn obs_lost_while_live_and_back_offline_is_an_end() {
    let live = FakeState { stream_active: true, stream_duration_ms: 30_000, ..FakeState::default() };
    let (mut fake, _session, moments, serve) = served(live, None).await;
    serve.drop_tcp().await;
    moments.wait_for("obs-lost", 1, T).await;
    let _serve = serve_next(&mut fake, FakeState::default()).await;
    moments.wait_for("ended", 1, T).await;
    assert_eq!(moments.kinds(), vec!["obs-lost", "obs-back", "ended"]);
}

#[tokio::test]
async fn reconnects_within_about_a_second_of_obs_coming_back_and_no_faster_while_away() {
    let (mut fake, session, _m, serve) = served(FakeState::default(), None).await;
    fake.stop_listening().await;
    serve.drop_tcp().await;
    // Count connection attempts while OBS is away, from the state transitions.
    let mut rx = session.state();
    let attempts = tokio::spawn(async move {
        let mut attempts = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Ok(Ok(())) = tokio::time::timeout_at(deadline, rx.changed()).await {
            if rx.borrow_and_update().connection == ConnectionState::Connecting {
                attempts += 1;
            }
        }
        attempts
    });
    let attempts = attempts.await.unwrap();
    assert!((3..=6).contains(&attempts), "{attempts} attempts in 5 s: about one a second");
    fake.resume_listening().await.unwrap();
    let back_at = Instant::now();
    let _serve = serve_next(&mut fake, FakeState::default()).await;
    wait_state(&session, "connected", T, connected).await;
    let took = back_at.elapsed();
    assert!(took < Duration::from_millis(1600), "reconnected {took:?} after OBS came back");
}

#[tokio::test]
async fn controls_map_obs_refusals_to_clear_errors() {
    let (_fake, session, moments, serve) = served(FakeState::default(), None).await;
    session.control(Control::StartStream).await.unwrap();
    wait_state(&session, "live", T, |s| s.is_live()).await;
    assert_eq!(session.control(Control::StartStream).await.unwrap_err(), ControlError::AlreadyActive(Output::Stream));
    assert_eq!(session.control(Control::StopRecording).await.unwrap_err(), ControlError::NotActive(Output::Recording));
    assert_eq!(
        session.control(Control::SaveReplay).await.unwrap_err(),
        ControlError::NotConfigured(Output::ReplayBuffer)
    );
    assert_eq!(
        session.control(Control::ToggleVirtualCamera).await.unwrap_err(),
        ControlError::NotConfigured(Output::VirtualCamera)
    );
    assert_eq!(
        session.control(Control::SwitchScene("Nope".into())).await.unwrap_err(),
        ControlError::SceneNotFound("Nope".into())
    );
    assert_eq!(session.control(Control::SwitchScene("  ".into())).await.unwrap_err().code(), "invalid-input");
    session.control(Control::SwitchScene("Gameplay".into())).await.unwrap();
    wait_state(&session, "scene switched", T, |s| {
        s.obs.as_ref().is_some_and(|o| o.program_scene.as_deref() == Some("Gameplay"))
    })
    .await;
    let recording = session.control(Control::StartRecording).await.unwrap();
    assert_eq!(recording.path, None);
    moments.wait_for("recording-started", 1, T).await;
    let stopped = session.control(Control::StopRecording).await.unwrap();
    assert_eq!(stopped.path.as_deref(), Some(onair_system_tests::fake::FAKE_RECORD_PATH));
    moments.wait_for("recording-stopped", 1, T).await;
    assert_eq!(session.control(Control::ToggleStream).await.unwrap().active, Some(false));
    moments.wait_for("ended", 1, T).await;
    assert_eq!(serve.request_count("StopStream") + serve.request_count("ToggleStream"), 1);
}

#[tokio::test]
async fn a_pause_obs_accepts_but_ignores_is_reported() {
    let mut fake = FakeObs::start().await;
    let (session, _task) = Session::spawn(fast_config(fake.port(), None));
    let mut conn = fake.accept(T).await.unwrap();
    conn.handshake(None).await.unwrap();
    for req in sync_requests(&mut conn).await {
        answer_idle(&mut conn, &req, false, true).await;
    }
    wait_state(&session, "connected", T, connected).await;
    let pause = tokio::spawn({
        let session = session.clone();
        async move { session.control(Control::PauseRecording).await }
    });
    // Like OBS when recording shares the stream encoder: success, and no PAUSED event.
    let req = loop {
        let req = conn.recv_request(T).await.expect("PauseRecord");
        if req.request_type == "PauseRecord" {
            break req;
        }
        // Health polls while recording.
        answer_idle(&mut conn, &req, false, true).await;
    };
    conn.respond(&req, 100, None, None).await;
    assert_eq!(pause.await.unwrap(), Err(ControlError::PauseIgnored));
}

#[tokio::test]
async fn health_is_polled_while_live_and_gives_a_bitrate() {
    let live = FakeState {
        stream_active: true,
        stream_duration_ms: 10_000,
        stream_bytes: 1_000_000,
        stream_total: 1_000,
        stream_skipped: 10,
        ..FakeState::default()
    };
    let (_fake, session, _m, serve) = served(live, None).await;
    wait_state(&session, "a first poll", T, |s| s.obs.as_ref().is_some_and(|o| o.stream_health.is_some())).await;
    serve.update_state(|st| st.stream_bytes += 750_000);
    let s = wait_state(&session, "a bitrate", T, |s| {
        s.obs.as_ref().and_then(|o| o.stream_health.as_ref()).is_some_and(|h| h.bitrate_kbps.is_some())
    })
    .await;
    let health = s.obs.clone().unwrap().stream_health.unwrap();
    assert!(health.bitrate_kbps.unwrap() > 0.0);
    assert!((health.dropped_ratio - 0.01).abs() < 1e-9);
    assert!(s.obs.is_some());
    assert!(serve.request_count("GetStats") >= 1);
}

#[tokio::test]
async fn nothing_is_polled_while_idle() {
    let (_fake, _session, _m, serve) = served(FakeState::default(), None).await;
    // The sync itself may ask for OBS's stats once; nothing after it.
    let synced = serve.requests().len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let after: Vec<String> = serve.requests().into_iter().skip(synced).map(|r| r.request_type).collect();
    assert_eq!(after, Vec::<String>::new(), "nothing asked while idle");
    assert_eq!(serve.request_count("GetStreamStatus"), 1, "only the sync asked");
    assert!(serve.request_count("GetStats") <= 1);
}

#[tokio::test]
async fn repeated_drops_of_a_local_obs_still_reconnect_within_about_a_second() {
    // OBS restarted several times in a row: no exponential growth on this machine.
    let (mut fake, session, _m, mut serve) = served(FakeState::default(), None).await;
    for round in 0..4 {
        serve.drop_tcp().await;
        wait_state(&session, "lost", T, |s| s.obs.is_none()).await;
        let dropped_at = Instant::now();
        serve = serve_next(&mut fake, FakeState::default()).await;
        wait_state(&session, "connected", T, connected).await;
        let took = dropped_at.elapsed();
        assert!(took < Duration::from_millis(1500), "round {round}: reconnected after {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn falling_behind_the_events_resyncs_on_the_same_connection() {
    let mut fake = FakeObs::start().await;
    let mut config = fast_config(fake.port(), None);
    config.client.event_capacity = 4;
    let (session, _task) = Session::spawn(config);
    let moments = MomentLog::record(&session);
    let mut conn = fake.accept(T).await.unwrap();
    conn.handshake(None).await.unwrap();
    let serve = conn.serve_with(FakeState::default());
    wait_state(&session, "connected", T, connected).await;
    // OBS's truth moves on while a burst of events overruns a 4-slot channel.
    serve.update_state(|st| {
        st.program_scene = "Final".into();
        st.stream_active = true;
    });
    // On a quiet machine the session may keep up with one burst: burst again
    // until it has fallen behind and asked OBS again.
    for _ in 0..10 {
        for i in 0..3_000 {
            serve.send_event("CurrentProgramSceneChanged", json!({"sceneName": format!("Scene {i}")})).await;
        }
        if serve.wait_for_request_count("GetStreamStatus", 2, Duration::from_secs(1)).await {
            break;
        }
    }
    serve.send_event("CurrentProgramSceneChanged", json!({"sceneName": "Final"})).await;
    serve.send_event("StreamStateChanged", stream_event("STARTED")).await;
    let s = wait_state(&session, "caught up", Duration::from_secs(20), |s| {
        s.is_live() && s.obs.as_ref().is_some_and(|o| o.program_scene.as_deref() == Some("Final"))
    })
    .await;
    assert!(connected(&s));
    assert!(serve.request_count("GetStreamStatus") >= 2, "a resync asked OBS again");
    assert_eq!(fake.connection_count(), 1, "no reconnect needed");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(moments.kinds(), vec!["live"]);
}

/// The audio guard's subscriptions: a session subscribes to input events only when it
/// asks for them (Reidentify, confirmed by OBS), and then hears a mute clicked in OBS.
#[tokio::test]
async fn a_reidentified_client_hears_the_mutes_it_did_not_before() {
    use onair_headless::obs::protocol::{subscription, InputEvent, InputRef, TRAY_EVENT_SUBSCRIPTIONS};
    use onair_headless::obs::{connect, ClientOptions};
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    let server = tokio::spawn(async move {
        let mut conn = fake.accept(Duration::from_secs(5)).await.expect("a connection");
        conn.handshake(None).await.expect("handshake");
        (fake, conn.serve_with(FakeState::default()))
    });
    // Subscribed as before the audio guard: no Inputs.
    let options = ClientOptions {
        event_subscriptions: TRAY_EVENT_SUBSCRIPTIONS & !subscription::INPUTS,
        ..ClientOptions::default()
    };
    let connection = connect("127.0.0.1", port, None, &options).await.expect("connected");
    let (_fake, served) = server.await.expect("served");
    let mut events = connection.events;

    served.mute_in_obs("Mic/Aux", true).await;
    connection.client.reidentify(TRAY_EVENT_SUBSCRIPTIONS | subscription::INPUTS).await.expect("OBS confirms");
    served.mute_in_obs("Mic/Aux", false).await;
    let heard = tokio::time::timeout(Duration::from_secs(5), events.recv()).await.expect("an event").expect("open");
    let mic = InputRef { input_name: "Mic/Aux".into(), input_uuid: None };
    assert_eq!(
        heard.input,
        Some(InputEvent::MuteStateChanged { input: mic, muted: false }),
        "the mute from before the Reidentify was not sent: the first event is the unmute"
    );
}
