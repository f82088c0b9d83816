//! The lean `onair` command against the fake OBS and a closed port: a refused
//! connection is an answer at once, and the keyring is only asked once OBS has
//! said it wants a password this run was not given.
//!
//! Each run has a session bus address that leads nowhere, so a keyring that is
//! asked fails and says so on stderr: its silence means it was not asked.

use std::time::{Duration, Instant};

use onair_system_tests::fake::{FakeObs, FakeState};
use onair_system_tests::support::{onair_bin, run_onair};

const T: Duration = Duration::from_secs(5);
const KEYRING_WARNING: &str = "cannot read the stored password";

/// Runs `onair ARGS` against 127.0.0.1:`port` with no keyring reachable; returns
/// (exit code, stdout, stderr, how long it ran).
async fn onair_without_keyring(port: u16, args: &[&str]) -> (i32, String, String, Duration) {
    let mut command = tokio::process::Command::new(onair_bin());
    command
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(args)
        .env_remove("ONAIR_PASSWORD")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/onair-test-bus")
        .env("XDG_CONFIG_HOME", std::env::temp_dir().join("onair-tests-no-config"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let (code, stdout, stderr) = run_onair(&mut command).await;
    (code, stdout, stderr, started.elapsed())
}

/// A loopback port nothing listens at (bound, read, released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local address").port()
}

#[tokio::test]
async fn a_refused_port_is_answered_at_once_with_exit_3_and_no_keyring() {
    onair_bin();
    let port = closed_port();
    // Each would wait out the whole --timeout if a refusal were retried.
    for args in [&["status"][..], &["stream", "toggle"], &["audio"], &["mute", "toggle"], &["status", "--json"]] {
        let args: Vec<&str> = args.iter().copied().chain(["--timeout", "20"]).collect();
        let (code, stdout, stderr, took) = onair_without_keyring(port, &args).await;
        assert_eq!(code, 3, "{args:?}: stdout {stdout:?} stderr {stderr:?}");
        assert!(took < Duration::from_secs(2), "{args:?} answered after {took:?}");
        // The words are the session's (what is wrong, what to do); this is about when they come.
        assert!(stderr.starts_with(&format!("onair: Waiting for OBS at 127.0.0.1:{port}: ")), "{args:?}: {stderr:?}");
        assert!(!stderr.contains(KEYRING_WARNING), "no password was needed for this answer: {stderr:?}");
    }
}

#[tokio::test]
async fn obs_without_a_password_is_answered_without_asking_the_keyring() {
    onair_bin();
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    let cli = tokio::spawn(async move { onair_without_keyring(port, &["status"]).await });
    let mut conn = fake.accept(Duration::from_secs(60)).await.expect("onair connects");
    conn.handshake(None).await.expect("handshake");
    let _serve = conn.serve_with(FakeState::default());
    let (code, stdout, stderr, _) = cli.await.expect("onair ran");
    assert_eq!(code, 0, "stdout {stdout:?} stderr {stderr:?}");
    assert!(!stderr.contains(KEYRING_WARNING), "{stderr:?}");
    assert_eq!(fake.connection_count(), 1, "one connection");
}

#[tokio::test]
async fn obs_that_wants_a_password_none_was_given_for_makes_onair_ask_the_keyring() {
    onair_bin();
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    let cli = tokio::spawn(async move { onair_without_keyring(port, &["status"]).await });
    let mut conn = fake.accept(Duration::from_secs(60)).await.expect("onair connects");
    assert!(conn.handshake(Some("secret")).await.is_err(), "no password, no Identify with authentication");
    let (code, stdout, stderr, took) = cli.await.expect("onair ran");
    assert_eq!(code, 4, "stdout {stdout:?} stderr {stderr:?}");
    assert!(stderr.contains(KEYRING_WARNING), "the keyring was asked, and could not answer: {stderr:?}");
    assert!(stderr.contains("wants a password"), "{stderr:?}");
    assert!(took < T, "{took:?}");
    assert_eq!(fake.connection_count(), 1, "no second attempt without a stored password");
}

#[tokio::test]
async fn a_password_given_for_the_run_is_used_without_the_keyring() {
    onair_bin();
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    let cli = tokio::spawn(async move {
        let mut command = tokio::process::Command::new(onair_bin());
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "status"])
            .env("ONAIR_PASSWORD", "secret")
            .env_remove("DISPLAY")
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/onair-test-bus")
            .env("XDG_CONFIG_HOME", std::env::temp_dir().join("onair-tests-no-config"))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        command.output().await.expect("run onair")
    });
    let mut conn = fake.accept(Duration::from_secs(60)).await.expect("onair connects");
    conn.handshake(Some("secret")).await.expect("the given password is accepted");
    let _serve = conn.serve_with(FakeState::default());
    let output = cli.await.expect("onair ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains(KEYRING_WARNING), "{stderr:?}");
}
