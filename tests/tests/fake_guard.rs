//! The stream guard through a real session against the fake OBS: the stream's
//! alerts start once, clear when the problem is over, are cleared when the stream
//! ends, and are listed in its `ended`; the recording's low-disk alert; and the
//! same moments on `onair watch --json`; the mics and the black program. And the
//! kinds real OBS cannot be made to show on demand, on a fake OBS whose outputs run
//! in real time ([`ServeHandle::run_clock`]) with the thresholds shortened to
//! seconds: a bitrate fallen under half its median, render and encoder lag,
//! network drops across RTMP reconnects (whose counters OBS restarts), and values
//! hovering at a threshold, which make one alert an episode at most. (The
//! detectors' own rules are unit-tested in the headless crate.)

use std::time::Duration;

use onair_headless::guard::AlertKind;
use onair_headless::obs::{Session, SessionConfig};
use onair_headless::state::{now_ms, Moment, State};
use onair_system_tests::fake::{FakeObs, FakeState, Profile, ServeHandle};
use onair_system_tests::support::{fast_config, onair, onair_bin, wait_state, MomentLog, Watcher};
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
    served_with(state, |config| {
        config.alerts.stalled_s = 1.0;
        config.alerts.muted_while_live_s = 1.0;
        config.alerts.black_s = 1.0;
        config.mics = mics.iter().map(|m| m.to_string()).collect();
    })
    .await
}

/// A session on the fake OBS serving `state`, with the test timings and `configure`'s changes.
async fn served_with(
    state: FakeState,
    configure: impl FnOnce(&mut SessionConfig),
) -> (FakeObs, Session, MomentLog, ServeHandle) {
    let mut fake = FakeObs::start().await;
    let mut config = fast_config(fake.port(), None);
    configure(&mut config);
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

// --- The kinds real OBS cannot be made to show, on a fake OBS running in real time ---

/// A session on the fake OBS serving `state`, whose outputs run in real time from
/// now on, with `configure`'s thresholds.
async fn served_running(
    state: FakeState,
    configure: impl FnOnce(&mut SessionConfig),
) -> (FakeObs, Session, MomentLog, ServeHandle) {
    let (fake, session, moments, serve) = served_with(state, configure).await;
    serve.run_clock();
    (fake, session, moments, serve)
}

/// One alert moment: `alert` or `alert-cleared`, its JSON, and when it was said.
#[derive(Debug, Clone)]
struct Said {
    moment: &'static str,
    json: Value,
    at_ms: u64,
}

/// The `alert` and `alert-cleared` moments of one kind so far, in the order said.
fn trail(moments: &MomentLog, kind: &str) -> Vec<Said> {
    moments
        .all()
        .into_iter()
        .filter(|n| matches!(n.moment.kind().wire_name(), "alert" | "alert-cleared"))
        .map(|n| Said {
            moment: n.moment.kind().wire_name(),
            json: serde_json::to_value(&n.moment).expect("json"),
            at_ms: n.at_ms,
        })
        .filter(|s| s.json["alert"] == kind)
        .collect()
}

fn trail_moments(trail: &[Said]) -> Vec<&'static str> {
    trail.iter().map(|s| s.moment).collect()
}

/// Waits until `kind` has said `n` alert moments (alerts and clearings) in all.
async fn wait_trail(moments: &MomentLog, kind: &str, n: usize, timeout: Duration) -> Vec<Said> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let said = trail(moments, kind);
        if said.len() >= n {
            return said;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {n} {kind} moments; {kind}: {:?}; all: {:?}",
            trail_moments(&said),
            moments.kinds()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// For `total`, changes the served OBS with `change(state, high)` every `every`,
/// `high` true and false in turn: a value hovering at a threshold.
async fn hover(serve: &ServeHandle, total: Duration, every: Duration, change: impl Fn(&mut FakeState, bool)) {
    let until = tokio::time::Instant::now() + total;
    let mut high = true;
    while tokio::time::Instant::now() < until {
        serve.update_state(|s| change(s, high));
        high = !high;
        tokio::time::sleep(every).await;
    }
}

fn number(json: &Value, field: &str) -> f64 {
    json[field].as_f64().unwrap_or_else(|| panic!("no {field} in {json}"))
}

#[tokio::test]
async fn a_bitrate_fallen_under_half_its_median_alerts_once_after_its_hold_and_clears_when_it_recovers() {
    // The 10-s window, 15-s hold and 30-s grace, at 1 s, 1.5 s and 3 s.
    let state = FakeState { stream_active: true, ..FakeState::default() };
    let (_fake, _session, moments, serve) = served_running(state, |c| {
        c.alerts.low_bitrate_window_s = 1.0;
        c.alerts.low_bitrate_s = 1.5;
        c.alerts.low_bitrate_grace_s = 3.0;
    })
    .await;
    // 7 s at 6 Mb/s (give or take the sim's wobble): past the grace, with a median.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(moments.count("alert"), 0, "a steady stream: {:?}", moments.kinds());

    let dropped_at = now_ms();
    serve.update_state(|s| s.bitrate_bps = 1_000_000);
    let said = wait_trail(&moments, "low-bitrate", 1, T).await;
    let alert = &said[0];
    assert_eq!(alert.moment, "alert", "{said:?}");
    let since = alert.json["since_ms"].as_u64().expect("since_ms");
    assert!(since + 100 >= dropped_at, "the bad run began with the drop: {since} vs {dropped_at}");
    assert!(alert.at_ms >= since + 1_500 && alert.at_ms >= dropped_at + 1_500, "after the hold: {alert:?}");
    let (kbps, median) = (number(&alert.json, "kbps"), number(&alert.json, "median_kbps"));
    assert!((700.0..=1_400.0).contains(&kbps), "the last window's bitrate: {}", alert.json);
    assert!((5_000.0..=7_000.0).contains(&median), "the stream's median: {}", alert.json);

    // Still low: never repeated while it lasts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(trail_moments(&trail(&moments, "low-bitrate")), ["alert"]);

    let recovered_at = now_ms();
    serve.update_state(|s| s.bitrate_bps = 6_000_000);
    let said = wait_trail(&moments, "low-bitrate", 2, T).await;
    assert_eq!(trail_moments(&said), ["alert", "alert-cleared"]);
    let lasted = said[1].json["lasted_ms"].as_u64().expect("lasted_ms");
    assert!(lasted.abs_diff(recovered_at - since) <= 1_500, "lasted {lasted} ms, low for {}", recovered_at - since);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(trail(&moments, "low-bitrate").len(), 2, "cleared once");
    assert_eq!(moments.count("alert"), 1, "nothing else alerted: {:?}", moments.kinds());
}

#[tokio::test]
async fn render_then_encoder_lag_in_get_stats_are_each_one_encoder_lagging_episode() {
    let state = FakeState { stream_active: true, active_fps: 60.0, ..FakeState::default() };
    let (_fake, _session, moments, serve) = served_running(state, |c| c.alerts.encoder_lagging_window_s = 3.0).await;
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(moments.count("alert"), 0, "OBS keeping up: {:?}", moments.kinds());

    // The renderer misses one frame in 20 (5 %).
    serve.update_state(|s| s.render_skip_one_in = 20);
    let said = wait_trail(&moments, "encoder-lagging", 1, T).await;
    assert_eq!(said[0].moment, "alert");
    let percent = number(&said[0].json, "percent");
    assert!(percent > 1.0 && percent <= 5.5, "{}", said[0].json);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(trail(&moments, "encoder-lagging").len(), 1, "not repeated while it lasts");
    serve.update_state(|s| s.render_skip_one_in = 0);
    let said = wait_trail(&moments, "encoder-lagging", 2, T).await;
    assert_eq!(trail_moments(&said), ["alert", "alert-cleared"]);

    // Then the encoders skip one frame in ten: a new episode.
    serve.update_state(|s| s.encoder_skip_one_in = 10);
    let said = wait_trail(&moments, "encoder-lagging", 3, T).await;
    assert_eq!(said[2].moment, "alert");
    let percent = number(&said[2].json, "percent");
    assert!(percent > 1.0 && percent <= 10.5, "{}", said[2].json);
    serve.update_state(|s| s.encoder_skip_one_in = 0);
    let said = wait_trail(&moments, "encoder-lagging", 4, T).await;
    assert_eq!(trail_moments(&said), ["alert", "alert-cleared", "alert", "alert-cleared"]);
    assert_eq!(moments.count("alert"), 2, "the network's drops are not the encoder's: {:?}", moments.kinds());
}

#[tokio::test]
async fn dropped_frames_add_up_across_rtmp_reconnects_that_restart_obs_counters() {
    // 600 fps so a 4-s window holds thousands of frames; 0.2 % dropped is healthy.
    let state = FakeState { stream_active: true, active_fps: 600.0, stream_skip_one_in: 500, ..FakeState::default() };
    let (_fake, session, moments, serve) = served_running(state, |c| c.alerts.dropping_frames_window_s = 4.0).await;
    // Two outages: each time OBS starts outputSkippedFrames and outputTotalFrames over
    // from zero. A reset taken as a (negative or wrapped) delta would be a false alarm.
    for outage in [Duration::from_millis(1_500), Duration::from_millis(800)] {
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        serve.rtmp_outage().await;
        tokio::time::sleep(outage).await;
        serve.rtmp_recovered().await;
    }
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(moments.count("reconnected"), 2, "{:?}", moments.kinds());
    assert_eq!(moments.count("alert"), 0, "healthy across the resets: {:?}", moments.kinds());
    let s = wait_state(&session, "the health", T, |s| s.obs.as_ref().is_some_and(|o| o.stream_health.is_some())).await;
    let health = s.obs.and_then(|o| o.stream_health).expect("health");
    assert!(health.total_frames >= 600 * 6, "the frames of every connection add up: {health:?}");

    // Now 5 % dropped, in connections of 1 s: shorter than the window's minimum
    // span, so only counts added up across the resets can tell.
    let drops_at = now_ms();
    serve.update_state(|s| s.stream_skip_one_in = 20);
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(1_000)).await;
        serve.rtmp_outage().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        serve.rtmp_recovered().await;
    }
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let said = trail(&moments, "dropping-frames");
    assert_eq!(trail_moments(&said), ["alert"], "one alert across the reconnects, none missed, none cleared");
    assert!(said[0].at_ms < drops_at + 4_000, "seen within seconds: {} ms", said[0].at_ms - drops_at);
    let percent = number(&said[0].json, "percent");
    assert!(percent > 1.0 && percent <= 5.5, "{}", said[0].json);

    serve.update_state(|s| s.stream_skip_one_in = 0);
    let said = wait_trail(&moments, "dropping-frames", 2, T).await;
    assert_eq!(trail_moments(&said), ["alert", "alert-cleared"]);
    assert_eq!(moments.count("alert"), 1, "{:?}", moments.kinds());
}

#[tokio::test]
async fn dropped_frames_hovering_at_one_percent_are_one_episode_at_most() {
    let state = FakeState { stream_active: true, active_fps: 600.0, stream_skip_one_in: 0, ..FakeState::default() };
    let (_fake, _session, moments, serve) = served_running(state, |c| c.alerts.dropping_frames_window_s = 4.0).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // 1.25 % and 0.8 % in turn: the window's share hovers about 1 %.
    let at_one_percent = |s: &mut FakeState, high: bool| s.stream_skip_one_in = if high { 80 } else { 125 };
    hover(&serve, Duration::from_secs(6), Duration::from_millis(700), at_one_percent).await;
    let said = trail(&moments, "dropping-frames");
    assert!(said.len() <= 1 && said.iter().all(|s| s.moment == "alert"), "{:?}", trail_moments(&said));
    // A clear stretch of 5 % (opening the episode if the hovering did not), then hovering again.
    serve.update_state(|s| s.stream_skip_one_in = 20);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    hover(&serve, Duration::from_secs(6), Duration::from_millis(700), at_one_percent).await;
    assert_eq!(trail_moments(&trail(&moments, "dropping-frames")), ["alert"], "one episode, never repeated");

    serve.update_state(|s| s.stream_skip_one_in = 0);
    let said = wait_trail(&moments, "dropping-frames", 2, T).await;
    assert_eq!(trail_moments(&said), ["alert", "alert-cleared"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(trail(&moments, "dropping-frames").len(), 2);
}

#[tokio::test]
async fn a_bitrate_hovering_at_half_its_median_stays_one_episode() {
    let state = FakeState { stream_active: true, ..FakeState::default() };
    let (_fake, _session, moments, serve) = served_running(state, |c| {
        c.alerts.low_bitrate_window_s = 1.0;
        c.alerts.low_bitrate_s = 1.5;
        c.alerts.low_bitrate_grace_s = 3.0;
    })
    .await;
    // A long steady stretch, so the low and hovering samples below do not move the median.
    tokio::time::sleep(Duration::from_secs(10)).await;
    serve.update_state(|s| s.bitrate_bps = 1_000_000);
    wait_trail(&moments, "low-bitrate", 1, T).await;
    // 2.4 and 3.2 Mb/s in turn, a few polls each: the window's mean crosses the
    // threshold (3 Mb/s) back and forth and never reaches its clear level (3.6).
    hover(&serve, Duration::from_secs(3), Duration::from_millis(1_100), |s, high| {
        s.bitrate_bps = if high { 3_200_000 } else { 2_400_000 }
    })
    .await;
    assert_eq!(trail_moments(&trail(&moments, "low-bitrate")), ["alert"], "no flapping");
    serve.update_state(|s| s.bitrate_bps = 6_000_000);
    let said = wait_trail(&moments, "low-bitrate", 2, T).await;
    assert_eq!(trail_moments(&said), ["alert", "alert-cleared"]);
}

#[tokio::test]
async fn free_disk_hovering_at_five_gigabytes_raises_low_disk_once_until_there_is_room() {
    let state = FakeState { record_active: true, available_disk_space: 20_000.0, ..FakeState::default() };
    let (_fake, _session, moments, serve) = served_running(state, |_| {}).await;
    // Just above 5 GB (5120 MB), under the clear level (6 GB): not low.
    hover(&serve, Duration::from_secs(3), Duration::from_millis(600), |s, high| {
        s.available_disk_space = if high { 5_700.0 } else { 5_300.0 }
    })
    .await;
    assert_eq!(moments.count("alert"), 0, "{:?}", moments.kinds());
    // Across it: 5.2 and 4.9 GB in turn.
    hover(&serve, Duration::from_secs(4), Duration::from_millis(600), |s, high| {
        s.available_disk_space = if high { 5_300.0 } else { 5_000.0 }
    })
    .await;
    let said = trail(&moments, "low-disk");
    assert_eq!(trail_moments(&said), ["alert"], "one alert, never repeated while it hovers");
    assert!((5_000.0..=5_300.0).contains(&number(&said[0].json, "free_mb")), "{}", said[0].json);
    serve.update_state(|s| s.available_disk_space = 8_000.0);
    let said = wait_trail(&moments, "low-disk", 2, T).await;
    assert_eq!(trail_moments(&said), ["alert", "alert-cleared"]);
    assert_eq!(moments.count("alert"), 1, "{:?}", moments.kinds());
}

// --- onair audio ---

/// Runs `onair ARGS` against a fake OBS serving `state`: (exit code, stdout, stderr)
/// and the handle of the connection it made.
async fn onair_against(state: FakeState, args: &[&str]) -> (i32, String, String, ServeHandle) {
    onair_bin();
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let cli = tokio::spawn(async move {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        onair(port, None, &args).await
    });
    let mut conn = fake.accept(Duration::from_secs(60)).await.expect("onair connects");
    conn.handshake_profile(None, state.profile).await.expect("handshake");
    let serve = conn.serve_with(state);
    let (code, stdout, stderr) = cli.await.expect("onair ran");
    (code, stdout, stderr, serve)
}

/// An OBS of `profile` with two mics (one in OBS's mic slot, one muted), desktop
/// audio, and a camera that has no audio.
fn studio(profile: Profile) -> FakeState {
    let mut state = FakeState::for_profile(profile);
    state.inputs = ["Mic/Aux", "Desktop Audio", "Camera", "Podcast Mic"].map(String::from).to_vec();
    state.inputs_without_audio.insert("Camera".into());
    state.muted.insert("Podcast Mic".into());
    state
}

#[tokio::test]
async fn onair_audio_lists_every_audio_input_with_its_mute_and_marks_the_watched_ones() {
    for profile in [Profile::V5_3, Profile::V5_4] {
        let (code, stdout, stderr, serve) = onair_against(studio(profile), &["--mic", "Podcast Mic", "audio"]).await;
        assert_eq!(code, 0, "{profile}: {stderr}");
        assert_eq!(
            stdout, "Mic/Aux\tlive\twatched\nDesktop Audio\tlive\nPodcast Mic\tmuted\twatched\n",
            "{profile}: every input with audio, the camera left out"
        );
        // Each input's mute asked once for the list: by uuid where OBS gives one.
        let state = serve.state();
        let asked: Vec<Value> =
            serve.requests().into_iter().filter(|r| r.request_type == "GetInputMute").filter_map(|r| r.data).collect();
        for name in ["Desktop Audio", "Camera"] {
            let by = match profile.has_uuids() {
                true => json!({ "inputUuid": state.uuid_of(name) }),
                false => json!({ "inputName": name }),
            };
            assert_eq!(asked.iter().filter(|a| **a == by).count(), 1, "{profile}: {name} asked as {by}: {asked:?}");
        }
    }
}

#[tokio::test]
async fn onair_audio_json_gives_each_input_its_uuid_kind_mute_and_watched() {
    let state = studio(Profile::V5_4);
    let desktop_uuid = state.uuid_of("Desktop Audio");
    let (code, stdout, stderr, _serve) = onair_against(state, &["audio", "--json"]).await;
    assert_eq!(code, 0, "{stderr}");
    let inputs: Value = serde_json::from_str(stdout.trim()).expect("one JSON array");
    let names: Vec<&str> = inputs.as_array().expect("array").iter().filter_map(|i| i["name"].as_str()).collect();
    assert_eq!(names, ["Mic/Aux", "Desktop Audio", "Podcast Mic"]);
    assert_eq!(
        inputs[1],
        json!({"name": "Desktop Audio", "uuid": desktop_uuid, "kind": "pulse_input_capture", "muted": false, "watched": false})
    );
    assert_eq!((inputs[0]["watched"].clone(), inputs[2]["muted"].clone()), (json!(true), json!(true)), "{inputs}");
    assert_eq!(inputs[2]["watched"], false, "no --mic: only OBS's mic slot is watched");
}
