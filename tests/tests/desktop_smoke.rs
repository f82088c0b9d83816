//! Smoke test of the private desktop itself: if this fails, GUI-level system tests that
//! use `Desktop` cannot be trusted. It drives the desktop only with stock tools
//! (notify-send, gdbus, secret-tool, xdotool) and small Python GTK/Xlib programs that
//! stand in for the app: an AppIndicator tray menu and a global hotkey grab.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use onair_system_tests::desktop::{processes_mentioning, Desktop, DesktopOptions};

/// The system Python: python3-gi lives there, not in a pyenv one earlier on PATH.
const PYTHON: &str = "/usr/bin/python3";

/// A tray app stand-in: an AppIndicator whose menu has a disabled status row, a
/// separator, an item, a submenu with radio and check items, a hidden item and Quit.
/// Every activated item appends its label to the file named by argv[1].
const INDICATOR_PY: &str = r#"
import sys, gi
gi.require_version('Gtk', '3.0')
gi.require_version('AyatanaAppIndicator3', '0.1')
from gi.repository import Gtk, AyatanaAppIndicator3 as AI

out = sys.argv[1]
def record(label):
    with open(out, 'a') as f:
        f.write(label + "\n")

menu = Gtk.Menu()
status = Gtk.MenuItem.new_with_label("Status: _idle")
status.set_sensitive(False)
menu.append(status)
menu.append(Gtk.SeparatorMenuItem())
go = Gtk.MenuItem.new_with_mnemonic("_Go live")
go.connect("activate", lambda *_: record("Go live"))
menu.append(go)
sub = Gtk.Menu()
a = Gtk.RadioMenuItem.new_with_label(None, "Scene A")
a.set_active(True)
b = Gtk.RadioMenuItem.new_with_label_from_widget(a, "Scene B")
b.connect("activate", lambda w: w.get_active() and record("Scene B"))
mute = Gtk.CheckMenuItem.new_with_label("Mute")
mute.set_active(True)
for w in (a, b, mute):
    sub.append(w)
scenes = Gtk.MenuItem.new_with_label("Scenes")
scenes.set_submenu(sub)
menu.append(scenes)
hidden = Gtk.MenuItem.new_with_label("Hidden")
menu.append(hidden)
quit = Gtk.MenuItem.new_with_label("Quit")
quit.connect("activate", lambda *_: (record("Quit"), Gtk.main_quit()))
menu.append(quit)
menu.show_all()
hidden.hide()

indicator = AI.Indicator.new("onair-smoke", "media-record", AI.IndicatorCategory.APPLICATION_STATUS)
indicator.set_status(AI.IndicatorStatus.ACTIVE)
indicator.set_menu(menu)
print("ready", flush=True)
Gtk.main()
"#;

/// A global hotkey stand-in: XGrabKey(ctrl+alt+shift+s) on the root window (with the
/// NumLock/CapsLock variants, as global-hotkey does) through ctypes and libX11; every
/// KeyPress appends a line to the file named by argv[1].
const GRAB_PY: &str = r#"
import ctypes, sys
x = ctypes.cdll.LoadLibrary("libX11.so.6")
x.XOpenDisplay.restype = ctypes.c_void_p
x.XOpenDisplay.argtypes = [ctypes.c_char_p]
x.XDefaultRootWindow.restype = ctypes.c_ulong
x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
x.XStringToKeysym.restype = ctypes.c_ulong
x.XStringToKeysym.argtypes = [ctypes.c_char_p]
x.XKeysymToKeycode.restype = ctypes.c_ubyte
x.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
x.XGrabKey.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_int]
x.XNextEvent.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]

class XKeyEvent(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong), ("root", ctypes.c_ulong),
                ("subwindow", ctypes.c_ulong), ("time", ctypes.c_ulong), ("x", ctypes.c_int),
                ("y", ctypes.c_int), ("x_root", ctypes.c_int), ("y_root", ctypes.c_int),
                ("state", ctypes.c_uint), ("keycode", ctypes.c_uint), ("same_screen", ctypes.c_int)]

d = x.XOpenDisplay(None)
if not d:
    sys.exit("cannot open the display")
root = x.XDefaultRootWindow(d)
keycode = x.XKeysymToKeycode(d, x.XStringToKeysym(b"s"))
SHIFT, LOCK, CONTROL, MOD1, MOD2 = 1, 2, 4, 8, 16
for extra in (0, MOD2, LOCK, MOD2 | LOCK):
    x.XGrabKey(d, keycode, SHIFT | CONTROL | MOD1 | extra, root, 0, 1, 1)
x.XSync(d, 0)
print("grabbed", flush=True)
event = (ctypes.c_long * 24)()
while True:
    x.XNextEvent(d, event)
    key = ctypes.cast(event, ctypes.POINTER(XKeyEvent)).contents
    if key.type == 2:
        with open(sys.argv[1], "a") as f:
            f.write("press state=%d keycode=%d\n" % (key.state, key.keycode))
"#;

/// Set for the child process of the watchdog test (see there).
const WATCHDOG_CHILD_ENV: &str = "ONAIR_DESKTOP_WATCHDOG_CHILD";

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// Waits until `path` contains `needle`; the file's text (and `log`) on timeout.
async fn wait_file_contains(path: &Path, needle: &str, timeout: Duration, log: &Path) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let text = read(path);
        if text.contains(needle) {
            return text;
        }
        if Instant::now() >= deadline {
            panic!(
                "{} does not contain {needle:?} after {timeout:?}: {text:?}\nlog {}:\n{}",
                path.display(),
                log.display(),
                read(log)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts a Python program from `source` inside the desktop as a tracked process, its
/// stdout and stderr in `logs/<name>.log`. Returns (pid, log).
fn spawn_python(desktop: &mut Desktop, name: &str, source: &str, arg: &Path) -> (u32, PathBuf) {
    let script = desktop.home().join(format!("{name}.py"));
    fs::write(&script, source).expect("write the script");
    let log = desktop.logs_dir().join(format!("{name}.log"));
    let out = fs::File::create(&log).expect("create the log");
    let err = out.try_clone().expect("dup the log");
    let mut cmd = desktop.command(PYTHON);
    cmd.arg(&script).arg(arg).stdin(Stdio::null()).stdout(out).stderr(err);
    let pid = desktop.spawn_tracked(&mut cmd).unwrap_or_else(|e| panic!("start {name}: {e}"));
    (pid, log)
}

/// Whether python3-gi with the Ayatana AppIndicator typelib can be imported.
async fn appindicator_python_missing(desktop: &Desktop) -> Option<String> {
    let check = "import gi; gi.require_version('Gtk', '3.0'); \
                 gi.require_version('AyatanaAppIndicator3', '0.1'); \
                 from gi.repository import AyatanaAppIndicator3";
    match desktop.command(PYTHON).args(["-c", check]).output().await {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        Err(e) => Some(format!("cannot run {PYTHON}: {e}")),
    }
}

fn x_socket(display: &str) -> PathBuf {
    PathBuf::from(format!("/tmp/.X11-unix/X{}", display.trim_start_matches(':')))
}

/// Drops the desktop and checks it left nothing: no process mentioning its temp dir
/// (everything it started has HOME there), none of the pids it had, no temp dir, no X
/// socket.
fn drop_and_check_teardown(desktop: Desktop) {
    let home = desktop.home().to_path_buf();
    let display = desktop.display().to_string();
    let before = desktop.processes();
    let names: Vec<&str> = before.iter().map(|(_, cmd)| cmd.as_str()).collect();
    for helper in ["Xvfb", "dbus-daemon", "busctl"] {
        assert!(names.iter().any(|c| c.contains(helper)), "{helper} is not among the desktop's processes: {names:?}");
    }
    assert!(x_socket(&display).exists(), "no X socket for {display}");
    let t = Instant::now();
    drop(desktop);
    eprintln!("teardown took {:?}", t.elapsed());
    let left = processes_mentioning(&home);
    assert!(left.is_empty(), "processes left behind: {left:?}");
    for (pid, cmd) in &before {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        assert!(stat.is_empty() || zombie, "pid {pid} ({cmd}) still alive: {stat}");
    }
    assert!(!home.exists(), "{} was not removed", home.display());
    // Xvfb released its display (another test's Xvfb may have taken the number since,
    // so the lock file may exist again, but not with our Xvfb's pid in it).
    let xvfb_pid = before.iter().find(|(_, cmd)| cmd.starts_with("Xvfb")).map(|(pid, _)| *pid).unwrap();
    let lock = fs::read_to_string(format!("/tmp/.X{}-lock", display.trim_start_matches(':'))).unwrap_or_default();
    assert_ne!(lock.trim().parse::<u32>().ok(), Some(xvfb_pid), "the X lock of {display} still names our Xvfb");
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_secrets_and_hotkeys() {
    let t0 = Instant::now();
    let mut desktop = Desktop::start(DesktopOptions::default()).await.expect("desktop starts");
    eprintln!(
        "desktop up in {:?}: display {}, bus {}, home {}",
        t0.elapsed(),
        desktop.display(),
        desktop.bus_address(),
        desktop.home().display()
    );
    let home = desktop.home().to_path_buf();
    assert!(desktop.display().starts_with(':'), "display {}", desktop.display());
    assert!(
        desktop.bus_address().starts_with(&format!("unix:path={}", home.join("bus").display())),
        "bus {}",
        desktop.bus_address()
    );
    let env: std::collections::HashMap<String, String> = desktop.env().into_iter().collect();
    assert_eq!(env["DISPLAY"], desktop.display());
    assert_eq!(env["DBUS_SESSION_BUS_ADDRESS"], desktop.bus_address());
    assert_eq!(env["HOME"], home.to_string_lossy());
    assert_eq!(env["XDG_SESSION_TYPE"], "x11");
    assert_eq!(env["NO_AT_BRIDGE"], "1");
    for key in ["XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"] {
        assert!(Path::new(&env[key]).starts_with(&home), "{key}={}", env[key]);
        assert!(Path::new(&env[key]).is_dir(), "{key}={} is not a dir", env[key]);
    }
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&env["XDG_RUNTIME_DIR"]).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "XDG_RUNTIME_DIR mode {mode:o}");
    }
    // A child sees exactly that environment, without WAYLAND_DISPLAY.
    let out = desktop
        .command("sh")
        .args(["-c", "echo \"$DISPLAY|$HOME|$XDG_SESSION_TYPE|${WAYLAND_DISPLAY-unset}\""])
        .env("WAYLAND_DISPLAY", "wayland-0")
        .output()
        .await
        .expect("sh runs");
    // (An explicit .env() after command() wins; without it WAYLAND_DISPLAY is removed.)
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!(
        "{}|{}|x11|",
        desktop.display(),
        home.display()
    )));
    let out = desktop.command("sh").args(["-c", "echo ${WAYLAND_DISPLAY-unset}"]).output().await.expect("sh runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "unset");

    // Notifications: dunst answers (notify-send exits 0 and prints the id), the
    // monitor sees every field.
    assert!(desktop.name_has_owner("org.freedesktop.Notifications").await.unwrap());
    let monitor = desktop.notifications();
    let body = "First line\nSecond line with \"quotes\" and 'apostrophes'\n\tthird: 100% <b>done</b>";
    let out = desktop
        .command("notify-send")
        .args([
            "-p",
            "-a",
            "OnAir Smoke",
            "-u",
            "critical",
            "-i",
            "media-record",
            "--hint=string:category:x-onair.live",
            "--hint=string:desktop-entry:onair",
            "Live: \"Main\" stream",
            body,
        ])
        .output()
        .await
        .expect("notify-send runs");
    assert!(out.status.success(), "notify-send failed: {}", String::from_utf8_lossy(&out.stderr));
    let first_id: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().expect("notify-send -p prints an id");
    let out = desktop
        .command("notify-send")
        .args(["-p", "-t", "4000", "--hint=boolean:transient:true", "--hint=int:x-count:3", "Plain", "one line"])
        .output()
        .await
        .expect("notify-send runs");
    assert!(out.status.success(), "notify-send failed: {}", String::from_utf8_lossy(&out.stderr));
    let second_id: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().expect("notify-send -p prints an id");

    monitor.wait_count("x-onair.", 1, Duration::from_secs(5)).await.expect("the live notification is seen");
    let live = monitor
        .wait_for(|n| n.category() == Some("x-onair.live") && n.id.is_some(), Duration::from_secs(5))
        .await
        .expect("the live notification with its id");
    assert_eq!(live.app_name, "OnAir Smoke");
    assert_eq!(live.summary, "Live: \"Main\" stream");
    assert_eq!(live.body, body);
    assert_eq!(live.icon, "media-record");
    assert_eq!(live.replaces_id, 0);
    assert_eq!(live.expire_timeout, -1);
    assert_eq!(live.hint("desktop-entry"), Some("onair"));
    assert_eq!(live.hint("urgency"), Some("2"));
    assert_eq!(live.id, Some(first_id));
    assert_eq!(live.error, None);
    let plain = monitor.wait_for(|n| n.summary == "Plain" && n.id.is_some(), Duration::from_secs(5)).await.unwrap();
    assert_eq!(plain.body, "one line");
    assert_eq!(plain.expire_timeout, 4000);
    assert_eq!(plain.hint("transient"), Some("true"));
    assert_eq!(plain.hint("x-count"), Some("3"));
    assert_eq!(plain.hint("urgency"), Some("1"));
    assert_eq!(plain.category(), None);
    assert_eq!(plain.id, Some(second_id));
    assert!(plain.at >= live.at);
    assert_eq!(monitor.all().len(), 2, "seen:\n{}", monitor.describe());
    assert_eq!(monitor.with_category("x-onair.live").len(), 1);
    assert_eq!(monitor.count("x-onair."), 1);
    // Replacing and closing, as an app updates its notification.
    let out = desktop
        .command("notify-send")
        .args(["-p", "-r", &first_id.to_string(), "--hint=string:category:x-onair.ended", "Ended", ""])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "notify-send -r failed: {}", String::from_utf8_lossy(&out.stderr));
    monitor.wait_count("x-onair.", 2, Duration::from_secs(5)).await.unwrap();
    let ended = monitor.with_category("x-onair.ended").pop().unwrap();
    assert_eq!(ended.replaces_id, first_id);
    let out = desktop
        .command("gdbus")
        .args([
            "call",
            "--session",
            "--dest",
            "org.freedesktop.Notifications",
            "--object-path",
            "/org/freedesktop/Notifications",
            "--method",
            "org.freedesktop.Notifications.CloseNotification",
            &second_id.to_string(),
        ])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "CloseNotification: {}", String::from_utf8_lossy(&out.stderr));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !monitor.closed().contains(&second_id) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(monitor.closed(), vec![second_id]);
    let err = monitor.wait_for(|n| n.summary == "never sent", Duration::from_millis(200)).await.unwrap_err();
    assert!(err.contains("Live: \\\"Main\\\" stream"), "the error lists what was seen: {err}");

    // Secrets through gnome-keyring's Secret Service on this bus.
    assert!(desktop.name_has_owner("org.freedesktop.secrets").await.unwrap());
    let attrs = [("service", "onair-smoke"), ("username", "alice")];
    assert_eq!(desktop.secret_lookup(&attrs).await, None);
    let secret = "pa ss\"word\nwith a newline";
    desktop.secret_store("OnAir smoke", &attrs, secret).await.expect("secret-tool store");
    assert_eq!(desktop.secret_lookup(&attrs).await.as_deref(), Some(secret));
    assert_eq!(desktop.secret_lookup(&[("service", "onair-smoke"), ("username", "bob")]).await, None);
    assert!(home.join(".local/share/keyrings/login.keyring").exists(), "the login keyring is in the temp HOME");

    // Keys: a passive grab on the root window fires.
    let keys = home.join("keys.txt");
    let (_grab, grab_log) = spawn_python(&mut desktop, "grab", GRAB_PY, &keys);
    wait_file_contains(&grab_log, "grabbed", Duration::from_secs(10), &grab_log).await;
    desktop.key("ctrl+alt+shift+s").await.expect("xdotool key");
    let pressed = wait_file_contains(&keys, "press", Duration::from_secs(5), &grab_log).await;
    assert_eq!(pressed.lines().count(), 1, "{pressed}");
    desktop.key("ctrl+alt+s").await.expect("xdotool key");
    desktop.key("ctrl+alt+shift+s").await.expect("xdotool key");
    let deadline = Instant::now() + Duration::from_secs(5);
    while read(&keys).lines().count() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(read(&keys).lines().count(), 2, "only the grabbed chord arrives: {}", read(&keys));
    let err = desktop.key("ctrl+nosuchkey").await.unwrap_err();
    assert!(err.contains("nosuchkey"), "{err}");

    drop_and_check_teardown(desktop);
}

#[tokio::test(flavor = "multi_thread")]
async fn tray_menu_over_dbusmenu() {
    let mut desktop =
        Desktop::start(DesktopOptions { notification_server: false, keyring: false, ..Default::default() })
            .await
            .expect("desktop starts");
    if let Some(why) = appindicator_python_missing(&desktop).await {
        eprintln!(
            "SKIPPED tray_menu_over_dbusmenu: python3-gi with AyatanaAppIndicator3 is not available \
             (apt-get install python3-gi gir1.2-ayatanaappindicator3-0.1): {why}"
        );
        drop_and_check_teardown(desktop);
        return;
    }
    let clicks = desktop.home().join("clicks.txt");
    let (pid, log) = spawn_python(&mut desktop, "indicator", INDICATOR_PY, &clicks);

    let t = Instant::now();
    let (name, path) = desktop
        .find_menu(pid, Duration::from_secs(20))
        .await
        .unwrap_or_else(|e| panic!("{e}\nlog {}:\n{}", log.display(), read(&log)));
    eprintln!("menu {name} {path} found after {:?}", t.elapsed());
    assert!(name.starts_with(':'), "unique name {name}");
    assert_eq!(path, "/org/ayatana/NotificationItem/onair_smoke/Menu");

    let menu = desktop.menu_layout(&name, &path).await.expect("GetLayout");
    eprintln!("{}", menu.render());
    assert_eq!(menu.labels(), vec!["Status: _idle", "---", "Go live", "Scenes", "Quit"]);
    let status = menu.find("Status:").unwrap();
    assert!(!status.enabled && status.visible);
    assert_eq!(menu.children[1].kind, "separator");
    assert_eq!(menu.find("Go live").unwrap().kind, "standard");
    let scenes = menu.find("Scenes").unwrap();
    let sub: Vec<(&str, Option<i32>, Option<&str>)> =
        scenes.children.iter().map(|c| (c.label.as_str(), c.toggle_state, c.toggle_type.as_deref())).collect();
    assert_eq!(
        sub,
        vec![
            ("Scene A", Some(1), Some("radio")),
            ("Scene B", Some(0), Some("radio")),
            ("Mute", Some(1), Some("checkmark"))
        ]
    );
    assert!(!menu.find("Hidden").unwrap().visible);

    // Clicks arrive as "activate" in the app, also inside a submenu.
    let go = desktop.menu_click_label(&name, &path, "Go live").await.expect("click Go live");
    assert_eq!(go.label, "Go live");
    wait_file_contains(&clicks, "Go live", Duration::from_secs(5), &log).await;
    let scene_b = menu.find("Scene B").unwrap().id;
    desktop.menu_click(&name, &path, scene_b).await.expect("click Scene B");
    wait_file_contains(&clicks, "Scene B", Duration::from_secs(5), &log).await;
    let menu = desktop.menu_layout(&name, &path).await.expect("GetLayout again");
    assert_eq!(menu.find("Scene B").unwrap().toggle_state, Some(1), "{}", menu.render());
    assert_eq!(menu.find("Scene A").unwrap().toggle_state, Some(0), "{}", menu.render());
    assert!(desktop.menu_click_label(&name, &path, "No such item").await.is_err());

    // A process with no menu: a clear error, quickly. (Not pid 1 or the test itself:
    // find_menu also accepts connections of descendants of the given pid.)
    let mut sleeper = desktop.command("sleep");
    sleeper.arg("30");
    let sleeper = desktop.spawn_tracked(&mut sleeper).expect("start sleep");
    let err = desktop.find_menu(sleeper, Duration::from_millis(300)).await.unwrap_err();
    assert!(err.contains(&format!("no bus connection of pid {sleeper}")), "{err}");
    desktop.kill_tracked(sleeper);
    assert!(desktop.tracked_status(sleeper).is_none(), "a killed process is no longer tracked");

    desktop.menu_click_label(&name, &path, "Quit").await.expect("click Quit");
    let status = desktop.wait_tracked(pid, Duration::from_secs(10)).await.expect("the indicator quits");
    assert!(status.success(), "indicator exit {status}; log:\n{}", read(&log));
    assert_eq!(read(&clicks), "Go live\nScene B\nQuit\n");

    drop_and_check_teardown(desktop);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_servers_nothing_is_activated() {
    let mut desktop =
        Desktop::start(DesktopOptions { notification_server: false, keyring: false, ..Default::default() })
            .await
            .expect("desktop starts");
    let monitor = desktop.notifications();
    assert!(!desktop.name_has_owner("org.freedesktop.Notifications").await.unwrap());
    assert!(!desktop.name_has_owner("org.freedesktop.secrets").await.unwrap());

    // No keyring: secret-tool fails and nothing gets activated in its place.
    assert_eq!(desktop.secret_lookup(&[("service", "x")]).await, None);
    let err = desktop.secret_store("x", &[("service", "x")], "y").await.unwrap_err();
    assert!(err.contains("secret-tool store failed"), "{err}");
    assert!(!desktop.name_has_owner("org.freedesktop.secrets").await.unwrap());

    // No notification server: notify-send fails; a raw Notify is seen with its error.
    let notify = |desktop: &Desktop, summary: &str| {
        let mut cmd = desktop.command("gdbus");
        cmd.args([
            "call",
            "--session",
            "--dest",
            "org.freedesktop.Notifications",
            "--object-path",
            "/org/freedesktop/Notifications",
            "--method",
            "org.freedesktop.Notifications.Notify",
            "'onair'",
            "uint32 0",
            "''",
            &format!("'{summary}'"),
            "'body'",
            "@as []",
            "{'category': <'x-onair.test'>, 'urgency': <byte 1>}",
            "int32 5000",
        ]);
        cmd
    };
    let out = desktop.command("notify-send").args(["Nobody", "listens"]).output().await.unwrap();
    assert!(!out.status.success(), "notify-send succeeded without a server");
    let out = notify(&desktop, "Unheard").output().await.unwrap();
    assert!(!out.status.success());
    let unheard =
        monitor.wait_for(|n| n.summary == "Unheard" && n.error.is_some(), Duration::from_secs(5)).await.unwrap();
    assert!(unheard.error.as_deref().unwrap().contains("ServiceUnknown"), "{unheard:?}");
    assert_eq!(unheard.id, None);
    assert_eq!(unheard.hint("urgency"), Some("1"));
    assert!(!desktop.name_has_owner("org.freedesktop.Notifications").await.unwrap());

    // The server comes and goes.
    desktop.start_notification_server().await.expect("dunst starts");
    let out = notify(&desktop, "Heard").output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let heard = monitor.wait_for(|n| n.summary == "Heard" && n.id.is_some(), Duration::from_secs(5)).await.unwrap();
    assert_eq!(heard.error, None);
    desktop.stop_notification_server().await;
    assert!(!desktop.name_has_owner("org.freedesktop.Notifications").await.unwrap());
    let out = notify(&desktop, "Unheard again").output().await.unwrap();
    assert!(!out.status.success());
    monitor.wait_for(|n| n.summary == "Unheard again" && n.error.is_some(), Duration::from_secs(5)).await.unwrap();
    assert_eq!(monitor.count("x-onair.test"), 3);

    drop_and_check_teardown(desktop);
}

/// A test process that dies without dropping its desktop (SIGKILL) leaves nothing:
/// the watchdog kills every process group and removes the temp dir.
#[tokio::test(flavor = "multi_thread")]
async fn watchdog_cleans_up_after_a_killed_test() {
    use tokio::io::AsyncBufReadExt;
    let exe = std::env::current_exe().expect("test binary path");
    let mut child = tokio::process::Command::new(exe)
        .args(["--exact", "watchdog_child", "--nocapture", "--test-threads=1"])
        .env(WATCHDOG_CHILD_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the child test");
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let home = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            // The harness prints "test watchdog_child ... " on the same line.
            if let Some((_, home)) = line.split_once("DESKTOP_HOME=") {
                return Some(PathBuf::from(home.trim()));
            }
        }
        None
    })
    .await
    .expect("the child reports its desktop in time")
    .expect("the child reports its desktop");
    assert!(home.exists());
    let running = processes_mentioning(&home);
    assert!(running.iter().any(|(_, c)| c.contains("gnome-keyring-daemon")), "{running:?}");
    assert!(running.iter().any(|(_, c)| c.contains("dunst")), "{running:?}");
    assert!(running.iter().any(|(_, c)| c.contains("sleep")), "the tracked process runs: {running:?}");

    child.start_kill().expect("SIGKILL the child");
    child.wait().await.expect("reap the child");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_mentioning(&home);
        if left.is_empty() && !home.exists() {
            break;
        }
        assert!(Instant::now() < deadline, "after SIGKILL: left {left:?}, dir exists: {}", home.exists());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Only does something as the child of `watchdog_cleans_up_after_a_killed_test`.
#[tokio::test(flavor = "multi_thread")]
async fn watchdog_child() {
    if std::env::var(WATCHDOG_CHILD_ENV).is_err() {
        return;
    }
    let mut desktop = Desktop::start(DesktopOptions::default()).await.expect("desktop starts");
    let mut sleeper = desktop.command("sleep");
    sleeper.arg("600");
    desktop.spawn_tracked(&mut sleeper).expect("start a tracked process");
    println!("DESKTOP_HOME={}", desktop.home().display());
    // Wait to be killed; never drop the desktop.
    tokio::time::sleep(Duration::from_secs(600)).await;
    std::mem::forget(desktop);
}
