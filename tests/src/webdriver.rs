//! The app's window through W3C WebDriver: `tauri-driver` (which starts WebKitGTK's
//! `WebKitWebDriver`, which starts the app) running inside a private [`Desktop`], and a
//! minimal WebDriver client over plain HTTP/1.1 on 127.0.0.1.
//!
//! ```text
//! test ──HTTP──▶ tauri-driver --port P ──HTTP──▶ WebKitWebDriver --port=Q ──spawns──▶ onair --show ...
//! ```
//!
//! - [`Driver::start`] starts `tauri-driver` (free ports picked by the OS) as a tracked
//!   process group of the desktop and waits until `GET /status` answers. WebKitWebDriver
//!   and the app it launches for a session stay in that process group (neither starts a
//!   new group or session), so killing the group kills all three.
//! - [`Driver::session`] sends `POST /session` with
//!   `{"capabilities":{"alwaysMatch":{"tauri:options":{"application": .., "args": [..]}}}}`
//!   (no `browserName`: WebKitWebDriver would refuse to match it). tauri-driver turns
//!   `tauri:options` into `webkitgtk:browserOptions {binary, args}`.
//! - **The app's environment** is the environment of tauri-driver, passed down by
//!   WebKitWebDriver (a `GSubprocess` that inherits everything): the desktop's (DISPLAY,
//!   session bus, HOME and XDG dirs in the desktop's temp dir, ...), plus
//!   `TAURI_WEBVIEW_AUTOMATION=true` (tauri-driver sets it for WebKitWebDriver; it makes
//!   the Tauri webview accept automation), plus `WEBKIT_INSPECTOR_SERVER=127.0.0.1:<port>`
//!   and `GTK_OVERLAY_SCROLLING` that WebKitWebDriver sets for the browser it launches.
//!   Neither `tauri:options` nor `webkitgtk:browserOptions` has an environment field, so
//!   a per-app variable (e.g. `ONAIR_PASSWORD`, `RUST_LOG`) must be given when the driver
//!   starts: [`Driver::start_with_env`]. One driver per environment.
//! - **Logs**: tauri-driver's stdout and stderr go to `<desktop logs>/tauri-driver.log`.
//!   WebKitWebDriver's stderr and the app's stderr (its tracing log) end up in the same
//!   file; the app's stdout is /dev/null (tauri-driver nulls WebKitWebDriver's stdout,
//!   the app inherits it). Every error of this module carries the WebDriver error, its
//!   message and the last lines of that log.
//! - **Ending**: [`Session::close`] (`DELETE /session/{id}`) makes WebKitWebDriver
//!   `g_subprocess_force_exit` the app: SIGKILL, within about 50 ms. The app's own exit
//!   path does not run (to test a clean exit, use the tray's Quit before closing).
//!   Dropping the [`Driver`] SIGKILLs its whole process group (tauri-driver,
//!   WebKitWebDriver, the app and its WebKit helper processes) and waits until it is
//!   gone; the desktop would also kill it when dropped, and its watchdog if the test
//!   process dies.
//!
//! **No `Connection: close`.** Every request uses a fresh connection, read up to the end
//! of its framed body, then dropped; but the request must NOT say `Connection: close`:
//! tauri-driver forwards the header to WebKitWebDriver, and with it hyper's client and
//! WebKitWebDriver's libsoup server race so that a few percent of the forwarded requests
//! die with "Connection reset by peer" (tauri-driver logs `client error (SendRequest)`,
//! the client sees the connection closed without an answer). Without the header, 0 of
//! thousands failed. A GET that still meets a closed connection is retried once.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::desktop::Desktop;
use crate::sandbox::{group_alive, group_members, pid_leads_group, send_signal, try_tail, two_free_ports};

/// The key of a web element reference in W3C WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long tauri-driver and WebKitWebDriver may take to answer `GET /status`.
const DRIVER_READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How long `POST /session` may take: WebKitWebDriver starts the app and waits for its
/// webview (a debug build, a cold WebKitGTK cache).
const SESSION_TIMEOUT: Duration = Duration::from_secs(90);
/// How long any other command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How often `wait_*` polls.
const POLL: Duration = Duration::from_millis(100);
/// How many lines of the driver log an error carries.
const LOG_TAIL_LINES: usize = 40;
/// How many times [`Driver::start`] tries fresh ports when the driver does not come up
/// (another process may take a free port between picking and binding it).
const START_ATTEMPTS: usize = 3;

/// A running tauri-driver inside a [`Desktop`]. See the module docs.
pub struct Driver {
    pid: u32,
    native_port: u16,
    remote: Arc<Remote>,
}

impl Driver {
    /// Starts `tauri-driver --port P --native-port Q` (free ports) inside `desktop` and
    /// waits until it answers `GET /status`. The app of every session inherits the
    /// desktop's environment.
    pub async fn start(desktop: &mut Desktop) -> Result<Driver, String> {
        Driver::start_with_env(desktop, &[]).await
    }

    /// [`Driver::start`] with `extra_env` set for tauri-driver, hence for WebKitWebDriver
    /// and the app of every session (WebDriver has no way to give the app its own
    /// environment).
    pub async fn start_with_env(desktop: &mut Desktop, extra_env: &[(&str, &str)]) -> Result<Driver, String> {
        let tauri_driver = tauri_driver_path()?;
        let native_driver = find_in_path("WebKitWebDriver").ok_or(
            "WebKitWebDriver is not on PATH (Debian/Ubuntu: apt-get install webkit2gtk-driver; scripts/deps.sh test)",
        )?;
        let log = desktop.logs_dir().join("tauri-driver.log");
        let mut failures = Vec::new();
        for attempt in 1..=START_ATTEMPTS {
            let (port, native_port) = two_free_ports()?;
            let out = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log)
                .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
            let err = out.try_clone().map_err(|e| format!("cannot dup {}: {e}", log.display()))?;
            {
                use std::io::Write as _;
                let mut note = &out;
                let _ =
                    writeln!(note, "--- onair tests: starting tauri-driver --port {port} --native-port {native_port}");
            }
            let mut cmd = desktop.std_command(&tauri_driver);
            cmd.arg("--port")
                .arg(port.to_string())
                .arg("--native-port")
                .arg(native_port.to_string())
                .arg("--native-driver")
                .arg(&native_driver)
                .envs(extra_env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::from(out))
                .stderr(Stdio::from(err));
            let pid = desktop.spawn_tracked(&mut cmd)?;
            let remote = Arc::new(Remote { port, log: log.clone() });
            match wait_ready(desktop, pid, &remote).await {
                Ok(()) => return Ok(Driver { pid, native_port, remote }),
                Err(why) => {
                    desktop.kill_tracked(pid);
                    failures.push(format!("attempt {attempt} (ports {port}/{native_port}): {why}"));
                }
            }
        }
        Err(format!(
            "tauri-driver did not come up:\n  {}\n--- last lines of {}:\n{}",
            failures.join("\n  "),
            log.display(),
            tail(&log, LOG_TAIL_LINES)
        ))
    }

    /// Creates a session: WebKitWebDriver starts `app` with `args` and attaches to its
    /// webview. The app must open a window by itself (a tray app: `--show`).
    pub async fn session(&self, app: &Path, args: &[&str]) -> Result<Session, String> {
        let body = json!({
            "capabilities": {
                "alwaysMatch": {
                    "tauri:options": { "application": app, "args": args }
                }
            }
        });
        let value = self.remote.command("POST", "/session", Some(&body), SESSION_TIMEOUT).await?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| self.remote.failure("POST", "/session", format!("no sessionId in {value}")))?
            .to_string();
        Ok(Session { remote: Arc::clone(&self.remote), id, capabilities: value["capabilities"].clone() })
    }

    /// The port tauri-driver listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.remote.port
    }

    /// The port WebKitWebDriver listens on (127.0.0.1).
    pub fn native_port(&self) -> u16 {
        self.native_port
    }

    /// tauri-driver's pid, also the id of the process group it shares with
    /// WebKitWebDriver and the apps of its sessions.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// `<desktop logs>/tauri-driver.log`: tauri-driver, WebKitWebDriver's stderr and the
    /// app's stdout/stderr.
    pub fn log_path(&self) -> &Path {
        &self.remote.log
    }

    /// The last `lines` lines of [`Driver::log_path`].
    pub fn log_tail(&self, lines: usize) -> String {
        tail(&self.remote.log, lines)
    }

    /// Live processes (pid, command line) of the driver's process group: tauri-driver,
    /// WebKitWebDriver and the app of each open session.
    pub fn processes(&self) -> Vec<(u32, String)> {
        group_members(self.pid, false)
    }

    /// The live processes of the group whose executable is `app` (the app a session runs),
    /// or the `onair-tray` beside it, which `onair` with no command execs in the same process.
    pub fn app_processes(&self, app: &Path) -> Vec<(u32, String)> {
        let app = fs::canonicalize(app).unwrap_or_else(|_| app.to_path_buf());
        let tray = app.with_file_name("onair-tray");
        self.processes()
            .into_iter()
            .filter(|(pid, _)| {
                fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| {
                    let exe = exe.to_string_lossy().trim_end_matches(" (deleted)").to_string();
                    [&app, &tray].iter().any(|candidate| exe == candidate.to_string_lossy())
                })
            })
            .collect()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The desktop owns (and reaps) the group leader. While the leader exists, dead
        // or alive, the group id cannot be reused; once it is gone the desktop has
        // killed the group already.
        if !pid_leads_group(self.pid) {
            return;
        }
        send_signal("KILL", &format!("-{}", self.pid));
        let deadline = Instant::now() + Duration::from_secs(5);
        while group_alive(self.pid, false) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A WebDriver session: the app's window.
pub struct Session {
    remote: Arc<Remote>,
    id: String,
    capabilities: Value,
}

impl Session {
    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The capabilities the driver answered with.
    pub fn capabilities(&self) -> &Value {
        &self.capabilities
    }

    /// The first element matching a CSS selector (`POST /element`), or the
    /// "no such element" error.
    pub async fn find(&self, css: &str) -> Result<Element, String> {
        let body = json!({ "using": "css selector", "value": css });
        let value = self.cmd("POST", "/element", Some(&body)).await?;
        self.element(value, "/element")
    }

    /// All elements matching a CSS selector (`POST /elements`), possibly none.
    pub async fn find_all(&self, css: &str) -> Result<Vec<Element>, String> {
        let body = json!({ "using": "css selector", "value": css });
        let value = self.cmd("POST", "/elements", Some(&body)).await?;
        let items = value.as_array().ok_or_else(|| self.bad("/elements", &value))?;
        items.iter().map(|v| self.element(v.clone(), "/elements")).collect()
    }

    /// Polls [`Session::find`] until an element matches or `timeout` passes.
    pub async fn wait_for(&self, css: &str, timeout: Duration) -> Result<Element, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.find(css).await {
                Ok(element) => return Ok(element),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!("no element matches {css:?} within {timeout:?}; last error: {last}"));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Polls the text of the first element matching `css` until `pred` accepts it, and
    /// returns that text.
    pub async fn wait_text(&self, css: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.find(css).await {
                Ok(element) => match element.text().await {
                    Ok(text) if pred(&text) => return Ok(text),
                    Ok(text) => format!("its text was {text:?}"),
                    Err(e) => e,
                },
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                return Err(format!("the text of {css:?} did not match within {timeout:?}; last: {last}"));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Runs `script` as the body of a function (`return ...` gives the result) with
    /// `args` as its `arguments` (`POST /execute/sync`). Element references in the
    /// result come back as `{"element-6066-...": id}` objects.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        let body = json!({ "script": script, "args": args });
        self.cmd("POST", "/execute/sync", Some(&body)).await
    }

    /// Saves a PNG of the window's viewport (`GET /screenshot`) to `path`, creating
    /// its directory.
    pub async fn screenshot(&self, path: &Path) -> Result<(), String> {
        let value = self.cmd("GET", "/screenshot", None).await?;
        let encoded = value.as_str().ok_or_else(|| self.bad("/screenshot", &value))?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|e| format!("GET /screenshot: invalid base64: {e}"))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        fs::write(path, png).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// The document's title (`GET /title`).
    pub async fn title(&self) -> Result<String, String> {
        let value = self.cmd("GET", "/title", None).await?;
        value.as_str().map(String::from).ok_or_else(|| self.bad("/title", &value))
    }

    /// Ends the session (`DELETE /session/{id}`); WebKitWebDriver ends the app.
    pub async fn close(self) -> Result<(), String> {
        self.cmd("DELETE", "", None).await.map(|_| ())
    }

    async fn cmd(&self, method: &str, sub: &str, body: Option<&Value>) -> Result<Value, String> {
        let path = format!("/session/{}{sub}", self.id);
        self.remote.command(method, &path, body, COMMAND_TIMEOUT).await
    }

    fn element(&self, value: Value, what: &str) -> Result<Element, String> {
        let id = value[ELEMENT_KEY].as_str().ok_or_else(|| self.bad(what, &value))?;
        Ok(Element { remote: Arc::clone(&self.remote), session: self.id.clone(), id: id.to_string() })
    }

    fn bad(&self, what: &str, value: &Value) -> String {
        self.remote.failure("answer of", &format!("/session/{}{what}", self.id), format!("unexpected value {value}"))
    }
}

/// An element of the window's document (a W3C web element reference).
#[derive(Clone)]
pub struct Element {
    remote: Arc<Remote>,
    session: String,
    id: String,
}

impl std::fmt::Debug for Element {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Element({})", self.id)
    }
}

impl Element {
    /// The WebDriver element id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The reference as a script argument for [`Session::execute`].
    pub fn to_json(&self) -> Value {
        json!({ ELEMENT_KEY: self.id })
    }

    /// Scrolls the element into view and clicks its center (`POST /click`).
    pub async fn click(&self) -> Result<(), String> {
        self.cmd("POST", "/click", Some(&json!({}))).await.map(|_| ())
    }

    /// The rendered text (`GET /text`).
    pub async fn text(&self) -> Result<String, String> {
        let value = self.cmd("GET", "/text", None).await?;
        value.as_str().map(String::from).ok_or_else(|| self.bad("/text", &value))
    }

    /// An HTML attribute, `None` when absent (`GET /attribute/{name}`).
    pub async fn attribute(&self, name: &str) -> Result<Option<String>, String> {
        let value = self.cmd("GET", &format!("/attribute/{}", percent_encode(name)), None).await?;
        match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s)),
            other => Ok(Some(other.to_string())),
        }
    }

    /// A DOM property, e.g. "value" or "checked" (`GET /property/{name}`).
    pub async fn property(&self, name: &str) -> Result<Value, String> {
        self.cmd("GET", &format!("/property/{}", percent_encode(name)), None).await
    }

    /// Empties an input (`POST /clear`).
    pub async fn clear(&self) -> Result<(), String> {
        self.cmd("POST", "/clear", Some(&json!({}))).await.map(|_| ())
    }

    /// Types `text` into the element (`POST /value`). Sends both `text` (W3C) and
    /// `value` (one string per character, what older drivers read).
    pub async fn send_keys(&self, text: &str) -> Result<(), String> {
        let chars: Vec<String> = text.chars().map(String::from).collect();
        self.cmd("POST", "/value", Some(&json!({ "text": text, "value": chars }))).await.map(|_| ())
    }

    /// Whether the element is enabled (`GET /enabled`).
    pub async fn enabled(&self) -> Result<bool, String> {
        let value = self.cmd("GET", "/enabled", None).await?;
        value.as_bool().ok_or_else(|| self.bad("/enabled", &value))
    }

    /// Whether the element is displayed (`GET /displayed`).
    pub async fn displayed(&self) -> Result<bool, String> {
        let value = self.cmd("GET", "/displayed", None).await?;
        value.as_bool().ok_or_else(|| self.bad("/displayed", &value))
    }

    async fn cmd(&self, method: &str, sub: &str, body: Option<&Value>) -> Result<Value, String> {
        let path = format!("/session/{}/element/{}{sub}", self.session, self.id);
        self.remote.command(method, &path, body, COMMAND_TIMEOUT).await
    }

    fn bad(&self, what: &str, value: &Value) -> String {
        let path = format!("/session/{}/element/{}{what}", self.session, self.id);
        self.remote.failure("answer of", &path, format!("unexpected value {value}"))
    }
}

// ---------------------------------------------------------------------------------
// WebDriver over HTTP

/// tauri-driver's address and log.
struct Remote {
    port: u16,
    log: PathBuf,
}

impl Remote {
    /// Sends one WebDriver command and returns its `value`, or an error with the
    /// WebDriver error, its message and the tail of the driver log.
    async fn command(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, String> {
        let bytes = body.map(|b| serde_json::to_vec(b).expect("JSON serializes"));
        let mut answer = http(self.port, method, path, bytes.as_deref(), timeout).await;
        if method == "GET" && answer.as_ref().is_err_and(|e| e.starts_with(NO_ANSWER)) {
            // Safe to repeat: a GET changes nothing.
            answer = http(self.port, method, path, bytes.as_deref(), timeout).await;
        }
        let (status, raw) = answer.map_err(|e| self.failure(method, path, e))?;
        let parsed: Value = serde_json::from_slice(&raw).map_err(|e| {
            self.failure(method, path, format!("HTTP {status}, not JSON ({e}): {}", String::from_utf8_lossy(&raw)))
        })?;
        let value = parsed.get("value").cloned().unwrap_or(Value::Null);
        let error = value.get("error").and_then(Value::as_str);
        if (200..300).contains(&status) && error.is_none() {
            return Ok(value);
        }
        let message = value.get("message").and_then(Value::as_str).unwrap_or_default();
        Err(self.failure(method, path, format!("{}: {message} (HTTP {status})", error.unwrap_or("unknown error"))))
    }

    fn failure(&self, method: &str, path: &str, what: String) -> String {
        format!(
            "WebDriver {method} {path}: {what}\n--- last lines of {}:\n{}",
            self.log.display(),
            tail(&self.log, LOG_TAIL_LINES)
        )
    }
}

/// How [`read_response`]'s error starts when the connection ended without a response.
const NO_ANSWER: &str = "connection closed before the response headers";

/// One HTTP/1.1 request to 127.0.0.1:`port` on a fresh connection; returns the status
/// and the (de-chunked) body.
async fn http(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<(u16, Vec<u8>), String> {
    let exchange = async {
        let mut stream =
            TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| format!("connect to 127.0.0.1:{port}: {e}"))?;
        let body = body.unwrap_or_default();
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n");
        if !body.is_empty() || method == "POST" {
            let _ =
                write!(request, "Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n", body.len());
        }
        request.push_str("\r\n");
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(body);
        stream.write_all(&bytes).await.map_err(|e| format!("send: {e}"))?;
        read_response(&mut stream, method == "HEAD").await
    };
    tokio::time::timeout(timeout, exchange).await.map_err(|_| format!("no answer within {timeout:?}"))?
}

/// Reads a response: status line, headers, then a body framed by Content-Length,
/// chunked transfer coding, or the end of the connection. Skips 1xx responses.
async fn read_response(stream: &mut TcpStream, head_only: bool) -> Result<(u16, Vec<u8>), String> {
    let mut buf = Vec::new();
    loop {
        let header_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i;
            }
            let n = read_more(stream, &mut buf).await.map_err(|e| format!("{NO_ANSWER} ({e})"))?;
            if n == 0 {
                return Err(format!("{NO_ANSWER} ({} bytes)", buf.len()));
            }
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).into_owned();
        buf.drain(..header_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let mut length = None;
        let mut chunked = false;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            if name == "content-length" {
                length = Some(value.parse::<usize>().map_err(|_| format!("bad Content-Length {value:?}"))?);
            } else if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked") {
                chunked = true;
            }
        }
        if (100..200).contains(&status) {
            continue;
        }
        if head_only || status == 204 || status == 304 {
            return Ok((status, Vec::new()));
        }
        let body = if chunked {
            read_chunked(stream, buf).await?
        } else if let Some(length) = length {
            while buf.len() < length {
                if read_more(stream, &mut buf).await? == 0 {
                    return Err(format!("connection closed after {} of {length} body bytes", buf.len()));
                }
            }
            buf.truncate(length);
            buf
        } else {
            while read_more(stream, &mut buf).await? > 0 {}
            buf
        };
        return Ok((status, body));
    }
}

async fn read_chunked(stream: &mut TcpStream, mut buf: Vec<u8>) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = find(&buf, b"\r\n") {
                break i;
            }
            if read_more(stream, &mut buf).await? == 0 {
                return Err("connection closed inside a chunk size line".into());
            }
        };
        let line = String::from_utf8_lossy(&buf[..line_end]).into_owned();
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {line:?}"))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers (usually none) end with an empty line; the connection closes anyway.
            return Ok(body);
        }
        while buf.len() < size + 2 {
            if read_more(stream, &mut buf).await? == 0 {
                return Err("connection closed inside a chunk".into());
            }
        }
        body.extend_from_slice(&buf[..size]);
        buf.drain(..size + 2);
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<usize, String> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await.map_err(|e| format!("receive: {e}"))?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

// ---------------------------------------------------------------------------------
// Starting the driver

/// Polls `GET /status` until tauri-driver (and behind it WebKitWebDriver) answers 200.
async fn wait_ready(desktop: &mut Desktop, pid: u32, remote: &Remote) -> Result<(), String> {
    let started = Instant::now();
    loop {
        if let Some(status) = desktop.tracked_status(pid) {
            return Err(format!("tauri-driver exited ({status})"));
        }
        // tauri-driver keeps running when WebKitWebDriver dies (e.g. its port was taken):
        // then no request ever succeeds.
        let last = match http(remote.port, "GET", "/status", None, Duration::from_secs(2)).await {
            Ok((200, _)) => return Ok(()),
            Ok((status, body)) => format!("HTTP {status}: {}", String::from_utf8_lossy(&body)),
            Err(e) => e,
        };
        if started.elapsed() > DRIVER_READY_TIMEOUT {
            return Err(format!("GET /status did not answer 200 within {DRIVER_READY_TIMEOUT:?}: {last}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// tauri-driver: `$TAURI_DRIVER`, else on PATH, else in `$CARGO_HOME/bin` or
/// `~/.cargo/bin` (where `cargo install tauri-driver --locked` puts it). Resolved in the
/// test's own environment: inside the desktop HOME is the temp dir.
fn tauri_driver_path() -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os("TAURI_DRIVER").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    if let Some(path) = find_in_path("tauri-driver") {
        return Ok(path);
    }
    let mut candidates = Vec::new();
    if let Some(cargo_home) = std::env::var_os("CARGO_HOME") {
        candidates.push(PathBuf::from(cargo_home).join("bin/tauri-driver"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cargo/bin/tauri-driver"));
    }
    candidates.into_iter().find(|p| is_executable(p)).ok_or_else(|| {
        "tauri-driver not found (PATH, $CARGO_HOME/bin, ~/.cargo/bin); install it with \
         `cargo install tauri-driver --locked` (scripts/deps.sh test) or set TAURI_DRIVER"
            .to_string()
    })
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

// ---------------------------------------------------------------------------------
// Logs

/// The last `lines` lines of a file ("(no log)" when unreadable).
fn tail(path: &Path, lines: usize) -> String {
    try_tail(path, lines).unwrap_or_else(|e| format!("(no log: {e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn http_reads_content_length_chunked_and_eof_bodies() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let answers: Vec<&'static [u8]> = vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{\"value\":1}\r\nEXTRA",
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"va\r\n7;x=y\r\nlue\":2}\r\n0\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\nConnection: close\r\n\r\n{\"value\":3}",
        ];
        let server = tokio::spawn(async move {
            for answer in answers {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf).await.unwrap();
                s.write_all(answer).await.unwrap();
            }
        });
        let t = Duration::from_secs(5);
        let (s, b) = http(port, "GET", "/a", None, t).await.unwrap();
        assert_eq!((s, &b[..]), (200, &b"{\"value\":1}\r\n"[..]));
        let (s, b) = http(port, "POST", "/b", Some(b"{}"), t).await.unwrap();
        assert_eq!((s, &b[..]), (404, &b"{\"value\":2}"[..]));
        let (s, b) = http(port, "DELETE", "/c", None, t).await.unwrap();
        assert_eq!((s, &b[..]), (500, &b"{\"value\":3}"[..]));
        server.await.unwrap();
    }
}
