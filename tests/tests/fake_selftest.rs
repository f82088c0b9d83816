//! Tests of the fake obs-websocket server itself, driven by a raw tokio-tungstenite client, so
//! that the system tests built on it can trust what it puts on the wire.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use onair_system_tests::fake::{obs_auth_response, FakeConn, FakeObs, FakeState, SUBPROTOCOL};
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
async fn served(fake: &mut FakeObs, state: FakeState) -> (Client, onair_system_tests::fake::ServeHandle) {
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
        obs_auth_response(
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
    identify(&mut client, Some(obs_auth_response("hunter2", salt, challenge))).await;
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
    identify(&mut client, Some(obs_auth_response("wrong", salt2, challenge2))).await;
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
