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
}
