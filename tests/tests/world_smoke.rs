//! Smoke test of the real-OBS world itself: if this fails, system tests that use
//! `ObsWorld` cannot be trusted. It drives OBS only through the world's admin client.
//! The TCP proxy that cuts OnAir's link in those tests is checked here too, against
//! a plain echo server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use onair_system_tests::proxy::TcpProxy;
use onair_system_tests::world::{ObsWorld, WorldOptions};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn scene_names(list: &Value) -> Vec<String> {
    list["scenes"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["sceneName"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn real_obs_world_streams_records_and_restarts() {
    let t0 = Instant::now();
    let mut world =
        ObsWorld::start(WorldOptions { password: Some("world-smoke-pw".into()), start_obs: true, with_rtmp: true })
            .await
            .expect("world starts");
    eprintln!(
        "world up in {:?} (ws port {}, rtmp port {}, display {}, home {})",
        t0.elapsed(),
        world.ws_port(),
        world.rtmp_port(),
        world.display(),
        world.home().display()
    );

    let version = world.request("GetVersion", Value::Null).await.expect("GetVersion");
    let ws_version = version["obsWebSocketVersion"].as_str().unwrap_or_default();
    assert!(ws_version.starts_with("5."), "obsWebSocketVersion {ws_version:?}");
    eprintln!("OBS {} / obs-websocket {ws_version}", version["obsVersion"]);

    let scenes = world.request("GetSceneList", Value::Null).await.expect("GetSceneList");
    let names = scene_names(&scenes);
    assert!(names.contains(&"Scene".to_string()), "scenes {names:?}");
    assert!(names.contains(&"Gameplay".to_string()), "scenes {names:?}");
    assert_eq!(scenes["currentProgramSceneName"], "Scene");

    let video = world.request("GetVideoSettings", Value::Null).await.expect("GetVideoSettings");
    assert_eq!(video["outputWidth"], 320, "video settings {video}");
    assert_eq!(video["fpsNumerator"], 10, "video settings {video}");

    world.request("SetCurrentProgramScene", json!({ "sceneName": "Gameplay" })).await.expect("switch scene");
    world
        .wait_for("GetCurrentProgramScene", Value::Null, Duration::from_secs(5), |v| {
            v["currentProgramSceneName"] == "Gameplay"
        })
        .await
        .expect("program scene is Gameplay");

    // Stream to the local ingest, lose the ingest, get it back.
    let t = Instant::now();
    world.request("StartStream", Value::Null).await.expect("StartStream");
    world.wait_stream_active(true, Duration::from_secs(15)).await.expect("stream goes live");
    eprintln!("stream live after {:?}", t.elapsed());

    let t = Instant::now();
    world.kill_rtmp();
    world
        .wait_stream_reconnecting(true, Duration::from_secs(15))
        .await
        .expect("stream reconnects after the ingest died");
    eprintln!("reconnecting after {:?}", t.elapsed());

    let t = Instant::now();
    world.start_rtmp().await.expect("ingest restarts");
    world
        .wait_stream_reconnecting(false, Duration::from_secs(20))
        .await
        .expect("stream recovers once the ingest is back");
    world.wait_stream_active(true, Duration::from_secs(5)).await.expect("stream active again");
    eprintln!("recovered after {:?}", t.elapsed());

    world.request("StopStream", Value::Null).await.expect("StopStream");
    world.wait_stream_active(false, Duration::from_secs(10)).await.expect("stream stops");

    // Record a moment and find the file.
    assert!(files_in(&world.recordings_dir()).is_empty());
    world.request("StartRecord", Value::Null).await.expect("StartRecord");
    world.wait_record_active(true, Duration::from_secs(10)).await.expect("recording starts");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stopped = world.request("StopRecord", Value::Null).await.expect("StopRecord");
    world.wait_record_active(false, Duration::from_secs(10)).await.expect("recording stops");
    let files = files_in(&world.recordings_dir());
    eprintln!("recorded {} -> {files:?}", stopped["outputPath"]);
    assert!(!files.is_empty(), "no recording in {}", world.recordings_dir().display());

    // Crash OBS and bring it back on the same port and password.
    world.kill_obs();
    assert!(!world.obs_running());
    assert!(world.request("GetVersion", Value::Null).await.is_err(), "OBS answers after kill");
    let t = Instant::now();
    world.start_obs().await.expect("OBS restarts after a kill");
    eprintln!("OBS restarted after kill in {:?}", t.elapsed());
    let version = world.request("GetVersion", Value::Null).await.expect("GetVersion after restart");
    assert!(version["obsWebSocketVersion"].as_str().unwrap_or_default().starts_with("5."));

    // Quit gracefully, and come back once more.
    let t = Instant::now();
    world.quit_obs().await.expect("OBS quits gracefully");
    eprintln!("OBS quit in {:?}", t.elapsed());
    let log = std::fs::read_to_string(world.obs_log()).unwrap_or_default();
    assert!(log.contains("==== Shutting down"), "OBS did not shut down cleanly: {}", world.obs_log().display());
    world.start_obs().await.expect("OBS restarts after a quit");
    let scenes = world.request("GetSceneList", Value::Null).await.expect("GetSceneList after quit");
    assert!(scene_names(&scenes).contains(&"Gameplay".to_string()));
    eprintln!("total {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn world_can_start_without_obs() {
    let mut world =
        ObsWorld::start(WorldOptions { password: Some("right".into()), start_obs: false, with_rtmp: false })
            .await
            .expect("world starts");
    assert!(world.request("GetVersion", Value::Null).await.is_err(), "nothing should listen yet");
    let t = Instant::now();
    world.start_obs().await.expect("OBS starts later");
    eprintln!("OBS came up in {:?}", t.elapsed());
    world.request("GetVersion", Value::Null).await.expect("GetVersion");
}

/// An upstream that echoes every byte, and tells how many of its connections are open.
async fn echo_server() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind echo server");
    let port = listener.local_addr().expect("echo address").port();
    let open = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&open);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let count = Arc::clone(&count);
            tokio::spawn(async move {
                count.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 1024];
                while let Ok(n @ 1..) = stream.read(&mut buf).await {
                    if stream.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                count.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (port, open)
}

/// Sends `text` and reads it back; Err when the link is closed or silent for 2 s.
async fn round_trip(stream: &mut TcpStream, text: &[u8]) -> Result<(), String> {
    stream.write_all(text).await.map_err(|e| format!("write: {e}"))?;
    let mut back = vec![0u8; text.len()];
    match tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut back)).await {
        Ok(Ok(_)) if back == text => Ok(()),
        Ok(Ok(_)) => Err(format!("echoed {back:?}")),
        Ok(Err(e)) => Err(format!("read: {e}")),
        Err(_) => Err("no echo within 2 s".into()),
    }
}

/// Whether the peer closed `stream` within 2 s (EOF or reset), rather than leaving it hanging.
async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 16];
    matches!(tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_forwards_through_idle_stretches_cuts_and_restores() {
    let (upstream, upstream_open) = echo_server().await;
    let proxy = TcpProxy::start(upstream).await.expect("proxy starts");
    let connect = || TcpStream::connect(("127.0.0.1", proxy.port()));

    let mut first = connect().await.expect("connect through the proxy");
    round_trip(&mut first, b"hello").await.expect("bytes go through both ways");
    // A quiet link is not a dead one: obs-websocket can say nothing for seconds.
    tokio::time::sleep(Duration::from_secs(3)).await;
    round_trip(&mut first, b"still here").await.expect("the link survives an idle stretch");
    let mut second = connect().await.expect("a second connection");
    round_trip(&mut second, b"two").await.expect("second connection forwards");
    assert_eq!(proxy.open(), 2);
    assert_eq!(proxy.forwarded(), 2);

    proxy.cut().await.expect("cut closes every connection");
    assert!(closed_by_peer(&mut first).await, "the first client sees its link die");
    assert!(closed_by_peer(&mut second).await, "the second client sees its link die");
    let mut while_cut = connect().await.expect("the port still accepts while cut");
    assert!(closed_by_peer(&mut while_cut).await, "a new connection while cut is closed at once");
    assert!(round_trip(&mut while_cut, b"x").await.is_err(), "nothing is forwarded while cut");
    assert!(proxy.turned_away() >= 1);
    assert_eq!(proxy.forwarded(), 2, "nothing reached the upstream while cut");
    let deadline = Instant::now() + Duration::from_secs(2);
    while upstream_open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(upstream_open.load(Ordering::SeqCst), 0, "the upstream sees its connections closed too");

    proxy.restore();
    let mut after = connect().await.expect("connect after restore");
    round_trip(&mut after, b"back").await.expect("forwards again after restore");
    assert_eq!(proxy.forwarded(), 3);

    let port = proxy.port();
    proxy.shutdown().await;
    assert!(closed_by_peer(&mut after).await, "shutdown closes open connections");
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err(), "nothing listens after shutdown");
}

/// Everything `stream` yields within `wait`, as text.
async fn read_within(stream: &mut TcpStream, wait: Duration) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let _ = tokio::time::timeout(wait, async {
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            got.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_holds_back_what_follows_a_marked_message() {
    // An upstream that answers like a websocket server: the upgrade, then two frames
    // in one write, as OBS does with an answer and the event right behind it.
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind upstream");
    let upstream = listener.local_addr().expect("upstream address").port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut bytes = b"HTTP/1.1 101 Switching Protocols\r\n\r\n".to_vec();
                for text in [r#"{"op":7,"requestType":"StartStream"}"#, r#"{"op":5,"eventType":"Late"}"#] {
                    bytes.extend_from_slice(&[0x81, text.len() as u8]);
                    bytes.extend_from_slice(text.as_bytes());
                }
                let _ = stream.write_all(&bytes).await;
                let mut sink = [0u8; 64];
                while let Ok(1..) = stream.read(&mut sink).await {}
            });
        }
    });
    let proxy = TcpProxy::start(upstream).await.expect("proxy starts");
    let mut plain = TcpStream::connect(("127.0.0.1", proxy.port())).await.expect("connect");
    let got = read_within(&mut plain, Duration::from_millis(500)).await;
    assert!(got.contains("StartStream") && got.contains("Late"), "without a hold all comes at once: {got:?}");

    proxy.hold_after(r#""requestType":"StartStream""#, Duration::from_millis(1500));
    let mut held = TcpStream::connect(("127.0.0.1", proxy.port())).await.expect("connect");
    let first = read_within(&mut held, Duration::from_millis(700)).await;
    assert!(
        first.contains("StartStream") && !first.contains("Late"),
        "the marked message comes, not what follows: {first:?}"
    );
    let rest = read_within(&mut held, Duration::from_millis(1500)).await;
    assert!(rest.contains("Late"), "what follows comes after the hold: {rest:?}");
    assert_eq!(proxy.holds_applied(), 1);

    let mut after = TcpStream::connect(("127.0.0.1", proxy.port())).await.expect("connect");
    let got = read_within(&mut after, Duration::from_millis(500)).await;
    assert!(got.contains("Late"), "a hold applies once: {got:?}");
    proxy.shutdown().await;
}

/// The stream guard's test material plays in real OBS: a looping tone and a silent
/// file as audio inputs (muted and unmuted through the admin client), and a picture
/// that makes the black program scene not black.
#[tokio::test(flavor = "multi_thread")]
async fn test_audio_plays_and_a_picture_ends_a_black_program() {
    use onair_system_tests::world::TestAudio;
    let world = ObsWorld::start(WorldOptions { password: None, start_obs: true, with_rtmp: false })
        .await
        .expect("world starts");
    let t = Duration::from_secs(20);
    // The world's own scenes show a picture; a new one is empty, so black.
    world.request("CreateScene", json!({ "sceneName": "Empty" })).await.expect("a scene");
    world.request("SetCurrentProgramScene", json!({ "sceneName": "Empty" })).await.expect("on air");
    let shot = json!({ "sourceName": "Empty", "imageFormat": "png", "imageWidth": 16, "imageHeight": 9 });
    let black = world.request("GetSourceScreenshot", shot.clone()).await.expect("a screenshot of the empty scene");
    let of_scene = world
        .request(
            "GetSourceScreenshot",
            json!({ "sourceName": "Scene", "imageFormat": "png", "imageWidth": 16, "imageHeight": 9 }),
        )
        .await
        .expect("a screenshot of the world's own scene");
    assert_ne!(of_scene["imageData"], black["imageData"], "the world's own scene shows a picture");
    world.add_test_audio("Test Mic", TestAudio::Tone).await.expect("a tone");
    world.add_test_audio("Quiet Mic", TestAudio::Silence).await.expect("silence");
    for input in ["Test Mic", "Quiet Mic"] {
        world
            .wait_for("GetMediaInputStatus", json!({ "inputName": input }), t, |v| {
                v["mediaState"] == "OBS_MEDIA_STATE_PLAYING"
            })
            .await
            .unwrap_or_else(|e| panic!("{input} plays: {e}"));
    }
    world.request("SetInputMute", json!({ "inputName": "Test Mic", "inputMuted": true })).await.expect("mute");
    let muted = world.request("GetInputMute", json!({ "inputName": "Test Mic" })).await.expect("read the mute");
    assert_eq!(muted["inputMuted"], true);
    world.add_picture("White").await.expect("a picture");
    let picture = world
        .wait_for("GetSourceScreenshot", shot, t, |v| v["imageData"] != black["imageData"])
        .await
        .expect("the program shows the picture");
    assert!(picture["imageData"].as_str().unwrap_or_default().starts_with("data:image/png;base64,"));
}

/// A stalled ingest, as the stream guard's `stalled` alert needs it: OBS streams through
/// a proxy in front of nginx-rtmp, the proxy stops taking bytes, and OBS's own byte
/// count stops growing (or OBS starts reconnecting) while the stream is still active.
#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_proxy_in_front_of_the_ingest_stops_the_stream_s_bytes() {
    let world = ObsWorld::start(WorldOptions::default()).await.expect("world starts");
    let proxy = TcpProxy::start(world.rtmp_port()).await.expect("proxy");
    world.stream_through(proxy.port()).await.expect("stream through the proxy");
    world.set_stream_bitrate(20000).await.expect("a fast stream");
    world.start_stream(Duration::from_secs(30)).await.expect("live through the proxy");
    let bytes = |v: &Value| v["outputBytes"].as_u64().unwrap_or(0);
    world
        .wait_for("GetStreamStatus", Value::Null, Duration::from_secs(20), |v| bytes(v) > 0)
        .await
        .expect("bytes flow through the proxy");
    proxy.stall();
    let stalled_at = Instant::now();
    let mut last = bytes(&world.request("GetStreamStatus", Value::Null).await.expect("status"));
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let status = world.request("GetStreamStatus", Value::Null).await.expect("status");
        eprintln!("{:>5.1} s into the stall: {status}", stalled_at.elapsed().as_secs_f64());
        if status["outputReconnecting"] == true || bytes(&status) == last {
            eprintln!("stalled after {:?}: {status}", stalled_at.elapsed());
            // The premise of the `stalled` alert: at this bitrate the bytes stop
            // while OBS still says it is streaming, well before it gives up.
            assert_eq!(status["outputReconnecting"], false, "bytes kept growing until OBS reconnected");
            break;
        }
        last = bytes(&status);
        assert!(stalled_at.elapsed() < Duration::from_secs(40), "OBS kept counting bytes 40 s into the stall");
    }
    proxy.resume();
    world.request("StopStream", Value::Null).await.expect("stop");
}
