//! Start on login on Linux: the XDG autostart launcher
//! (`$XDG_CONFIG_HOME/autostart/onair.desktop`), which program it starts, and
//! whether one found at start still starts the right one.
//!
//! Why not leave it to tauri-plugin-autostart: it writes the program's path
//! once, unquoted, and never looks again. A launcher that points at a build
//! tree, at an older install, or at an AppImage's temporary mount
//! (`/tmp/.mount_XXXX/...`, gone after the app quits) silently starts nothing
//! at the next login. So the app checks the launcher at every start and
//! rewrites it when it points anywhere but the running program; inside an
//! AppImage that program is `$APPIMAGE`, the file the user has, not the mount.
//!
//! [`launcher_target`] and [`launcher_text`] are pure; [`sync`] does the file
//! work on a given directory so tests can run it in a temp dir.

use std::path::{Path, PathBuf};

/// The launcher's file name in the autostart directory. It matches the
/// installed desktop entry's id (`onair.desktop`), as desktops expect.
pub const LAUNCHER_FILE: &str = "onair.desktop";

/// The name tauri-plugin-autostart gave the launcher while the product was
/// called "OnAir": left in place it would start a second OnAir at login.
pub const LEGACY_LAUNCHER_FILE: &str = "OnAir.desktop";

/// Where the running program came from, as the process sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// `std::env::current_exe()`: on Linux the target of `/proc/self/exe`,
    /// with " (deleted)" appended once the file was replaced (a package upgrade).
    pub exe: PathBuf,
    /// `$APPIMAGE`: the AppImage file this runs from, set by its runtime.
    pub appimage: Option<PathBuf>,
    /// `$APPDIR`: where the AppImage runtime mounted it.
    pub appdir: Option<PathBuf>,
}

impl Running {
    /// The running process: its executable and the AppImage runtime's variables.
    pub fn current() -> std::io::Result<Running> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        Ok(Running { exe: std::env::current_exe()?, appimage: var("APPIMAGE"), appdir: var("APPDIR") })
    }
}

/// The program a launcher should start: the AppImage file when this runs from
/// one (its mount point vanishes when the app quits), else the running
/// executable, without the " (deleted)" the kernel adds once an upgrade has
/// replaced it (the new file is at the same path).
///
/// `$APPIMAGE` counts only when the executable really is inside `$APPDIR`: a
/// program started from an AppImage'd terminal inherits both variables.
pub fn launcher_target(running: &Running) -> PathBuf {
    if let Some(appimage) = &running.appimage {
        let inside = running.appdir.as_ref().is_some_and(|appdir| running.exe.starts_with(appdir));
        if appimage.is_absolute() && inside {
            return appimage.clone();
        }
    }
    let exe = running.exe.to_string_lossy();
    match exe.strip_suffix(" (deleted)") {
        Some(path) => PathBuf::from(path),
        None => running.exe.clone(),
    }
}

/// The launcher's contents for `program`.
pub fn launcher_text(program: &Path) -> String {
    format!(
        "[Desktop Entry]\n\
         Type=Application\n\
         Name=OnAir\n\
         Comment=Keep an eye on OBS Studio from the tray\n\
         Exec={}\n\
         Terminal=false\n\
         StartupNotify=false\n\
         X-GNOME-Autostart-enabled=true\n",
        exec_quote(program)
    )
}

/// A program path as the desktop entry spec wants it in `Exec`: quoted when it
/// holds a reserved character, with `"`, `` ` ``, `$` and `\` escaped inside
/// the quotes, every backslash doubled again for the string value, and `%`
/// (a field code) doubled.
pub fn exec_quote(program: &Path) -> String {
    const RESERVED: &[char] =
        &[' ', '\t', '\n', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')', '`'];
    let path = program.to_string_lossy().replace('%', "%%");
    if !path.contains(RESERVED) {
        return path;
    }
    let mut quoted = String::from("\"");
    for c in path.chars() {
        match c {
            // Inside quotes a backslash escapes these; the string value's own
            // escaping then doubles that backslash.
            '"' | '`' | '$' => quoted.push_str("\\\\"),
            '\\' => quoted.push_str("\\\\\\"),
            '\n' => {
                quoted.push_str("\\n");
                continue;
            }
            _ => {}
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// The program an `Exec` value starts (its first argument), reading the
/// quoting [`exec_quote`] writes; `None` when it is empty or badly quoted.
pub fn exec_program(exec: &str) -> Option<PathBuf> {
    // First the string value's escapes (\\ \n \s \t \r), then the quoting.
    let mut value = String::new();
    let mut chars = exec.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => value.push('\\'),
            Some('n') => value.push('\n'),
            Some('s') => value.push(' '),
            Some('t') => value.push('\t'),
            Some('r') => value.push('\r'),
            Some(other) => {
                value.push('\\');
                value.push(other);
            }
            None => value.push('\\'),
        }
    }
    let value = value.trim_start();
    let program = if let Some(rest) = value.strip_prefix('"') {
        let mut program = String::new();
        let mut chars = rest.chars();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => program.push(chars.next()?),
                c => program.push(c),
            }
        }
        program
    } else {
        value.split([' ', '\t']).next().unwrap_or("").to_string()
    };
    let program = program.replace("%%", "%");
    (!program.is_empty()).then(|| PathBuf::from(program))
}

/// The `Exec` value of a desktop entry's `[Desktop Entry]` group.
fn exec_value(text: &str) -> Option<&str> {
    let mut in_entry = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
        } else if in_entry {
            if let Some(value) = line.strip_prefix("Exec").map(str::trim_start).and_then(|l| l.strip_prefix('=')) {
                return Some(value.trim());
            }
        }
    }
    None
}

/// Why a launcher found at start is rewritten, or that it is fine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LauncherCheck {
    /// It starts `want`, which exists.
    Current,
    /// It starts another program (an older install, a build tree, an AppImage's mount).
    Elsewhere(PathBuf),
    /// It starts a program that is not there any more.
    Missing(PathBuf),
    /// It has no `Exec` OnAir can read.
    Unreadable,
}

/// Checks a launcher's text against the program it should start; `exists`
/// says whether a path is there (the file system, or a test's answer).
pub fn check_launcher(text: &str, want: &Path, exists: impl Fn(&Path) -> bool) -> LauncherCheck {
    let Some(program) = exec_value(text).and_then(exec_program) else {
        return LauncherCheck::Unreadable;
    };
    if !exists(&program) {
        LauncherCheck::Missing(program)
    } else if program != want {
        LauncherCheck::Elsewhere(program)
    } else {
        LauncherCheck::Current
    }
}

/// Whether a file under [`LEGACY_LAUNCHER_FILE`] is the one the plugin wrote
/// for OnAir (its `Name=OnAir` and an `onair` program), not something else
/// the user keeps under that name.
pub fn is_legacy_launcher(text: &str) -> bool {
    let named = text.lines().any(|line| line.trim() == "Name=OnAir");
    let ours = exec_value(text)
        .and_then(exec_program)
        .is_some_and(|p| p.file_name().is_some_and(|n| n.to_string_lossy().to_lowercase().starts_with("onair")));
    named && ours
}

/// What [`sync`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOutcome {
    /// Nothing to do: no launcher wanted and none there, or the right one there.
    Unchanged,
    /// A launcher for this program was written where there was none.
    Written(PathBuf),
    /// A stale launcher was rewritten to start this program.
    Repaired { program: PathBuf, was: LauncherCheck },
    /// The launcher was removed (start on login is off).
    Removed,
}

/// Makes `dir` (the autostart directory) hold a launcher for `program` when
/// `wanted`, and none otherwise; a launcher already there that starts anything
/// else is rewritten, and the plugin's old `OnAir.desktop` is removed either way.
pub fn sync(dir: &Path, program: &Path, wanted: bool) -> std::io::Result<SyncOutcome> {
    let legacy = dir.join(LEGACY_LAUNCHER_FILE);
    if std::fs::read_to_string(&legacy).is_ok_and(|text| is_legacy_launcher(&text)) {
        std::fs::remove_file(&legacy)?;
    }
    let path = dir.join(LAUNCHER_FILE);
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    match (wanted, existing) {
        (false, None) => Ok(SyncOutcome::Unchanged),
        (false, Some(_)) => {
            std::fs::remove_file(&path)?;
            Ok(SyncOutcome::Removed)
        }
        (true, None) => {
            write_launcher(dir, &path, program)?;
            Ok(SyncOutcome::Written(program.to_path_buf()))
        }
        (true, Some(text)) => match check_launcher(&text, program, |p| p.exists()) {
            LauncherCheck::Current => Ok(SyncOutcome::Unchanged),
            was => {
                write_launcher(dir, &path, program)?;
                Ok(SyncOutcome::Repaired { program: program.to_path_buf(), was })
            }
        },
    }
}

/// Writes the launcher atomically: a desktop reading the directory at login
/// never sees half a file.
fn write_launcher(dir: &Path, path: &Path, program: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".{LAUNCHER_FILE}.{}.tmp", std::process::id()));
    std::fs::write(&temp, launcher_text(program))?;
    std::fs::rename(&temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(exe: &str, appimage: Option<&str>, appdir: Option<&str>) -> Running {
        Running { exe: exe.into(), appimage: appimage.map(PathBuf::from), appdir: appdir.map(PathBuf::from) }
    }

    #[test]
    fn an_installed_program_is_started_from_where_it_is_installed() {
        assert_eq!(launcher_target(&running("/usr/bin/onair-tray", None, None)), Path::new("/usr/bin/onair-tray"));
    }

    #[test]
    fn a_program_replaced_by_an_upgrade_is_started_from_its_path_not_the_deleted_file() {
        let upgraded = running("/usr/bin/onair-tray (deleted)", None, None);
        assert_eq!(launcher_target(&upgraded), Path::new("/usr/bin/onair-tray"));
    }

    #[test]
    fn inside_an_appimage_the_launcher_starts_the_appimage_not_its_temporary_mount() {
        let mounted = running(
            "/tmp/.mount_OnAirXy12/usr/bin/onair-tray",
            Some("/home/ana/Apps/OnAir_0.1.0_amd64.AppImage"),
            Some("/tmp/.mount_OnAirXy12"),
        );
        assert_eq!(launcher_target(&mounted), Path::new("/home/ana/Apps/OnAir_0.1.0_amd64.AppImage"));
    }

    #[test]
    fn appimage_variables_inherited_by_a_program_outside_the_mount_are_ignored() {
        // e.g. started from a terminal that itself runs from an AppImage.
        let inherited = running("/usr/bin/onair-tray", Some("/opt/Terminal.AppImage"), Some("/tmp/.mount_TermAb"));
        assert_eq!(launcher_target(&inherited), Path::new("/usr/bin/onair-tray"));
        let no_appdir = running("/usr/bin/onair-tray", Some("/opt/Terminal.AppImage"), None);
        assert_eq!(launcher_target(&no_appdir), Path::new("/usr/bin/onair-tray"));
        let relative = running("/tmp/.mount_X/usr/bin/onair-tray", Some("OnAir.AppImage"), Some("/tmp/.mount_X"));
        assert_eq!(launcher_target(&relative), Path::new("/tmp/.mount_X/usr/bin/onair-tray"));
    }

    #[test]
    fn exec_quoting_reads_back_to_the_same_program() {
        for path in [
            "/usr/bin/onair-tray",
            "/home/ana/My Apps/OnAir.AppImage",
            "/opt/o'n\"air/$HOME/`x`/back\\slash/100%/onair",
            "/tmp/tab\there/onair",
        ] {
            let exec = exec_quote(Path::new(path));
            assert_eq!(exec_program(&exec).as_deref(), Some(Path::new(path)), "{path} as {exec}");
        }
        assert_eq!(exec_quote(Path::new("/usr/bin/onair-tray")), "/usr/bin/onair-tray");
        assert_eq!(exec_quote(Path::new("/a b/onair")), "\"/a b/onair\"");
        // The spec's own example: a literal backslash inside quotes is four in the file.
        assert_eq!(exec_quote(Path::new("/a\\b")), "\"/a\\\\\\\\b\"");
        assert_eq!(exec_program("/usr/bin/onair --show %U"), Some(PathBuf::from("/usr/bin/onair")));
        assert_eq!(exec_program("\"/a b/onair"), None, "an unclosed quote");
        assert_eq!(exec_program("  "), None);
    }

    #[test]
    fn a_launcher_is_current_only_when_it_starts_this_program_and_that_exists() {
        let want = Path::new("/usr/bin/onair-tray");
        let everything_exists = |_: &Path| true;
        assert_eq!(check_launcher(&launcher_text(want), want, everything_exists), LauncherCheck::Current);
        let old = launcher_text(Path::new("/home/ana/onair/target/release/onair"));
        assert_eq!(
            check_launcher(&old, want, everything_exists),
            LauncherCheck::Elsewhere("/home/ana/onair/target/release/onair".into())
        );
        let mount = launcher_text(Path::new("/tmp/.mount_OnAirXy12/usr/bin/onair-tray"));
        assert_eq!(
            check_launcher(&mount, want, |p| p == want),
            LauncherCheck::Missing("/tmp/.mount_OnAirXy12/usr/bin/onair-tray".into())
        );
        assert_eq!(check_launcher(&launcher_text(want), want, |_| false), LauncherCheck::Missing(want.into()));
        assert_eq!(check_launcher("[Desktop Entry]\nName=OnAir\n", want, everything_exists), LauncherCheck::Unreadable);
        // Exec in another group is not the entry's.
        let other_group = "[Desktop Action x]\nExec=/usr/bin/onair-tray\n";
        assert_eq!(check_launcher(other_group, want, everything_exists), LauncherCheck::Unreadable);
    }

    #[test]
    fn the_plugins_old_launcher_is_recognised_and_nothing_else_is() {
        let plugin = "[Desktop Entry]\nType=Application\nVersion=1.0\nName=OnAir\nComment=OnAir startup script\n\
                      Exec=/usr/bin/onair \nStartupNotify=false\nTerminal=false";
        assert!(is_legacy_launcher(plugin));
        assert!(!is_legacy_launcher("[Desktop Entry]\nName=OnAir\nExec=/usr/bin/something-else\n"));
        assert!(!is_legacy_launcher("[Desktop Entry]\nName=Other\nExec=/usr/bin/onair\n"));
    }

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("onair-autostart-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create a temp dir");
            TempDir(dir)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn sync_writes_repairs_keeps_and_removes_the_launcher() {
        let temp = TempDir::new("sync");
        let dir = temp.0.join("autostart");
        let program = temp.0.join("bin").join("onair-tray");
        std::fs::create_dir_all(program.parent().expect("a parent")).expect("create bin");
        std::fs::write(&program, "").expect("create the program");
        let launcher = dir.join(LAUNCHER_FILE);

        assert_eq!(sync(&dir, &program, false).expect("sync"), SyncOutcome::Unchanged);
        assert!(!launcher.exists());
        assert_eq!(sync(&dir, &program, true).expect("sync"), SyncOutcome::Written(program.clone()));
        assert_eq!(std::fs::read_to_string(&launcher).expect("read"), launcher_text(&program));
        assert_eq!(sync(&dir, &program, true).expect("sync"), SyncOutcome::Unchanged);

        // A launcher left by an AppImage run whose mount is gone.
        let gone = PathBuf::from("/tmp/.mount_OnAirGone/usr/bin/onair-tray");
        std::fs::write(&launcher, launcher_text(&gone)).expect("write a stale launcher");
        assert_eq!(
            sync(&dir, &program, true).expect("sync"),
            SyncOutcome::Repaired { program: program.clone(), was: LauncherCheck::Missing(gone) }
        );
        assert_eq!(std::fs::read_to_string(&launcher).expect("read"), launcher_text(&program));

        assert_eq!(sync(&dir, &program, false).expect("sync"), SyncOutcome::Removed);
        assert!(!launcher.exists());
        let leftovers: Vec<_> = std::fs::read_dir(&dir).expect("list").flatten().map(|e| e.file_name()).collect();
        assert!(leftovers.is_empty(), "nothing else left behind: {leftovers:?}");
    }

    #[test]
    fn sync_removes_the_plugins_old_launcher_but_not_a_stranger_of_that_name() {
        let temp = TempDir::new("legacy");
        let program = PathBuf::from("/usr/bin/onair-tray");
        let legacy = temp.0.join(LEGACY_LAUNCHER_FILE);
        std::fs::write(&legacy, "[Desktop Entry]\nName=OnAir\nComment=OnAir startup script\nExec=/usr/bin/onair \n")
            .expect("write");
        sync(&temp.0, &program, true).expect("sync");
        assert!(!legacy.exists(), "the plugin's launcher would start a second OnAir");
        assert!(temp.0.join(LAUNCHER_FILE).exists());

        std::fs::write(&legacy, "[Desktop Entry]\nName=OnAir\nExec=/usr/bin/someone-elses-tool\n").expect("write");
        sync(&temp.0, &program, false).expect("sync");
        assert!(legacy.exists(), "not OnAir's: left alone");
    }
}
