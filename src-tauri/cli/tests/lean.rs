//! The lean `onair` binary: it carries no GUI library, and with no command it
//! becomes the tray app beside it, in the same process with the same arguments.

use std::path::{Path, PathBuf};

const ONAIR: &str = env!("CARGO_BIN_EXE_onair");

/// A copy of `onair` alone in a fresh directory, for a stand-in tray app beside it.
/// Held while a file that will be run is written, and while a process starts:
/// a child forked by another test while the copy is open for writing would
/// hold it open, and running the copy would fail with "text file busy".
static FILES_AND_FORKS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time<T>(f: impl FnOnce() -> T) -> T {
    let _held = FILES_AND_FORKS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    f()
}

fn onair_alone(name: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("onair-cli-lean-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let onair = dir.join("onair");
    one_at_a_time(|| std::fs::copy(ONAIR, &onair)).expect("copy onair");
    (dir, onair)
}

#[cfg(target_os = "linux")]
#[test]
fn the_lean_binary_links_no_gui_library() {
    let output = one_at_a_time(|| std::process::Command::new("ldd").arg(ONAIR).output()).expect("run ldd");
    let libraries = String::from_utf8_lossy(&output.stdout).to_lowercase();
    assert!(output.status.success() && libraries.contains("libc.so"), "ldd: {libraries}");
    for gui in ["gtk", "gdk", "webkit", "javascriptcore", "soup", "appindicator", "cairo", "pango", "xdo"] {
        assert!(!libraries.contains(gui), "{gui} is linked:\n{libraries}");
    }
}

#[cfg(unix)]
#[test]
fn with_no_command_onair_execs_the_tray_app_beside_it_with_every_argument() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, onair) = onair_alone("exec");
    let tray = dir.join("onair-tray");
    // Prints its own PID and arguments: the same PID proves an exec, not a child.
    one_at_a_time(|| std::fs::write(&tray, "#!/bin/sh\necho \"$$ $*\"\n")).expect("write the stand-in tray");
    std::fs::set_permissions(&tray, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for args in [&[][..], &["--show", "--host", "127.0.0.1", "--port", "4456"], &["--demo"]] {
        let child = one_at_a_time(|| {
            std::process::Command::new(&onair).args(args).stdout(std::process::Stdio::piped()).spawn()
        })
        .expect("start onair");
        let pid = child.id();
        let output = child.wait_with_output().expect("onair output");
        assert!(output.status.success(), "{args:?}: {output:?}");
        let printed = String::from_utf8_lossy(&output.stdout).trim_end().to_string();
        assert_eq!(printed, format!("{pid} {}", args.join(" ")).trim_end(), "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_a_tray_app_anywhere_onair_says_so_and_fails() {
    let (dir, onair) = onair_alone("missing");
    let output = one_at_a_time(|| std::process::Command::new(&onair).arg("--show").env("PATH", &dir).output())
        .expect("run onair");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot start the tray app onair-tray"), "{stderr}");
    assert!(stderr.contains(&Path::new(&dir).display().to_string()), "names where it looked: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn version_and_help_answer_without_the_tray_app() {
    let (dir, onair) = onair_alone("help");
    for (flag, expected) in [("--version", "onair "), ("--help", "stream")] {
        let output = one_at_a_time(|| std::process::Command::new(&onair).arg(flag).output()).expect("run onair");
        assert!(output.status.success(), "{flag}: {output:?}");
        assert!(String::from_utf8_lossy(&output.stdout).contains(expected), "{flag}: {output:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
