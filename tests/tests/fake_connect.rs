//! Connecting, and failing to, by cause: each cause against a real socket of
//! its kind (a closed port, a name that does not resolve, a listener whose
//! queue is full, one that accepts and says nothing, a web server, a
//! websocket server that is not OBS's, the fake OBS's 4009 and 4010 closes),
//! as the session's state names it and as `onair` says it; then `onair
//! connect` from OBS's own settings (written as each obs-websocket version
//! writes them) and from its obsws:// URL, against the fake OBS.
//!
//! The `onair` runs here have no session bus, so no keyring: a password is
//! never stored in the keyring of the machine running the tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use onair_headless::connect::Cause;
use onair_headless::obs::Session;
use onair_headless::settings::Target;
use onair_headless::state::{ConnectionState, State};
use onair_system_tests::fake::{FakeObs, FakeState};
use onair_system_tests::support::{fast_config, onair_bin, run_onair, wait_state};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const T: Duration = Duration::from_secs(10);

/// A session on `host:port` with the tests' quick timings.
fn session_on(host: &str, port: u16, password: Option<&str>) -> Session {
    let mut config = fast_config(port, password);
    config.target = Target::new(host, i64::from(port));
    Session::spawn(config).0
}

/// Waits for the session to wait for OBS with `cause`; the state then.
async fn waiting_with(session: &Session, cause: Cause) -> State {
    let what = format!("waiting for OBS, {}", cause.wire_name());
    wait_state(
        session,
        &what,
        T,
        |s| matches!(&s.connection, ConnectionState::WaitingForObs { reason } if reason.cause == cause),
    )
    .await
}

fn reason(state: &State) -> String {
    match &state.connection {
        ConnectionState::WaitingForObs { reason } => reason.reason.clone(),
        other => panic!("not waiting: {other:?}"),
    }
}

/// A port nothing listens on (just freed).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// `onair ARGS` with `home` as HOME and its `.config` as the config folder
/// (OnAir's and OBS's), and no session bus (so no keyring); (exit code,
/// stdout, stderr).
async fn onair_in(home: &Path, args: &[&str]) -> (i32, String, String) {
    let mut command = tokio::process::Command::new(onair_bin());
    command
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env_remove("ONAIR_PASSWORD")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DISPLAY")
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    run_onair(&mut command).await
}

/// A fresh HOME, removed on drop.
struct Home(PathBuf);

impl Home {
    fn new(name: &str) -> Home {
        let dir = std::env::temp_dir().join(format!("onair-fake-connect-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join(".config")).expect("create the test HOME");
        Home(dir)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create the folder");
        std::fs::write(path, text).expect("write");
    }

    fn settings(&self) -> String {
        std::fs::read_to_string(self.0.join(".config/onair/settings.toml")).unwrap_or_default()
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `global.ini` as OBS 29 (obs-websocket 5.1) writes it, with these values.
fn global_ini(enabled: bool, port: u16, password: Option<&str>) -> String {
    format!(
        "[General]\nFirstRun=true\nLastVersion=486539266\n\n[Basic]\nProfile=Untitled\n\n[OBSWebSocket]\nFirstLoad=false\nServerEnabled={enabled}\nServerPort={port}\nAlertsEnabled=false\nAuthRequired={}\nServerPassword={}\n",
        password.is_some(),
        password.unwrap_or("")
    )
}

/// A fake OBS that serves every connection it is asked for (with `password`)
/// until dropped.
async fn serving_fake(password: Option<&'static str>) -> (u16, tokio::task::JoinHandle<()>) {
    let mut fake = FakeObs::start().await;
    let port = fake.port();
    let task = tokio::spawn(async move {
        let mut served = Vec::new();
        while let Some(mut conn) = fake.accept(Duration::from_secs(120)).await {
            if conn.handshake(password).await.is_ok() {
                served.push(conn.serve_with(FakeState::default()));
            }
        }
    });
    (port, task)
}

// ---- each cause, against a socket of its kind ----------------------------------

#[tokio::test]
async fn a_closed_port_here_is_obs_not_running_or_its_server_off() {
    let port = closed_port();
    let session = session_on("127.0.0.1", port, None);
    let state = waiting_with(&session, Cause::Refused).await;
    assert!(reason(&state).starts_with("OBS is not running, or its WebSocket server is off: "), "{state:?}");
    assert!(reason(&state).contains("Tools › WebSocket Server Settings › Enable WebSocket server"));
    let home = Home::new("refused");
    let (code, _, stderr) =
        onair_in(&home.0, &["--host", "127.0.0.1", "--port", &port.to_string(), "--timeout", "3", "status"]).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("OBS is not running, or its WebSocket server is off"), "{stderr}");
    assert!(stderr.contains("Tools › WebSocket Server Settings"), "{stderr}");
}

#[tokio::test]
async fn a_name_that_does_not_resolve_says_so() {
    let session = session_on("nothing.invalid", 4455, None);
    let state = waiting_with(&session, Cause::Unresolved).await;
    assert!(reason(&state).starts_with("the name nothing.invalid does not resolve: check the name"), "{state:?}");
    let home = Home::new("unresolved");
    let (code, _, stderr) = onair_in(&home.0, &["--host", "nothing.invalid", "--timeout", "3", "status"]).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("nothing.invalid does not resolve"), "{stderr}");
}

#[tokio::test]
async fn a_host_that_never_answers_the_connection_is_a_firewall_or_a_wrong_address() {
    // A listener with a backlog of none, its queue filled and never accepted:
    // the kernel drops further SYNs, as a firewall that drops does.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().expect("address")).expect("bind");
    let listener = socket.listen(0).expect("listen");
    let port = listener.local_addr().expect("address").port();
    let mut fillers = Vec::new();
    for _ in 0..3 {
        if let Ok(Ok(stream)) =
            tokio::time::timeout(Duration::from_millis(300), tokio::net::TcpStream::connect(("127.0.0.1", port))).await
        {
            fillers.push(stream);
        }
    }
    let session = session_on("127.0.0.1", port, None);
    let state = waiting_with(&session, Cause::NoAnswer).await;
    // On this machine, no firewall is blamed.
    assert!(reason(&state).starts_with("no answer (timed out): check the port"), "{state:?}");
    drop(listener);
}

#[tokio::test]
async fn a_listener_that_accepts_and_says_nothing_is_not_taken_for_obs() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let session = session_on("127.0.0.1", port, None);
    let state = waiting_with(&session, Cause::Silent).await;
    assert!(reason(&state).contains("accepted the connection on port"), "{state:?}");
    assert!(reason(&state).contains("check the port"), "{state:?}");
    // `onair status` says so within its one --timeout, not after two of them.
    let home = Home::new("silent-status");
    onair_bin();
    let started = std::time::Instant::now();
    let (code, _, stderr) =
        onair_in(&home.0, &["status", "--host", "127.0.0.1", "--port", &port.to_string(), "--timeout", "2"]).await;
    let took = started.elapsed();
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("accepted the connection on port"), "the cause, not a bare timeout: {stderr}");
    assert!(took < Duration::from_millis(2_900), "answered after {took:?} with --timeout 2");
    held.abort();
}

#[tokio::test]
async fn a_web_server_on_the_port_is_told_from_obs() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let server = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 2048];
            let _ = stream.read(&mut request).await;
            let _ =
                stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello").await;
        }
    });
    let session = session_on("127.0.0.1", port, None);
    let state = waiting_with(&session, Cause::Http).await;
    assert!(reason(&state).starts_with(&format!("a web server answered on port {port}, not OBS's")), "{state:?}");
    let home = Home::new("http");
    let (code, _, stderr) =
        onair_in(&home.0, &["--host", "127.0.0.1", "--port", &port.to_string(), "--timeout", "3", "status"]).await;
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("a web server answered"), "{stderr}");
    server.abort();
}

/// A websocket server: `with_subprotocol` echoes obs-websocket's subprotocol,
/// then says `first` (or nothing); without, it is a plain websocket server.
// tungstenite's handshake callback has its error type (an HTTP response) fixed.
#[allow(clippy::result_large_err)]
async fn other_websocket_server(with_subprotocol: bool, first: Option<&'static str>) -> u16 {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let echo = |request: &Request, mut response: Response| {
                    if with_subprotocol {
                        if let Some(asked) = request.headers().get("Sec-WebSocket-Protocol") {
                            response.headers_mut().insert("Sec-WebSocket-Protocol", asked.clone());
                        }
                    }
                    Ok(response)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, echo).await else { return };
                if let Some(text) = first {
                    let _ = ws.send(Message::Text(text.into())).await;
                }
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    port
}

#[tokio::test]
async fn another_websocket_server_is_not_obs() {
    // One that does not speak obs-websocket's subprotocol...
    let plain = other_websocket_server(false, None).await;
    let session = session_on("127.0.0.1", plain, None);
    let state = waiting_with(&session, Cause::NotObs).await;
    assert!(reason(&state).starts_with(&format!("a WebSocket server answered on port {plain}, but it is not OBS's")));
    // ...and one that claims to, then says something else first.
    let chatty = other_websocket_server(true, Some(r#"{"type":"welcome","server":"chat"}"#)).await;
    let session = session_on("127.0.0.1", chatty, None);
    let state = waiting_with(&session, Cause::NotObs).await;
    let ConnectionState::WaitingForObs { reason } = &state.connection else { unreachable!() };
    assert!(reason.detail.contains("said something else first"), "{reason:?}");
}

#[tokio::test]
async fn obs_wanting_a_password_none_is_set_and_a_rejected_one_say_where_to_get_it() {
    let (port, _fake) = serving_fake(Some("right one")).await;
    let missing = session_on("127.0.0.1", port, None);
    let state =
        wait_state(&missing, "auth failed", T, |s| matches!(s.connection, ConnectionState::AuthFailed { .. })).await;
    assert_eq!(
        state.connection,
        ConnectionState::AuthFailed { message: "OBS wants a password and none is set".into() }
    );
    let rejected = session_on("127.0.0.1", port, Some("wrong one"));
    let state =
        wait_state(&rejected, "auth failed", T, |s| matches!(s.connection, ConnectionState::AuthFailed { .. })).await;
    assert_eq!(state.connection, ConnectionState::AuthFailed { message: "OBS rejected the password".into() });
    let line = onair_headless::text::connection_line(&state);
    assert!(line.starts_with(
        "OBS rejected the password: copy it from OBS's Tools › WebSocket Server Settings › Show Connect Info"
    ));
    let home = Home::new("auth");
    let (code, _, stderr) =
        onair_in(&home.0, &["--host", "127.0.0.1", "--port", &port.to_string(), "--timeout", "5", "status"]).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("wants a password") && stderr.contains("Show Connect Info"), "{stderr}");
}

#[tokio::test]
async fn an_obs_that_speaks_another_protocol_version_says_which_obs_is_needed() {
    let mut fake = FakeObs::start().await;
    let session = session_on("127.0.0.1", fake.port(), None);
    let mut conn = fake.accept(T).await.expect("the session connects");
    conn.send_hello(None, "5.1.0").await;
    conn.recv_identify(T).await.expect("an Identify");
    conn.close(4010, "Your requested RPC version is not supported by this server.").await;
    let state =
        wait_state(&session, "incompatible", T, |s| matches!(s.connection, ConnectionState::Incompatible { .. })).await;
    let ConnectionState::Incompatible { message } = &state.connection else { unreachable!() };
    assert_eq!(
        message,
        "OBS's WebSocket server speaks another protocol version: OnAir needs obs-websocket 5: OBS 28 or newer"
    );
}

// ---- onair connect -----------------------------------------------------------------

#[tokio::test]
async fn connect_from_obs_reads_obs_29s_global_ini_saves_the_address_and_checks_it() {
    let (port, _fake) = serving_fake(None).await;
    let home = Home::new("from-obs-ini");
    home.write(".config/obs-studio/global.ini", &global_ini(true, port, None));
    home.write(
        ".config/onair/settings.toml",
        "[obs]\nhost = \"studio.lan\"\nport = 4460\n\n[notifications]\nlive = false\n",
    );
    let (code, stdout, stderr) = onair_in(&home.0, &["connect", "--from-obs"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let ini = home.0.join(".config/obs-studio/global.ini");
    assert!(
        stdout.contains(&format!("Found OBS at localhost:{port} in OBS's settings in {}", ini.display())),
        "{stdout}"
    );
    assert!(stdout.contains("no password asked for"), "{stdout}");
    assert!(stdout.contains(&format!("Connected to OBS 29.0.2 (obs-websocket 5.1.0) at localhost:{port}")), "{stdout}");
    let settings = home.settings();
    assert!(settings.contains("host = \"localhost\"") && settings.contains(&format!("port = {port}")), "{settings}");
    assert!(settings.contains("live = false"), "the rest of the file is kept: {settings}");
    // The saved address is what the commands use from now on.
    let (code, stdout, stderr) = onair_in(&home.0, &["status"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[tokio::test]
async fn connect_from_obs_prefers_config_json_and_finds_the_flatpaks_folder() {
    let (port, _fake) = serving_fake(None).await;
    let home = Home::new("from-obs-json");
    let flatpak = ".var/app/com.obsproject.Studio/config/obs-studio";
    // What obs-websocket 5.5 leaves: the old keys moved out of global.ini.
    home.write(&format!("{flatpak}/global.ini"), &global_ini(true, closed_port(), None));
    home.write(
        &format!("{flatpak}/plugin_config/obs-websocket/config.json"),
        &format!("{{\n    \"alerts_enabled\": false,\n    \"auth_required\": false,\n    \"first_load\": false,\n    \"server_enabled\": true,\n    \"server_password\": \"unused\",\n    \"server_port\": {port}\n}}"),
    );
    let (code, stdout, stderr) = onair_in(&home.0, &["connect", "--from-obs"]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("config.json (obs-websocket 5.5 or newer)") && stdout.contains(flatpak), "{stdout}");
    assert!(home.settings().contains(&format!("port = {port}")));
    // The same folder given by hand.
    let elsewhere = Home::new("from-obs-dir");
    let dir = home.0.join(flatpak);
    let (code, stdout, stderr) =
        onair_in(&elsewhere.0, &["connect", "--from-obs", "--obs-config", &dir.display().to_string()]).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(elsewhere.settings().contains(&format!("port = {port}")));
}

#[tokio::test]
async fn connect_from_obs_with_its_server_off_says_how_to_turn_it_on() {
    let home = Home::new("server-off");
    // As OBS 29 writes it on its first start: the server off, a password generated.
    home.write(".config/obs-studio/global.ini", &global_ini(false, closed_port(), Some("9tPNpEOc1weg0KfN")));
    let (code, stdout, stderr) = onair_in(&home.0, &["connect", "--from-obs"]).await;
    assert_eq!(code, 3, "{stdout}{stderr}");
    assert!(stderr.contains("Tools › WebSocket Server Settings › Enable WebSocket server"), "{stderr}");
    assert!(!stdout.contains("9tPNpEOc1weg0KfN") && !stderr.contains("9tPNpEOc1weg0KfN"), "never printed");
    assert!(stderr.contains("no keyring"), "{stderr}");
    assert!(!home.settings().contains("9tPNpEOc1weg0KfN"), "never in the file");
    let (code, _, stderr) = onair_in(&Home::new("nothing").0, &["connect", "--from-obs"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no OBS WebSocket settings found") && stderr.contains("--obs-config"), "{stderr}");
}

#[tokio::test]
async fn connect_with_obss_url_logs_in_with_its_password_and_never_shows_it() {
    let (port, _fake) = serving_fake(Some("s/cret pass")).await;
    let home = Home::new("url");
    let url = format!("obsws://127.0.0.1:{port}/s%2Fcret%20pass");
    let (code, stdout, stderr) = onair_in(&home.0, &["connect", &url]).await;
    // Checked with the URL's password; with no keyring to keep it, exit 7.
    assert_eq!(code, 7, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("Found OBS at 127.0.0.1:{port} in the obsws:// URL: with a password")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("Connected to OBS 29.0.2 (obs-websocket 5.1.0) at 127.0.0.1:{port}")), "{stdout}");
    assert!(stderr.contains("no keyring") && stderr.contains("ONAIR_PASSWORD"), "{stderr}");
    for text in [&stdout, &stderr, &home.settings()] {
        assert!(!text.contains("cret"), "the password is never shown or written: {text}");
    }
    assert!(home.settings().contains(&format!("port = {port}")));
    // A wrong one is said by its cause.
    let url = format!("obsws://127.0.0.1:{port}/wrong");
    let (code, _, stderr) = onair_in(&home.0, &["connect", &url]).await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("OBS rejected the password: copy it from"), "{stderr}");
    let (code, _, stderr) = onair_in(&home.0, &["connect", "obsws://127.0.0.1/secret"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(!stderr.contains("secret"), "{stderr}");
}

/// A network with no route to OBS's address: `onair` run in a network
/// namespace of its own (`unshare -n`: loopback only, and down), where the
/// kernel answers a connect at once with "network unreachable".
#[tokio::test]
async fn an_address_this_machine_has_no_route_to_says_so_at_once() {
    let bin = onair_bin();
    let home = Home::new("unreachable");
    let started = std::time::Instant::now();
    let mut command = tokio::process::Command::new("unshare");
    command
        .arg("-n")
        .arg(&bin)
        .args(["status", "--host", "192.0.2.1", "--port", "4455", "--timeout", "10"])
        .env("HOME", &home.0)
        .env("XDG_CONFIG_HOME", home.0.join(".config"))
        .env_remove("ONAIR_PASSWORD")
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let (code, _, stderr) = run_onair(&mut command).await;
    assert!(!stderr.contains("unshare:"), "this test needs unshare -n (root, or user namespaces): {stderr}");
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("this machine has no route to 192.0.2.1"), "{stderr}");
    assert!(stderr.contains("same network"), "with what to check: {stderr}");
    assert!(started.elapsed() < Duration::from_secs(5), "a refusal by the kernel is not waited out");
}
