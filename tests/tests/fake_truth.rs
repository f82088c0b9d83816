//! The session never says what OBS is not doing, in the corners a scripted OBS
//! shows on demand: output events that come after the control's answer, new
//! settings for the same OBS while live, and OBS's last words arriving together
//! with its close frame.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use onair_headless::obs::Session;
use onair_headless::settings::Target;
use onair_headless::state::{ConnectionState, OutputActivity, State};
use onair_system_tests::fake::{FakeObs, FakeState, ServeHandle};
use onair_system_tests::support::{fast_config, onair, onair_bin, wait_state, MomentLog};
use serde_json::json;

const T: Duration = Duration::from_secs(5);

fn connected(s: &State) -> bool {
    s.obs.is_some() && matches!(s.connection, ConnectionState::Connected { .. })
}

async fn served(state: FakeState) -> (FakeObs, Session, MomentLog, ServeHandle) {
    let mut fake = FakeObs::start().await;
    let (session, _task) = Session::spawn(fast_config(fake.port(), None));
    let moments = MomentLog::record(&session);
    let mut conn = fake.accept(T).await.expect("the session connects");
    conn.handshake(None).await.expect("handshake");
    let serve = conn.serve_with(state);
    wait_state(&session, "connected", T, connected).await;
    (fake, session, moments, serve)
}

#[tokio::test]
async fn a_start_answered_before_obs_says_starting_is_judged_by_what_obs_then_does() {
    // Built (if need be) before the clock below starts.
    onair_bin();
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    let cli = tokio::spawn(async move { onair(port, None, &["stream", "start"]).await });
    let mut conn = fake.accept(Duration::from_secs(60)).await.expect("onair connects");
    conn.handshake(None).await.expect("handshake");
    // STARTING comes most of a second after OBS accepted StartStream.
    let _serve = conn.serve_with(FakeState { output_events_delay: Duration::from_millis(800), ..FakeState::default() });
    let (code, stdout, stderr) = cli.await.expect("onair ran");
    assert_eq!(code, 0, "OBS went live, so the command succeeds; stdout {stdout:?} stderr {stderr:?}");
    assert!(stdout.contains("LIVE"), "{stdout:?}");
}

#[tokio::test]
async fn new_settings_for_the_same_obs_show_no_stale_state_and_tell_an_end_meanwhile() {
    let live = FakeState { stream_active: true, stream_duration_ms: 30_000, ..FakeState::default() };
    let (mut fake, session, moments, _serve) = served(live).await;
    let seen: Arc<Mutex<Vec<State>>> = Arc::default();
    let mut rx = session.state();
    let record = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let state = rx.borrow_and_update().clone();
                seen.lock().unwrap().push(state);
            }
        })
    };
    // The password re-saved: same host and port.
    session.reconfigure(Target::new("127.0.0.1", i64::from(fake.port())), None).await;
    let mut conn = fake.accept(T).await.expect("the session reconnects");
    conn.handshake(None).await.expect("handshake");
    // The stream ended while OnAir was reconnecting.
    let _serve = conn.serve_with(FakeState::default());
    moments.wait_for("ended", 1, T).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    record.abort();
    assert_eq!(moments.kinds(), vec!["ended"], "no obs-lost alarm for a reconnect the user asked for");
    let seen = seen.lock().unwrap();
    assert!(seen.iter().any(|s| s.connection == ConnectionState::Connecting), "it did reconnect: {seen:?}");
    for state in seen.iter() {
        let may_show = matches!(state.connection, ConnectionState::Connected { .. } | ConnectionState::Syncing);
        assert!(state.obs.is_none() || may_show, "a state shown while not connected: {state:?}");
    }
}

#[tokio::test]
async fn obs_quitting_with_its_close_frame_right_behind_exit_started_is_an_end_not_a_loss() {
    // ExitStarted and the close frame written in one go land in one read: the
    // session then sees the event and the closed connection at once, and must
    // take the event first, every time.
    for round in 0..10 {
        let live = FakeState { stream_active: true, stream_duration_ms: 30_000, ..FakeState::default() };
        let (_fake, session, moments, serve) = served(live).await;
        serve.send_event_then_close("ExitStarted", json!({}), 1001, "").await;
        wait_state(&session, "not connected", T, |s| s.obs.is_none()).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(moments.kinds(), vec!["ended"], "round {round}");
        session.shutdown().await;
    }
}

#[tokio::test]
async fn a_profile_change_brings_the_replay_buffer_and_virtual_camera_up_to_date() {
    let (_fake, session, _moments, serve) = served(FakeState::default()).await;
    let before = session.state().borrow().clone();
    let obs = before.obs.expect("synced");
    assert_eq!((obs.replay_buffer, obs.virtual_camera), (OutputActivity::Unavailable, OutputActivity::Unavailable));
    // The other profile has both outputs configured; OBS says only that the profile changed.
    serve
        .switch_obs_profile("Streaming", |st| {
            st.replay_available = true;
            st.vcam_available = true;
        })
        .await;
    let after = wait_state(&session, "outputs of the new profile", T, |s| {
        s.obs
            .as_ref()
            .is_some_and(|o| o.replay_buffer == OutputActivity::Off && o.virtual_camera == OutputActivity::Off)
    })
    .await;
    assert!(matches!(after.connection, ConnectionState::Connected { .. }), "no reconnect for it: {after:?}");
}
