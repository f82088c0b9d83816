//! The fresh-machine check of the .deb: a throwaway Debian 12 root made by
//! mmdebstrap (essential packages and apt, nothing else), the package installed
//! into it by apt, which has to find every dependency from the Depends alone
//! (no recommends), then the installed programs run inside it: `onair
//! --version`, `onair status` against this test world's real OBS running
//! outside (a chroot shares the loopback), and the tray app, headless on this
//! test's private desktop, until its menu is on the bus and says what OBS is
//! doing. The tray app also finds a stale start-on-login launcher (an
//! AppImage's vanished mount) and repairs it to start the installed program.
//!
//! Too long and too networked for scripts/test: scripts/package-test builds the
//! packages and runs this with `ONAIR_PACKAGE_DEB` set and `--ignored`.
//!
//! The root is entered through a private mount namespace (`unshare --mount`):
//! /proc, /dev, /sys, the X socket dir and the desktop's home are bind-mounted
//! there, and vanish with the namespace's last process, so nothing is left
//! mounted on the host even when the test dies. mmdebstrap itself runs in one
//! too, for the same reason.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use onair_system_tests::desktop::{Desktop, DesktopOptions, MenuNode};
use onair_system_tests::support::TrayApp;
use onair_system_tests::world::{ObsWorld, WorldOptions};

const T: Duration = Duration::from_secs(30);
/// The app id (tauri.conf.json's identifier), which the GlobalShortcuts portal
/// is given: the installed desktop entry is named after it, as the portal and
/// desktops look it up.
const APP_ID: &str = "app.onair.tray";
const DESKTOP_ID: &str = "app.onair.tray.desktop";
const SUITE: &str = "bookworm";
const SOURCES: &[&str] = &[
    "deb http://deb.debian.org/debian bookworm main",
    "deb http://deb.debian.org/debian bookworm-updates main",
    "deb http://deb.debian.org/debian-security bookworm-security main",
];

/// Enters the root (`$1`) in a private mount namespace with the host's /proc,
/// /dev and /sys, the X socket dir and the desktop's home (`$2`) at the same
/// path, and runs the rest of the arguments there with a clean environment
/// (only what follows `env -i`).
const ENTER: &str = r#"set -e
root=$1; home=$2; shift 2
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
mount --rbind /sys "$root/sys"
mkdir -p "$root/tmp/.X11-unix" "$root$home"
mount --bind /tmp/.X11-unix "$root/tmp/.X11-unix"
mount --bind "$home" "$root$home"
exec chroot "$root" "$@""#;

/// The throwaway root, removed on drop unless something is still mounted in
/// it (then it says so and leaves it, rather than recurse into a mount).
struct Root {
    dir: PathBuf,
}

impl Root {
    fn path(&self) -> &Path {
        &self.dir
    }

    /// Mount points at or below the root in this (the host's) namespace.
    fn mounts_inside(&self) -> Vec<String> {
        let prefix = self.dir.to_string_lossy().into_owned();
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|line| line.split(' ').nth(4).map(String::from))
            .filter(|mount| mount.starts_with(&prefix))
            .collect()
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        if std::env::var_os("ONAIR_KEEP_ROOT").is_some() {
            eprintln!("package test: root kept at {}", self.dir.display());
            return;
        }
        let mounts = self.mounts_inside();
        if !mounts.is_empty() {
            eprintln!("package test: NOT removing {}: still mounted there: {mounts:?}", self.dir.display());
            return;
        }
        let _ = Command::new("rm").arg("-rf").arg("--one-file-system").arg(&self.dir).status();
    }
}

/// What the .deb says about itself.
struct Deb {
    path: PathBuf,
    version: String,
    files: Vec<String>,
}

impl Deb {
    fn read(path: PathBuf) -> Deb {
        let field = |name: &str| run_host(Command::new("dpkg-deb").arg("-f").arg(&path).arg(name)).trim().to_string();
        let version = field("Version");
        let listing = run_host(Command::new("dpkg-deb").arg("-c").arg(&path));
        let files = listing
            .lines()
            .filter_map(|l| l.split_whitespace().nth(5))
            .map(|f| format!("/{}", f.trim_start_matches("./")))
            .collect();
        Deb { path, version, files }
    }

    /// The tray app's installed path: `onair-tray` beside `onair` once the
    /// command line is its own binary, else `onair` itself.
    fn tray_program(&self) -> &str {
        if self.files.iter().any(|f| f == "/usr/bin/onair-tray") {
            "/usr/bin/onair-tray"
        } else {
            "/usr/bin/onair"
        }
    }
}

fn run_host(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Makes the root: mmdebstrap's `apt` variant, then the .deb installed by apt
/// inside it (no recommends: the Depends alone must be enough). Downloaded
/// packages are kept in `cache` between runs (mmdebstrap's sync-in/sync-out),
/// which spares the mirror, not the install. Returns the root and the seconds
/// the bare root and the install took.
fn make_root(deb: &Deb, cache: &Path) -> (Root, f64, f64) {
    let dir = std::env::temp_dir().join(format!("onair-package-root-{}", std::process::id()));
    let root = Root { dir: dir.clone() };
    std::fs::create_dir_all(cache).expect("create the apt cache dir");
    let marks = std::env::temp_dir().join(format!("onair-package-marks-{}", std::process::id()));
    std::fs::create_dir_all(&marks).expect("create the marks dir");
    let deb_name = deb.path.file_name().expect("a .deb file name").to_string_lossy().into_owned();
    let install = format!(
        "chroot \"$1\" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
         apt-get install -y -q --no-install-recommends /tmp/{deb_name}"
    );
    let started = Instant::now();
    let mut mmdebstrap = Command::new("unshare");
    mmdebstrap
        .args(["--mount", "--propagation", "private", "--", "mmdebstrap", "--variant=apt", "--mode=root", "-q"])
        .arg("--skip=essential/unlink")
        .arg("--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives")
        .arg(format!("--setup-hook=sync-in {} /var/cache/apt/archives", cache.display()))
        .arg(format!("--customize-hook=date +%s.%N > {}/root-ready", marks.display()))
        .arg(format!("--customize-hook=copy-in {} /tmp", deb.path.display()))
        .arg(format!("--customize-hook={install}"))
        .arg(format!("--customize-hook=sync-out /var/cache/apt/archives {}", cache.display()))
        .arg(SUITE)
        .arg(&dir)
        .args(SOURCES);
    let output = mmdebstrap.output().expect("run mmdebstrap (apt-get install mmdebstrap)");
    let total = started.elapsed().as_secs_f64();
    assert!(
        output.status.success(),
        "mmdebstrap, or apt installing {deb_name} in the fresh root, failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let started_at =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
            - total;
    let ready: f64 = std::fs::read_to_string(marks.join("root-ready"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(started_at);
    let _ = std::fs::remove_dir_all(&marks);
    let bare = ready - started_at;
    (root, bare, total - bare)
}

/// A command run inside the root, in `desktop`'s session.
fn in_root(root: &Root, desktop: &Desktop, program: &str, args: &[&str]) -> Command {
    let mut command = Command::new("unshare");
    command
        .args(["--mount", "--propagation", "private", "--", "sh", "-c", ENTER, "sh"])
        .arg(root.path())
        .arg(desktop.home())
        .args(["/usr/bin/env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"]);
    for (key, value) in desktop.env() {
        command.arg(format!("{key}={value}"));
    }
    command.arg("RUST_LOG=info,onair_headless=debug,onair_app=debug").arg(program).args(args);
    command
}

/// Runs a command in the root to its end: (exit code, stdout, stderr, seconds).
fn run_in_root(root: &Root, desktop: &Desktop, program: &str, args: &[&str]) -> (i32, String, String, f64) {
    let started = Instant::now();
    let output = in_root(root, desktop, program, args).output().expect("enter the root");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        started.elapsed().as_secs_f64(),
    )
}

fn first_row(menu: &MenuNode) -> String {
    menu.children.first().map(|n| n.label.clone()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "builds a Debian root from the network: run scripts/package-test"]
async fn the_deb_installs_on_a_clean_debian_12_and_its_programs_run_there() {
    let deb = std::env::var_os("ONAIR_PACKAGE_DEB")
        .map(PathBuf::from)
        .expect("ONAIR_PACKAGE_DEB names the .deb to install; scripts/package-test builds it and sets it");
    let deb = Deb::read(std::fs::canonicalize(&deb).expect("the .deb exists"));
    let cache = std::env::var_os("ONAIR_PACKAGE_APT_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/package-test/apt-cache"));

    let (root, bare_s, install_s) = make_root(&deb, &cache);
    eprintln!("package test: clean root {bare_s:.1} s, apt installing the .deb and its dependencies {install_s:.1} s");

    let mut world = ObsWorld::start(WorldOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let mut desktop = Desktop::start(DesktopOptions::default()).await.unwrap_or_else(|e| panic!("{e}"));
    let port = world.ws_port().to_string();

    let (code, stdout, stderr, version_s) = run_in_root(&root, &desktop, "onair", &["--version"]);
    assert_eq!(code, 0, "onair --version in the root: {stderr}");
    assert_eq!(stdout.trim(), format!("onair {}", deb.version), "the installed onair's version");

    for installed in [
        format!("usr/share/applications/{DESKTOP_ID}"),
        format!("usr/share/metainfo/{APP_ID}.metainfo.xml"),
        "usr/share/man/man1/onair.1.gz".to_string(),
    ] {
        assert!(root.path().join(&installed).is_file(), "/{installed} is not installed");
    }
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../tauri.conf.json")).unwrap_or_default(),
    )
    .unwrap_or_default();
    assert_eq!(config["identifier"], APP_ID, "the app id the desktop entry is named after");
    // One launcher, under the app id: the bundler's own name for it (productName) is gone.
    let entries: Vec<String> = std::fs::read_dir(root.path().join("usr/share/applications"))
        .map(|dir| dir.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert_eq!(entries, [DESKTOP_ID], "the desktop entries installed");
    // Software centres find the launcher through the metainfo's launchable.
    let metainfo = std::fs::read_to_string(root.path().join(format!("usr/share/metainfo/{APP_ID}.metainfo.xml")))
        .unwrap_or_default();
    assert!(
        metainfo.contains(&format!("<launchable type=\"desktop-id\">{DESKTOP_ID}</launchable>")),
        "the metainfo launches {DESKTOP_ID}:\n{metainfo}"
    );
    // The bundler names the icon after the tray app's binary; the desktop entry says which.
    let icon = Path::new(deb.tray_program()).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for installed in [
        format!("usr/share/icons/hicolor/48x48/apps/{icon}.png"),
        format!("usr/share/icons/hicolor/scalable/apps/{icon}.svg"),
    ] {
        assert!(root.path().join(&installed).is_file(), "/{installed} is not installed");
    }
    let entry =
        std::fs::read_to_string(root.path().join(format!("usr/share/applications/{DESKTOP_ID}"))).unwrap_or_default();
    assert!(entry.lines().any(|l| l == format!("Icon={icon}")), "the desktop entry names the installed icon:\n{entry}");

    let (code, stdout, stderr, status_s) =
        run_in_root(&root, &desktop, "onair", &["status", "--json", "--host", "127.0.0.1", "--port", &port]);
    assert_eq!(code, 0, "onair status against the world's OBS from the root: {stdout}{stderr}");
    let state: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("status --json printed {stdout:?}: {e}"));
    // It saw OBS: the stream's state is OBS's, not a guess.
    assert_eq!(state["obs"]["stream"]["state"], "offline", "{state}");
    let (code, stdout, _, _) =
        run_in_root(&root, &desktop, "onair", &["status", "--host", "127.0.0.1", "--port", &port]);
    assert_eq!(code, 0);
    eprintln!("package test: onair --version {version_s:.2} s, onair status {status_s:.2} s: {}", stdout.trim());

    // Start on login was on, and its launcher points at an AppImage mount that is gone.
    let config = desktop.home().join(".config");
    std::fs::create_dir_all(config.join("onair")).expect("create the settings dir");
    std::fs::write(config.join("onair/settings.toml"), "[behaviour]\nstart_on_login = true\n").expect("write settings");
    std::fs::create_dir_all(config.join("autostart")).expect("create the autostart dir");
    let launcher = config.join("autostart/onair.desktop");
    std::fs::write(
        &launcher,
        "[Desktop Entry]\nType=Application\nName=OnAir\nExec=/tmp/.mount_OnAirGone/usr/bin/onair\n",
    )
    .expect("write a stale launcher");

    let log = std::fs::File::create(desktop.logs_dir().join("onair-app.log")).expect("app log file");
    let mut tray = in_root(&root, &desktop, "onair", &["--host", "127.0.0.1", "--port", &port]);
    tray.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(log);
    let started = Instant::now();
    let pid = desktop.spawn_tracked(&mut tray).expect("start the tray app in the root");
    let (bus_name, menu_path) = desktop.find_menu(pid, Duration::from_secs(60)).await.unwrap_or_else(|e| {
        let log = std::fs::read_to_string(desktop.logs_dir().join("onair-app.log")).unwrap_or_default();
        panic!("{e}\napp log:\n{log}")
    });
    let menu_s = started.elapsed().as_secs_f64();
    let app = TrayApp { pid, bus_name, menu_path, started };
    let menu = app.wait_menu(&desktop, "Offline", T, |m| first_row(m) == "Offline").await;
    assert!(menu.find("Quit OnAir").is_some(), "{}", menu.render());
    eprintln!("package test: tray app started in the root, its menu on the bus after {menu_s:.2} s");

    let want = deb.tray_program();
    let deadline = Instant::now() + T;
    let repaired = loop {
        let text = std::fs::read_to_string(&launcher).unwrap_or_default();
        if text.lines().any(|l| l == format!("Exec={want}")) || Instant::now() >= deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(repaired.lines().any(|l| l == format!("Exec={want}")), "the launcher should start {want} now:\n{repaired}");

    app.click(&desktop, "Quit OnAir").await;
    let status = desktop.wait_tracked(pid, T).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "the tray app quit with {status}");
    world.kill_obs();
}
