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
    /// The first OBS: the one the window, the controls and the hotkeys act on
    /// unless told otherwise (`[obs]`, or the first `[[connections]]` entry).
    pub host: String,
    pub port: u16,
    /// The first OBS's name, when the file gives one (else it is called `HOST:PORT`).
    pub name: Option<String>,
    /// The other OBS, in the file's order (`[[connections]]` after the first).
    pub more_connections: Vec<Connection>,
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
            name: None,
            more_connections: Vec::new(),
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

    /// Every OBS OnAir watches, the first first; never empty.
    pub fn connections(&self) -> Vec<Connection> {
        let first = Connection::named(self.name.as_deref(), &self.host, self.port);
        std::iter::once(first).chain(self.more_connections.iter().cloned()).collect()
    }

    /// Whether moments of this kind get a notification.
    pub fn notifies(&self, kind: MomentKind) -> bool {
        self.notifications.get(kind.wire_name()).copied().unwrap_or(true)
    }
}

/// One OBS OnAir watches: an entry of `[[connections]]`, or the single `[obs]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// What the user calls it; `HOST:PORT` when the file names none.
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Connection {
    /// A connection called `name`, or `HOST:PORT` without one.
    pub fn named(name: Option<&str>, host: &str, port: u16) -> Connection {
        let name = match name {
            Some(name) => name.to_string(),
            None => Target { host: host.to_string(), port }.to_string(),
        };
        Connection { name, host: host.to_string(), port }
    }

    pub fn target(&self) -> Result<Target, String> {
        Target::new(&self.host, i64::from(self.port))
    }
}

/// The connection called `wanted` (names compare without regard to case), or
/// why there is none, naming the ones there are.
pub fn find_connection<'a>(list: &'a [Connection], wanted: &str) -> Result<&'a Connection, String> {
    let wanted = wanted.trim();
    list.iter().find(|c| c.name.to_lowercase() == wanted.to_lowercase()).ok_or_else(|| {
        let names: Vec<String> = list.iter().map(|c| format!("\"{}\"", c.name)).collect();
        format!("no OBS connection is called \"{wanted}\"; the settings have {}", names.join(", "))
    })
}

/// The file on disk, with whatever it held that this version does not use.
#[derive(Debug, Clone)]
pub struct SettingsFile {
    pub path: PathBuf,
    raw: toml::Table,
    /// The file's modification time when it was last read or written here
    /// (`None`: there was no file), so a change made elsewhere is noticed.
    seen: Option<std::time::SystemTime>,
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
        let seen = modified(path);
        let raw = read_table(path, Broken::SetAside, &mut warnings);
        let settings = from_table(&raw, &mut warnings);
        Loaded { file: SettingsFile { path: path.to_path_buf(), raw, seen }, settings, warnings }
    }

    /// Whether the file changed on disk since it was last read or written here
    /// (`onair connect`, an editor): then [`SettingsFile::load`] it again.
    pub fn changed_elsewhere(&self) -> bool {
        modified(&self.path) != self.seen
    }

    /// Writes the settings, keeping unknown keys, atomically.
    pub fn save(&mut self, settings: &Settings) -> Result<(), String> {
        into_table(&mut self.raw, settings);
        let text = toml::to_string_pretty(&self.raw).map_err(|e| format!("cannot encode the settings: {e}"))?;
        write_atomically(&self.path, text.as_bytes())?;
        self.seen = modified(&self.path);
        Ok(())
    }
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
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
    /// Every OBS in the file, the first first (its host and port are the two
    /// above); never empty.
    pub connections: Vec<Connection>,
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
            connections: vec![Connection::named(None, DEFAULT_HOST, DEFAULT_PORT)],
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
    let mut name = None;
    let mut more = Vec::new();
    read_all_connections(&raw, (&mut saved.host, &mut saved.port, &mut name), &mut more, &mut warnings);
    saved.connections =
        std::iter::once(Connection::named(name.as_deref(), &saved.host, saved.port)).chain(more).collect();
    if let Some(a) = table(&raw, "alerts", &mut warnings) {
        read_alerts(a, &mut saved.alerts, &mut warnings);
    }
    saved.mics = read_mics(&raw, &mut warnings);
    SavedConnection { warnings, ..saved }
}

/// Writes OBS's host and port into the file (`onair connect`) and leaves every
/// other key as it is: into the connection called `name`, or the first one
/// (the `[obs]` table, or the first `[[connections]]` entry). A file that is
/// not valid TOML is not touched: the error says so, and nothing is written.
pub fn save_connection(path: &Path, target: &Target, name: Option<&str>) -> Result<(), String> {
    let mut raw = match std::fs::read_to_string(path) {
        Ok(text) => text.parse::<toml::Table>().map_err(|e| {
            format!("{} is not valid TOML ({}); fix or remove it first", path.display(), first_line(&e.to_string()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let mut ignored = Vec::new();
    let list = read_connections(&raw, &mut ignored);
    let entry = match (&list, name) {
        // The `[obs]` table is the one connection.
        (None, None) => section(&mut raw, "obs"),
        (None, Some(wanted)) => {
            let mut only = (DEFAULT_HOST.to_string(), DEFAULT_PORT);
            read_obs(&raw, &mut only.0, &mut only.1, &mut ignored);
            find_connection(&[Connection::named(None, &only.0, only.1)], wanted)?;
            section(&mut raw, "obs")
        }
        (Some(list), wanted) => {
            let index = match wanted {
                None => list[0].0,
                Some(wanted) => {
                    let named: Vec<Connection> = list.iter().map(|(_, c)| c.clone()).collect();
                    let found = find_connection(&named, wanted)?;
                    list.iter().find(|(_, c)| c == found).map(|(i, _)| *i).unwrap_or(list[0].0)
                }
            };
            match raw.get_mut("connections").and_then(|c| c.as_array_mut()).and_then(|a| a.get_mut(index)) {
                Some(toml::Value::Table(entry)) => entry,
                _ => return Err("the [[connections]] list changed while it was read".into()),
            }
        }
    };
    entry.insert("host".into(), toml::Value::String(target.host.clone()));
    entry.insert("port".into(), toml::Value::Integer(i64::from(target.port)));
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

/// The first connection (into the three it is given, each a default until
/// read) and the others: `[[connections]]` when the file has a usable list,
/// else the `[obs]` table.
fn read_all_connections(
    raw: &toml::Table,
    first: (&mut String, &mut u16, &mut Option<String>),
    more: &mut Vec<Connection>,
    warnings: &mut Vec<String>,
) {
    let (host, port, name) = first;
    let Some(list) = read_connections(raw, warnings) else {
        read_obs(raw, host, port, warnings);
        return;
    };
    if raw.contains_key("obs") {
        warnings.push("[obs] is ignored: [[connections]] lists the OBS to watch".into());
    }
    let mut list = list.into_iter().map(|(_, c)| c);
    if let Some(head) = list.next() {
        *name = (head.name != Connection::named(None, &head.host, head.port).name).then(|| head.name.clone());
        (*host, *port) = (head.host, head.port);
    }
    more.extend(list);
}

/// The usable entries of `[[connections]]`, each with its index in the file's
/// list; `None` when the file has no list, or none that can be used (said why).
/// An entry with a bad value, or with the name or the address of an earlier
/// one, is left out with a warning: falling back to a default could make it
/// a second copy of another connection.
fn read_connections(raw: &toml::Table, warnings: &mut Vec<String>) -> Option<Vec<(usize, Connection)>> {
    let value = raw.get("connections")?;
    let Some(entries) = value.as_array() else {
        warnings.push("connections must be a list of [[connections]] tables; [obs] is used".into());
        return None;
    };
    let mut list: Vec<(usize, Connection)> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let at = format!("connections entry {}", index + 1);
        let Some(entry) = entry.as_table() else {
            warnings.push(format!("{at} must be a table with host and port; left out"));
            continue;
        };
        let connection = match read_entry(entry) {
            Ok(connection) => connection,
            Err(why) => {
                warnings.push(format!("{at}: {why}; left out"));
                continue;
            }
        };
        let same_name = list.iter().any(|(_, c)| c.name.to_lowercase() == connection.name.to_lowercase());
        let same_place =
            list.iter().any(|(_, c)| c.host.eq_ignore_ascii_case(&connection.host) && c.port == connection.port);
        if same_name || same_place {
            let what = if same_name { "name" } else { "host and port" };
            warnings.push(format!("{at} (\"{}\") has the {what} of an earlier one; left out", connection.name));
            continue;
        }
        list.push((index, connection));
    }
    if list.is_empty() {
        warnings.push("[[connections]] has no usable entry; [obs] is used".into());
        return None;
    }
    Some(list)
}

/// One `[[connections]]` entry: `host` and `port` as in `[obs]` (the defaults
/// when absent), `name` if given.
fn read_entry(entry: &toml::Table) -> Result<Connection, String> {
    let host = match entry.get("host") {
        None => DEFAULT_HOST.to_string(),
        Some(toml::Value::String(h)) => validate_host(h).map_err(|e| format!("host: {e}"))?,
        Some(other) => return Err(format!("host must be a string, not {other}")),
    };
    let port = match entry.get("port") {
        None => DEFAULT_PORT,
        Some(toml::Value::Integer(p)) => validate_port(*p).map_err(|e| format!("port: {e}"))?,
        Some(other) => return Err(format!("port must be a number, not {other}")),
    };
    let name = match entry.get("name") {
        None => None,
        Some(toml::Value::String(n)) if !n.trim().is_empty() && n.trim().chars().count() <= 64 => Some(n.trim()),
        Some(toml::Value::String(_)) => return Err("name must be 1 to 64 characters".into()),
        Some(other) => return Err(format!("name must be a string, not {other}")),
    };
    Ok(Connection::named(name, &host, port))
}

fn from_table(raw: &toml::Table, warnings: &mut Vec<String>) -> Settings {
    let mut settings = Settings::default();
    let first = (&mut settings.host, &mut settings.port, &mut settings.name);
    read_all_connections(raw, first, &mut settings.more_connections, warnings);
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
        read_named_hotkeys(h, &settings.connections(), &mut settings.hotkeys.for_connection, warnings);
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

/// `[hotkeys."Game PC"]`: bindings that act on the OBS of that name; a table
/// naming no OBS of the list, and each bad binding, is left out with a warning.
fn read_named_hotkeys(
    hotkeys: &toml::Table,
    connections: &[Connection],
    named: &mut BTreeMap<String, BTreeMap<HotkeyAction, String>>,
    warnings: &mut Vec<String>,
) {
    for (name, value) in hotkeys {
        let toml::Value::Table(table) = value else { continue };
        let Ok(connection) = find_connection(connections, name) else {
            warnings
                .push(format!("hotkeys.\"{name}\": no OBS connection is called \"{name}\"; its bindings are left out"));
            continue;
        };
        let mut bindings = BTreeMap::new();
        for (key, binding) in table {
            let at = format!("hotkeys.\"{name}\".{key}");
            let Some(action) = HotkeyAction::ALL.into_iter().find(|a| a.key() == key) else {
                warnings.push(format!("{at} is not a hotkey action; left out"));
                continue;
            };
            match binding {
                toml::Value::String(b) if b.trim().is_empty() => {}
                toml::Value::String(b) => match crate::desktop::normalize_hotkey(b) {
                    Ok(binding) => {
                        bindings.insert(action, binding);
                    }
                    Err(e) => warnings.push(format!("{at}: {e}; left out")),
                },
                other => warnings.push(format!("{at} must be a string, not {other}")),
            }
        }
        if !bindings.is_empty() {
            named.insert(connection.name.clone(), bindings);
        }
    }
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

/// A `[[connections]]` entry; the name only when it is not the default `HOST:PORT`.
fn connection_table(c: &Connection) -> toml::Value {
    let mut t = toml::Table::new();
    if c.name != Connection::named(None, &c.host, c.port).name {
        t.insert("name".into(), toml::Value::String(c.name.clone()));
    }
    t.insert("host".into(), toml::Value::String(c.host.clone()));
    t.insert("port".into(), toml::Value::Integer(i64::from(c.port)));
    toml::Value::Table(t)
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
    // One unnamed OBS stays the `[obs]` table older versions read; several, or
    // a named one, are the list, which then replaces `[obs]`.
    if s.more_connections.is_empty() && s.name.is_none() && !raw.contains_key("connections") {
        let obs = section(raw, "obs");
        obs.insert("host".into(), toml::Value::String(s.host.clone()));
        obs.insert("port".into(), toml::Value::Integer(i64::from(s.port)));
    } else {
        let list = s.connections().iter().map(connection_table).collect();
        raw.insert("connections".into(), toml::Value::Array(list));
        raw.remove("obs");
    }
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
    // The named OBS's tables are written as they are now: one for an OBS no
    // longer listed (said at load) goes.
    h.retain(|_, value| !value.is_table());
    for (name, bindings) in &s.hotkeys.for_connection {
        let table = bindings.iter().map(|(a, b)| (a.key().to_string(), toml::Value::String(b.clone()))).collect();
        h.insert(name.clone(), toml::Value::Table(table));
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
        save_connection(&path, &target, None).unwrap();
        let saved = read_connection(&path);
        assert_eq!((saved.host.as_str(), saved.port), ("studio.lan", 4460));
        std::fs::write(&path, "[obs]\nhost = \"old\"\nfancy = 1\n[notifications]\nlive = false\n").unwrap();
        save_connection(&path, &Target::new("localhost", 4455).unwrap(), None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("fancy = 1") && text.contains("live = false"), "{text}");
        assert!(!text.contains("[hotkeys]"), "no defaults written: {text}");
        let loaded = SettingsFile::load(&path);
        assert_eq!((loaded.settings.host.as_str(), loaded.settings.port), ("localhost", 4455));
        std::fs::write(&path, "[obs\n").unwrap();
        assert!(save_connection(&path, &target, None).unwrap_err().contains("not valid TOML"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "[obs\n", "a broken file is left alone");
    }

    #[test]
    fn the_obs_table_is_one_connection_called_by_its_address() {
        let dir = temp_dir("one-connection");
        let path = dir.join("settings.toml");
        std::fs::write(&path, "[obs]\nhost = \"studio\"\nport = 4460\n").unwrap();
        let loaded = SettingsFile::load(&path);
        let expected = vec![Connection { name: "studio:4460".into(), host: "studio".into(), port: 4460 }];
        assert_eq!(loaded.settings.connections(), expected);
        assert_eq!(read_connection(&path).connections, expected);
        assert_eq!(SavedConnection::default().connections[0].name, "localhost:4455");
    }

    #[test]
    fn connections_list_every_obs_in_order_and_the_first_is_the_host_and_port() {
        let dir = temp_dir("connections");
        let path = dir.join("settings.toml");
        std::fs::write(
            &path,
            "[[connections]]\nname = \"Stream PC\"\nhost = \"192.168.1.20\"\nport = 4455\n\n\
             [[connections]]\nhost = \"localhost\"\nport = 4456\n",
        )
        .unwrap();
        let loaded = SettingsFile::load(&path);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let names: Vec<String> = loaded.settings.connections().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["Stream PC", "localhost:4456"]);
        assert_eq!((loaded.settings.host.as_str(), loaded.settings.port), ("192.168.1.20", 4455));
        assert_eq!(loaded.settings.name.as_deref(), Some("Stream PC"));
        let saved = read_connection(&path);
        assert_eq!(saved.connections, loaded.settings.connections());
        assert_eq!((saved.host.as_str(), saved.port), ("192.168.1.20", 4455));
        let list = saved.connections;
        assert_eq!(find_connection(&list, "stream pc").unwrap().port, 4455);
        assert_eq!(find_connection(&list, "localhost:4456").unwrap().port, 4456);
        let missing = find_connection(&list, "Game PC").unwrap_err();
        assert!(missing.contains("\"Stream PC\", \"localhost:4456\""), "{missing}");
    }

    #[test]
    fn a_bad_or_repeated_connection_is_left_out_and_obs_beside_the_list_is_ignored() {
        let dir = temp_dir("bad-connections");
        let path = dir.join("settings.toml");
        std::fs::write(
            &path,
            "[obs]\nhost = \"old\"\n\
             [[connections]]\nname = \"A\"\nport = 4455\n\
             [[connections]]\nname = \"B\"\nport = 99999\n\
             [[connections]]\nname = \"a\"\nport = 4456\n\
             [[connections]]\nname = \"C\"\nhost = \"LOCALHOST\"\nport = 4455\n\
             [[connections]]\nname = \"D\"\nport = 4457\n",
        )
        .unwrap();
        let loaded = SettingsFile::load(&path);
        let names: Vec<String> = loaded.settings.connections().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["A", "D"]);
        let all = loaded.warnings.join("\n");
        assert_eq!(loaded.warnings.len(), 4, "{all}");
        for part in
            ["[obs] is ignored", "entry 2: port", "entry 3 (\"a\") has the name", "entry 4 (\"C\") has the host"]
        {
            assert!(all.contains(part), "{part} in {all}");
        }
        std::fs::write(&path, "connections = 3\n[obs]\nport = 4470\n").unwrap();
        let loaded = SettingsFile::load(&path);
        assert_eq!(loaded.settings.connections().len(), 1);
        assert_eq!(loaded.settings.port, 4470, "a list that is not one falls back to [obs]");
        assert!(loaded.warnings[0].contains("[obs] is used"), "{:?}", loaded.warnings);
    }

    #[test]
    fn connections_round_trip_and_a_single_unnamed_one_stays_the_obs_table() {
        let dir = temp_dir("connections-save");
        let path = dir.join("settings.toml");
        let mut loaded = SettingsFile::load(&path);
        let mut settings = loaded.settings.clone();
        loaded.file.save(&settings).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[obs]") && !text.contains("connections"), "{text}");
        settings.name = Some("Stream PC".into());
        settings.more_connections.push(Connection::named(Some("Game PC"), "10.0.0.2", 4455));
        settings.more_connections.push(Connection::named(None, "localhost", 4456));
        loaded.file.save(&settings).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("[obs]"), "the list replaces [obs]: {text}");
        assert_eq!(text.matches("[[connections]]").count(), 3, "{text}");
        assert!(!text.contains("name = \"localhost:4456\""), "a default name is not written: {text}");
        let again = SettingsFile::load(&path);
        assert!(again.warnings.is_empty(), "{:?}", again.warnings);
        assert_eq!(again.settings, settings);
    }

    #[test]
    fn saving_the_connection_by_name_changes_that_entry_only() {
        let dir = temp_dir("connection-by-name");
        let path = dir.join("settings.toml");
        std::fs::write(
            &path,
            "[[connections]]\nname = \"Stream PC\"\nport = 4455\nnote = \"kept\"\n\
             [[connections]]\nname = \"Game PC\"\nport = 4456\n",
        )
        .unwrap();
        save_connection(&path, &Target::new("10.0.0.2", 4460).unwrap(), Some("game pc")).unwrap();
        save_connection(&path, &Target::new("localhost", 4470).unwrap(), None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("note = \"kept\""), "{text}");
        let list = read_connection(&path).connections;
        assert_eq!(list[0], Connection::named(Some("Stream PC"), "localhost", 4470));
        assert_eq!(list[1], Connection::named(Some("Game PC"), "10.0.0.2", 4460));
        let unknown = save_connection(&path, &Target::new("localhost", 1).unwrap(), Some("Laptop")).unwrap_err();
        assert!(unknown.contains("Laptop") && unknown.contains("Game PC"), "{unknown}");
        assert_eq!(read_connection(&path).connections, list, "nothing written for an unknown name");
    }

    #[test]
    fn a_hotkeys_table_named_after_an_obs_binds_keys_for_it_and_round_trips() {
        let dir = temp_dir("named-hotkeys");
        let path = dir.join("settings.toml");
        std::fs::write(
            &path,
            "[[connections]]\nname = \"Stream PC\"\n\n[[connections]]\nname = \"Game PC\"\nport = 4456\n\n\
             [hotkeys]\nenabled = true\n\n[hotkeys.\"game pc\"]\ntoggle_stream = \"ctrl+alt+shift+g\"\nlaunch = \"Ctrl+L\"\n\
             save_replay = \"Banana\"\n\n[hotkeys.\"Laptop\"]\ntoggle_stream = \"Ctrl+Alt+Shift+L\"\n",
        )
        .unwrap();
        let mut loaded = SettingsFile::load(&path);
        let named = &loaded.settings.hotkeys.for_connection;
        assert_eq!(named.len(), 1, "{named:?}");
        assert_eq!(named["Game PC"], BTreeMap::from([(HotkeyAction::ToggleStream, "Ctrl+Alt+Shift+G".to_string())]));
        let all = loaded.warnings.join("\n");
        assert_eq!(loaded.warnings.len(), 3, "{all}");
        for part in ["\"game pc\".launch is not", "\"game pc\".save_replay", "no OBS connection is called \"Laptop\""] {
            assert!(all.contains(part), "{part} in {all}");
        }
        let settings = loaded.settings.clone();
        loaded.file.save(&settings).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[hotkeys.\"Game PC\"]") && !text.contains("Laptop"), "{text}");
        let again = SettingsFile::load(&path);
        assert!(again.warnings.is_empty(), "{:?}", again.warnings);
        assert_eq!(again.settings.hotkeys, settings.hotkeys);
    }

    #[test]
    fn a_change_made_elsewhere_is_noticed_and_ones_own_save_is_not() {
        let dir = temp_dir("changed-elsewhere");
        let path = dir.join("settings.toml");
        let mut loaded = SettingsFile::load(&path);
        assert!(!loaded.file.changed_elsewhere(), "no file, and still none");
        loaded.file.save(&loaded.settings).unwrap();
        assert!(!loaded.file.changed_elsewhere(), "its own save");
        // Another program (onair connect) writes it; a second later, so the time differs.
        std::thread::sleep(std::time::Duration::from_millis(1_100));
        save_connection(&path, &Target::new("studio", 4460).unwrap(), None).unwrap();
        assert!(loaded.file.changed_elsewhere());
        let again = SettingsFile::load(&path);
        assert_eq!((again.settings.host.as_str(), again.settings.port), ("studio", 4460));
        assert!(!again.file.changed_elsewhere());
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
