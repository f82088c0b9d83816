//! The stream guard through a real session against the fake OBS: the stream's
//! alerts start once, clear when the problem is over, are cleared when the stream
//! ends, and are listed in its `ended`; the recording's low-disk alert; and the
//! same moments on `onair watch --json`. (The detectors' thresholds and
//! hysteresis are unit-tested in the headless crate; mics and the black program
//! need the audio and picture plumbing that comes next.)

use std::time::Duration;

use onair_headless::guard::AlertKind;
use onair_headless::obs::Session;
use onair_headless::state::{Moment, State};
use onair_system_tests::fake::{FakeObs, FakeState, ServeHandle};
use onair_system_tests::support::{fast_config, wait_state, MomentLog, Watcher};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(10);

fn stream_event(state: &str) -> Value {
    let active = matches!(state, "STARTED" | "RECONNECTED");
    json!({"outputActive": active, "outputState": format!("OBS_WEBSOCKET_OUTPUT_{state}")})
}

/// A session on the fake OBS serving `state`, with a stall called after 1 s.
async fn served(state: FakeState) -> (FakeObs, Session, MomentLog, ServeHandle) {
    served_watching(state, &[]).await
}

/// The same, watching these inputs as mics besides OBS's own mic slots, with a
/// muted mic called after 1 s.
async fn served_watching(state: FakeState, mics: &[&str]) -> (FakeObs, Session, MomentLog, ServeHandle) {
    let mut fake = FakeObs::start().await;
    let mut config = fast_config(fake.port(), None);
    config.alerts.stalled_s = 1.0;
    config.alerts.muted_while_live_s = 1.0;
    config.alerts.black_s = 1.0;
    config.mics = mics.iter().map(|m| m.to_string()).collect();
    let (session, _task) = Session::spawn(config);
    let moments = MomentLog::record(&session);
    let mut conn = fake.accept(T).await.expect("the session connects");
    conn.handshake(None).await.expect("handshake");
    let serve = conn.serve_with(state);
    wait_state(&session, "connected", T, |s| s.obs.is_some()).await;
    (fake, session, moments, serve)
}

/// Makes the fake's stream send bytes (about 1 Mb/s) until `until` is done.
async fn while_flowing<F: std::future::Future>(serve: &ServeHandle, until: F) -> F::Output {
    tokio::pin!(until);
    loop {
        tokio::select! {
            done = &mut until => return done,
            () = tokio::time::sleep(Duration::from_millis(200)) => serve.update_state(|s| s.stream_bytes += 25_000),
        }
    }
}

fn open_alerts(state: &State) -> Vec<AlertKind> {
    state.obs.as_ref().map(|o| o.alerts.iter().map(|a| a.kind).collect()).unwrap_or_default()
}

#[tokio::test]
async fn a_stream_that_stops_sending_raises_one_alert_which_clears_when_bytes_flow_again() {
    let (_fake, session, moments, serve) =
        served(FakeState { stream_active: true, stream_bytes: 1_000, ..FakeState::default() }).await;
    // Bytes stand still: one alert, and the state shows it open.
    moments.wait_for("alert", 1, T).await;
    let alert = moments.all().into_iter().find(|n| n.moment.kind() == "alert").expect("the alert").moment;
    assert!(matches!(alert, Moment::Alert { alert: AlertKind::Stalled, .. }), "{alert:?}");
    wait_state(&session, "the stalled alert open", T, |s| open_alerts(s) == [AlertKind::Stalled]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(moments.count("alert"), 1, "one alert per episode, never repeated while it lasts");

    while_flowing(&serve, moments.wait_for("alert-cleared", 1, T)).await;
    wait_state(&session, "no alert open", T, |s| open_alerts(s).is_empty()).await;

    serve.update_state(|s| s.stream_active = false);
    serve.send_event("StreamStateChanged", stream_event("STOPPING")).await;
    serve.send_event("StreamStateChanged", stream_event("STOPPED")).await;
    moments.wait_for("ended", 1, T).await;
    let ended = moments.all().into_iter().find(|n| n.moment.kind() == "ended").expect("ended").moment;
    let json = serde_json::to_value(&ended).expect("json");
    let alerts = json["alerts"].as_array().cloned().unwrap_or_default();
    assert_eq!(alerts.len(), 1, "{json}");
    assert_eq!(alerts[0]["alert"], "stalled");
    assert!(alerts[0]["lasted_ms"].as_u64().is_some_and(|ms| ms >= 1_000), "{json}");
}

#[tokio::test]
async fn an_alert_open_when_the_stream_ends_is_cleared_just_before_its_ended() {
    let (_fake, session, moments, serve) =
        served(FakeState { stream_active: true, stream_bytes: 1_000, ..FakeState::default() }).await;
    moments.wait_for("alert", 1, T).await;
    serve.update_state(|s| s.stream_active = false);
    serve.send_event("StreamStateChanged", stream_event("STOPPING")).await;
    serve.send_event("StreamStateChanged", stream_event("STOPPED")).await;
    moments.wait_for("ended", 1, T).await;
    let kinds = moments.kinds();
    let ended_at = kinds.iter().position(|k| *k == "ended").expect("ended");
    assert_eq!(kinds[ended_at - 1], "alert-cleared", "{kinds:?}");
    wait_state(&session, "no alert open", T, |s| open_alerts(s).is_empty()).await;
}

#[tokio::test]
async fn recording_onto_a_nearly_full_disk_raises_low_disk_until_the_recording_stops() {
    // 2 GB free, under the 5 GB default; no stream, so none of the stream's alerts.
    let state = FakeState { record_active: true, available_disk_space: 2_000.0, ..FakeState::default() };
    let (_fake, session, moments, serve) = served(state).await;
    moments.wait_for("alert", 1, T).await;
    wait_state(&session, "low disk open", T, |s| open_alerts(s) == [AlertKind::LowDisk]).await;
    serve.update_state(|s| s.record_active = false);
    serve.send_event("RecordStateChanged", json!({"outputActive": false, "outputState": "OBS_WEBSOCKET_OUTPUT_STOPPED", "outputPath": "/tmp/fake/rec.mkv"})).await;
    moments.wait_for("alert-cleared", 1, T).await;
    assert_eq!(moments.count("alert"), 1, "{:?}", moments.kinds());
}

#[tokio::test]
async fn onair_watch_json_prints_the_alert_and_its_clearing() {
    let mut fake = FakeObs::start().await;
    let watcher = Watcher::spawn(fake.port(), None);
    let mut conn = fake.accept(T).await.expect("onair watch connects");
    conn.handshake(None).await.expect("handshake");
    let serve = conn.serve_with(FakeState { stream_active: true, stream_bytes: 1_000, ..FakeState::default() });
    // The default stall time (5 s) and the default 2 s polls.
    watcher.wait_moment("alert", 1, Duration::from_secs(20)).await;
    let alert = &watcher.moment_lines("alert")[0];
    assert_eq!(alert["alert"], "stalled", "{alert}");
    assert!(alert["since_ms"].as_u64().is_some() && alert["at_ms"].as_u64().is_some(), "{alert}");
    while_flowing(&serve, watcher.wait_moment("alert-cleared", 1, Duration::from_secs(20))).await;
    let cleared = &watcher.moment_lines("alert-cleared")[0];
    assert_eq!(cleared["alert"], "stalled", "{cleared}");
    assert!(cleared["lasted_ms"].as_u64().is_some(), "{cleared}");
    watcher.stop().await;
}

fn mics(state: &State) -> Vec<(String, bool)> {
    state.obs.as_ref().map(|o| o.mics.iter().map(|m| (m.name.clone(), m.muted)).collect()).unwrap_or_default()
}

#[tokio::test]
async fn obs_mic_slots_and_named_inputs_are_watched_and_their_mutes_followed() {
    // The fake's mic slot holds "Mic/Aux"; "Desktop Audio" is named in the settings; "Nope" is not in OBS.
    let state = FakeState { muted: ["Desktop Audio".to_string()].into(), ..FakeState::default() };
    let (_fake, session, _moments, serve) = served_watching(state, &["Desktop Audio", "Nope", "Mic/Aux"]).await;
    let s = wait_state(&session, "the mics", T, |s| !mics(s).is_empty()).await;
    assert_eq!(mics(&s), [("Mic/Aux".to_string(), false), ("Desktop Audio".to_string(), true)]);
    serve.mute_in_obs("Mic/Aux", true).await;
    wait_state(&session, "Mic/Aux muted", T, |s| mics(s).first() == Some(&("Mic/Aux".to_string(), true))).await;
    serve.rename_input("Mic/Aux", "Podcast Mic").await;
    wait_state(&session, "the rename followed", T, |s| mics(s).first() == Some(&("Podcast Mic".to_string(), true)))
        .await;
}

#[tokio::test]
async fn a_mic_muted_while_live_raises_one_alert_until_it_is_unmuted() {
    let state = FakeState { stream_active: true, ..FakeState::default() };
    let (_fake, session, moments, serve) = served(state).await;
    // Bytes flow all along, so the only alert is the mic's.
    while_flowing(&serve, async {
        serve.mute_in_obs("Mic/Aux", true).await;
        moments.wait_for("alert", 1, T).await;
    })
    .await;
    let alert = moments.all().into_iter().find(|n| n.moment.kind() == "alert").expect("the alert").moment;
    let json = serde_json::to_value(&alert).expect("json");
    assert_eq!((json["alert"].as_str(), json["mic"].as_str()), (Some("muted-while-live"), Some("Mic/Aux")), "{json}");
    wait_state(&session, "the mic's alert open", T, |s| open_alerts(s) == [AlertKind::MutedWhileLive]).await;
    while_flowing(&serve, async {
        serve.mute_in_obs("Mic/Aux", false).await;
        moments.wait_for("alert-cleared", 1, T).await;
    })
    .await;
    assert_eq!(moments.count("alert"), 1, "{:?}", moments.kinds());
}

/// One `InputVolumeMeters` event: the mic's one channel at `[magnitude, peak, input_peak]`.
fn meters(mic: &str, peak: f64, input_peak: f64) -> Value {
    json!({"inputs": [{"inputName": mic, "inputLevelsMul": [[peak, peak, input_peak]]}]})
}

#[tokio::test]
async fn meters_are_asked_for_only_while_live_and_a_muted_mic_that_hears_speech_alerts() {
    let state = FakeState { muted: ["Mic/Aux".to_string()].into(), ..FakeState::default() };
    let (_fake, session, moments, serve) = served(state).await;
    wait_state(&session, "the mic", T, |s| !mics(s).is_empty()).await;
    let meters_bit = 1 << 16;
    assert_eq!(serve.event_subscriptions().map(|s| s & meters_bit), Some(0), "an idle OnAir asks for no meters");

    serve.update_state(|s| s.stream_active = true);
    serve.send_event("StreamStateChanged", stream_event("STARTING")).await;
    serve.send_event("StreamStateChanged", stream_event("STARTED")).await;
    let deadline = tokio::time::Instant::now() + T;
    while serve.event_subscriptions().map(|s| s & meters_bit) != Some(meters_bit) {
        assert!(tokio::time::Instant::now() < deadline, "live with a mic watched: the meters are asked for");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Speech into the muted mic: its raw input peak at about -12 dBFS, nothing goes out.
    while_flowing(&serve, async {
        let talking = async {
            loop {
                serve.send_event("InputVolumeMeters", meters("Mic/Aux", 0.0, 0.25)).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            () = talking => {}
            () = async {
                while !moments.kinds().contains(&"alert") || moments.count("alert") < 2 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            } => {}
            () = tokio::time::sleep(T) => panic!("no alerts for a muted mic that hears speech: {:?}", moments.kinds()),
        }
    })
    .await;
    let alerts: Vec<String> = moments
        .all()
        .iter()
        .filter(|n| n.moment.kind() == "alert")
        .map(|n| serde_json::to_value(&n.moment).expect("json")["alert"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(alerts.contains(&"talking-while-muted".to_string()), "{alerts:?}");
    let s = wait_state(&session, "the level", T, |s| {
        s.obs.as_ref().and_then(|o| o.mics.first()).and_then(|m| m.input_level_dbfs).is_some()
    })
    .await;
    let mic = &s.obs.expect("obs").mics[0];
    assert!((mic.input_level_dbfs.unwrap_or(0.0) + 12.0).abs() < 0.5, "{mic:?}");
    assert_eq!(mic.level_dbfs, Some(-100.0), "muted: nothing goes out");

    serve.update_state(|s| s.stream_active = false);
    serve.send_event("StreamStateChanged", stream_event("STOPPING")).await;
    serve.send_event("StreamStateChanged", stream_event("STOPPED")).await;
    let deadline = tokio::time::Instant::now() + T;
    while serve.event_subscriptions().map(|s| s & meters_bit) != Some(0) {
        assert!(tokio::time::Instant::now() < deadline, "off the air: the meters are switched off again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_black_program_while_live_alerts_and_a_picture_clears_it() {
    let state = FakeState { stream_active: true, program_black: true, ..FakeState::default() };
    let (_fake, session, moments, serve) = served(state).await;
    while_flowing(&serve, moments.wait_for("alert", 1, T)).await;
    wait_state(&session, "black open", T, |s| open_alerts(s) == [AlertKind::Black]).await;
    let shots = serve.requests().into_iter().filter(|r| r.request_type == "GetSourceScreenshot").collect::<Vec<_>>();
    let asked = shots.first().and_then(|r| r.data.clone()).unwrap_or_default();
    assert_eq!((asked["sourceName"].as_str(), asked["imageFormat"].as_str()), (Some("Scene"), Some("ppm")), "{asked}");
    serve.update_state(|s| s.program_black = false);
    while_flowing(&serve, moments.wait_for("alert-cleared", 1, T)).await;
    assert_eq!(moments.count("alert"), 1, "{:?}", moments.kinds());
}
