//! A real, isolated OBS Studio for system tests: "the world" the app under test lives in.
//!
//! The fake server in this crate checks the client against the protocol as documented;
//! this module checks it against the real thing (Debian 12's OBS 29.0.2 with
//! obs-websocket 5.1.0), because real OBS differs from the docs in ways that matter to a
//! tray app (events out of order, SIGTERM drops the socket without a close frame,
//! reconnect states while the ingest is down, ...).
//!
//! One [`ObsWorld`] owns, each in its own process group so it can be torn down whole:
//! - a private X server (`Xvfb -displayfd`, so parallel tests never fight over a display),
//! - a private session bus (`dbus-daemon`, so OBS does not autolaunch one that outlives it),
//! - OBS Studio itself, with its own HOME, profile and scene collection in a temp dir,
//!   and any more OBS a test adds ([`ObsWorld::add_obs`]: a streaming PC and a gaming
//!   PC), each with its own HOME, port, password and stream key on the same display,
//!   bus and ingest,
//! - optionally an nginx RTMP ingest on loopback that tests can kill and restart.
//!
//! It also has its own tiny obs-websocket admin client ([`ObsWorld::request`]) so tests
//! check OBS's real state independently of the code under test.
//!
//! Everything is torn down on drop (also when a test panics). A watchdog shell process
//! kills the process groups if the test process dies without dropping the world (for
//! example Ctrl-C). Set `ONAIR_KEEP_WORLD=1` to keep the temp dir (configs and logs).

use std::fmt::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use onair_headless::obs::authentication_string;
use onair_headless::obs::protocol::{op, status, SUBPROTOCOL};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use crate::sandbox::{
    create_dir, free_port, log_excerpt, send_signal, tail, write_file, xvfb_command, Group, Kind, Pipes, Sandbox,
    HELPER_READY_TIMEOUT,
};

/// How long OBS may take from spawn until an Identify succeeds.
const OBS_READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a graceful quit may take before OBS is killed.
const OBS_QUIT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one admin request (connect, identify, request, answer) may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Name of the profile and scene collection written into the world's HOME.
const PROFILE: &str = "OnAir";
/// `LastVersion` for OBS 29.0.2, so OBS shows no "what's new" on start.
const OBS_LAST_VERSION: u32 = (29 << 24) | 2;
/// Canvas and output size and frame rate: small, to keep x264 cheap on 2 cores.
const VIDEO_CX: u32 = 320;
const VIDEO_CY: u32 = 180;
const VIDEO_FPS: u32 = 10;
/// How OBS's main window title starts ("OBS 29.0.2... - Profile: OnAir - Scenes: OnAir").
const OBS_MAIN_WINDOW_TITLE: &str = "OBS ";
const RTMP_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";
/// Names the world's temp dir (`onair-world-...`) and keeps it when `ONAIR_KEEP_WORLD=1`.
const WORLD: Kind = Kind { name: "world", label: "OBS world", keep_var: "ONAIR_KEEP_WORLD" };

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// What kind of world to build.
#[derive(Debug, Clone)]
pub struct WorldOptions {
    /// `Some` makes obs-websocket require this password (AuthRequired=true).
    pub password: Option<String>,
    /// `false` prepares everything but leaves OBS stopped: call [`ObsWorld::start_obs`].
    pub start_obs: bool,
    /// Start the nginx RTMP ingest that OBS streams to.
    pub with_rtmp: bool,
}

impl Default for WorldOptions {
    fn default() -> Self {
        WorldOptions { password: None, start_obs: true, with_rtmp: true }
    }
}

/// Which OBS of a world: [`ObsId::FIRST`], the one the world starts itself and
/// the one its own methods act on, or another started with [`ObsWorld::add_obs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObsId(usize);

impl ObsId {
    pub const FIRST: ObsId = ObsId(0);
}

/// One OBS Studio of a world: its own HOME (config, profile, scene collection,
/// recordings), its own obs-websocket port and password, the process while it
/// runs, and an admin client of its own ([`Obs::request`]). The world's display,
/// bus and RTMP ingest are shared; each OBS streams under its own key, since the
/// ingest takes one publisher a key.
pub struct Obs {
    id: ObsId,
    home: PathBuf,
    logs_dir: PathBuf,
    ws_port: u16,
    password: Option<String>,
    process: Option<Group>,
    starts: u32,
}

/// A running, isolated OBS Studio plus its display, bus and RTMP ingest; more
/// OBS can join it ([`ObsWorld::add_obs`]). The first OBS's own methods
/// ([`Obs::request`], [`Obs::ws_port`], ...) are the world's through `Deref`.
pub struct ObsWorld {
    /// The temp dir, the watchdog, Xvfb and the session bus.
    sandbox: Sandbox,
    rtmp_port: u16,
    /// The first OBS, then the others in the order they were added.
    instances: Vec<Obs>,
    nginx: Option<Group>,
    nginx_starts: u32,
}

impl std::ops::Deref for ObsWorld {
    type Target = Obs;
    fn deref(&self) -> &Obs {
        &self.instances[ObsId::FIRST.0]
    }
}

impl ObsWorld {
    /// Builds a world in a fresh temp dir and (per `opts`) starts the ingest and OBS.
    pub async fn start(opts: WorldOptions) -> Result<ObsWorld, String> {
        let ws_port = free_port()?;
        let rtmp_port = free_port()?;
        let sandbox = Sandbox::create(WORLD, &["recordings", ".cache", ".local/share", ".local/state"])?;
        let first = Obs {
            id: ObsId::FIRST,
            home: sandbox.home().to_path_buf(),
            logs_dir: sandbox.logs_dir(),
            ws_port,
            password: opts.password,
            process: None,
            starts: 0,
        };
        // From here on `world` owns everything: an early return drops it and cleans up.
        let mut world = ObsWorld { sandbox, rtmp_port, instances: vec![first], nginx: None, nginx_starts: 0 };
        world.instances[0].write_config(rtmp_port)?;
        world.write_nginx_config()?;
        world.sandbox.start_xvfb(xvfb_command("1024x768x24")).await?;
        world.start_bus().await?;
        if opts.with_rtmp {
            world.start_rtmp().await?;
        }
        if opts.start_obs {
            world.start_obs().await?;
        }
        Ok(world)
    }

    /// Adds another OBS to the world and starts it: its own HOME in the world's
    /// temp dir (`obs-<n>/`), a free obs-websocket port, `password` (`None`: no
    /// authentication), its own profile and scene collection (named `OnAir-<n>`,
    /// so its window is told from the others'), streaming to the world's ingest
    /// under its own key. Stopped and killed like the first with
    /// [`ObsWorld::kill_instance`] and friends.
    pub async fn add_obs(&mut self, password: Option<&str>) -> Result<ObsId, String> {
        let id = ObsId(self.instances.len());
        let home = self.sandbox.home().join(format!("obs-{}", id.0 + 1));
        for sub in ["recordings", ".cache", ".local/share", ".local/state"] {
            create_dir(&home.join(sub))?;
        }
        let obs = Obs {
            id,
            home,
            logs_dir: self.sandbox.logs_dir(),
            ws_port: free_port()?,
            password: password.map(str::to_string),
            process: None,
            starts: 0,
        };
        obs.write_config(self.rtmp_port)?;
        self.instances.push(obs);
        self.start_instance(id).await?;
        Ok(id)
    }

    /// One OBS of the world.
    pub fn instance(&self, id: ObsId) -> &Obs {
        &self.instances[id.0]
    }

    /// Every OBS of the world, the first first.
    pub fn instances(&self) -> impl Iterator<Item = &Obs> {
        self.instances.iter()
    }

    /// The loopback port of the RTMP ingest; OBS streams to `rtmp://127.0.0.1:<port>/live`.
    pub fn rtmp_port(&self) -> u16 {
        self.rtmp_port
    }

    /// The temp dir: HOME of the first OBS, holding configs, logs and recordings
    /// (the other OBS have theirs in `obs-<n>/` below it).
    pub fn home(&self) -> &Path {
        self.sandbox.home()
    }

    /// Stdout/stderr of every process the world started (`obs-<n>.log`, `nginx-<n>.log`, ...).
    pub fn logs_dir(&self) -> PathBuf {
        self.sandbox.logs_dir()
    }

    /// The X display (`:N`) OBS runs on.
    pub fn display(&self) -> &str {
        self.sandbox.display()
    }

    /// Whether the first OBS process is alive.
    pub fn obs_running(&mut self) -> bool {
        self.instance_running(ObsId::FIRST)
    }

    /// Whether that OBS process is alive.
    pub fn instance_running(&mut self, id: ObsId) -> bool {
        self.instances[id.0].process.as_mut().is_some_and(Group::running)
    }

    /// The pid of the first OBS process while it runs (it leads its own process group).
    pub fn obs_pid(&mut self) -> Option<u32> {
        self.instance_pid(ObsId::FIRST)
    }

    /// The pid of that OBS process while it runs.
    pub fn instance_pid(&mut self, id: ObsId) -> Option<u32> {
        let process = self.instances[id.0].process.as_mut()?;
        process.running().then(|| process.pgid())
    }

    /// Sends `signal` (a name `kill -s` knows: "STOP", "CONT", "TERM", ...) to the first
    /// OBS's whole process group, e.g. STOP/CONT to simulate a hung OBS whose socket stays open.
    pub fn signal_obs(&mut self, signal: &str) {
        self.signal_instance(ObsId::FIRST, signal);
    }

    /// [`ObsWorld::signal_obs`] for that OBS.
    pub fn signal_instance(&mut self, id: ObsId, signal: &str) {
        if let Some(pgid) = self.instance_pid(id) {
            send_signal(signal, &format!("-{pgid}"));
        }
    }

    /// Starts the first OBS (when not running) and waits until an admin client can identify.
    pub async fn start_obs(&mut self) -> Result<(), String> {
        self.start_instance(ObsId::FIRST).await
    }

    /// Starts that OBS (when not running) and waits until an admin client can identify.
    pub async fn start_instance(&mut self, id: ObsId) -> Result<(), String> {
        if self.instance_running(id) {
            return Ok(());
        }
        self.kill_instance(id);
        let (display, bus) = (self.sandbox.display().to_string(), self.sandbox.bus_address().to_string());
        let runtime = self.sandbox.home().join("runtime");
        let obs = &mut self.instances[id.0];
        obs.starts += 1;
        let log = obs.obs_log();
        let dir = obs.home.clone();
        let mut cmd = Command::new("obs");
        cmd.args([
            "--disable-updater",
            "--disable-shutdown-check",
            "--disable-missing-files-check",
            "--minimize-to-tray",
            "--multi",
        ])
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into()))
        .env("LANG", "C.UTF-8")
        .env("HOME", &dir)
        .env("XDG_CONFIG_HOME", dir.join(".config"))
        .env("XDG_CACHE_HOME", dir.join(".cache"))
        .env("XDG_DATA_HOME", dir.join(".local/share"))
        .env("XDG_STATE_HOME", dir.join(".local/state"))
        // The world's one runtime dir (0700), where its bus lives.
        .env("XDG_RUNTIME_DIR", runtime)
        .env("DISPLAY", &display)
        .env("DBUS_SESSION_BUS_ADDRESS", bus)
        .env("QT_QPA_PLATFORM", "xcb")
        .env("NO_AT_BRIDGE", "1");
        let process = self.sandbox.spawn_group("obs", &mut cmd, &log, Pipes::default())?;
        let obs = &mut self.instances[id.0];
        obs.process = Some(process);

        let started = Instant::now();
        let mut last_err = String::from("no attempt yet");
        while started.elapsed() < OBS_READY_TIMEOUT {
            if let Some(process) = self.instances[id.0].process.as_mut() {
                process.check_startup("OBS", &log, 40)?;
            }
            let obs = &self.instances[id.0];
            match tokio::time::timeout(Duration::from_secs(3), obs.identified()).await {
                Ok(Ok(ws)) => {
                    close(ws).await;
                    obs.ensure_pictures().await;
                    return Ok(());
                }
                Ok(Err(e)) => last_err = e,
                Err(_) => last_err = "connect/identify took more than 3 s".into(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        self.kill_instance(id);
        Err(format!(
            "OBS did not accept an Identify on port {} within {:?} (last error: {last_err}); {}",
            self.instances[id.0].ws_port,
            OBS_READY_TIMEOUT,
            log_excerpt(&log, 40)
        ))
    }

    /// SIGKILLs the first OBS's whole process group and waits until it is gone.
    /// Connected clients see the socket drop without a close frame (1006).
    pub fn kill_obs(&mut self) {
        self.kill_instance(ObsId::FIRST);
    }

    /// [`ObsWorld::kill_obs`] for that OBS; the others run on.
    pub fn kill_instance(&mut self, id: ObsId) {
        if let Some(mut process) = self.instances[id.0].process.take() {
            process.kill(self.sandbox.watchdog());
        }
    }

    /// Quits the first OBS the way a user closing its window does: an X11 WM_DELETE_WINDOW
    /// request to OBS's main window (a clean shutdown: OBS saves its config, clients get
    /// ExitStarted, then close 1001). If that cannot be sent, SIGINT instead (OBS 29 also
    /// shuts down cleanly on it, but it runs the shutdown inside the signal handler and
    /// deadlocks now and then when the signal lands while its main thread is in libxcb).
    /// OBS is killed when it has not exited within 20 s; then the answer is an Err.
    pub async fn quit_obs(&mut self) -> Result<(), String> {
        self.quit_instance(ObsId::FIRST).await
    }

    /// [`ObsWorld::quit_obs`] for that OBS: only its window is asked to close
    /// (told from the others' by its profile's name in the title).
    pub async fn quit_instance(&mut self, id: ObsId) -> Result<(), String> {
        let display = self.display().to_string();
        let obs = &mut self.instances[id.0];
        let log = obs.obs_log();
        let title = format!(" - Profile: {} - ", obs.profile());
        let Some(process) = obs.process.as_mut() else {
            return Ok(());
        };
        let ours = |name: &str| name.starts_with(OBS_MAIN_WINDOW_TITLE) && name.contains(&title);
        let how = match x11::close_windows_where(&display, ours) {
            Ok(1..) => "a window close request".to_string(),
            Ok(0) => {
                process.signal_leader("INT");
                format!("SIGINT (no window titled ...{title}... on {display})")
            }
            Err(e) => {
                process.signal_leader("INT");
                format!("SIGINT (the window close request failed: {e})")
            }
        };
        let started = Instant::now();
        while started.elapsed() < OBS_QUIT_TIMEOUT {
            let exited = match self.instances[id.0].process.as_mut() {
                Some(process) => process.exit_status().is_some(),
                None => true,
            };
            if exited {
                // Reap anything OBS left in its group (e.g. obs-ffmpeg-mux).
                self.kill_instance(id);
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.kill_instance(id);
        Err(format!("OBS did not quit within {OBS_QUIT_TIMEOUT:?} of {how} and was killed; {}", log_excerpt(&log, 20)))
    }

    /// Starts the RTMP ingest (when not running) on the world's RTMP port and waits
    /// until it accepts connections.
    pub async fn start_rtmp(&mut self) -> Result<(), String> {
        if self.nginx.as_mut().is_some_and(Group::running) {
            return Ok(());
        }
        self.kill_rtmp();
        self.nginx_starts += 1;
        let nginx_dir = self.home().join("nginx");
        let log = self.logs_dir().join(format!("nginx-{}.log", self.nginx_starts));
        let mut cmd = Command::new("nginx");
        cmd.arg("-p")
            .arg(&nginx_dir)
            .arg("-e")
            .arg(nginx_dir.join("error.log"))
            .arg("-c")
            .arg(nginx_dir.join("nginx.conf"))
            .current_dir(&nginx_dir);
        let nginx = self.sandbox.spawn_group("nginx", &mut cmd, &log, Pipes::default())?;
        self.nginx = Some(nginx);

        let started = Instant::now();
        while started.elapsed() < HELPER_READY_TIMEOUT {
            if let Some(status) = self.nginx.as_mut().and_then(Group::exit_status) {
                let mut msg = format!("nginx (RTMP ingest) exited during startup ({status}); ");
                let _ = write!(msg, "{}:\n{}", log.display(), tail(&log, 20));
                let error_log = nginx_dir.join("error.log");
                let _ = write!(msg, "\n{}:\n{}", error_log.display(), tail(&error_log, 20));
                return Err(msg);
            }
            if TcpStream::connect(("127.0.0.1", self.rtmp_port)).is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.kill_rtmp();
        Err(format!(
            "nginx (RTMP ingest) did not listen on 127.0.0.1:{} within {HELPER_READY_TIMEOUT:?}; see {}",
            self.rtmp_port,
            nginx_dir.join("error.log").display()
        ))
    }

    /// SIGKILLs the RTMP ingest (one nginx process, `master_process off`) so OBS sees
    /// it die mid-stream.
    pub fn kill_rtmp(&mut self) {
        if let Some(mut nginx) = self.nginx.take() {
            nginx.kill(self.sandbox.watchdog());
        }
    }

    async fn start_bus(&mut self) -> Result<(), String> {
        let mut cmd = Command::new("dbus-daemon");
        cmd.arg("--session")
            .arg("--nofork")
            .arg("--nopidfile")
            .arg(format!("--address=unix:path={}", self.home().join("runtime/bus").display()))
            .arg("--print-address=1")
            .env("DISPLAY", self.display());
        self.sandbox.start_bus(cmd).await
    }

    fn write_nginx_config(&self) -> Result<(), String> {
        let nginx_dir = self.home().join("nginx");
        create_dir(&nginx_dir.join("logs"))?;
        let d = nginx_dir.display();
        let conf = format!(
            "load_module {RTMP_MODULE};\n\
             daemon off;\n\
             master_process off;\n\
             worker_processes 1;\n\
             pid {d}/nginx.pid;\n\
             lock_file {d}/nginx.lock;\n\
             error_log {d}/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             rtmp {{\n\
             \x20   server {{\n\
             \x20       listen 127.0.0.1:{port};\n\
             \x20       access_log off;\n\
             \x20       application live {{ live on; record off; }}\n\
             \x20   }}\n\
             }}\n",
            port = self.rtmp_port
        );
        write_file(&nginx_dir.join("nginx.conf"), &conf)
    }
}

impl Obs {
    /// Which OBS of the world this is.
    pub fn id(&self) -> ObsId {
        self.id
    }

    /// The obs-websocket port (OBS listens on all interfaces; connect to 127.0.0.1).
    pub fn ws_port(&self) -> u16 {
        self.ws_port
    }

    /// The obs-websocket password, when this OBS requires one.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// This OBS's HOME: its configs (`.config/obs-studio`) and recordings.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Where this OBS writes recordings.
    pub fn recordings_dir(&self) -> PathBuf {
        self.home.join("recordings")
    }

    /// Stdout/stderr of this OBS's current (or last) run; OBS writes its log there
    /// too: `obs-<run>.log` for the first OBS, `obs<n>-<run>.log` for the others.
    pub fn obs_log(&self) -> PathBuf {
        let name = match self.id {
            ObsId::FIRST => "obs".to_string(),
            ObsId(i) => format!("obs{}", i + 1),
        };
        self.logs_dir.join(format!("{name}-{}.log", self.starts))
    }

    /// The name of its profile and scene collection, which OBS's window title shows.
    fn profile(&self) -> String {
        match self.id {
            ObsId::FIRST => PROFILE.to_string(),
            ObsId(i) => format!("{PROFILE}-{}", i + 1),
        }
    }

    /// The world's scenes show a picture, as a streamer's do: an empty scene is
    /// black, and the stream guard would rightly say so in every test that goes
    /// live. After a restart they may be there already; the refusals are fine.
    async fn ensure_pictures(&self) {
        let settings = json!({ "color": 4_282_664_004u32, "width": 640, "height": 360 });
        let _ = self
            .request(
                "CreateInput",
                json!({ "sceneName": "Scene", "inputName": "Picture", "inputKind": "color_source_v3",
                        "inputSettings": settings, "sceneItemEnabled": true }),
            )
            .await;
        let items = self.request("GetSceneItemList", json!({ "sceneName": "Gameplay" })).await;
        let has_picture = items.is_ok_and(|v| v["sceneItems"].as_array().is_some_and(|i| !i.is_empty()));
        if !has_picture {
            let _ = self.request("CreateSceneItem", json!({ "sceneName": "Gameplay", "sourceName": "Picture" })).await;
        }
    }

    /// The key it streams under: the ingest takes one publisher a key.
    fn stream_key(&self) -> String {
        match self.id {
            ObsId::FIRST => "test".to_string(),
            ObsId(i) => format!("test-{}", i + 1),
        }
    }

    /// Sends one request with an independent admin connection (connect, Identify with
    /// no event subscriptions, request, close) and returns its `responseData` (`{}` when
    /// OBS sent none). A failed request is an Err with OBS's code and comment.
    pub async fn request(&self, request_type: &str, data: Value) -> Result<Value, String> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.request_once(request_type, data))
            .await
            .map_err(|_| format!("{request_type}: no answer from OBS within {REQUEST_TIMEOUT:?}"))?
    }

    /// Polls `request_type` every 100 ms until `done` accepts its response, and returns
    /// that response. Err (with the last answer) after `timeout`.
    pub async fn wait_for(
        &self,
        request_type: &str,
        data: Value,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Result<Value, String> {
        let started = Instant::now();
        loop {
            let last = match self.request(request_type, data.clone()).await {
                Ok(v) if done(&v) => return Ok(v),
                Ok(v) => v.to_string(),
                Err(e) => e,
            };
            if started.elapsed() >= timeout {
                return Err(format!("{request_type}: condition not met within {timeout:?}; last answer: {last}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until `GetStreamStatus.outputActive == active`.
    pub async fn wait_stream_active(&self, active: bool, timeout: Duration) -> Result<Value, String> {
        self.wait_for("GetStreamStatus", Value::Null, timeout, |v| v["outputActive"].as_bool() == Some(active)).await
    }

    /// Waits until `GetStreamStatus.outputReconnecting == reconnecting`.
    pub async fn wait_stream_reconnecting(&self, reconnecting: bool, timeout: Duration) -> Result<Value, String> {
        self.wait_for("GetStreamStatus", Value::Null, timeout, |v| {
            v["outputReconnecting"].as_bool() == Some(reconnecting)
        })
        .await
    }

    /// Waits until `GetRecordStatus.outputActive == active`.
    pub async fn wait_record_active(&self, active: bool, timeout: Duration) -> Result<Value, String> {
        self.wait_for("GetRecordStatus", Value::Null, timeout, |v| v["outputActive"].as_bool() == Some(active)).await
    }

    /// Starts the stream from the admin client and waits until it is active.
    /// Adds an audio input to the program scene that loops a generated WAV (a 440 Hz tone,
    /// or silence) through a `ffmpeg_source`: a mic that talks or one that is silent, with no
    /// sound card (docs/obs-websocket-v5.md, "Headless test audio").
    pub async fn add_test_audio(&self, name: &str, audio: TestAudio) -> Result<(), String> {
        let path = self.home().join(format!("{}.wav", name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")));
        std::fs::write(&path, test_wav(audio)).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let scene = self.request("GetCurrentProgramScene", Value::Null).await?;
        let scene = scene["currentProgramSceneName"].as_str().ok_or("no program scene")?.to_string();
        let settings = json!({ "local_file": path, "is_local_file": true, "looping": true });
        self.request(
            "CreateInput",
            json!({ "sceneName": scene, "inputName": name, "inputKind": "ffmpeg_source",
                    "inputSettings": settings, "sceneItemEnabled": true }),
        )
        .await
        .map(|_| ())
    }

    /// Points OBS's stream at `rtmp://127.0.0.1:<port>/live` (e.g. a [`crate::proxy::TcpProxy`]
    /// in front of the ingest, so a test can stall it) instead of the ingest itself.
    pub async fn stream_through(&self, port: u16) -> Result<(), String> {
        let settings = json!({ "server": format!("rtmp://127.0.0.1:{port}/live"), "key": self.stream_key() });
        self.request(
            "SetStreamServiceSettings",
            json!({ "streamServiceType": "rtmp_custom", "streamServiceSettings": settings }),
        )
        .await
        .map(|_| ())
    }

    /// Sets the stream's video bitrate (simple output mode, x264 CBR, which pads with
    /// filler so the stream really is that fast even on the tiny canvas). A stalled
    /// ingest only stops `outputBytes` once the kernel's socket buffers (some MB) are
    /// full: at the default 300 kb/s that takes longer than OBS waits before it
    /// reconnects, at 8000 kb/s about 4 s (docs/obs-websocket-v5.md, third round).
    pub async fn set_stream_bitrate(&self, kbps: u32) -> Result<(), String> {
        self.request(
            "SetProfileParameter",
            json!({ "parameterCategory": "SimpleOutput", "parameterName": "VBitrate",
                    "parameterValue": kbps.to_string() }),
        )
        .await
        .map(|_| ())
    }

    /// Makes the program scene show a picture (an opaque white `color_source_v3`), so the
    /// program is not black.
    pub async fn add_picture(&self, name: &str) -> Result<(), String> {
        let scene = self.request("GetCurrentProgramScene", Value::Null).await?;
        let scene = scene["currentProgramSceneName"].as_str().ok_or("no program scene")?.to_string();
        self.request(
            "CreateInput",
            json!({ "sceneName": scene, "inputName": name, "inputKind": "color_source_v3",
                    "inputSettings": { "color": 4294967295u32, "width": 640, "height": 360 },
                    "sceneItemEnabled": true }),
        )
        .await
        .map(|_| ())
    }

    pub async fn start_stream(&self, timeout: Duration) -> Result<(), String> {
        self.start_output("StartStream", "GetStreamStatus", timeout).await
    }

    /// Starts recording from the admin client and waits until it is active.
    pub async fn start_record(&self, timeout: Duration) -> Result<(), String> {
        self.start_output("StartRecord", "GetRecordStatus", timeout).await
    }

    /// A CPU-starved headless OBS now and then accepts a start and never begins it
    /// (no STARTING follows), mostly right after a stop. That is OBS's flake, not the
    /// product's, so the harness asks once more when the output is not active after
    /// half the timeout ("already active", 500, then means the first start was slow).
    async fn start_output(&self, start: &str, status_request: &str, timeout: Duration) -> Result<(), String> {
        let active = |v: &Value| v["outputActive"].as_bool() == Some(true);
        self.request(start, Value::Null).await?;
        if self.wait_for(status_request, Value::Null, timeout / 2, active).await.is_ok() {
            return Ok(());
        }
        eprintln!("world: OBS did not begin the accepted {start} within {:?}; asking once more", timeout / 2);
        match self.request(start, Value::Null).await {
            Err(e) if !e.contains(&format!("code {}", status::OUTPUT_RUNNING)) => return Err(e),
            _ => {}
        }
        self.wait_for(status_request, Value::Null, timeout / 2, active).await.map(|_| ())
    }

    async fn request_once(&self, request_type: &str, data: Value) -> Result<Value, String> {
        let mut ws = self.identified().await.map_err(|e| format!("{request_type}: {e}"))?;
        let id = format!("world-{}", REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut d = json!({ "requestType": request_type, "requestId": id });
        if !data.is_null() {
            d["requestData"] = data;
        }
        let answer = async {
            send_json(&mut ws, &json!({ "op": op::REQUEST, "d": d })).await?;
            loop {
                let resp = next_op(&mut ws, op::REQUEST_RESPONSE).await?;
                if resp["requestId"].as_str() == Some(id.as_str()) {
                    return Ok(resp);
                }
            }
        }
        .await
        .map_err(|e: String| format!("{request_type}: {e}"));
        close(ws).await;
        let resp = answer?;
        let status = &resp["requestStatus"];
        if status["result"].as_bool() != Some(true) {
            return Err(format!(
                "{request_type} failed: code {} ({})",
                status["code"],
                status["comment"].as_str().unwrap_or("no comment")
            ));
        }
        Ok(resp.get("responseData").cloned().unwrap_or_else(|| json!({})))
    }

    /// Opens an admin connection and completes Hello/Identify (no event subscriptions).
    async fn identified(&self) -> Result<Ws, String> {
        let url = format!("ws://127.0.0.1:{}", self.ws_port);
        let mut req = url.as_str().into_client_request().map_err(|e| format!("bad url {url}: {e}"))?;
        req.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static(SUBPROTOCOL));
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.map_err(|e| format!("connect to {url}: {e}"))?;
        let hello = next_op(&mut ws, op::HELLO).await?;
        let mut identify = json!({ "rpcVersion": 1, "eventSubscriptions": 0 });
        if let Some(auth) = hello.get("authentication") {
            let password =
                self.password.as_deref().ok_or("OBS asks for authentication but the world has no password")?;
            let (Some(salt), Some(challenge)) = (auth["salt"].as_str(), auth["challenge"].as_str()) else {
                return Err(format!("Hello has a malformed authentication object: {auth}"));
            };
            identify["authentication"] = json!(authentication_string(password, salt, challenge));
        }
        send_json(&mut ws, &json!({ "op": op::IDENTIFY, "d": identify })).await?;
        next_op(&mut ws, op::IDENTIFIED).await?;
        Ok(ws)
    }

    fn write_config(&self, rtmp_port: u16) -> Result<(), String> {
        let obs_dir = self.home().join(".config/obs-studio");
        let profile = self.profile();
        let profile_dir = obs_dir.join("basic/profiles").join(&profile);
        let scenes_dir = obs_dir.join("basic/scenes");
        create_dir(&profile_dir)?;
        create_dir(&scenes_dir)?;
        write_file(&obs_dir.join("global.ini"), &global_ini(self.ws_port, self.password.as_deref(), &profile))?;
        write_file(&profile_dir.join("basic.ini"), &profile_ini(&self.recordings_dir(), &profile))?;
        let service = json!({
            "type": "rtmp_custom",
            "settings": {
                "server": format!("rtmp://127.0.0.1:{rtmp_port}/live"),
                "key": self.stream_key(),
                "use_auth": false,
                "bwtest": false
            }
        });
        write_file(&profile_dir.join("service.json"), &pretty(&service))?;
        write_file(&scenes_dir.join(format!("{profile}.json")), &pretty(&scene_collection(&profile)))
    }
}

impl Drop for ObsWorld {
    fn drop(&mut self) {
        // The watchdog goes first so it never signals groups whose ids may be reused.
        self.sandbox.dismiss_watchdog();
        for i in 0..self.instances.len() {
            self.kill_instance(ObsId(i));
        }
        self.kill_rtmp();
        // Then `sandbox` drops: it kills the bus, then Xvfb, then removes the temp dir.
    }
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Reads frames until one with `op` arrives and returns its `d`. Other ops are skipped.
async fn next_op(ws: &mut Ws, op: u64) -> Result<Value, String> {
    while let Some(msg) = ws.next().await {
        let msg = msg.map_err(|e| format!("websocket error while waiting for op {op}: {e}"))?;
        match msg {
            Message::Text(text) => {
                let v: Value =
                    serde_json::from_str(&text).map_err(|e| format!("OBS sent invalid JSON ({e}): {text}"))?;
                if v["op"].as_u64() == Some(op) {
                    return Ok(v["d"].clone());
                }
            }
            Message::Close(frame) => {
                let why = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason)).unwrap_or_default();
                return Err(format!("OBS closed the connection while we waited for op {op}: {why}"));
            }
            _ => {}
        }
    }
    Err(format!("connection ended while waiting for op {op}"))
}

async fn send_json(ws: &mut Ws, v: &Value) -> Result<(), String> {
    ws.send(Message::Text(v.to_string())).await.map_err(|e| format!("send failed: {e}"))
}

/// Closes with a proper handshake (send Close, read until OBS answers), so OBS logs a
/// normal close instead of 1006.
async fn close(mut ws: Ws) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        ws.close(None).await.ok()?;
        while let Some(Ok(_)) = ws.next().await {}
        Some(())
    })
    .await;
}

fn global_ini(ws_port: u16, password: Option<&str>, profile: &str) -> String {
    format!(
        "[General]\n\
         FirstRun=true\n\
         LastVersion={OBS_LAST_VERSION}\n\
         Pre19Defaults=false\n\
         Pre21Defaults=false\n\
         Pre23Defaults=false\n\
         Pre24.1Defaults=false\n\
         EnableAutoUpdates=false\n\
         ConfirmOnExit=false\n\
         \n\
         [Basic]\n\
         Profile={profile}\n\
         ProfileDir={profile}\n\
         SceneCollection={profile}\n\
         SceneCollectionFile={profile}\n\
         \n\
         [BasicWindow]\n\
         PreviewEnabled=false\n\
         ConfirmOnExit=false\n\
         WarnBeforeStartingStream=false\n\
         WarnBeforeStoppingStream=false\n\
         WarnBeforeStoppingRecord=false\n\
         SysTrayEnabled=true\n\
         SysTrayWhenStarted=true\n\
         \n\
         [OBSWebSocket]\n\
         FirstLoad=false\n\
         ServerEnabled=true\n\
         ServerPort={ws_port}\n\
         AlertsEnabled=false\n\
         AuthRequired={auth}\n\
         ServerPassword={pw}\n",
        auth = password.is_some(),
        pw = password.unwrap_or(""),
    )
}

fn profile_ini(recordings: &Path, profile: &str) -> String {
    format!(
        "[General]\n\
         Name={profile}\n\
         \n\
         [Video]\n\
         BaseCX={VIDEO_CX}\n\
         BaseCY={VIDEO_CY}\n\
         OutputCX={VIDEO_CX}\n\
         OutputCY={VIDEO_CY}\n\
         FPSType=1\n\
         FPSInt={VIDEO_FPS}\n\
         \n\
         [Output]\n\
         Mode=Simple\n\
         Reconnect=true\n\
         RetryDelay=2\n\
         MaxRetries=25\n\
         \n\
         [SimpleOutput]\n\
         FilePath={}\n\
         RecFormat=mkv\n\
         RecQuality=Stream\n\
         StreamEncoder=x264\n\
         Preset=ultrafast\n\
         VBitrate=300\n\
         ABitrate=64\n\
         FileNameWithoutSpace=true\n",
        recordings.display()
    )
}

/// Two empty scenes, "Scene" (program) and "Gameplay", in the collection `name`.
fn scene_collection(name: &str) -> Value {
    let scene = |name: &str| {
        json!({
            "id": "scene",
            "versioned_id": "scene",
            "name": name,
            "enabled": true,
            "mixers": 0,
            "volume": 1.0,
            "settings": { "custom_size": false, "id_counter": 0, "items": [] },
            "private_settings": {},
            "hotkeys": {}
        })
    };
    json!({
        "name": name,
        "current_scene": "Scene",
        "current_program_scene": "Scene",
        "current_transition": "Fade",
        "transition_duration": 300,
        "transitions": [],
        "groups": [],
        "quick_transitions": [],
        "saved_projectors": [],
        "scene_order": [{ "name": "Scene" }, { "name": "Gameplay" }],
        "sources": [scene("Scene"), scene("Gameplay")],
        "modules": {}
    })
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string())
}

/// Just enough of the X11 core protocol to ask a top-level window to close the way a
/// window manager does (ClientMessage WM_PROTOCOLS / WM_DELETE_WINDOW), so OBS quits
/// through Qt's event loop. No xdotool or Xlib needed; the world's Xvfb has no auth.
pub mod x11 {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    const INTERN_ATOM: u8 = 16;
    const QUERY_TREE: u8 = 15;
    const GET_PROPERTY: u8 = 20;
    const SEND_EVENT: u8 = 25;
    const GET_INPUT_FOCUS: u8 = 43;
    const ATOM_WM_NAME: u32 = 39;
    const CLIENT_MESSAGE: u8 = 33;

    /// Sends WM_DELETE_WINDOW to every top-level window on `display` (":N") whose
    /// WM_NAME starts with `title_prefix`. Err when there is none or X fails.
    pub fn close_window(display: &str, title_prefix: &str) -> Result<(), String> {
        match close_windows_where(display, |name| name.starts_with(title_prefix))? {
            0 => Err(format!("no window titled {title_prefix:?}... on {display}")),
            _ => Ok(()),
        }
    }

    /// Sends WM_DELETE_WINDOW to every top-level window on `display` whose WM_NAME
    /// `wanted` accepts (e.g. one OBS's window among several), and says how many
    /// there were. Err when X fails.
    pub fn close_windows_where(display: &str, wanted: impl Fn(&str) -> bool) -> Result<usize, String> {
        let number = display.trim_start_matches(':');
        let mut x =
            Conn::connect(&format!("/tmp/.X11-unix/X{number}")).map_err(|e| format!("X display {display}: {e}"))?;
        let protocols = x.intern_atom("WM_PROTOCOLS")?;
        let delete = x.intern_atom("WM_DELETE_WINDOW")?;
        let mut closed = 0;
        for window in x.children(x.root)? {
            // A window may be gone between the listing and the question (BadWindow).
            let Ok(name) = x.property(window, ATOM_WM_NAME) else { continue };
            if wanted(&String::from_utf8_lossy(&name)) {
                x.send_client_message(window, protocols, delete)?;
                closed += 1;
            }
        }
        x.sync()?;
        Ok(closed)
    }

    /// How many top-level windows on `display` have a WM_NAME starting with `title_prefix`.
    pub fn count_windows(display: &str, title_prefix: &str) -> Result<usize, String> {
        let number = display.trim_start_matches(':');
        let mut x =
            Conn::connect(&format!("/tmp/.X11-unix/X{number}")).map_err(|e| format!("X display {display}: {e}"))?;
        let mut found = 0;
        for window in x.children(x.root)? {
            // A window may be gone between the listing and the question (BadWindow).
            if x.property(window, ATOM_WM_NAME).is_ok_and(|name| name.starts_with(title_prefix.as_bytes())) {
                found += 1;
            }
        }
        Ok(found)
    }

    struct Conn {
        stream: UnixStream,
        root: u32,
    }

    impl Conn {
        fn connect(path: &str) -> Result<Conn, String> {
            let mut stream = UnixStream::connect(path).map_err(|e| format!("connect {path}: {e}"))?;
            stream.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| format!("set timeout: {e}"))?;
            // Little-endian, protocol 11.0, no authorization.
            write_all(&mut stream, &[b'l', 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0])?;
            let mut head = [0u8; 8];
            read_exact(&mut stream, &mut head)?;
            let mut body = vec![0u8; usize::from(u16_at(&head, 6)) * 4];
            read_exact(&mut stream, &mut body)?;
            if head[0] != 1 {
                let len = usize::from(head[1]).min(body.len());
                return Err(format!("X refused the connection: {}", String::from_utf8_lossy(&body[..len])));
            }
            // Setup reply after its 8-byte head: vendor length at 16, format count at 21,
            // vendor string at 32, then 8 bytes per pixmap format, then the first screen,
            // whose first field is its root window.
            let vendor = usize::from(u16_at(&body, 16));
            let formats = usize::from(body.get(21).copied().unwrap_or(0));
            let screen = 32 + pad4(vendor) + 8 * formats;
            let root = body.get(screen..screen + 4).map(|b| u32_at(b, 0)).ok_or("X setup reply is too short")?;
            Ok(Conn { stream, root })
        }

        fn intern_atom(&mut self, name: &str) -> Result<u32, String> {
            let mut req = request(INTERN_ATOM, 0, 2 + pad4(name.len()) / 4);
            req.extend_from_slice(&(name.len() as u16).to_le_bytes());
            req.extend_from_slice(&[0, 0]);
            req.extend_from_slice(name.as_bytes());
            req.resize(8 + pad4(name.len()), 0);
            let reply = self.round_trip(&req)?;
            Ok(u32_at(&reply, 8))
        }

        fn children(&mut self, window: u32) -> Result<Vec<u32>, String> {
            let mut req = request(QUERY_TREE, 0, 2);
            req.extend_from_slice(&window.to_le_bytes());
            let reply = self.round_trip(&req)?;
            let count = usize::from(u16_at(&reply, 16));
            Ok((0..count).filter_map(|i| reply.get(32 + 4 * i..36 + 4 * i).map(|b| u32_at(b, 0))).collect())
        }

        /// The value of `property` (any type, first 1 KiB); empty when unset.
        fn property(&mut self, window: u32, property: u32) -> Result<Vec<u8>, String> {
            let mut req = request(GET_PROPERTY, 0, 6);
            for v in [window, property, 0, 0, 256] {
                req.extend_from_slice(&v.to_le_bytes());
            }
            let reply = self.round_trip(&req)?;
            let format = usize::from(reply[1] / 8).max(1);
            let len = (u32_at(&reply, 16) as usize) * format;
            Ok(reply.get(32..32 + len).unwrap_or_default().to_vec())
        }

        fn send_client_message(&mut self, window: u32, kind: u32, data0: u32) -> Result<(), String> {
            let mut req = request(SEND_EVENT, 0, 11);
            req.extend_from_slice(&window.to_le_bytes());
            req.extend_from_slice(&0u32.to_le_bytes()); // event mask: straight to the client
            req.extend_from_slice(&[CLIENT_MESSAGE, 32, 0, 0]);
            for v in [window, kind, data0, 0, 0, 0, 0] {
                req.extend_from_slice(&v.to_le_bytes());
            }
            write_all(&mut self.stream, &req)
        }

        /// A round trip, so earlier requests have been processed (or failed).
        fn sync(&mut self) -> Result<(), String> {
            self.round_trip(&request(GET_INPUT_FOCUS, 0, 1)).map(|_| ())
        }

        /// Sends a request and returns its whole reply; an X error is an Err.
        fn round_trip(&mut self, req: &[u8]) -> Result<Vec<u8>, String> {
            write_all(&mut self.stream, req)?;
            loop {
                let mut packet = vec![0u8; 32];
                read_exact(&mut self.stream, &mut packet)?;
                match packet[0] {
                    0 => return Err(format!("X error {} for request {}", packet[1], req[0])),
                    1 => {
                        let extra = u32_at(&packet, 4) as usize * 4;
                        packet.resize(32 + extra, 0);
                        read_exact(&mut self.stream, &mut packet[32..])?;
                        return Ok(packet);
                    }
                    _ => {} // an event: not asked for, skip
                }
            }
        }
    }

    fn request(opcode: u8, data: u8, length_words: usize) -> Vec<u8> {
        let mut req = vec![opcode, data];
        req.extend_from_slice(&(length_words as u16).to_le_bytes());
        req
    }

    fn pad4(n: usize) -> usize {
        (n + 3) & !3
    }

    fn u16_at(b: &[u8], i: usize) -> u16 {
        b.get(i..i + 2).map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
    }

    fn u32_at(b: &[u8], i: usize) -> u32 {
        b.get(i..i + 4).map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn write_all(stream: &mut UnixStream, bytes: &[u8]) -> Result<(), String> {
        stream.write_all(bytes).map_err(|e| format!("X write: {e}"))
    }

    fn read_exact(stream: &mut UnixStream, buf: &mut [u8]) -> Result<(), String> {
        stream.read_exact(buf).map_err(|e| format!("X read: {e}"))
    }
}

/// What a test audio input plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestAudio {
    /// A 440 Hz tone at amplitude 8000 (OBS reads a peak of about 0.24, -12 dBFS).
    Tone,
    /// Digital silence.
    Silence,
}

/// One second of 48 kHz mono 16-bit PCM as a WAV file.
fn test_wav(audio: TestAudio) -> Vec<u8> {
    const RATE: u32 = 48_000;
    let samples: Vec<i16> = (0..RATE)
        .map(|i| match audio {
            TestAudio::Tone => {
                (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / f64::from(RATE)).sin()) as i16
            }
            TestAudio::Silence => 0,
        })
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&RATE.to_le_bytes());
    wav.extend_from_slice(&(RATE * 2).to_le_bytes()); // byte rate
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    wav
}
