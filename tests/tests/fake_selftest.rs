//! Tests of the fake obs-websocket server itself, driven by a raw tokio-tungstenite client, so
//! that the system tests built on it can trust what it puts on the wire.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use onair_headless::obs::authentication_string;
use onair_system_tests::fake::{FakeConn, FakeObs, FakeState, Profile, ServeHandle, NOT_READY_COMMENT, SUBPROTOCOL};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

const WAIT: Duration = Duration::from_secs(5);
/// How long "nothing arrives" is watched for.
const QUIET: Duration = Duration::from_millis(300);

/// Connects like the OnAir client does (asking for `obswebsocket.json`) and returns both ends.
async fn connect(fake: &mut FakeObs) -> (Client, FakeConn) {
    let mut request = fake.url().into_client_request().expect("client request");
    request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
    let (client, response) = tokio_tungstenite::connect_async(request).await.expect("connect to the fake");
    assert_eq!(
        response.headers().get("Sec-WebSocket-Protocol").and_then(|v| v.to_str().ok()),
        Some(SUBPROTOCOL),
        "the fake accepts the subprotocol"
    );
    let conn = fake.accept(WAIT).await.expect("fake accepted the connection");
    (client, conn)
}

/// The next message of any kind, or `None` on timeout / end of stream.
async fn next_message(client: &mut Client, timeout: Duration) -> Option<Message> {
    tokio::time::timeout(timeout, client.next()).await.ok().flatten().and_then(Result::ok)
}

/// The next text frame as JSON (pongs skipped); panics on timeout or anything else.
async fn next_json(client: &mut Client) -> Value {
    loop {
        match next_message(client, WAIT).await {
            Some(Message::Text(text)) => return serde_json::from_str(&text).expect("fake sent valid JSON"),
            Some(Message::Pong(_)) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The close frame the client receives next (skipping other frames).
async fn next_close(client: &mut Client) -> Option<CloseFrame<'static>> {
    loop {
        match next_message(client, WAIT).await {
            Some(Message::Close(frame)) => return frame,
            Some(_) => continue,
            None => panic!("no close frame arrived"),
        }
    }
}

async fn send_json(client: &mut Client, value: Value) {
    client.send(Message::Text(value.to_string())).await.expect("client send");
}

async fn identify(client: &mut Client, authentication: Option<String>) {
    let mut d = json!({ "rpcVersion": 1, "eventSubscriptions": 1095 });
    if let Some(auth) = authentication {
        d["authentication"] = json!(auth);
    }
    send_json(client, json!({ "op": 1, "d": d })).await;
}

async fn request(client: &mut Client, request_type: &str, id: &str, data: Option<Value>) {
    let mut d = json!({ "requestType": request_type, "requestId": id });
    if let Some(data) = data {
        d["requestData"] = data;
    }
    send_json(client, json!({ "op": 6, "d": d })).await;
}

/// A connected, identified client whose connection the fake serves from `state`.
async fn served(fake: &mut FakeObs, state: FakeState) -> (Client, ServeHandle) {
    let (mut client, mut conn) = connect(fake).await;
    let server = tokio::spawn(async move {
        conn.handshake(None).await.expect("handshake");
        conn
    });
    assert_eq!(next_json(&mut client).await["op"], 0);
    identify(&mut client, None).await;
    assert_eq!(next_json(&mut client).await["op"], 2);
    let conn = server.await.expect("handshake task");
    (client, conn.serve_with(state))
}

#[test]
fn auth_matches_the_documented_test_vector() {
    assert_eq!(
        authentication_string(
            "supersecretpassword",
            "lM1GncleQOaCu9lT1yeUZhFYnqhsLLP1G5lAGo3ixaI=",
            "+IxH4CnCiqpX1rM9scsNynZzbOe4KhDeYcTNS3PDaeY="
        ),
        "1Ct943GAT+6YQUUX47Ia/ncufilbe6+oD6lY+5kaCu4="
    );
}

#[tokio::test]
async fn handshake_without_password() {
    let mut fake = FakeObs::start().await;
    let (mut client, mut conn) = connect(&mut fake).await;
    assert_eq!(conn.subprotocol().as_deref(), Some(SUBPROTOCOL));
    let server = tokio::spawn(async move { conn.handshake(None).await });

    let hello = next_json(&mut client).await;
    assert_eq!(hello["op"], 0);
    assert_eq!(hello["d"]["obsWebSocketVersion"], "5.1.0");
    assert_eq!(hello["d"]["rpcVersion"], 1);
    assert!(hello["d"].get("authentication").is_none());

    identify(&mut client, None).await;
    let identified = next_json(&mut client).await;
    assert_eq!(identified, json!({ "op": 2, "d": { "negotiatedRpcVersion": 1 } }));
    let identify_d = server.await.expect("server task").expect("handshake succeeds");
    assert_eq!(identify_d["eventSubscriptions"], 1095);
    assert_eq!(fake.connection_count(), 1);
}

#[tokio::test]
async fn handshake_with_password() {
    let mut fake = FakeObs::start().await;

    // Right password.
    let (mut client, mut conn) = connect(&mut fake).await;
    let server = tokio::spawn(async move { conn.handshake(Some("hunter2")).await });
    let hello = next_json(&mut client).await;
    let auth = &hello["d"]["authentication"];
    let (salt, challenge) = (auth["salt"].as_str().expect("salt"), auth["challenge"].as_str().expect("challenge"));
    identify(&mut client, Some(authentication_string("hunter2", salt, challenge))).await;
    assert_eq!(next_json(&mut client).await["op"], 2);
    server.await.expect("server task").expect("right password accepted");

    // Wrong password: 4009 "Authentication failed.".
    let (mut client, mut conn) = connect(&mut fake).await;
    let server = tokio::spawn(async move { conn.handshake(Some("hunter2")).await });
    let hello = next_json(&mut client).await;
    let auth = &hello["d"]["authentication"];
    let (salt2, challenge2) = (auth["salt"].as_str().expect("salt"), auth["challenge"].as_str().expect("challenge"));
    assert_eq!(salt2, salt, "salt is fixed per server");
    assert_ne!(challenge2, challenge, "challenge is fresh per connection");
    identify(&mut client, Some(authentication_string("wrong", salt2, challenge2))).await;
    let close = next_close(&mut client).await.expect("close frame");
    assert_eq!(u16::from(close.code), 4009);
    assert_eq!(close.reason, "Authentication failed.");
    assert!(server.await.expect("server task").is_err());

    // Missing authentication: 4009 with a reason that says so.
    let (mut client, mut conn) = connect(&mut fake).await;
    let server = tokio::spawn(async move { conn.handshake(Some("hunter2")).await });
    next_json(&mut client).await;
    identify(&mut client, None).await;
    let close = next_close(&mut client).await.expect("close frame");
    assert_eq!(u16::from(close.code), 4009);
    assert!(close.reason.contains("missing"), "{}", close.reason);
    assert!(server.await.expect("server task").is_err());
}

#[tokio::test]
async fn serve_answers_scene_list_reversed_and_drives_outputs() {
    let mut fake = FakeObs::start().await;
    let state = FakeState {
        scenes: vec!["Intro".into(), "Gameplay".into(), "Outro".into()],
        program_scene: "Gameplay".into(),
        ..FakeState::default()
    };
    let (mut client, handle) = served(&mut fake, state).await;

    request(&mut client, "GetSceneList", "s1", None).await;
    let response = next_json(&mut client).await;
    assert_eq!(response["op"], 7);
    assert_eq!(response["d"]["requestId"], "s1");
    assert_eq!(response["d"]["requestStatus"], json!({ "result": true, "code": 100 }));
    assert_eq!(
        response["d"]["responseData"],
        json!({
            "currentProgramSceneName": "Gameplay",
            "currentPreviewSceneName": null,
            "scenes": [
                { "sceneName": "Outro", "sceneIndex": 0 },
                { "sceneName": "Gameplay", "sceneIndex": 1 },
                { "sceneName": "Intro", "sceneIndex": 2 },
            ],
        })
    );

    request(&mut client, "GetReplayBufferStatus", "r1", None).await;
    let response = next_json(&mut client).await;
    assert_eq!(response["d"]["requestStatus"]["code"], 604);
    assert_eq!(response["d"]["requestStatus"]["result"], false);
    assert_eq!(response["d"]["requestStatus"]["comment"], "Replay buffer is not available.");

    request(&mut client, "StartStream", "st1", None).await;
    assert_eq!(next_json(&mut client).await["d"]["requestStatus"]["code"], 100);
    for (state, active) in [("STARTING", false), ("STARTED", true)] {
        let event = next_json(&mut client).await;
        assert_eq!(event["op"], 5);
        assert_eq!(event["d"]["eventType"], "StreamStateChanged");
        assert_eq!(event["d"]["eventIntent"], 64);
        assert_eq!(event["d"]["eventData"]["outputState"], format!("OBS_WEBSOCKET_OUTPUT_{state}"));
        assert_eq!(event["d"]["eventData"]["outputActive"], active);
    }
    request(&mut client, "StartStream", "st2", None).await;
    assert_eq!(next_json(&mut client).await["d"]["requestStatus"]["code"], 500);
    assert!(handle.state().stream_active);

    request(&mut client, "SetCurrentProgramScene", "p1", Some(json!({ "sceneName": "Nope" }))).await;
    let response = next_json(&mut client).await;
    assert_eq!(response["d"]["requestStatus"]["code"], 600);

    request(&mut client, "NoSuchRequest", "u1", None).await;
    let response = next_json(&mut client).await;
    assert_eq!(response["d"]["requestStatus"]["code"], 204);
    assert_eq!(response["d"]["requestStatus"]["comment"], "Your request type is not valid.");

    let logged: Vec<String> = handle.requests().into_iter().map(|r| r.request_type).collect();
    assert_eq!(
        logged,
        [
            "GetSceneList",
            "GetReplayBufferStatus",
            "StartStream",
            "StartStream",
            "SetCurrentProgramScene",
            "NoSuchRequest"
        ]
    );
}

#[tokio::test]
async fn held_requests_are_never_answered() {
    let mut fake = FakeObs::start().await;
    let (mut client, handle) = served(&mut fake, FakeState::default()).await;
    handle.hold_requests("GetStats");

    request(&mut client, "GetStats", "held", None).await;
    request(&mut client, "GetVersion", "v1", None).await;
    let response = next_json(&mut client).await;
    assert_eq!(response["d"]["requestId"], "v1", "the held request is skipped, later ones answered");
    assert_eq!(response["d"]["responseData"]["obsVersion"], "29.0.2");
    assert!(next_message(&mut client, QUIET).await.is_none(), "nothing answers the held request");
    assert!(handle.wait_for_request("GetStats", WAIT).await.is_some(), "but it was received");
}

#[tokio::test]
async fn out_of_order_responses_come_newest_first() {
    let mut fake = FakeObs::start().await;
    let (mut client, handle) = served(&mut fake, FakeState::default()).await;
    handle.respond_out_of_order(true);

    for id in ["a", "b", "c"] {
        request(&mut client, "GetStreamStatus", id, None).await;
    }
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(next_json(&mut client).await["d"]["requestId"].clone());
    }
    assert_eq!(ids, ["c", "b", "a"]);
}

#[tokio::test]
async fn go_silent_stops_pong_replies() {
    let mut fake = FakeObs::start().await;
    let (mut client, handle) = served(&mut fake, FakeState::default()).await;

    client.send(Message::Ping(b"1".to_vec())).await.expect("ping");
    assert_eq!(next_message(&mut client, WAIT).await, Some(Message::Pong(b"1".to_vec())));
    assert_eq!(handle.pings_received(), 1);

    handle.go_silent();
    client.send(Message::Ping(b"2".to_vec())).await.expect("ping while silent");
    request(&mut client, "GetVersion", "v1", None).await;
    assert_eq!(next_message(&mut client, QUIET).await, None, "no pong, no response");
    assert_eq!(handle.pings_received(), 1);
    assert!(!handle.is_closed(), "the TCP connection stays open");

    drop(client);
    assert_eq!(handle.wait_closed(WAIT).await, Some(None), "the client dropping TCP is still noticed");
}

#[tokio::test]
async fn close_codes_arrive_as_sent() {
    let mut fake = FakeObs::start().await;
    for code in [1000, 1001, 4000, 4002, 4009, 4010, 4011, 4012] {
        let (mut client, mut conn) = connect(&mut fake).await;
        conn.close(code, "because").await;
        let frame = next_close(&mut client).await.expect("close frame");
        assert_eq!(u16::from(frame.code), code);
        assert_eq!(frame.reason, "because");
        // Reading on lets tungstenite send the client's echo, completing the close handshake.
        assert_eq!(next_message(&mut client, WAIT).await, None);
        assert_eq!(conn.wait_closed(WAIT).await, Some(Some(code)));
    }

    // Abrupt end: no close frame at all.
    let (mut client, conn) = connect(&mut fake).await;
    conn.drop_tcp().await;
    match tokio::time::timeout(WAIT, client.next()).await.expect("client notices") {
        None | Some(Err(_)) => {}
        Some(Ok(message)) => panic!("expected no frame, got {message:?}"),
    }

    // A client-initiated close reaches the fake with its code.
    let (mut client, mut conn) = connect(&mut fake).await;
    client.close(Some(CloseFrame { code: CloseCode::Away, reason: "bye".into() })).await.expect("client close");
    assert_eq!(conn.wait_closed(WAIT).await, Some(Some(1001)));
}

#[tokio::test]
async fn raw_frames_and_events_before_identified() {
    let mut fake = FakeObs::start().await;
    let (mut client, mut conn) = connect(&mut fake).await;
    conn.send_event(
        "StreamStateChanged",
        json!({ "outputActive": true, "outputState": "OBS_WEBSOCKET_OUTPUT_STARTED" }),
    )
    .await;
    conn.send_text("{not json").await;
    conn.send_binary(&[1, 2, 3]).await;
    conn.send_text(r#"{"op":42,"d":{}}"#).await;

    assert_eq!(next_json(&mut client).await["d"]["eventType"], "StreamStateChanged");
    assert_eq!(next_message(&mut client, WAIT).await, Some(Message::Text("{not json".into())));
    assert_eq!(next_message(&mut client, WAIT).await, Some(Message::Binary(vec![1, 2, 3])));
    assert_eq!(next_json(&mut client).await["op"], 42);

    // Frames the client sends are readable raw, and skipped ones are recorded.
    client.send(Message::Binary(vec![9])).await.expect("client binary");
    request(&mut client, "GetVersion", "v1", None).await;
    let req = conn.recv_request(WAIT).await.expect("request");
    assert_eq!((req.request_type.as_str(), req.request_id.as_str()), ("GetVersion", "v1"));
    assert_eq!(conn.skipped_frames().len(), 1);
}

#[tokio::test]
async fn serve_closes_like_obs_on_malformed_input() {
    let mut fake = FakeObs::start().await;
    let (mut client, _handle) = served(&mut fake, FakeState::default()).await;
    send_json(&mut client, json!({ "op": 6, "d": { "requestType": "GetVersion" } })).await;
    assert_eq!(next_close(&mut client).await.map(|f| u16::from(f.code)), Some(4003));

    let (mut client, _handle) = served(&mut fake, FakeState::default()).await;
    client.send(Message::Binary(vec![0])).await.expect("client binary");
    assert_eq!(next_close(&mut client).await.map(|f| u16::from(f.code)), Some(4002));
}

#[tokio::test]
async fn flood_of_events_arrives_in_order() {
    let mut fake = FakeObs::start().await;
    let (mut client, handle) = served(&mut fake, FakeState::default()).await;
    let sender = tokio::spawn(async move {
        for i in 0..10_000 {
            handle.send_event("InputVolumeMeters", json!({ "i": i })).await;
        }
        handle
    });
    for i in 0..10_000 {
        let event = next_json(&mut client).await;
        assert_eq!(event["d"]["eventData"]["i"], i);
    }
    sender.await.expect("sender task");
}

#[tokio::test]
async fn stop_and_resume_listening_on_the_same_port() {
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    let (_client, _conn) = connect(&mut fake).await;

    fake.stop_listening().await;
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err(), "connects are refused");

    fake.resume_listening().await.expect("rebind the same port");
    assert_eq!(fake.port(), port);
    let (_client2, _conn2) = connect(&mut fake).await;
    assert_eq!(fake.connection_count(), 2);
}

// ---------------------------------------------------------------------------------------------
// Version profiles
// ---------------------------------------------------------------------------------------------

/// Like [`served`], with the handshake of `state`'s release; also returns the Hello `d`.
async fn served_as(fake: &mut FakeObs, state: FakeState) -> (Client, ServeHandle, Value) {
    let (mut client, mut conn) = connect(fake).await;
    let profile = state.profile;
    let server = tokio::spawn(async move {
        conn.handshake_profile(None, profile).await.expect("handshake");
        conn
    });
    let hello = next_json(&mut client).await;
    assert_eq!(hello["op"], 0);
    identify(&mut client, None).await;
    assert_eq!(next_json(&mut client).await["op"], 2);
    let conn = server.await.expect("handshake task");
    (client, conn.serve_with(state), hello["d"].clone())
}

/// The next response's `d`, checking it answers `id`.
async fn answer_to(client: &mut Client, id: &str) -> Value {
    let response = next_json(client).await;
    assert_eq!(response["op"], 7, "{response}");
    assert_eq!(response["d"]["requestId"], id, "{response}");
    response["d"].clone()
}

#[tokio::test]
async fn profiles_report_their_versions_and_5_6_plus_names_obs_in_hello() {
    let mut fake = FakeObs::start().await;
    for profile in Profile::ALL {
        let (mut client, _handle, hello) = served_as(&mut fake, FakeState::for_profile(profile)).await;
        assert_eq!(hello["obsWebSocketVersion"], profile.ws_version());
        match profile {
            Profile::V5_7 => assert_eq!(hello["obsStudioVersion"], "32.1.0"),
            _ => assert!(hello.get("obsStudioVersion").is_none(), "{profile}: {hello}"),
        }
        request(&mut client, "GetVersion", "v", None).await;
        let version = answer_to(&mut client, "v").await;
        assert_eq!(version["responseData"]["obsWebSocketVersion"], profile.ws_version());
        assert_eq!(version["responseData"]["obsVersion"], profile.obs_version());
    }
    assert_eq!(Profile::default(), Profile::V5_1);
    assert_eq!(FakeState::for_profile(Profile::V5_1), FakeState::default());
}

#[tokio::test]
async fn v5_3_answers_207_while_loading_then_answers_normally() {
    let mut fake = FakeObs::start().await;
    let state = FakeState { not_ready_for: Duration::from_millis(400), ..FakeState::for_profile(Profile::V5_3) };
    let (mut client, handle, _) = served_as(&mut fake, state).await;
    request(&mut client, "GetStreamStatus", "early", None).await;
    let early = answer_to(&mut client, "early").await;
    assert_eq!(early["requestStatus"], json!({ "result": false, "code": 207, "comment": NOT_READY_COMMENT }));
    assert!(early.get("responseData").is_none());
    send_json(
        &mut client,
        json!({ "op": 8, "d": { "requestId": "b", "requests": [{ "requestType": "GetVersion" }] } }),
    )
    .await;
    assert_eq!(next_json(&mut client).await["d"]["results"][0]["requestStatus"]["code"], 207);
    assert!(handle.is_not_ready());
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert!(!handle.is_not_ready());
    request(&mut client, "GetStreamStatus", "late", None).await;
    assert_eq!(answer_to(&mut client, "late").await["requestStatus"]["code"], 100);

    // 5.1 has no loading gate: the same setting changes nothing.
    let state = FakeState { not_ready_for: Duration::from_secs(60), ..FakeState::for_profile(Profile::V5_1) };
    let (mut client, _handle, _) = served_as(&mut fake, state).await;
    request(&mut client, "GetStreamStatus", "s", None).await;
    assert_eq!(answer_to(&mut client, "s").await["requestStatus"]["code"], 100);
}

#[tokio::test]
async fn v5_3_a_collection_switch_answers_207_and_sends_no_events_until_it_ends() {
    let mut fake = FakeObs::start().await;
    let (mut client, handle, _) = served_as(&mut fake, FakeState::for_profile(Profile::V5_3)).await;
    handle.begin_collection_switch().await;
    let changing = next_json(&mut client).await;
    assert_eq!(changing["d"]["eventType"], "CurrentSceneCollectionChanging");
    assert_eq!(changing["d"]["eventData"]["sceneCollectionName"], "Untitled");
    request(&mut client, "GetSceneList", "s1", None).await;
    assert_eq!(answer_to(&mut client, "s1").await["requestStatus"]["code"], 207);
    handle.switch_scene("Gameplay").await;
    assert_eq!(next_message(&mut client, QUIET).await, None, "no events during the switch");
    handle
        .end_collection_switch("Show", |st| {
            st.scenes = vec!["Show".into()];
            st.program_scene = "Show".into();
        })
        .await;
    let changed = next_json(&mut client).await;
    assert_eq!(changed["d"]["eventType"], "CurrentSceneCollectionChanged");
    assert_eq!(changed["d"]["eventData"]["sceneCollectionName"], "Show");
    request(&mut client, "GetSceneList", "s2", None).await;
    let list = answer_to(&mut client, "s2").await;
    assert_eq!(list["responseData"]["currentProgramSceneName"], "Show");

    // 5.1 has no protection: it answers during the switch.
    let (mut client, handle, _) = served_as(&mut fake, FakeState::for_profile(Profile::V5_1)).await;
    handle.begin_collection_switch().await;
    assert_eq!(next_json(&mut client).await["d"]["eventType"], "CurrentSceneCollectionChanging");
    request(&mut client, "GetSceneList", "s3", None).await;
    assert_eq!(answer_to(&mut client, "s3").await["requestStatus"]["code"], 100);
}

#[tokio::test]
async fn a_silent_collection_switch_answers_what_waited_once_it_ends() {
    let mut fake = FakeObs::start().await;
    let state = FakeState { collection_switch_silent: true, ..FakeState::for_profile(Profile::V5_3) };
    let (mut client, handle, _) = served_as(&mut fake, state).await;
    handle.begin_collection_switch().await;
    assert_eq!(next_json(&mut client).await["d"]["eventType"], "CurrentSceneCollectionChanging");
    request(&mut client, "GetSceneList", "s1", None).await;
    assert_eq!(next_message(&mut client, QUIET).await, None, "no answer during the switch");
    handle.end_collection_switch("Show", |st| st.program_scene = "Gameplay".into()).await;
    let list = answer_to(&mut client, "s1").await;
    assert_eq!(list["requestStatus"]["code"], 100);
    assert_eq!(list["responseData"]["currentProgramSceneName"], "Gameplay", "answered from the new collection");
    assert_eq!(next_json(&mut client).await["d"]["eventType"], "CurrentSceneCollectionChanged");
}

#[tokio::test]
async fn an_rtmp_outage_is_an_event_from_5_1_and_only_a_polled_flag_on_5_0() {
    let mut fake = FakeObs::start().await;
    for profile in [Profile::V5_0, Profile::V5_1] {
        let live = FakeState {
            stream_active: true,
            stream_duration_ms: 90_000,
            stream_bytes: 5_000_000,
            stream_total: 2_700,
            stream_skipped: 3,
            ..FakeState::for_profile(profile)
        };
        let (mut client, handle, _) = served_as(&mut fake, live).await;
        handle.rtmp_outage().await;
        handle.rtmp_retry().await;
        if profile == Profile::V5_0 {
            assert_eq!(next_message(&mut client, QUIET).await, None, "5.0 says nothing");
        } else {
            for _ in 0..2 {
                let event = next_json(&mut client).await;
                assert_eq!(event["d"]["eventData"]["outputState"], "OBS_WEBSOCKET_OUTPUT_RECONNECTING");
            }
        }
        request(&mut client, "GetStreamStatus", "during", None).await;
        let during = answer_to(&mut client, "during").await["responseData"].clone();
        assert_eq!((during["outputActive"].clone(), during["outputReconnecting"].clone()), (json!(true), json!(true)));
        assert_eq!(during["outputBytes"], 0, "OBS reads 0 bytes while reconnecting");
        handle.rtmp_recovered().await;
        if profile == Profile::V5_1 {
            let event = next_json(&mut client).await;
            assert_eq!(event["d"]["eventData"]["outputState"], "OBS_WEBSOCKET_OUTPUT_RECONNECTED");
        }
        request(&mut client, "GetStreamStatus", "after", None).await;
        let after = answer_to(&mut client, "after").await["responseData"].clone();
        assert_eq!(after["outputReconnecting"], false);
        for counter in ["outputDuration", "outputBytes", "outputTotalFrames", "outputSkippedFrames"] {
            assert_eq!(after[counter], 0, "{profile}: OBS restarts {counter} at a reconnect");
        }
    }
}

#[tokio::test]
async fn uuids_from_5_4_stay_with_a_renamed_scene() {
    let mut fake = FakeObs::start().await;
    let (mut client, handle, _) = served_as(&mut fake, FakeState::for_profile(Profile::V5_4)).await;
    request(&mut client, "GetSceneList", "s1", None).await;
    let list = answer_to(&mut client, "s1").await["responseData"].clone();
    let uuid = list["currentProgramSceneUuid"].as_str().expect("a program scene uuid").to_owned();
    assert_eq!(list["scenes"][1], json!({ "sceneName": "Scene", "sceneIndex": 1, "sceneUuid": uuid }));
    handle.rename_scene("Scene", "Q&A").await;
    let renamed = next_json(&mut client).await["d"].clone();
    assert_eq!(renamed["eventType"], "SceneNameChanged");
    assert_eq!(renamed["eventData"], json!({ "oldSceneName": "Scene", "sceneName": "Q&A", "sceneUuid": uuid }));
    let listed = next_json(&mut client).await["d"].clone();
    assert_eq!(listed["eventType"], "SceneListChanged");
    assert_eq!(listed["eventData"]["scenes"][1]["sceneName"], "Q&A");
    assert_eq!(handle.state().program_scene, "Q&A");
    // Addressed by uuid, as 5.4+ clients may.
    handle.switch_scene("Gameplay").await;
    assert_eq!(next_json(&mut client).await["d"]["eventData"]["sceneName"], "Gameplay");
    request(&mut client, "SetCurrentProgramScene", "p1", Some(json!({ "sceneUuid": uuid }))).await;
    assert_eq!(answer_to(&mut client, "p1").await["requestStatus"]["code"], 100);
    let switched = next_json(&mut client).await["d"]["eventData"].clone();
    assert_eq!(switched, json!({ "sceneName": "Q&A", "sceneUuid": uuid }));
    request(&mut client, "GetInputList", "i1", None).await;
    let inputs = answer_to(&mut client, "i1").await["responseData"]["inputs"].clone();
    assert_eq!(inputs[0]["inputName"], "Mic/Aux");
    assert!(inputs[0]["inputUuid"].is_string());

    // 5.1 has no uuids.
    let (mut client, _handle, _) = served_as(&mut fake, FakeState::for_profile(Profile::V5_1)).await;
    request(&mut client, "GetSceneList", "s2", None).await;
    let list = answer_to(&mut client, "s2").await["responseData"].clone();
    assert!(list.get("currentProgramSceneUuid").is_none());
    assert!(list["scenes"][0].get("sceneUuid").is_none());
}

#[tokio::test]
async fn record_file_changed_from_5_5_and_only_to_subscribers() {
    let mut fake = FakeObs::start().await;
    let recording = |profile| FakeState { record_active: true, ..FakeState::for_profile(profile) };
    let (mut client, handle, _) = served_as(&mut fake, recording(Profile::V5_5)).await;
    handle.split_recording("/tmp/fake/rec-2.mkv").await;
    let event = next_json(&mut client).await["d"].clone();
    assert_eq!(event["eventType"], "RecordFileChanged");
    assert_eq!(event["eventData"], json!({ "newOutputPath": "/tmp/fake/rec-2.mkv" }));
    request(&mut client, "StopRecord", "r1", None).await;
    assert_eq!(answer_to(&mut client, "r1").await["responseData"]["outputPath"], "/tmp/fake/rec-2.mkv");

    let (mut client, handle, _) = served_as(&mut fake, recording(Profile::V5_4)).await;
    handle.split_recording("/tmp/fake/rec-3.mkv").await;
    assert_eq!(next_message(&mut client, QUIET).await, None, "5.4 has no RecordFileChanged");

    // A client that did not subscribe to Outputs hears nothing.
    let (mut client, mut conn) = connect(&mut fake).await;
    let server = tokio::spawn(async move {
        conn.handshake_profile(None, Profile::V5_5).await.expect("handshake");
        conn
    });
    assert_eq!(next_json(&mut client).await["op"], 0);
    send_json(&mut client, json!({ "op": 1, "d": { "rpcVersion": 1, "eventSubscriptions": 4 } })).await;
    assert_eq!(next_json(&mut client).await["op"], 2);
    let handle = server.await.expect("handshake task").serve_with(recording(Profile::V5_5));
    handle.split_recording("/tmp/fake/rec-4.mkv").await;
    assert_eq!(next_message(&mut client, QUIET).await, None, "not subscribed to Outputs");
}

#[tokio::test]
async fn v5_7_may_name_no_program_scene() {
    let mut fake = FakeObs::start().await;
    let none = |profile| FakeState { program_scene: String::new(), ..FakeState::for_profile(profile) };
    let (mut client, _handle, _) = served_as(&mut fake, none(Profile::V5_7)).await;
    request(&mut client, "GetSceneList", "s1", None).await;
    let list = answer_to(&mut client, "s1").await["responseData"].clone();
    assert_eq!(list["currentProgramSceneName"], Value::Null);
    assert_eq!(list["currentProgramSceneUuid"], Value::Null);
    request(&mut client, "GetCurrentProgramScene", "c1", None).await;
    assert_eq!(answer_to(&mut client, "c1").await["responseData"]["currentProgramSceneName"], Value::Null);

    let (mut client, _handle, _) = served_as(&mut fake, none(Profile::V5_5)).await;
    request(&mut client, "GetSceneList", "s2", None).await;
    assert_eq!(answer_to(&mut client, "s2").await["responseData"]["currentProgramSceneName"], "");
}

#[tokio::test]
async fn scene_and_profile_changes_are_said_in_obs_order() {
    let mut fake = FakeObs::start().await;
    let (mut client, handle, _) = served_as(&mut fake, FakeState::for_profile(Profile::V5_1)).await;
    handle.create_scene("BRB").await;
    handle.remove_scene("Scene").await;
    handle.rename_input("Mic/Aux", "Mic").await;
    handle.switch_obs_profile("Streaming", |st| st.replay_available = true).await;
    // The client subscribed to 1095, which leaves out Inputs (8): no InputNameChanged.
    let mut types = Vec::new();
    for _ in 0..7 {
        types.push(next_json(&mut client).await["d"]["eventType"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(
        types,
        [
            "SceneCreated",
            "SceneListChanged",
            "CurrentProgramSceneChanged",
            "SceneRemoved",
            "SceneListChanged",
            "CurrentProfileChanging",
            "CurrentProfileChanged"
        ]
    );
    assert_eq!(next_message(&mut client, QUIET).await, None);
    let st = handle.state();
    assert_eq!(st.scenes, ["BRB", "Gameplay"]);
    assert_eq!(st.program_scene, "BRB", "the top remaining scene took over the program");
    assert_eq!(st.inputs, ["Mic", "Desktop Audio"]);
    assert_eq!((st.current_profile.as_str(), st.replay_available), ("Streaming", true));
}

#[tokio::test]
async fn input_renames_reach_clients_subscribed_to_inputs_with_their_uuid() {
    let mut fake = FakeObs::start().await;
    let (mut client, mut conn) = connect(&mut fake).await;
    let server = tokio::spawn(async move {
        conn.handshake_profile(None, Profile::V5_4).await.expect("handshake");
        conn
    });
    assert_eq!(next_json(&mut client).await["op"], 0);
    send_json(&mut client, json!({ "op": 1, "d": { "rpcVersion": 1, "eventSubscriptions": 8 } })).await;
    assert_eq!(next_json(&mut client).await["op"], 2);
    let handle = server.await.expect("handshake task").serve_with(FakeState::for_profile(Profile::V5_4));
    let uuid = handle.state().uuid_of("Mic/Aux");
    handle.rename_input("Mic/Aux", "Mic").await;
    let renamed = next_json(&mut client).await["d"].clone();
    assert_eq!(renamed["eventType"], "InputNameChanged");
    assert_eq!(renamed["eventData"], json!({ "oldInputName": "Mic/Aux", "inputName": "Mic", "inputUuid": uuid }));
    assert_eq!(handle.state().uuid_of("Mic"), uuid, "the uuid stays with the input");
}
