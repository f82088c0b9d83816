//! OBS's own WebSocket server settings, read from OBS's config folder, so
//! OnAir can connect to an OBS on this machine with nothing typed.
//!
//! obs-websocket keeps them in two places, depending on its version:
//! `plugin_config/obs-websocket/config.json` (5.5 and newer, OBS 30.2+; keys
//! `server_enabled`, `server_port`, `auth_required`, `server_password`) and,
//! before that (OBS 28 to 30.1), `global.ini`'s `[OBSWebSocket]` section
//! (`ServerEnabled`, `ServerPort`, `AuthRequired`, `ServerPassword`). 5.5
//! moves the old keys out of `global.ini` on its first run, so when both hold
//! settings, `config.json` is the one OBS uses. Missing keys are obs-websocket's
//! own defaults (server off, port 4455, authentication on). OBS's launch flags
//! (`--websocket_port`, `--websocket_password`) are never written to either
//! file, so they cannot be found here.
//!
//! The parsing is pure; [`find`] only reads files. `global.ini` is read the
//! way libobs reads it: sections and keys match case-insensitively, the first
//! occurrence wins, values are trimmed, `\n`, `\r` and `\\` are unescaped, an
//! empty value is no value, and a boolean is `true` or a non-zero number.

use std::path::{Path, PathBuf};

use crate::settings::Password;

/// obs-websocket's defaults for keys its file does not have.
const DEFAULT_PORT: u16 = 4455;
const DEFAULT_ENABLED: bool = false;
const DEFAULT_AUTH_REQUIRED: bool = true;

/// The WebSocket server as OBS's settings describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObsServerSettings {
    pub enabled: bool,
    pub port: u16,
    /// The password clients must give; `None` when OBS asks for none
    /// (authentication off, or on with no password set yet).
    pub password: Option<Password>,
    pub auth_required: bool,
}

/// Which of obs-websocket's files the settings came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsFormat {
    /// `plugin_config/obs-websocket/config.json`, obs-websocket 5.5+.
    ConfigJson,
    /// `global.ini` `[OBSWebSocket]`, obs-websocket 5.0 to 5.4.
    GlobalIni,
}

/// Settings found on disk, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundSettings {
    pub settings: ObsServerSettings,
    pub file: PathBuf,
    pub format: SettingsFormat,
}

/// The file inside an OBS config folder for each format.
pub fn settings_file(config_dir: &Path, format: SettingsFormat) -> PathBuf {
    match format {
        SettingsFormat::ConfigJson => config_dir.join("plugin_config").join("obs-websocket").join("config.json"),
        SettingsFormat::GlobalIni => config_dir.join("global.ini"),
    }
}

/// Where OBS keeps its settings on this machine, most likely first: the
/// platform's config folder (`$XDG_CONFIG_HOME/obs-studio` or
/// `~/.config/obs-studio`, `~/Library/Application Support/obs-studio`,
/// `%APPDATA%\obs-studio`), then, on Linux, the Flatpak's.
pub fn config_dirs() -> Vec<PathBuf> {
    candidate_dirs(dirs::config_dir().as_deref(), dirs::home_dir().as_deref(), cfg!(target_os = "linux"))
}

/// [`config_dirs`] from the platform's config folder and home, for tests.
pub fn candidate_dirs(config_dir: Option<&Path>, home: Option<&Path>, linux: bool) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = config_dir.map(|d| d.join("obs-studio")).into_iter().collect();
    if linux {
        if let Some(home) = home {
            dirs.push(home.join(".var/app/com.obsproject.Studio/config/obs-studio"));
        }
    }
    dirs
}

/// Why no settings could be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotFound {
    /// None of these folders holds obs-websocket's settings.
    Nowhere(Vec<PathBuf>),
    /// This file holds them but cannot be read or understood.
    Unreadable { file: PathBuf, why: String },
}

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotFound::Nowhere(dirs) => {
                let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
                write!(
                    f,
                    "no OBS WebSocket settings found (looked in {}); start OBS once, or give its config folder with --obs-config DIR",
                    if looked.is_empty() { "no folder: this system has no config folder".into() } else { looked.join(", ") }
                )
            }
            NotFound::Unreadable { file, why } => write!(f, "cannot use {}: {why}", file.display()),
        }
    }
}

/// The settings in the first of `dirs` that has any: `config.json` over
/// `global.ini` within a folder.
pub fn find(dirs: &[PathBuf]) -> Result<FoundSettings, NotFound> {
    for dir in dirs {
        if let Some(found) = read_dir(dir)? {
            return Ok(found);
        }
    }
    Err(NotFound::Nowhere(dirs.to_vec()))
}

/// The settings in one OBS config folder; `None` when it holds none.
pub fn read_dir(dir: &Path) -> Result<Option<FoundSettings>, NotFound> {
    for format in [SettingsFormat::ConfigJson, SettingsFormat::GlobalIni] {
        let file = settings_file(dir, format);
        let text = match std::fs::read(&file) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(NotFound::Unreadable { file, why: e.to_string() }),
        };
        let parsed = match format {
            SettingsFormat::ConfigJson => parse_config_json(&text).map(Some),
            SettingsFormat::GlobalIni => Ok(parse_global_ini(&text)),
        };
        match parsed {
            Ok(Some(settings)) => return Ok(Some(FoundSettings { settings, file, format })),
            Ok(None) => {}
            Err(why) => return Err(NotFound::Unreadable { file, why }),
        }
    }
    Ok(None)
}

/// obs-websocket 5.5+'s `config.json`. A key of the wrong type is ignored, as
/// obs-websocket ignores it, and its default used.
pub fn parse_config_json(text: &str) -> Result<ObsServerSettings, String> {
    // Windows editors may leave a byte order mark.
    let text = text.trim_start_matches('\u{feff}');
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?;
    let Some(object) = value.as_object() else { return Err("not a JSON object".into()) };
    let boolean = |key: &str, default: bool| object.get(key).and_then(serde_json::Value::as_bool).unwrap_or(default);
    let port = object
        .get("server_port")
        .and_then(serde_json::Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(DEFAULT_PORT);
    let password = object.get("server_password").and_then(serde_json::Value::as_str).unwrap_or_default();
    Ok(settings(
        boolean("server_enabled", DEFAULT_ENABLED),
        port,
        boolean("auth_required", DEFAULT_AUTH_REQUIRED),
        password,
    ))
}

/// `global.ini`'s `[OBSWebSocket]` (obs-websocket 5.0 to 5.4); `None` when the
/// section holds none of the server's keys (never set, or moved to
/// `config.json` by 5.5).
pub fn parse_global_ini(text: &str) -> Option<ObsServerSettings> {
    let section = ini_section(text, "OBSWebSocket");
    let get = |key: &str| section.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str());
    let keys = ["ServerEnabled", "ServerPort", "AuthRequired", "ServerPassword"];
    if keys.iter().all(|key| get(key).is_none()) {
        return None;
    }
    let boolean = |key: &str, default: bool| get(key).map_or(default, ini_bool);
    let port = get("ServerPort").and_then(ini_uint).and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0);
    Some(settings(
        boolean("ServerEnabled", DEFAULT_ENABLED),
        port.unwrap_or(DEFAULT_PORT),
        boolean("AuthRequired", DEFAULT_AUTH_REQUIRED),
        get("ServerPassword").unwrap_or_default(),
    ))
}

fn settings(enabled: bool, port: u16, auth_required: bool, password: &str) -> ObsServerSettings {
    let password = (auth_required && !password.is_empty()).then(|| Password::new(password.to_string()));
    ObsServerSettings { enabled, port, password, auth_required }
}

/// The keys and values of one section, in file order (libobs's reading: see the module doc).
fn ini_section(text: &str, name: &str) -> Vec<(String, String)> {
    let text = text.trim_start_matches('\u{feff}');
    let mut items = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix('[') {
            inside = rest.split(']').next().is_some_and(|section| section.trim().eq_ignore_ascii_case(name));
            continue;
        }
        if !inside || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        items.push((key.trim().to_string(), ini_unescape(value)));
    }
    items
}

/// libobs writes `\` as `\\` and line breaks as `\n` and `\r`.
fn ini_unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('\\', Some('n')) => {
                chars.next();
                out.push('\n');
            }
            ('\\', Some('r')) => {
                chars.next();
                out.push('\r');
            }
            ('\\', Some('\\')) => {
                chars.next();
                out.push('\\');
            }
            _ => out.push(c),
        }
    }
    out
}

/// libobs's `config_get_bool`: `true` in any case, or a non-zero number.
fn ini_bool(value: &str) -> bool {
    value.eq_ignore_ascii_case("true") || ini_uint(value).is_some_and(|n| n != 0)
}

/// libobs's `config_get_uint`: decimal, or hexadecimal after `0x`; the leading digits only.
fn ini_uint(value: &str) -> Option<u64> {
    let (digits, radix) = match value.strip_prefix("0x") {
        Some(hex) => (hex, 16),
        None => (value, 10),
    };
    let end = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
    u64::from_str_radix(&digits[..end], radix).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `global.ini` as real OBS 29.0.2 (obs-websocket 5.1.0) wrote it on its
    /// first start in an empty config folder: the server off, a generated password.
    const OBS_29_FIRST_START: &str = "[General]\nFirstRun=true\nLastVersion=486539266\nEnableAutoUpdates=false\nConfirmOnExit=false\nPre19Defaults=false\nPre21Defaults=false\nPre23Defaults=false\nPre24.1Defaults=false\n\n[Basic]\nProfile=Untitled\nProfileDir=Untitled\nSceneCollection=Untitled\nSceneCollectionFile=Untitled\n\n[BasicWindow]\ngridMode=false\n\n[OBSWebSocket]\nFirstLoad=false\nServerEnabled=false\nServerPort=4455\nAlertsEnabled=false\nAuthRequired=true\nServerPassword=9tPNpEOc1weg0KfN\n";

    /// `config.json` as obs-websocket 5.5 writes it (nlohmann's `dump(4)`).
    const OBS_31_CONFIG_JSON: &str = "{\n    \"alerts_enabled\": false,\n    \"auth_required\": true,\n    \"first_load\": false,\n    \"server_enabled\": true,\n    \"server_password\": \"Zq8m2TcX4vBn7LpA\",\n    \"server_port\": 4460\n}";

    struct TempDir(PathBuf);

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn temp_dir(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("onair-obs-config-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn password(settings: &ObsServerSettings) -> Option<&str> {
        settings.password.as_ref().map(Password::expose)
    }

    #[test]
    fn obs_29_global_ini_as_it_writes_it_on_first_start() {
        let settings = parse_global_ini(OBS_29_FIRST_START).unwrap();
        assert!(!settings.enabled, "obs-websocket 5.1 starts with its server off");
        assert_eq!(settings.port, 4455);
        assert!(settings.auth_required);
        assert_eq!(password(&settings), Some("9tPNpEOc1weg0KfN"));
    }

    #[test]
    fn global_ini_is_read_as_libobs_reads_it() {
        let text = "[obswebsocket]\r\n# a comment\r\nserverenabled = 1 \r\nServerPort=0x115d\r\nAuthRequired=TRUE\r\nServerPassword=  a=b;c \\\\d\\n#e  \r\nServerPassword=second\r\n[Other]\r\nServerPort=1\r\n";
        let settings = parse_global_ini(text).unwrap();
        assert!(settings.enabled);
        assert_eq!(settings.port, 4445, "0x115d");
        assert_eq!(password(&settings), Some("a=b;c \\d\n#e"), "trimmed, unescaped, the first one");
    }

    #[test]
    fn global_ini_without_the_servers_keys_has_no_settings() {
        assert_eq!(parse_global_ini("[General]\nFirstRun=true\n"), None);
        // What 5.5 leaves behind after moving the keys to config.json.
        assert_eq!(parse_global_ini("[OBSWebSocket]\n[Basic]\nServerPort=4455\n"), None);
        // An empty value is no value in libobs.
        assert_eq!(parse_global_ini("[OBSWebSocket]\nServerPassword=\n"), None);
    }

    #[test]
    fn missing_or_bad_keys_are_obs_websockets_defaults() {
        let settings = parse_global_ini("[OBSWebSocket]\nServerPort=99999\n").unwrap();
        assert_eq!((settings.enabled, settings.port, settings.auth_required), (false, 4455, true));
        assert_eq!(settings.password, None, "authentication on, but no password set yet");
        let json = parse_config_json(
            "{\"server_port\": \"4456\", \"server_enabled\": 1, \"auth_required\": false, \"server_password\": \"x\"}",
        )
        .unwrap();
        assert_eq!((json.enabled, json.port, json.auth_required), (false, 4455, false));
        assert_eq!(json.password, None, "no password is used when authentication is off");
    }

    #[test]
    fn config_json_as_obs_websocket_5_5_writes_it() {
        let settings = parse_config_json(OBS_31_CONFIG_JSON).unwrap();
        assert!(settings.enabled && settings.auth_required);
        assert_eq!(settings.port, 4460);
        assert_eq!(password(&settings), Some("Zq8m2TcX4vBn7LpA"));
        assert!(parse_config_json("{ not json").unwrap_err().contains("not valid JSON"));
        assert!(parse_config_json("[]").is_err());
    }

    #[test]
    fn config_json_wins_over_global_ini_in_one_folder() {
        let dir = temp_dir("both");
        write(&dir.0.join("global.ini"), OBS_29_FIRST_START);
        let found = read_dir(&dir.0).unwrap().unwrap();
        assert_eq!((found.format, found.settings.port), (SettingsFormat::GlobalIni, 4455));
        let json = settings_file(&dir.0, SettingsFormat::ConfigJson);
        write(&json, OBS_31_CONFIG_JSON);
        let found = read_dir(&dir.0).unwrap().unwrap();
        assert_eq!((found.format, found.settings.port, found.file), (SettingsFormat::ConfigJson, 4460, json.clone()));
        write(&json, "{");
        assert!(matches!(read_dir(&dir.0), Err(NotFound::Unreadable { file, .. }) if file == json));
    }

    #[test]
    fn the_first_folder_with_settings_is_used_and_flatpaks_is_looked_in_on_linux() {
        let home = temp_dir("home");
        let config = home.0.join(".config");
        let dirs = candidate_dirs(Some(&config), Some(&home.0), true);
        assert_eq!(
            dirs,
            vec![config.join("obs-studio"), home.0.join(".var/app/com.obsproject.Studio/config/obs-studio")]
        );
        assert_eq!(candidate_dirs(Some(&config), Some(&home.0), false), vec![config.join("obs-studio")]);
        assert!(matches!(find(&dirs), Err(NotFound::Nowhere(looked)) if looked == dirs));
        // Only the Flatpak has settings.
        write(&dirs[1].join("global.ini"), "[OBSWebSocket]\nServerEnabled=true\nServerPort=4457\nAuthRequired=false\n");
        let found = find(&dirs).unwrap();
        assert_eq!((found.settings.port, found.settings.enabled), (4457, true));
        assert!(found.file.starts_with(&dirs[1]));
        // A native OBS that never had its server set up is passed over.
        write(&dirs[0].join("global.ini"), "[General]\nFirstRun=true\n");
        assert!(find(&dirs).unwrap().file.starts_with(&dirs[1]));
        write(&dirs[0].join("global.ini"), OBS_29_FIRST_START);
        assert!(find(&dirs).unwrap().file.starts_with(&dirs[0]));
    }
}
