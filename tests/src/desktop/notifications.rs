//! Desktop notifications: dunst as the notification server (started, stopped, restarted), and
//! the [`NotificationMonitor`] that records every `org.freedesktop.Notifications.Notify` call
//! (and its answer) seen on the bus through `busctl monitor --json=short`, with or without a
//! server.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{BufRead, BufReader, Write as _};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::watch;

use super::Desktop;
use crate::sandbox::{log_excerpt, Group, Pipes, HELPER_READY_TIMEOUT};

/// What `busctl monitor` writes to stderr once it has become a monitor.
const MONITOR_READY_LINE: &str = "Monitoring bus message stream.";
const NOTIFICATIONS: &str = "org.freedesktop.Notifications";

impl Desktop {
    /// The notification monitor started with the desktop (clones share one record).
    pub fn notifications(&self) -> NotificationMonitor {
        self.monitor.clone()
    }

    /// Starts dunst (when not running) and waits until it owns
    /// `org.freedesktop.Notifications`.
    pub async fn start_notification_server(&mut self) -> Result<(), String> {
        if self.dunst.as_mut().is_some_and(Group::running) {
            return Ok(());
        }
        self.stop_notification_server().await;
        self.dunst_starts += 1;
        let log = self.logs_dir().join(format!("dunst-{}.log", self.dunst_starts));
        let mut cmd = self.std_command("dunst");
        cmd.arg("-config").arg(self.dunstrc());
        let group = self.sandbox.spawn_group("dunst", &mut cmd, &log, Pipes::default())?;
        self.dunst = Some(group);
        let started = Instant::now();
        loop {
            if let Some(dunst) = self.dunst.as_mut() {
                dunst.check_startup("dunst", &log, 20)?;
            }
            if self.name_has_owner(NOTIFICATIONS).await? {
                return Ok(());
            }
            if started.elapsed() > HELPER_READY_TIMEOUT {
                return Err(format!(
                    "dunst did not own {NOTIFICATIONS} within {HELPER_READY_TIMEOUT:?}; {}",
                    log_excerpt(&log, 20)
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills dunst and waits until `org.freedesktop.Notifications` has no owner, so the
    /// app meets "no notification server" (the bus activates nothing in its place).
    pub async fn stop_notification_server(&mut self) {
        let Some(mut dunst) = self.dunst.take() else {
            return;
        };
        dunst.kill(self.sandbox.watchdog());
        let deadline = Instant::now() + HELPER_READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(false) = self.name_has_owner(NOTIFICATIONS).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Presses the button of the notification dunst shows first (`dunstctl action 0`):
    /// dunst 1.9 invokes a notification's only action, or its "default" one, and
    /// sends `ActionInvoked` to the notification's sender.
    pub async fn press_notification_button(&self) -> Result<(), String> {
        self.dunstctl(&["action", "0"]).await
    }

    /// Takes every notification dunst shows off the screen (`dunstctl close-all`).
    pub async fn close_all_notifications(&self) -> Result<(), String> {
        self.dunstctl(&["close-all"]).await
    }

    async fn dunstctl(&self, args: &[&str]) -> Result<(), String> {
        let what = format!("dunstctl {}", args.join(" "));
        let mut cmd = self.command("dunstctl");
        cmd.args(args);
        let out = super::procs::run(cmd, None, &what).await?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("{what} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
        }
    }

    /// The unique names of the bus connections process `pid` holds right now.
    pub async fn connections_of(&self, pid: u32) -> Result<Vec<String>, String> {
        let names = self.bus_driver_call("ListNames", &[]).await?;
        let names = names["data"][0].as_array().cloned().unwrap_or_default();
        let mut owned = Vec::new();
        for name in names.iter().filter_map(Value::as_str).filter(|n| n.starts_with(':')) {
            // A connection that left meanwhile has no pid any more.
            let Ok(reply) = self.bus_driver_call("GetConnectionUnixProcessID", &["s", name]).await else { continue };
            if reply["data"][0].as_u64() == Some(u64::from(pid)) {
                owned.push(name.to_string());
            }
        }
        Ok(owned)
    }

    pub(super) fn dunstrc(&self) -> PathBuf {
        self.home().join(".config/dunst/dunstrc")
    }

    pub(super) async fn start_monitor(&mut self) -> Result<(), String> {
        let log = self.logs_dir().join("notification-monitor.log");
        let mut cmd = self.std_command("busctl");
        cmd.arg(format!("--address={}", self.bus_address())).args([
            "monitor",
            "--json=short",
            "--match=type='method_call',interface='org.freedesktop.Notifications'",
            // The server's answers (the id) and errors; the monitor keeps only those
            // that answer a recorded Notify.
            "--match=type='method_return'",
            "--match=type='error'",
        ]);
        let pipes = Pipes { stdout: true, stderr: true, ..Pipes::default() };
        let mut group = self.sandbox.spawn_group("busctl monitor", &mut cmd, &log, pipes)?;
        let stdout = group.child.stdout.take().ok_or("busctl monitor: stdout was not piped")?;
        let stderr = group.child.stderr.take().ok_or("busctl monitor: stderr was not piped")?;
        self.monitor_proc = Some(group);

        let (ready_tx, ready_rx) = mpsc::channel::<()>();
        let log_path = log.clone();
        std::thread::Builder::new()
            .name("desktop-monitor-stderr".into())
            .spawn(move || {
                let mut out = fs::OpenOptions::new().create(true).append(true).open(&log_path).ok();
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(f) = out.as_mut() {
                        let _ = writeln!(f, "{line}");
                    }
                    if line.contains(MONITOR_READY_LINE) {
                        let _ = ready_tx.send(());
                    }
                }
            })
            .map_err(|e| format!("cannot start the monitor's stderr thread: {e}"))?;
        let monitor = self.monitor.clone();
        std::thread::Builder::new()
            .name("desktop-monitor".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    monitor.ingest(&line);
                }
                monitor.ended();
            })
            .map_err(|e| format!("cannot start the monitor thread: {e}"))?;

        let started = Instant::now();
        loop {
            if ready_rx.try_recv().is_ok() {
                return Ok(());
            }
            if let Some(monitor) = self.monitor_proc.as_mut() {
                monitor.check_startup("busctl monitor", &log, 20)?;
            }
            if started.elapsed() > HELPER_READY_TIMEOUT {
                return Err(format!(
                    "busctl monitor did not become a monitor within {HELPER_READY_TIMEOUT:?}; {}",
                    log_excerpt(&log, 20)
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// dunst that never waits for anyone: no idle detection, short timeouts for every
/// urgency (critical ones otherwise stay forever), no dmenu or browser.
pub(super) const DUNSTRC: &str = "[global]
    monitor = 0
    follow = none
    idle_threshold = 0
    show_indicators = no
    sticky_history = no
    history_length = 5
    dmenu = /bin/false
    browser = /bin/false
    mouse_left_click = close_current
    mouse_middle_click = close_current
    mouse_right_click = close_current

[urgency_low]
    timeout = 5

[urgency_normal]
    timeout = 5

[urgency_critical]
    timeout = 5
";

/// One `org.freedesktop.Notifications.Notify` call seen on the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenNotification {
    /// When the bus passed the call on (from the monitor's timestamp).
    pub at: Instant,
    /// Unique bus name of the caller (":1.7").
    pub sender: String,
    pub app_name: String,
    pub replaces_id: u32,
    pub icon: String,
    pub summary: String,
    pub body: String,
    /// Action keys and labels, alternating, as sent.
    pub actions: Vec<String>,
    /// Hints with basic values as text ("category" -> "x-onair.live", "urgency" -> "2",
    /// "transient" -> "true"); container values (e.g. image-data) as `<signature>`.
    pub hints: BTreeMap<String, String>,
    pub expire_timeout: i32,
    /// The id the server answered; `None` until the answer arrives, or when there was none.
    pub id: Option<u32>,
    /// The error the call got instead ("org.freedesktop.DBus.Error.ServiceUnknown: ...").
    pub error: Option<String>,
}

impl SeenNotification {
    /// The "category" hint.
    pub fn category(&self) -> Option<&str> {
        self.hint("category")
    }

    pub fn hint(&self, key: &str) -> Option<&str> {
        self.hints.get(key).map(String::as_str)
    }
}

#[derive(Default)]
struct MonitorState {
    seen: Vec<SeenNotification>,
    /// (caller, cookie) of Notify calls not answered yet -> index in `seen`.
    pending: HashMap<(String, u64), usize>,
    closed: Vec<(Instant, u32)>,
    ended: bool,
}

struct MonitorShared {
    state: Mutex<MonitorState>,
    changed: watch::Sender<u64>,
}

/// Every notification sent on the desktop's bus since it started (with or without a
/// notification server). Cheap to clone; clones share the record.
#[derive(Clone)]
pub struct NotificationMonitor {
    shared: Arc<MonitorShared>,
}

impl NotificationMonitor {
    pub(super) fn new() -> NotificationMonitor {
        let (changed, _) = watch::channel(0u64);
        NotificationMonitor { shared: Arc::new(MonitorShared { state: Mutex::new(MonitorState::default()), changed }) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MonitorState> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Feeds one line of `busctl monitor --json=short` output.
    fn ingest(&self, line: &str) {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            return;
        };
        let changed = ingest_message(&mut self.state(), &msg, Instant::now(), SystemTime::now());
        if changed {
            self.shared.changed.send_modify(|n| *n += 1);
        }
    }

    fn ended(&self) {
        self.state().ended = true;
        self.shared.changed.send_modify(|n| *n += 1);
    }

    /// All notifications so far, oldest first.
    pub fn all(&self) -> Vec<SeenNotification> {
        self.state().seen.clone()
    }

    /// Those whose "category" hint is exactly `category`.
    pub fn with_category(&self, category: &str) -> Vec<SeenNotification> {
        self.state().seen.iter().filter(|n| n.category() == Some(category)).cloned().collect()
    }

    /// How many have a "category" hint starting with `category_prefix`.
    pub fn count(&self, category_prefix: &str) -> usize {
        self.state().seen.iter().filter(|n| n.category().is_some_and(|c| c.starts_with(category_prefix))).count()
    }

    /// Ids passed to `CloseNotification`, oldest first.
    pub fn closed(&self) -> Vec<u32> {
        self.state().closed.iter().map(|(_, id)| *id).collect()
    }

    /// Waits until some notification (seen before or after the call) satisfies `pred`
    /// and returns the first such one.
    pub async fn wait_for(
        &self,
        pred: impl Fn(&SeenNotification) -> bool,
        timeout: Duration,
    ) -> Result<SeenNotification, String> {
        let found = self.wait_until(timeout, |st| st.seen.iter().find(|n| pred(n)).cloned()).await;
        found.map_err(|why| format!("no matching notification {why}; seen:\n{}", self.describe()))
    }

    /// Waits until at least `n` notifications have a "category" hint starting with
    /// `category_prefix`.
    pub async fn wait_count(&self, category_prefix: &str, n: usize, timeout: Duration) -> Result<(), String> {
        let matches = |st: &MonitorState| {
            st.seen.iter().filter(|x| x.category().is_some_and(|c| c.starts_with(category_prefix))).count()
        };
        let done = self.wait_until(timeout, |st| (matches(st) >= n).then_some(())).await;
        done.map_err(|why| {
            format!(
                "fewer than {n} notifications with category {category_prefix:?}* ({}) {why}; seen:\n{}",
                matches(&self.state()),
                self.describe()
            )
        })
    }

    async fn wait_until<T>(&self, timeout: Duration, check: impl Fn(&MonitorState) -> Option<T>) -> Result<T, String> {
        let mut rx = self.shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            {
                let st = self.state();
                if let Some(found) = check(&st) {
                    return Ok(found);
                }
                if st.ended {
                    return Err("(the bus monitor has stopped)".into());
                }
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err("(the monitor is gone)".into()),
                Err(_) => return Err(format!("within {timeout:?}")),
            }
        }
    }

    /// One line per notification, for error messages.
    pub fn describe(&self) -> String {
        let st = self.state();
        if st.seen.is_empty() {
            return "  (none)".into();
        }
        st.seen
            .iter()
            .map(|n| {
                format!(
                    "  [{}] {:?} {:?} body={:?} hints={:?} id={:?}{}",
                    n.app_name,
                    n.summary,
                    n.category().unwrap_or("-"),
                    n.body,
                    n.hints,
                    n.id,
                    n.error.as_deref().map(|e| format!(" error={e}")).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Applies one monitored bus message to the record; true when something changed.
fn ingest_message(st: &mut MonitorState, msg: &Value, now: Instant, now_sys: SystemTime) -> bool {
    let s = |key: &str| msg[key].as_str().unwrap_or_default();
    match s("type") {
        "method_call" if s("interface") == NOTIFICATIONS => {
            let at = message_instant(msg, now, now_sys);
            match s("member") {
                "Notify" => {
                    let Some(n) = parse_notify(msg, at) else {
                        return false;
                    };
                    if let Some(cookie) = msg["cookie"].as_u64() {
                        st.pending.insert((n.sender.clone(), cookie), st.seen.len());
                    }
                    st.seen.push(n);
                    true
                }
                "CloseNotification" => match msg["payload"]["data"][0].as_u64() {
                    Some(id) => {
                        st.closed.push((at, id as u32));
                        true
                    }
                    None => false,
                },
                _ => false,
            }
        }
        kind @ ("method_return" | "error") => {
            let (Some(reply_cookie), dest) = (msg["reply_cookie"].as_u64(), s("destination")) else {
                return false;
            };
            let Some(i) = st.pending.remove(&(dest.to_string(), reply_cookie)) else {
                return false;
            };
            let Some(n) = st.seen.get_mut(i) else {
                return false;
            };
            if kind == "method_return" {
                n.id = msg["payload"]["data"][0].as_u64().map(|id| id as u32);
            } else {
                let text = msg["payload"]["data"][0].as_str().unwrap_or_default();
                n.error = Some(format!("{}: {text}", s("error_name")));
            }
            true
        }
        _ => false,
    }
}

/// The monitor's `timestamp-realtime` (µs since the epoch) as an Instant; `now` when
/// it is missing or implausible.
fn message_instant(msg: &Value, now: Instant, now_sys: SystemTime) -> Instant {
    let Some(us) = msg["timestamp-realtime"].as_u64() else {
        return now;
    };
    let stamp = UNIX_EPOCH + Duration::from_micros(us);
    match now_sys.duration_since(stamp) {
        Ok(age) if age < Duration::from_secs(60) => now.checked_sub(age).unwrap_or(now),
        _ => now,
    }
}

/// A `Notify` call (`susssasa{sv}i`) as busctl's JSON shows it.
fn parse_notify(msg: &Value, at: Instant) -> Option<SeenNotification> {
    let data = msg["payload"]["data"].as_array()?;
    if data.len() != 8 {
        return None;
    }
    let text = |i: usize| data[i].as_str().map(String::from);
    let hints = data[6].as_object()?.iter().map(|(k, v)| (k.clone(), variant_text(v))).collect::<BTreeMap<_, _>>();
    Some(SeenNotification {
        at,
        sender: msg["sender"].as_str().unwrap_or_default().to_string(),
        app_name: text(0)?,
        replaces_id: data[1].as_u64()? as u32,
        icon: text(2)?,
        summary: text(3)?,
        body: text(4)?,
        actions: data[5].as_array()?.iter().filter_map(|a| a.as_str().map(String::from)).collect(),
        hints,
        expire_timeout: data[7].as_i64()? as i32,
        id: None,
        error: None,
    })
}

/// A variant (`{"type": sig, "data": value}`) as text: strings as they are, numbers
/// and booleans as Rust prints them, containers as `<sig>`.
fn variant_text(v: &Value) -> String {
    let sig = v["type"].as_str().unwrap_or_default();
    let data = &v["data"];
    match (sig, data) {
        ("s" | "o" | "g", Value::String(s)) => s.clone(),
        ("b", Value::Bool(b)) => b.to_string(),
        ("d", Value::Number(n)) => n.as_f64().map(|f| f.to_string()).unwrap_or_else(|| n.to_string()),
        ("y" | "n" | "q" | "i" | "u" | "x" | "t" | "h", Value::Number(n)) => n.to_string(),
        _ => format!("<{sig}>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from `busctl monitor --json=short` on a private bus with dunst while
    /// running:
    /// notify-send -p -a onair --hint=string:category:x-test.one
    ///   --hint=string:desktop-entry:foo -u critical -i media-record 'Live: "Main" stream'
    ///   $'First line\nSecond line with "quotes" and a back\\\\slash\n\tindented third'
    /// (dunst's answer, then a CloseNotification(2) from gdbus).
    const CAPTURED_NOTIFY: &str = r#"{"type":"method_call","endian":"l","flags":0,"version":1,"cookie":9,"timestamp-realtime":1795309097718387,"sender":":1.2","destination":":1.0","path":"/org/freedesktop/Notifications","interface":"org.freedesktop.Notifications","member":"Notify","payload":{"type":"susssasa{sv}i","data":["onair",0,"media-record","Live: \"Main\" stream","First line\nSecond line with \"quotes\" and a back\\slash\n\tindented third",[],{"category":{"type":"s","data":"x-test.one"},"desktop-entry":{"type":"s","data":"foo"},"urgency":{"type":"y","data":2},"sender-pid":{"type":"x","data":23538}},-1]}}"#;
    const CAPTURED_REPLY: &str = r#"{"type":"method_return","endian":"l","flags":1,"version":1,"cookie":5,"reply_cookie":9,"timestamp-realtime":1795309097721073,"sender":":1.0","destination":":1.2","payload":{"type":"u","data":[2]}}"#;
    const CAPTURED_CLOSE: &str = r#"{"type":"method_call","endian":"l","flags":0,"version":1,"cookie":3,"timestamp-realtime":1795309097773552,"sender":":1.4","destination":"org.freedesktop.Notifications","path":"/org/freedesktop/Notifications","interface":"org.freedesktop.Notifications","member":"CloseNotification","payload":{"type":"u","data":[2]}}"#;
    /// notify-send --hint=byte:b:7 --hint=int:n:42 --hint=boolean:transient:true
    ///   --hint=double:d:1.5 -t 5000 -p 'Second' 'plain body'
    const CAPTURED_TYPED_HINTS: &str = r#"{"type":"method_call","endian":"l","flags":0,"version":1,"cookie":9,"timestamp-realtime":1795308923644069,"sender":":1.9","destination":":1.0","path":"/org/freedesktop/Notifications","interface":"org.freedesktop.Notifications","member":"Notify","payload":{"type":"susssasa{sv}i","data":["notify-send",0,"","Second","plain body",[],{"n":{"type":"i","data":42},"b":{"type":"y","data":7},"transient":{"type":"b","data":true},"d":{"type":"d","data":1.500000000000000000000e+00},"urgency":{"type":"y","data":1},"sender-pid":{"type":"x","data":20471}},5000]}}"#;
    /// The bus driver's answer when no notification server runs.
    const CAPTURED_ERROR: &str = r#"{"type":"error","endian":"l","flags":1,"version":1,"cookie":8,"reply_cookie":9,"timestamp-realtime":1795309057040869,"sender":"org.freedesktop.DBus","destination":":1.9","error_name":"org.freedesktop.DBus.Error.ServiceUnknown","payload":{"type":"s","data":["The name org.freedesktop.Notifications was not provided by any .service files"]}}"#;

    fn feed(lines: &[&str]) -> MonitorState {
        let mut st = MonitorState::default();
        let now = Instant::now();
        let now_sys = UNIX_EPOCH + Duration::from_micros(1795309097800000);
        for line in lines {
            let v: Value = serde_json::from_str(line).expect("captured line is JSON");
            ingest_message(&mut st, &v, now, now_sys);
        }
        st
    }

    #[test]
    fn parses_a_captured_notify_with_quotes_newlines_and_string_hints() {
        let st = feed(&[CAPTURED_NOTIFY, CAPTURED_REPLY, CAPTURED_CLOSE]);
        assert_eq!(st.seen.len(), 1);
        let n = &st.seen[0];
        assert_eq!(n.sender, ":1.2");
        assert_eq!(n.app_name, "onair");
        assert_eq!(n.replaces_id, 0);
        assert_eq!(n.icon, "media-record");
        assert_eq!(n.summary, "Live: \"Main\" stream");
        assert_eq!(n.body, "First line\nSecond line with \"quotes\" and a back\\slash\n\tindented third");
        assert!(n.actions.is_empty());
        assert_eq!(n.category(), Some("x-test.one"));
        assert_eq!(n.hint("desktop-entry"), Some("foo"));
        assert_eq!(n.hint("urgency"), Some("2"));
        assert_eq!(n.hint("sender-pid"), Some("23538"));
        assert_eq!(n.hints.len(), 4);
        assert_eq!(n.expire_timeout, -1);
        assert_eq!(n.id, Some(2), "the reply's id is attached to the call");
        assert_eq!(n.error, None);
        assert!(st.pending.is_empty());
        assert_eq!(st.closed.iter().map(|c| c.1).collect::<Vec<_>>(), vec![2]);
        // The bus's timestamp (about 82 ms before "now" here) becomes the Instant.
        let age = Instant::now().duration_since(n.at);
        assert!(age >= Duration::from_millis(80) && age < Duration::from_secs(5), "age {age:?}");
    }

    #[test]
    fn renders_byte_int_boolean_and_double_hints_as_text() {
        let st = feed(&[CAPTURED_TYPED_HINTS]);
        let n = &st.seen[0];
        assert_eq!(n.summary, "Second");
        assert_eq!(n.body, "plain body");
        assert_eq!(n.icon, "");
        assert_eq!(n.expire_timeout, 5000);
        assert_eq!(n.hint("b"), Some("7"));
        assert_eq!(n.hint("n"), Some("42"));
        assert_eq!(n.hint("transient"), Some("true"));
        assert_eq!(n.hint("d"), Some("1.5"));
        assert_eq!(n.hint("urgency"), Some("1"));
        assert_eq!(n.category(), None);
        assert_eq!(n.id, None, "no answer seen yet");
    }

    #[test]
    fn an_error_answer_is_attached_to_its_call() {
        let st = feed(&[CAPTURED_TYPED_HINTS, CAPTURED_ERROR]);
        let n = &st.seen[0];
        assert_eq!(n.id, None);
        let error = n.error.as_deref().unwrap_or_default();
        assert!(error.starts_with("org.freedesktop.DBus.Error.ServiceUnknown: The name"), "{error}");
    }

    #[test]
    fn ignores_unrelated_messages_and_answers() {
        let other_reply = CAPTURED_REPLY.replace("\"reply_cookie\":9", "\"reply_cookie\":10");
        let st = feed(&[
            r#"{"type":"signal","sender":"org.freedesktop.DBus","member":"NameAcquired","payload":{"type":"s","data":[":1.3"]}}"#,
            r#"{"type":"method_call","cookie":7,"sender":":1.2","interface":"org.freedesktop.Notifications","member":"GetServerInformation","payload":{"type":"","data":[]}}"#,
            CAPTURED_NOTIFY,
            &other_reply,
        ]);
        assert_eq!(st.seen.len(), 1);
        assert_eq!(st.seen[0].id, None);
    }

    #[test]
    fn variant_text_renders_containers_by_signature() {
        let v: Value = serde_json::from_str(r#"{"type":"(iiibiiay)","data":[1,1,4,true,8,4,[0,0,0,255]]}"#).unwrap();
        assert_eq!(variant_text(&v), "<(iiibiiay)>");
        let v: Value = serde_json::from_str(r#"{"type":"u","data":4294967295}"#).unwrap();
        assert_eq!(variant_text(&v), "4294967295");
    }
}
