//! Smoke test of the real-OBS world itself: if this fails, system tests that use
//! `ObsWorld` cannot be trusted. It drives OBS only through the world's admin client.

use std::time::{Duration, Instant};

use onair_system_tests::world::{ObsWorld, WorldOptions};
use serde_json::{json, Value};

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
