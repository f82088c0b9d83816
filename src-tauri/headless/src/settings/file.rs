//! The settings file: what the user chose, in TOML, in the platform's config dir.
//!
//! Written atomically (a temporary file renamed over the old one) so a crash
//! never leaves half a file. Keys this version does not know are kept, so an
//! older OnAir does not erase what a newer one wrote. A file that is not valid
//! TOML is moved aside (never silently lost), reported, and replaced by defaults;
//! a single bad value falls back to its default with a warning naming the key.
//! The password is never part of this file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::desktop::{HotkeyAction, HotkeySettings};
use crate::guard::{AlertKind, AlertSettings};
use crate::settings::{validate_host, validate_port, Target, DEFAULT_HOST, DEFAULT_PORT};
use crate::state::MomentKind;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    /// Moment kind (its wire name) -> shown. Every kind in [`MomentKind::ALL`] is present.
    pub notifications: BTreeMap<String, bool>,
    pub hotkeys: HotkeySettings,
    /// Stopping a live stream from the tray or a hotkey needs a second press within a few seconds.
    pub confirm_stop_stream: bool,
    pub start_on_login: bool,
    /// The stream guard: each alert kind on or off, and each threshold.
    /// Inputs watched as mics besides OBS's own mic slots (`[audio] mics`).
    pub mics: Vec<String>,
    pub alerts: AlertSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            notifications: MomentKind::ALL.iter().map(|k| (k.wire_name().to_string(), true)).collect(),
            hotkeys: HotkeySettings::default(),
            confirm_stop_stream: false,
            start_on_login: false,
            alerts: AlertSettings::default(),
            mics: Vec::new(),
        }
    }
}

impl Settings {
    pub fn target(&self) -> Result<Target, String> {
        Target::new(&self.host, i64::from(self.port))
    }

    /// Whether moments of this kind get a notification.
    pub fn notifies(&self, kind: MomentKind) -> bool {
        self.notifications.get(kind.wire_name()).copied().unwrap_or(true)
    }
}

/// The file on disk, with whatever it held that this version does not use.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    pub path: PathBuf,
    raw: toml::Table,
}

/// The outcome of reading the file: the settings to use, and what the user
/// should be told about the file (kept aside, bad values), if anything.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub file: SettingsFile,
    pub settings: Settings,
    pub warnings: Vec<String>,
}

impl SettingsFile {
    /// The platform default: `$XDG_CONFIG_HOME/onair/settings.toml` on Linux.
    pub fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("onair").join("settings.toml"))
    }

    /// Reads the file. Never fails: problems become warnings and defaults. A
    /// file that is not valid TOML is moved aside, so a save cannot overwrite it.
    pub fn load(path: &Path) -> Loaded {
        let mut warnings = Vec::new();
        let raw = read_table(path, Broken::SetAside, &mut warnings);
        let settings = from_table(&raw, &mut warnings);
        Loaded { file: SettingsFile { path: path.to_path_buf(), raw }, settings, warnings }
    }

    /// Writes the settings, keeping unknown keys, atomically.
    pub fn save(&mut self, settings: &Settings) -> Result<(), String> {
        into_table(&mut self.raw, settings);
        let text = toml::to_string_pretty(&self.raw).map_err(|e| format!("cannot encode the settings: {e}"))?;
        write_atomically(&self.path, text.as_bytes())
    }
}

/// Where the saved OBS is: the settings file's `[obs]` table, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedConnection {
    pub host: String,
    pub port: u16,
    /// The stream guard's switches and thresholds (`[alerts]`), which a command watches by.
    pub alerts: AlertSettings,
    /// `[audio] mics`.
    pub mics: Vec<String>,
    /// What was wrong with the file or the table; each bad value is its default.
    pub warnings: Vec<String>,
}

impl Default for SavedConnection {
    /// No file: the defaults.
    fn default() -> Self {
        SavedConnection {
            host: DEFAULT_HOST.to_string(),
            port: DEFAULT_PORT,
            alerts: AlertSettings::default(),
            mics: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Reads only the `[obs]` table, for a command that needs no more: by the same
/// rules as [`SettingsFile::load`] (a bad value falls back to its default with
/// a warning naming the key), but a broken file stays where it is: a command
/// only reads the settings, the tray app is what looks after the file.
pub fn read_connection(path: &Path) -> SavedConnection {
    let mut warnings = Vec::new();
    let raw = read_table(path, Broken::Leave, &mut warnings);
    let mut saved = SavedConnection::default();
    read_obs(&raw, &mut saved.host, &mut saved.port, &mut warnings);
    if let Some(a) = table(&raw, "alerts", &mut warnings) {
        read_alerts(a, &mut saved.alerts, &mut warnings);
    }
    saved.mics = read_mics(&raw, &mut warnings);
    SavedConnection { warnings, ..saved }
}

/// Writes OBS's host and port into the file's `[obs]` table and leaves every
/// other key as it is (`onair connect`). A file that is not valid TOML is not
/// touched: the error says so, and nothing is written.
pub fn save_connection(path: &Path, target: &Target) -> Result<(), String> {
    let mut raw = match std::fs::read_to_string(path) {
        Ok(text) => text.parse::<toml::Table>().map_err(|e| {
            format!("{} is not valid TOML ({}); fix or remove it first", path.display(), first_line(&e.to_string()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let obs = section(&mut raw, "obs");
    obs.insert("host".into(), toml::Value::String(target.host.clone()));
    obs.insert("port".into(), toml::Value::Integer(i64::from(target.port)));
    let text = toml::to_string_pretty(&raw).map_err(|e| format!("cannot encode the settings: {e}"))?;
    write_atomically(path, text.as_bytes())
}

/// What to do with a file that is not valid TOML.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Broken {
    SetAside,
    Leave,
}

/// The file as a TOML table: empty when it is missing, unreadable or broken
/// (the last two with a warning).
fn read_table(path: &Path, broken: Broken, warnings: &mut Vec<String>) -> toml::Table {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return toml::Table::new(),
        Err(e) => {
            warnings.push(format!("cannot read {}: {e}; defaults are used", path.display()));
            return toml::Table::new();
        }
    };
    let error = match text.parse::<toml::Table>() {
        Ok(table) => return table,
        Err(error) => error,
    };
    let why = first_line(&error.to_string()).to_string();
    warnings.push(match broken {
        Broken::Leave => format!("{} is not valid TOML ({why}); defaults are used", path.display()),
        Broken::SetAside => match set_aside(path) {
            Ok(aside) => format!(
                "{} was not valid TOML ({why}); it was kept as {} and defaults are used",
                path.display(),
                aside.display()
            ),
            Err(e) => {
                format!("{} is not valid TOML and could not be set aside ({e}); defaults are used", path.display())
            }
        },
    });
    toml::Table::new()
}

fn first_line(s: &str) -> &str {
    s.lines().find(|l| !l.trim().is_empty()).unwrap_or(s).trim()
}

/// Renames a broken file to `settings.toml.corrupt-<unix seconds>`.
fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let stamp = crate::state::now_ms() / 1000;
    let mut aside = path.as_os_str().to_owned();
    aside.push(format!(".corrupt-{stamp}"));
    let aside = PathBuf::from(aside);
    std::fs::rename(path, &aside)?;
    Ok(aside)
}

pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "settings".into());
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        // The rename is durable once the directory is synced too.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok::<(), std::io::Error>(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        format!("cannot write {}: {e}", path.display())
    })
}

fn table<'a>(raw: &'a toml::Table, key: &str, warnings: &mut Vec<String>) -> Option<&'a toml::Table> {
    match raw.get(key) {
        None => None,
        Some(toml::Value::Table(t)) => Some(t),
        Some(_) => {
            warnings.push(format!("[{key}] must be a table; its defaults are used"));
            None
        }
    }
}

fn boolean(section: &str, t: &toml::Table, key: &str, default: bool, warnings: &mut Vec<String>) -> bool {
    match t.get(key) {
        None => default,
        Some(toml::Value::Boolean(b)) => *b,
        Some(other) => {
            warnings.push(format!("{section}.{key} must be true or false, not {other}; using {default}"));
            default
        }
    }
}

/// The one reader of the `[obs]` table: each good value replaces the default
/// it is given, each bad one leaves it and says why.
fn read_obs(raw: &toml::Table, host: &mut String, port: &mut u16, warnings: &mut Vec<String>) {
    let Some(obs) = table(raw, "obs", warnings) else { return };
    match obs.get("host") {
        None => {}
        Some(toml::Value::String(h)) => match validate_host(h) {
            Ok(h) => *host = h,
            Err(e) => warnings.push(format!("obs.host: {e}; using {host}")),
        },
        Some(other) => warnings.push(format!("obs.host must be a string, not {other}; using {host}")),
    }
    match obs.get("port") {
        None => {}
        Some(toml::Value::Integer(p)) => match validate_port(*p) {
            Ok(p) => *port = p,
            Err(e) => warnings.push(format!("obs.port: {e}; using {port}")),
        },
        Some(other) => warnings.push(format!("obs.port must be a number, not {other}; using {port}")),
    }
}

fn from_table(raw: &toml::Table, warnings: &mut Vec<String>) -> Settings {
    let mut settings = Settings::default();
    read_obs(raw, &mut settings.host, &mut settings.port, warnings);
    if let Some(n) = table(raw, "notifications", warnings) {
        for kind in MomentKind::ALL {
            let on = boolean("notifications", n, kind.wire_name(), true, warnings);
            settings.notifications.insert(kind.wire_name().to_string(), on);
        }
    }
    if let Some(h) = table(raw, "hotkeys", warnings) {
        settings.hotkeys.enabled = boolean("hotkeys", h, "enabled", settings.hotkeys.enabled, warnings);
        for action in HotkeyAction::ALL {
            match h.get(action.key()) {
                None => {}
                Some(toml::Value::String(s)) if s.trim().is_empty() => {
                    settings.hotkeys.bindings.insert(action, None);
                }
                Some(toml::Value::String(s)) => match crate::desktop::normalize_hotkey(s) {
                    Ok(binding) => {
                        settings.hotkeys.bindings.insert(action, Some(binding));
                    }
                    Err(e) => warnings.push(format!("hotkeys.{}: {e}; using the default", action.key())),
                },
                Some(other) => warnings.push(format!("hotkeys.{} must be a string, not {other}", action.key())),
            }
        }
    }
    if let Some(b) = table(raw, "behaviour", warnings) {
        settings.confirm_stop_stream = boolean("behaviour", b, "confirm_stop_stream", false, warnings);
        settings.start_on_login = boolean("behaviour", b, "start_on_login", false, warnings);
    }
    if let Some(a) = table(raw, "alerts", warnings) {
        read_alerts(a, &mut settings.alerts, warnings);
    }
    settings.mics = read_mics(raw, warnings);
    settings
}

/// `[audio] mics = ["Mic/Aux", "Podcast Mic"]`: names, each once; anything else
/// in the list is left out with a warning.
fn read_mics(raw: &toml::Table, warnings: &mut Vec<String>) -> Vec<String> {
    let Some(audio) = table(raw, "audio", warnings) else { return Vec::new() };
    let Some(value) = audio.get("mics") else { return Vec::new() };
    let Some(list) = value.as_array() else {
        warnings.push(format!("audio.mics must be a list of input names, not {value}"));
        return Vec::new();
    };
    let mut mics: Vec<String> = Vec::new();
    for item in list {
        match item.as_str().map(str::trim).filter(|name| !name.is_empty()) {
            Some(name) if !mics.iter().any(|m| m == name) => mics.push(name.to_string()),
            Some(_) => {}
            None => warnings.push(format!("audio.mics: {item} is not an input name; left out")),
        }
    }
    mics
}

/// The `[alerts]` table: each kind switched by its wire name (as in
/// `[notifications]`), each threshold by its key in the units the key names.
/// A bad value keeps its default and says why.
fn read_alerts(t: &toml::Table, alerts: &mut AlertSettings, warnings: &mut Vec<String>) {
    for kind in AlertKind::ALL {
        let on = boolean("alerts", t, kind.wire_name(), alerts.is_on(kind), warnings);
        alerts.enabled.insert(kind, on);
    }
    for threshold in alerts.thresholds_mut() {
        let (key, default) = (threshold.key, *threshold.value);
        let value = match t.get(key) {
            None => continue,
            Some(toml::Value::Integer(i)) => *i as f64,
            Some(toml::Value::Float(f)) => *f,
            Some(other) => {
                warnings.push(format!("alerts.{key} must be a number, not {other}; using {default}"));
                continue;
            }
        };
        if (threshold.min..=threshold.max).contains(&value) {
            *threshold.value = value;
        } else {
            let (min, max) = (threshold.min, threshold.max);
            warnings.push(format!("alerts.{key} must be from {min} to {max}, not {value}; using {default}"));
        }
    }
}

/// A threshold as TOML: whole numbers as integers, so the file reads `stalled_s = 5`.
fn number(value: f64) -> toml::Value {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        toml::Value::Integer(value as i64)
    } else {
        toml::Value::Float(value)
    }
}

fn section<'a>(raw: &'a mut toml::Table, key: &str) -> &'a mut toml::Table {
    let entry = raw.entry(key.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !entry.is_table() {
        *entry = toml::Value::Table(toml::Table::new());
    }
    match entry {
        toml::Value::Table(t) => t,
        _ => unreachable!("replaced by a table just above"),
    }
}

fn into_table(raw: &mut toml::Table, s: &Settings) {
    let obs = section(raw, "obs");
    obs.insert("host".into(), toml::Value::String(s.host.clone()));
    obs.insert("port".into(), toml::Value::Integer(i64::from(s.port)));
    let n = section(raw, "notifications");
    for (kind, on) in &s.notifications {
        n.insert(kind.clone(), toml::Value::Boolean(*on));
    }
    let h = section(raw, "hotkeys");
    h.insert("enabled".into(), toml::Value::Boolean(s.hotkeys.enabled));
    for action in HotkeyAction::ALL {
        let binding = s.hotkeys.binding(action).unwrap_or_default();
        h.insert(action.key().into(), toml::Value::String(binding));
    }
    if !s.mics.is_empty() || raw.contains_key("audio") {
        let mics = s.mics.iter().map(|m| toml::Value::String(m.clone())).collect();
        section(raw, "audio").insert("mics".into(), toml::Value::Array(mics));
    }
    let b = section(raw, "behaviour");
    b.insert("confirm_stop_stream".into(), toml::Value::Boolean(s.confirm_stop_stream));
    b.insert("start_on_login".into(), toml::Value::Boolean(s.start_on_login));
    let a = section(raw, "alerts");
    for (kind, on) in &s.alerts.enabled {
        a.insert(kind.wire_name().into(), toml::Value::Boolean(*on));
    }
    let mut alerts = s.alerts.clone();
    for threshold in alerts.thresholds_mut() {
        a.insert(threshold.key.into(), number(*threshold.value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory, removed again when the guard drops (also on a failed assert).
    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    impl std::ops::Deref for TempDir {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    fn temp_dir(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("onair-config-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    #[test]
    fn every_moment_kind_can_be_switched_off() {
        let defaults = Settings::default();
        let keys: Vec<&str> = defaults.notifications.keys().map(String::as_str).collect();
        let mut kinds: Vec<&str> = MomentKind::ALL.iter().map(|k| k.wire_name()).collect();
        kinds.sort_unstable();
        assert_eq!(keys, kinds);
        assert!(MomentKind::ALL.iter().all(|&k| defaults.notifies(k)));
    }

    #[test]
    fn a_missing_file_gives_defaults_and_no_warning() {
        let dir = temp_dir("missing");
        let loaded = SettingsFile::load(&dir.join("settings.toml"));
        assert_eq!(loaded.settings, Settings::default());
        assert!(loaded.warnings.is_empty());
        assert!(!loaded.settings.hotkeys.enabled, "hotkeys are opt-in");
    }

    #[test]
    fn save_then_load_round_trips_and_keeps_unknown_keys() {
        let dir = temp_dir("roundtrip");
        let path = dir.join("settings.toml");
        std::fs::write(&path, "future_option = 3\n[obs]\nhost = \"studio\"\nfancy = \"keep me\"\n[window]\nx = 10\n")
            .unwrap();
        let mut loaded = SettingsFile::load(&path);
        assert_eq!(loaded.settings.host, "studio");
        let mut settings = loaded.settings.clone();
        settings.port = 4456;
        settings.notifications.insert("recording-paused".into(), false);
        settings.confirm_stop_stream = true;
        loaded.file.save(&settings).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("future_option = 3"), "{text}");
        assert!(text.contains("fancy = \"keep me\""), "{text}");
        assert!(text.contains("[window]"), "{text}");
        let again = SettingsFile::load(&path);
        assert_eq!(again.settings, settings);
        assert!(again.warnings.is_empty(), "{:?}", again.warnings);
        assert!(!text.to_lowercase().contains("password"));
    }

    #[test]
    fn a_corrupt_file_is_kept_aside_reported_and_replaced_by_defaults() {
        let dir = temp_dir("corrupt");
        let path = dir.join("settings.toml");
        std::fs::write(&path, "[obs\nhost = ").unwrap();
        let loaded = SettingsFile::load(&path);
        assert_eq!(loaded.settings, Settings::default());
        assert_eq!(loaded.warnings.len(), 1);
        assert!(loaded.warnings[0].contains("kept as"), "{:?}", loaded.warnings);
        let aside: Vec<_> = std::fs::read_dir(&*dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(aside.iter().any(|n| n.starts_with("settings.toml.corrupt-")), "{aside:?}");
        assert!(!path.exists(), "the broken file is moved, not left to be overwritten");
        assert_eq!(std::fs::read_to_string(dir.join(&aside[0])).unwrap(), "[obs\nhost = ");
    }

    #[test]
    fn bad_values_fall_back_one_by_one_with_the_key_named() {
        let dir = temp_dir("values");
        let path = dir.join("settings.toml");
        std::fs::write(
            &path,
            "[obs]\nhost = \"ws://x\"\nport = 70000\n[notifications]\nlive = \"yes\"\nended = false\n[hotkeys]\ntoggle_stream = \"Ctrl+Banana\"\n",
        )
        .unwrap();
        let loaded = SettingsFile::load(&path);
        assert_eq!(loaded.settings.host, "localhost");
        assert_eq!(loaded.settings.port, 4455);
        assert!(loaded.settings.notifies(MomentKind::Live));
        assert!(!loaded.settings.notifies(MomentKind::Ended));
        let all = loaded.warnings.join("\n");
        for key in ["obs.host", "obs.port", "notifications.live", "hotkeys.toggle_stream"] {
            assert!(all.contains(key), "{key} in {all}");
        }
    }

    #[test]
    fn alerts_round_trip_keep_unknown_keys_and_write_whole_numbers_as_integers() {
        let dir = temp_dir("alerts");
        let path = dir.join("settings.toml");
        std::fs::write(&path, "[alerts]\nfuture_alert = true\nmic_silent_s = 30\nblack_luma_percent = 2.5\n").unwrap();
        let mut loaded = SettingsFile::load(&path);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(loaded.settings.alerts.mic_silent_s, 30.0);
        assert_eq!(loaded.settings.alerts.black_luma_percent, 2.5);
        assert_eq!(loaded.settings.alerts.stalled_s, 5.0, "an absent key is its default");
        let mut settings = loaded.settings.clone();
        settings.alerts.enabled.insert(AlertKind::MicSilent, false);
        settings.alerts.talking_while_muted_dbfs = -35.5;
        loaded.file.save(&settings).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in [
            "future_alert = true",
            "mic-silent = false",
            "muted-while-live = true",
            "stalled_s = 5",
            "talking_while_muted_dbfs = -35.5",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
        let again = SettingsFile::load(&path);
        assert_eq!(again.settings, settings);
        assert!(!again.settings.alerts.is_on(AlertKind::MicSilent));
        assert!(again.warnings.is_empty(), "{:?}", again.warnings);
    }

    #[test]
    fn bad_alert_values_fall_back_one_by_one_with_the_key_named() {
        let dir = temp_dir("alert-values");
        let path = dir.join("settings.toml");
        std::fs::write(
            &path,
            "[alerts]\nblack = \"no\"\nlow-disk = false\nstalled_s = -1\nmic_silent_dbfs = 10\nlow_disk_gb = \"lots\"\nmuted_while_live_s = 4.5\nlow_bitrate_percent = nan\n",
        )
        .unwrap();
        let loaded = SettingsFile::load(&path);
        let alerts = &loaded.settings.alerts;
        let defaults = AlertSettings::default();
        assert!(alerts.is_on(AlertKind::Black));
        assert!(!alerts.is_on(AlertKind::LowDisk));
        assert_eq!(alerts.stalled_s, defaults.stalled_s);
        assert_eq!(alerts.mic_silent_dbfs, defaults.mic_silent_dbfs);
        assert_eq!(alerts.low_disk_gb, defaults.low_disk_gb);
        assert_eq!(alerts.low_bitrate_percent, defaults.low_bitrate_percent);
        assert_eq!(alerts.muted_while_live_s, 4.5, "a good value beside bad ones is kept");
        let all = loaded.warnings.join("\n");
        assert_eq!(loaded.warnings.len(), 5, "{all}");
        for key in [
            "alerts.black",
            "alerts.stalled_s",
            "alerts.mic_silent_dbfs",
            "alerts.low_disk_gb",
            "alerts.low_bitrate_percent",
        ] {
            assert!(all.contains(key), "{key} in {all}");
        }
    }

    #[test]
    fn alerts_that_are_not_a_table_are_the_defaults_with_a_warning() {
        let dir = temp_dir("alerts-not-table");
        let path = dir.join("settings.toml");
        std::fs::write(&path, "alerts = false\n").unwrap();
        let loaded = SettingsFile::load(&path);
        assert_eq!(loaded.settings.alerts, AlertSettings::default());
        assert!(loaded.warnings.iter().any(|w| w.contains("[alerts]")), "{:?}", loaded.warnings);
    }

    #[test]
    fn saving_the_connection_changes_only_obs_host_and_port() {
        let dir = temp_dir("connection");
        let path = dir.join("settings.toml");
        let target = Target::new("studio.lan", 4460).unwrap();
        save_connection(&path, &target).unwrap();
        let saved = read_connection(&path);
        assert_eq!((saved.host.as_str(), saved.port), ("studio.lan", 4460));
        std::fs::write(&path, "[obs]\nhost = \"old\"\nfancy = 1\n[notifications]\nlive = false\n").unwrap();
        save_connection(&path, &Target::new("localhost", 4455).unwrap()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("fancy = 1") && text.contains("live = false"), "{text}");
        assert!(!text.contains("[hotkeys]"), "no defaults written: {text}");
        let loaded = SettingsFile::load(&path);
        assert_eq!((loaded.settings.host.as_str(), loaded.settings.port), ("localhost", 4455));
        std::fs::write(&path, "[obs\n").unwrap();
        assert!(save_connection(&path, &target).unwrap_err().contains("not valid TOML"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[obs\n", "a broken file is left alone");
    }

    #[test]
    fn the_write_is_atomic_and_leaves_no_temporary_file() {
        let dir = temp_dir("atomic");
        let path = dir.join("nested").join("settings.toml");
        write_atomically(&path, b"a = 1\n").unwrap();
        write_atomically(&path, b"a = 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a = 2\n");
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
    }
}
