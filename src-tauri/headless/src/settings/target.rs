//! Where OBS is and how to log in: validated before anything is attempted.
//!
//! The connection comes from flags, then the settings file, then
//! `localhost:4455`. The settings file here is read for its `[obs]` table only;
//! everything else in it is left for the tray app. The password is never part of
//! the file: it comes from stdin, `ONAIR_PASSWORD`, or (with the tray app) the
//! OS keyring, and it is wrapped so it cannot be printed by accident.

use std::path::{Path, PathBuf};

pub const DEFAULT_HOST: &str = "localhost";
pub const DEFAULT_PORT: u16 = 4455;

/// A validated OBS address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

impl Default for Target {
    fn default() -> Self {
        Target { host: DEFAULT_HOST.to_string(), port: DEFAULT_PORT }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl Target {
    /// Checks a host and port as a user typed them; the error says what is wrong.
    pub fn new(host: &str, port: i64) -> Result<Target, String> {
        Ok(Target { host: validate_host(host)?, port: validate_port(port)? })
    }

    /// True when OBS would be on this machine, where a refused connect is cheap.
    pub fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

pub fn validate_port(port: i64) -> Result<u16, String> {
    match u16::try_from(port) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("port {port} is out of range: use a number from 1 to 65535 (OBS's default is 4455)")),
    }
}

pub fn validate_host(host: &str) -> Result<String, String> {
    let trimmed = host.trim();
    if trimmed.is_empty() {
        return Err("the host is empty: use localhost, an IP address or a host name".into());
    }
    if trimmed.contains("://") || trimmed.contains('/') {
        return Err(format!(
            "host {trimmed:?} looks like a URL: give only the host name or IP address, e.g. localhost"
        ));
    }
    let bare = trimmed.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(trimmed);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(bare.to_string());
    }
    if bare.contains(':') {
        return Err(format!("host {trimmed:?} contains a colon: give the port separately"));
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if bare.len() > 253 || !bare.trim_end_matches('.').split('.').all(label_ok) {
        return Err(format!("host {trimmed:?} is not a valid host name or IP address"));
    }
    Ok(bare.to_string())
}

/// A password held in memory. It has no `Display`, and `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(password: String) -> Password {
        Password(password)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The settings file in the platform's config directory
/// (`$XDG_CONFIG_HOME/onair/settings.toml` on Linux).
pub fn default_settings_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("onair").join("settings.toml"))
}

/// The `[obs]` table of the settings file; either field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileConnection {
    pub host: Option<String>,
    pub port: Option<i64>,
}

/// Reads `[obs] host` and `port`. A missing file is no error (defaults apply);
/// an unreadable or malformed one is, with the path in the message.
pub fn read_connection(path: &Path) -> Result<FileConnection, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileConnection::default()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let table: toml::Table = text.parse().map_err(|e| format!("{} is not valid TOML: {e}", path.display()))?;
    let Some(obs) = table.get("obs") else { return Ok(FileConnection::default()) };
    let obs = obs.as_table().ok_or_else(|| format!("{}: [obs] must be a table", path.display()))?;
    let host = match obs.get("host") {
        None => None,
        Some(toml::Value::String(h)) => Some(h.clone()),
        Some(_) => return Err(format!("{}: obs.host must be a string", path.display())),
    };
    let port = match obs.get("port") {
        None => None,
        Some(toml::Value::Integer(p)) => Some(*p),
        Some(_) => return Err(format!("{}: obs.port must be a number", path.display())),
    };
    Ok(FileConnection { host, port })
}

/// Flags win over the file, the file over the defaults.
pub fn resolve_target(
    flag_host: Option<&str>,
    flag_port: Option<i64>,
    file: &FileConnection,
) -> Result<Target, String> {
    let host = flag_host.or(file.host.as_deref()).unwrap_or(DEFAULT_HOST);
    let port = flag_port.or(file.port).unwrap_or(i64::from(DEFAULT_PORT));
    Target::new(host, port)
}

/// Host and port given for this run only (the `--host` and `--port` flags, or
/// the demo's simulated OBS). They win over the settings file while OnAir runs,
/// and never reach the file: a Save writes a field only once the user changed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunOverride {
    pub host: Option<String>,
    pub port: Option<i64>,
    /// Where the values came from, for people: `"the command line"`, `"the demo"`.
    pub source: &'static str,
}

impl RunOverride {
    pub fn is_empty(&self) -> bool {
        self.host.is_none() && self.port.is_none()
    }

    /// Where this run connects: each overridden field, else the saved one.
    pub fn target(&self, saved_host: &str, saved_port: u16) -> Result<Target, String> {
        let saved = FileConnection { host: Some(saved_host.to_string()), port: Some(i64::from(saved_port)) };
        resolve_target(self.host.as_deref(), self.port, &saved)
    }

    /// The host and port the settings form shows: the ones in use. A port
    /// that is not a port at all shows the saved one (the target says why).
    pub fn shown(&self, saved_host: &str, saved_port: u16) -> (String, u16) {
        let host = self.host.clone().unwrap_or_else(|| saved_host.to_string());
        let port = self.port.and_then(|p| validate_port(p).ok()).unwrap_or(saved_port);
        (host, port)
    }

    /// A Save of the form: the saved host and port it leaves, and what stays
    /// overridden. A field the user left as shown keeps its saved value (and its
    /// override); a field they changed is saved and used from now on.
    pub fn after_save(&self, saved: (&str, u16), form: (&str, u16)) -> ((String, u16), RunOverride) {
        let (shown_host, shown_port) = self.shown(saved.0, saved.1);
        let mut run = self.clone();
        let host = if self.host.is_some() && form.0 == shown_host {
            saved.0.to_string()
        } else {
            run.host = None;
            form.0.to_string()
        };
        let port = if self.port.is_some() && form.1 == shown_port {
            saved.1
        } else {
            run.port = None;
            form.1
        };
        ((host, port), run)
    }

    /// Says what is overridden, or `None` when nothing is:
    /// "Port 4456 comes from the command line for this run only; the settings file keeps 4455."
    pub fn note(&self, saved_host: &str, saved_port: u16) -> Option<String> {
        let (host, port) = self.shown(saved_host, saved_port);
        let source = if self.source.is_empty() { "the command line" } else { self.source };
        let (what, kept) = match (&self.host, &self.port) {
            (None, None) => return None,
            (Some(_), None) => (format!("Host {host}"), saved_host.to_string()),
            (None, Some(_)) => (format!("Port {port}"), saved_port.to_string()),
            (Some(_), Some(_)) => (
                format!("{}", Target { host, port }),
                format!("{}", Target { host: saved_host.into(), port: saved_port }),
            ),
        };
        Some(format!(
            "{what} comes from {source} for this run only; the settings file keeps {kept} unless you change it here."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_hosts_pass() {
        for host in ["localhost", "127.0.0.1", "::1", "[::1]", "obs-pc.lan", "OBS_BOX", "192.168.1.20"] {
            assert!(validate_host(host).is_ok(), "{host}");
        }
        assert_eq!(validate_host(" [::1] ").unwrap(), "::1");
    }

    #[test]
    fn bad_hosts_say_why() {
        assert!(validate_host("").unwrap_err().contains("empty"));
        assert!(validate_host("ws://localhost:4455").unwrap_err().contains("URL"));
        assert!(validate_host("localhost:4455").unwrap_err().contains("port separately"));
        assert!(validate_host("bad host").unwrap_err().contains("not a valid"));
        assert!(validate_host("-x.com").is_err());
    }

    #[test]
    fn ports_must_be_in_range() {
        assert_eq!(validate_port(4455), Ok(4455));
        for bad in [0, -1, 65536, 1_000_000] {
            assert!(validate_port(bad).unwrap_err().contains("1 to 65535"), "{bad}");
        }
    }

    #[test]
    fn loopback_is_recognised() {
        assert!(Target::new("localhost", 1).unwrap().is_loopback());
        assert!(Target::new("127.0.0.2", 1).unwrap().is_loopback());
        assert!(Target::new("::1", 1).unwrap().is_loopback());
        assert!(!Target::new("192.168.1.2", 1).unwrap().is_loopback());
        assert_eq!(Target::new("::1", 4455).unwrap().to_string(), "[::1]:4455");
    }

    #[test]
    fn password_never_prints() {
        assert_eq!(format!("{:?}", Password::new("hunter2".into())), "Password(***)");
    }

    /// Writes a settings file in a fresh directory; the returned guard removes it.
    struct TempFile(PathBuf);

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    fn temp_file(name: &str, text: &str) -> TempFile {
        let dir = std::env::temp_dir().join(format!("onair-settings-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("settings.toml");
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }

    #[test]
    fn flags_then_file_then_defaults() {
        let file_guard = temp_file("order", "[obs]\nhost = \"studio\"\nport = 4456\n[ui]\ntheme = \"dark\"\n");
        let path = &file_guard.0;
        let file = read_connection(path).unwrap();
        assert_eq!(resolve_target(None, None, &file).unwrap(), Target { host: "studio".into(), port: 4456 });
        assert_eq!(
            resolve_target(Some("127.0.0.1"), None, &file).unwrap(),
            Target { host: "127.0.0.1".into(), port: 4456 }
        );
        assert_eq!(resolve_target(None, Some(1), &file).unwrap().port, 1);
        assert_eq!(resolve_target(None, None, &FileConnection::default()).unwrap(), Target::default());
        assert!(read_connection(&path.with_file_name("missing.toml")).unwrap() == FileConnection::default());
    }

    #[test]
    fn malformed_files_are_reported_with_their_path() {
        let bad = temp_file("bad", "[obs\nhost=");
        assert!(read_connection(&bad.0).unwrap_err().contains("settings.toml"));
        let wrong_type = temp_file("type", "[obs]\nport = \"x\"\n");
        assert!(read_connection(&wrong_type.0).unwrap_err().contains("obs.port"));
    }

    fn override_port(port: i64) -> RunOverride {
        RunOverride { host: None, port: Some(port), source: "the command line" }
    }

    #[test]
    fn an_override_applies_to_this_run_and_is_shown_as_such() {
        let run = RunOverride { host: Some("127.0.0.1".into()), port: None, source: "the command line" };
        assert_eq!(run.target("studio", 4456).unwrap(), Target { host: "127.0.0.1".into(), port: 4456 });
        assert_eq!(run.shown("studio", 4456), ("127.0.0.1".to_string(), 4456));
        assert_eq!(
            run.note("studio", 4456).unwrap(),
            "Host 127.0.0.1 comes from the command line for this run only; the settings file keeps studio unless you change it here."
        );
        let port = override_port(4457);
        assert_eq!(port.shown("studio", 4456), ("studio".to_string(), 4457), "the form shows the port in use");
        assert!(port.note("studio", 4456).unwrap().starts_with("Port 4457 comes from the command line"));
        assert_eq!(RunOverride::default().note("studio", 4456), None);
        assert!(RunOverride::default().is_empty());
        assert_eq!(override_port(0).shown("studio", 4456).1, 4456);
        assert!(override_port(0).target("studio", 4456).is_err());
    }

    #[test]
    fn a_save_writes_only_the_fields_the_user_changed() {
        let both = RunOverride { host: Some("127.0.0.1".into()), port: Some(4457), source: "the command line" };
        // Saved as shown: the file keeps its own values, the override stays.
        assert_eq!(
            both.after_save(("studio", 4455), ("127.0.0.1", 4457)),
            (("studio".to_string(), 4455), both.clone())
        );
        // A changed host is saved and used; the untouched port stays overridden.
        let ((host, port), run) = both.after_save(("studio", 4455), ("obs.lan", 4457));
        assert_eq!((host.as_str(), port), ("obs.lan", 4455));
        assert_eq!((run.host.as_deref(), run.port), (None, Some(4457)));
        assert_eq!(run.target(&host, port).unwrap(), Target { host: "obs.lan".into(), port: 4457 });
        // A changed port likewise.
        let ((host, port), run) = override_port(4457).after_save(("studio", 4455), ("studio", 4460));
        assert_eq!(((host.as_str(), port), run.is_empty()), (("studio", 4460), true));
        // Without an override, the form is what is saved.
        let none = RunOverride::default();
        assert_eq!(none.after_save(("studio", 4455), ("studio", 4455)), (("studio".to_string(), 4455), none.clone()));
        assert_eq!(none.after_save(("studio", 4455), ("x", 1)).0, ("x".to_string(), 1));
    }
}
