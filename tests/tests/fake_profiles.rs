//! The engine against every obs-websocket release from 5.0 to 5.7, as the fake server imitates
//! them ([`Profile`]). CI's real OBS runs only 5.1; streamers run anything from OBS 28 (5.0) to
//! OBS 32 (5.7), and each release differs in ways that can make OnAir say a state OBS is not in:
//! 5.0 has no reconnect events, 5.3+ answers 207 NotReady while loading and during a collection
//! switch, 5.4+ adds uuids, 5.5+ reports recording file splits, 5.7 may name no program scene.
//!
//! The first half runs the same session scenarios against every release; the second pins what
//! each release's difference requires.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use onair_headless::control::Control;
use onair_headless::obs::{Session, SessionConfig};
use onair_headless::state::{ConnectionState, OutputActivity, State, StreamState};
use onair_system_tests::fake::{FakeObs, FakeState, Profile, ServeHandle};
use onair_system_tests::support::{fast_config, wait_state, MomentLog};
use serde_json::json;

const T: Duration = Duration::from_secs(5);

fn connected(s: &State) -> bool {
    s.obs.is_some() && matches!(s.connection, ConnectionState::Connected { .. })
}

fn reconnecting(s: &State) -> bool {
    s.obs.as_ref().is_some_and(|o| matches!(o.stream, StreamState::Reconnecting { .. }))
}

fn live_and_flowing(s: &State) -> bool {
    s.obs.as_ref().is_some_and(|o| matches!(o.stream, StreamState::Live { .. }))
}

/// A fake OBS of `state`'s release, a session on it with `config`, and the first connection
/// served (not waiting for the sync: a 5.3+ OBS may still be loading).
async fn start(
    state: FakeState,
    config: impl FnOnce(u16) -> SessionConfig,
) -> (FakeObs, Session, MomentLog, ServeHandle) {
    let mut fake = FakeObs::start().await;
    let (session, _task) = Session::spawn(config(fake.port()));
    let moments = MomentLog::record(&session);
    let mut conn = fake.accept(T).await.expect("the session connects");
    conn.handshake_profile(None, state.profile).await.expect("handshake");
    let serve = conn.serve_with(state);
    (fake, session, moments, serve)
}

/// [`start`] with the usual test timings, waiting until connected and synced.
async fn served(state: FakeState) -> (FakeObs, Session, MomentLog, ServeHandle) {
    let (fake, session, moments, serve) = start(state, |port| fast_config(port, None)).await;
    wait_state(&session, "connected", T, connected).await;
    (fake, session, moments, serve)
}

async fn serve_next(fake: &mut FakeObs, state: FakeState) -> ServeHandle {
    let mut conn = fake.accept(T).await.expect("the session reconnects");
    conn.handshake_profile(None, state.profile).await.expect("handshake");
    conn.serve_with(state)
}

/// Runs `scenario` for each release concurrently and fails naming every release it failed on,
/// with its message, rather than stopping at the first.
async fn on_releases<F, Fut>(profiles: &[Profile], scenario: F)
where
    F: Fn(Profile) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let runs: Vec<_> = profiles.iter().map(|&profile| (profile, tokio::spawn(scenario(profile)))).collect();
    let mut failed = Vec::new();
    for (profile, run) in runs {
        if let Err(error) = run.await {
            let message = match error.try_into_panic() {
                Ok(panic) => panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "(no message)".into()),
                Err(error) => error.to_string(),
            };
            failed.push(format!("--- {profile}: {message}"));
        }
    }
    assert!(failed.is_empty(), "failed on {} of {} releases:\n{}", failed.len(), profiles.len(), failed.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The same scenarios on every release
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_release_connects_and_syncs_the_whole_state() {
    on_releases(&Profile::ALL, |profile| async move {
        let state = FakeState {
            scenes: vec!["Intro".into(), "Gameplay".into(), "BRB".into()],
            program_scene: "Gameplay".into(),
            vcam_available: true,
            ..FakeState::for_profile(profile)
        };
        let (_fake, session, moments, _serve) = served(state).await;
        let s = session.state().borrow().clone();
        assert_eq!(
            s.connection,
            ConnectionState::Connected {
                obs_version: profile.obs_version().into(),
                websocket_version: profile.ws_version().into()
            }
        );
        let obs = s.obs.expect("synced");
        assert_eq!(obs.stream, StreamState::Offline);
        assert_eq!(obs.scenes, vec!["Intro", "Gameplay", "BRB"]);
        assert_eq!(obs.program_scene.as_deref(), Some("Gameplay"));
        assert_eq!(obs.replay_buffer, OutputActivity::Unavailable);
        assert_eq!(obs.virtual_camera, OutputActivity::Off);
        assert_eq!(moments.kinds(), Vec::<&str>::new());
    })
    .await;
}

#[tokio::test]
async fn every_release_goes_live_and_ends_once() {
    on_releases(&Profile::ALL, |profile| async move {
        let (_fake, session, moments, _serve) = served(FakeState::for_profile(profile)).await;
        session.control(Control::StartStream).await.expect("StartStream");
        moments.wait_for("live", 1, T).await;
        session.control(Control::StopStream).await.expect("StopStream");
        moments.wait_for("ended", 1, T).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(moments.kinds(), vec!["live", "ended"]);
    })
    .await;
}

/// 5.1+ say RECONNECTING (several times) and RECONNECTED; 5.0 says nothing and the outage shows
/// only in the polled `outputReconnecting`. Either way: one `reconnecting`, one `reconnected`,
/// and no `ended` or second `live` although OBS restarted its counters at the reconnect.
#[tokio::test]
async fn every_release_announces_an_rtmp_outage_once_and_its_recovery_once() {
    on_releases(&Profile::ALL, |profile| async move {
        let (_fake, session, moments, serve) = served(FakeState::for_profile(profile)).await;
        session.control(Control::StartStream).await.expect("StartStream");
        moments.wait_for("live", 1, T).await;
        serve.update_state(|st| {
            st.stream_duration_ms = 60_000;
            st.stream_bytes = 45_000_000;
            st.stream_total = 3_600;
        });
        serve.rtmp_outage().await;
        for _ in 0..3 {
            serve.rtmp_retry().await;
        }
        wait_state(&session, "reconnecting", T, reconnecting).await;
        moments.wait_for("reconnecting", 1, T).await;
        serve.rtmp_recovered().await;
        wait_state(&session, "live again", T, live_and_flowing).await;
        moments.wait_for("reconnected", 1, T).await;
        // A few polls of the restarted counters.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert_eq!(moments.kinds(), vec!["live", "reconnecting", "reconnected"]);
        assert!(session.state().borrow().is_live());
    })
    .await;
}

#[tokio::test]
async fn every_release_survives_losing_the_onair_link_while_live() {
    on_releases(&Profile::ALL, |profile| async move {
        let live = FakeState { stream_active: true, stream_duration_ms: 30_000, ..FakeState::for_profile(profile) };
        let (mut fake, session, moments, serve) = served(live.clone()).await;
        serve.drop_tcp().await;
        moments.wait_for("obs-lost", 1, T).await;
        assert!(!session.state().borrow().is_live(), "never claims live while it cannot see OBS");
        let _serve = serve_next(&mut fake, FakeState { stream_duration_ms: 32_000, ..live }).await;
        moments.wait_for("obs-back", 1, T).await;
        wait_state(&session, "live again", T, |s| s.is_live()).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(moments.kinds(), vec!["obs-lost", "obs-back"]);
    })
    .await;
}

#[tokio::test]
async fn every_release_records_and_names_the_file() {
    on_releases(&Profile::ALL, |profile| async move {
        let state = FakeState { record_path: format!("/tmp/fake/{profile}.mkv"), ..FakeState::for_profile(profile) };
        let (_fake, session, moments, _serve) = served(state).await;
        session.control(Control::StartRecording).await.expect("StartRecording");
        moments.wait_for("recording-started", 1, T).await;
        let stopped = session.control(Control::StopRecording).await.expect("StopRecording");
        assert_eq!(stopped.path, Some(format!("/tmp/fake/{profile}.mkv")));
        moments.wait_for("recording-stopped", 1, T).await;
        assert_eq!(moments.kinds(), vec!["recording-started", "recording-stopped"]);
    })
    .await;
}

#[tokio::test]
async fn every_release_follows_scene_switches() {
    on_releases(&Profile::ALL, |profile| async move {
        let (_fake, session, _moments, serve) = served(FakeState::for_profile(profile)).await;
        serve.switch_scene("Gameplay").await;
        wait_state(&session, "switched in OBS", T, |s| {
            s.obs.as_ref().is_some_and(|o| o.program_scene.as_deref() == Some("Gameplay"))
        })
        .await;
        session.control(Control::SwitchScene("Scene".into())).await.expect("SwitchScene");
        wait_state(&session, "switched from OnAir", T, |s| {
            s.obs.as_ref().is_some_and(|o| o.program_scene.as_deref() == Some("Scene"))
        })
        .await;
    })
    .await;
}

/// SceneNameChanged (with the same `sceneUuid` from 5.4) renames the program scene in place.
#[tokio::test]
async fn every_release_follows_a_renamed_program_scene() {
    on_releases(&Profile::ALL, |profile| async move {
        let (_fake, session, _moments, serve) = served(FakeState::for_profile(profile)).await;
        serve.rename_scene("Scene", "Q&A").await;
        wait_state(&session, "the rename followed", T, |s| {
            s.obs.as_ref().is_some_and(|o| {
                o.program_scene.as_deref() == Some("Q&A") && o.scenes == vec!["Q&A".to_string(), "Gameplay".into()]
            })
        })
        .await;
    })
    .await;
}

/// Live through a scene collection switch (5.3+ answers 207 meanwhile; 5.0/5.1 answer as usual):
/// the new collection's scenes are shown, and nothing is announced.
#[tokio::test]
async fn every_release_stays_live_through_a_scene_collection_switch() {
    on_releases(&Profile::ALL, |profile| async move {
        let live = FakeState { stream_active: true, stream_duration_ms: 30_000, ..FakeState::for_profile(profile) };
        let (fake, session, moments, serve) = served(live).await;
        serve.begin_collection_switch().await;
        // Long enough for health polls to meet the switch.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        serve
            .end_collection_switch("Show", |st| {
                st.scenes = vec!["Show A".into(), "Show B".into()];
                st.program_scene = "Show B".into();
            })
            .await;
        let s = wait_state(&session, "the new collection", T, |s| {
            s.obs.as_ref().is_some_and(|o| o.scenes == vec!["Show A".to_string(), "Show B".into()])
        })
        .await;
        let obs = s.obs.clone().expect("synced");
        assert_eq!(obs.program_scene.as_deref(), Some("Show B"));
        assert!(obs.stream.is_on_air());
        assert!(!obs.scene_collection_changing);
        assert_eq!(fake.connection_count(), 1);
        assert_eq!(moments.kinds(), Vec::<&str>::new());
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// What each release's difference requires
// ---------------------------------------------------------------------------------------------

/// Every connection state the session published, in order.
fn record_connection_states(session: &Session) -> Arc<Mutex<Vec<ConnectionState>>> {
    let seen = Arc::new(Mutex::new(vec![session.state().borrow().connection.clone()]));
    let mut rx = session.state();
    let sink = Arc::clone(&seen);
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let connection = rx.borrow_and_update().connection.clone();
            let mut seen = sink.lock().expect("state log lock");
            if seen.last() != Some(&connection) {
                seen.push(connection);
            }
        }
    });
    seen
}

/// OBS 30+ listens before it has finished loading and answers 207 until then. The sync waits a
/// moment and asks again on the same connection: no close and reconnect once a second, no
/// "waiting for OBS", no moment.
#[tokio::test]
async fn v5_3_a_207_while_obs_loads_is_retried_on_the_same_connection() {
    let loading = Duration::from_millis(1500);
    let state = FakeState { not_ready_for: loading, ..FakeState::for_profile(Profile::V5_3) };
    let (fake, session, moments, serve) = start(state, |port| fast_config(port, None)).await;
    let states = record_connection_states(&session);
    let s = wait_state(&session, "connected once OBS has loaded", loading + T, connected).await;
    assert_eq!(s.obs.expect("synced").stream, StreamState::Offline);
    assert_eq!(fake.connection_count(), 1, "the same connection throughout");
    assert!(!serve.is_closed());
    let asked = serve.request_count("GetStreamStatus");
    assert!(asked >= 2, "the sync was asked again after the 207s ({asked} times)");
    assert!(asked <= 30, "a short wait between attempts, not a busy loop ({asked} times in {loading:?})");
    let states = states.lock().expect("state log lock").clone();
    assert!(
        !states.iter().any(|c| matches!(c, ConnectionState::WaitingForObs { .. })),
        "never 'waiting for OBS' while it loads: {states:?}"
    );
    assert_eq!(moments.kinds(), Vec::<&str>::new());
}

/// A resync (after falling behind OBS's events) that meets a scene collection switch gets 207
/// until the switch ends. It must retry on the same connection, not raise a false `obs-lost`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_3_a_resync_during_a_collection_switch_retries_instead_of_losing_obs() {
    resync_during_a_collection_switch(false).await
}

/// The same when OBS leaves the requests unanswered until the switch ends (the protocol notes'
/// reading): busy, not gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v5_3_a_resync_during_a_silent_collection_switch_waits_instead_of_losing_obs() {
    resync_during_a_collection_switch(true).await
}

async fn resync_during_a_collection_switch(silent: bool) {
    let live = FakeState {
        stream_active: true,
        stream_duration_ms: 30_000,
        collection_switch_silent: silent,
        ..FakeState::for_profile(Profile::V5_3)
    };
    let (fake, session, moments, serve) = start(live, |port| {
        let mut config = fast_config(port, None);
        config.client.event_capacity = 4;
        config
    })
    .await;
    wait_state(&session, "connected", T, connected).await;
    serve.begin_collection_switch().await;
    // The session has heard of the switch (so a silent OBS is known to be busy, not gone).
    wait_state(&session, "the switch noticed", T, |s| s.obs.as_ref().is_some_and(|o| o.scene_collection_changing))
        .await;
    // The old collection's sources go away in a burst that overruns a 4-slot channel (sent raw:
    // the point is to make the session fall behind and resync while OBS answers 207).
    // On a quiet machine the session may keep up with one burst: burst again
    // until it has fallen behind (it must, to be tested here).
    let mut resynced = false;
    for _ in 0..10 {
        for i in 0..3_000 {
            serve
                .send_event("SourceFilterRemoved", json!({"sourceName": format!("Source {i}"), "filterName": "f"}))
                .await;
        }
        if serve.wait_for_request_count("GetStreamStatus", 2, Duration::from_secs(1)).await {
            resynced = true;
            break;
        }
    }
    assert!(resynced, "the session fell behind and resynced");
    // Longer than a request may take (2 s here), so a silent switch runs into timeouts.
    tokio::time::sleep(Duration::from_millis(if silent { 3000 } else { 800 })).await;
    serve
        .end_collection_switch("Show", |st| {
            st.scenes = vec!["Show A".into(), "Show B".into()];
            st.program_scene = "Show A".into();
        })
        .await;
    let s = wait_state(&session, "synced with the new collection", T, |s| {
        connected(s) && s.obs.as_ref().is_some_and(|o| o.scenes == vec!["Show A".to_string(), "Show B".into()])
    })
    .await;
    assert!(s.is_live());
    assert_eq!(fake.connection_count(), 1, "no reconnect");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(moments.kinds(), Vec::<&str>::new(), "no obs-lost, no obs-back");
}

/// 5.0 never sends RECONNECTING/RECONNECTED: the outage is seen through the polled
/// `outputReconnecting`, and announced once, and its end once.
#[tokio::test]
async fn v5_0_an_outage_seen_only_by_polling_is_one_reconnecting_and_one_reconnected() {
    let (_fake, session, moments, serve) = served(FakeState::for_profile(Profile::V5_0)).await;
    session.control(Control::StartStream).await.expect("StartStream");
    moments.wait_for("live", 1, T).await;
    serve.update_state(|st| {
        st.stream_duration_ms = 120_000;
        st.stream_bytes = 90_000_000;
    });
    serve.rtmp_outage().await;
    wait_state(&session, "reconnecting from a poll", T, reconnecting).await;
    moments.wait_for("reconnecting", 1, T).await;
    // Several polls during the outage: still one moment.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    serve.rtmp_recovered().await;
    wait_state(&session, "live again from a poll", T, live_and_flowing).await;
    moments.wait_for("reconnected", 1, T).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(moments.kinds(), vec!["live", "reconnecting", "reconnected"]);
}

/// Connected to a 5.0 OBS in the middle of an outage: the state says reconnecting, and the
/// recovery (only visible in a poll) ends it; no `ended`, no `live`.
#[tokio::test]
async fn v5_0_an_outage_found_at_connect_ends_when_a_poll_says_so() {
    let state = FakeState {
        stream_active: true,
        stream_reconnecting: true,
        stream_duration_ms: 600_000,
        ..FakeState::for_profile(Profile::V5_0)
    };
    let (_fake, session, moments, serve) = served(state).await;
    assert!(reconnecting(&session.state().borrow()), "synced as reconnecting");
    serve.rtmp_recovered().await;
    wait_state(&session, "live again from a poll", T, live_and_flowing).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let kinds = moments.kinds();
    assert!(kinds.iter().all(|k| *k == "reconnected"), "{kinds:?}");
    assert!(kinds.len() <= 1, "{kinds:?}");
}

/// 5.5+ reports each new file of a split recording: a `recording-file-changed` moment with its path.
#[tokio::test]
async fn v5_5_a_recording_file_split_is_a_moment_with_the_new_path() {
    let (_fake, session, moments, serve) = served(FakeState::for_profile(Profile::V5_5)).await;
    session.control(Control::StartRecording).await.expect("StartRecording");
    moments.wait_for("recording-started", 1, T).await;
    serve.split_recording("/tmp/fake/rec-part2.mkv").await;
    moments.wait_for("recording-file-changed", 1, T).await;
    let split = moments.all().into_iter().find(|n| n.moment.kind() == "recording-file-changed").expect("the moment");
    let json = serde_json::to_value(&split).expect("moments serialize");
    assert_eq!(json["path"], "/tmp/fake/rec-part2.mkv", "{json}");
    let stopped = session.control(Control::StopRecording).await.expect("StopRecording");
    assert_eq!(stopped.path.as_deref(), Some("/tmp/fake/rec-part2.mkv"));
    moments.wait_for("recording-stopped", 1, T).await;
    assert_eq!(moments.kinds(), vec!["recording-started", "recording-file-changed", "recording-stopped"]);
}

/// 5.7 may answer `currentProgramSceneName: null`: it parses, and the state shows no program
/// scene (not an empty name), until OBS names one.
#[tokio::test]
async fn v5_7_a_null_program_scene_parses_and_shows_no_program_scene() {
    let state = FakeState { program_scene: String::new(), ..FakeState::for_profile(Profile::V5_7) };
    let (_fake, session, moments, serve) = served(state).await;
    let obs = session.state().borrow().obs.clone().expect("synced");
    assert_eq!(obs.program_scene, None);
    assert_eq!(obs.scenes, vec!["Scene", "Gameplay"]);
    serve.switch_scene("Gameplay").await;
    wait_state(&session, "a program scene", T, |s| {
        s.obs.as_ref().is_some_and(|o| o.program_scene.as_deref() == Some("Gameplay"))
    })
    .await;
    assert_eq!(moments.kinds(), Vec::<&str>::new());
}

// ---------------------------------------------------------------------------------------------
// Mics: by uuid from 5.4, and inputs coming, going and renamed
// ---------------------------------------------------------------------------------------------

/// The watched mics: (name, uuid, muted).
fn mics(s: &State) -> Vec<(String, Option<String>, bool)> {
    s.obs
        .as_ref()
        .map(|o| o.mics.iter().map(|m| (m.name.clone(), m.uuid.clone(), m.muted)).collect())
        .unwrap_or_default()
}

/// [`served`], watching `named` besides OBS's mic slots.
async fn served_watching(state: FakeState, named: &[&str]) -> (FakeObs, Session, MomentLog, ServeHandle) {
    let named: Vec<String> = named.iter().map(|n| n.to_string()).collect();
    let (fake, session, moments, serve) =
        start(state, |port| SessionConfig { mics: named, ..fast_config(port, None) }).await;
    wait_state(&session, "connected", T, connected).await;
    (fake, session, moments, serve)
}

/// The `GetInputMute` requests so far, as asked.
fn mutes_asked(serve: &ServeHandle) -> Vec<serde_json::Value> {
    serve.requests().into_iter().filter(|r| r.request_type == "GetInputMute").filter_map(|r| r.data).collect()
}

/// From 5.4 a mic is asked for by its uuid, which keeps working where OBS fails a lookup by
/// name (as 5.7.1 does for some inputs); before 5.4 by name. Its mute events are followed either way,
/// and a mute from OnAir goes by the same address.
#[tokio::test]
async fn mics_are_addressed_by_uuid_from_5_4_and_by_name_before() {
    on_releases(&[Profile::V5_3, Profile::V5_4, Profile::V5_7], |profile| async move {
        let mut state = FakeState::for_profile(profile);
        state.muted.insert("Mic/Aux".into());
        if profile.has_uuids() {
            state.not_found_by_name.insert("Mic/Aux".into());
        }
        let uuid = profile.has_uuids().then(|| state.uuid_of("Mic/Aux"));
        let (_fake, session, _moments, serve) = served_watching(state, &[]).await;
        let s = wait_state(&session, "the mic", T, |s| !mics(s).is_empty()).await;
        assert_eq!(mics(&s), [("Mic/Aux".to_string(), uuid.clone(), true)]);
        let asked = match &uuid {
            Some(uuid) => json!({ "inputUuid": uuid }),
            None => json!({ "inputName": "Mic/Aux" }),
        };
        assert_eq!(mutes_asked(&serve), [asked]);
        serve.mute_in_obs("Mic/Aux", false).await;
        wait_state(&session, "the unmute followed", T, |s| mics(s) == [("Mic/Aux".to_string(), uuid.clone(), false)])
            .await;
        // A mute from OnAir goes by the same address (by name, 5.7.1 would not find it).
        let outcome = session.control(Control::Mute { input: "Mic/Aux".into(), muted: Some(true) }).await;
        assert!(outcome.is_ok(), "{profile:?}: {outcome:?}");
        wait_state(&session, "the mute followed", T, |s| mics(s) == [("Mic/Aux".to_string(), uuid.clone(), true)])
            .await;
    })
    .await;
}

/// An input created with a watched name, or in one of OBS's mic slots, is watched at once with
/// its mute (not at the next sync); one that is neither is not; a removed one is dropped; a
/// renamed one is followed (by uuid from 5.4), and one renamed to a watched name is picked up.
#[tokio::test]
async fn inputs_created_removed_and_renamed_are_followed_at_once() {
    on_releases(&[Profile::V5_3, Profile::V5_4], |profile| async move {
        let (_fake, session, _moments, serve) =
            served_watching(FakeState::for_profile(profile), &["Podcast Mic", "Guest Mic"]).await;
        let uuid = |name: &str| profile.has_uuids().then(|| serve.state().uuid_of(name));
        let s = wait_state(&session, "the slot's mic", T, |s| !mics(s).is_empty()).await;
        assert_eq!(mics(&s), [("Mic/Aux".to_string(), uuid("Mic/Aux"), false)], "the named ones are not in OBS yet");

        // Created muted, with a watched name: watched with its mute.
        serve.update_state(|s| {
            s.muted.insert("Podcast Mic".into());
        });
        serve.create_input("Podcast Mic", "pulse_input_capture", None).await;
        let podcast = ("Podcast Mic".to_string(), uuid("Podcast Mic"), true);
        wait_state(&session, "the created mic", T, |s| mics(s).contains(&podcast)).await;
        // Created in OBS's second mic slot: watched too. Neither: not watched.
        serve.create_input("Music", "pulse_output_capture", None).await;
        serve.create_input("USB Mic", "pulse_input_capture", Some("mic2")).await;
        let usb = ("USB Mic".to_string(), uuid("USB Mic"), false);
        let s = wait_state(&session, "the slot's new mic", T, |s| mics(s).contains(&usb)).await;
        assert_eq!(s.obs.map(|o| o.mics.len()), Some(3), "{:?}", mics(&session.state().borrow()));
        assert_eq!(serve.request_count("GetVersion"), 1, "no second sync: each was asked about at once");

        serve.remove_input("Podcast Mic").await;
        wait_state(&session, "the removed mic dropped", T, |s| !mics(s).contains(&podcast)).await;
        serve.rename_input("USB Mic", "Desk Mic").await;
        let desk = ("Desk Mic".to_string(), uuid("USB Mic"), false);
        wait_state(&session, "the rename followed", T, |s| mics(s).contains(&desk)).await;
        serve.rename_input("Music", "Guest Mic").await;
        let guest = ("Guest Mic".to_string(), uuid("Music"), false);
        let s = wait_state(&session, "renamed to a watched name", T, |s| mics(s).contains(&guest)).await;
        let names: Vec<String> = mics(&s).into_iter().map(|m| m.0).collect();
        assert_eq!(names, ["Mic/Aux", "Desk Mic", "Guest Mic"]);
    })
    .await;
}
