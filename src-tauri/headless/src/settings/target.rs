//! Where OBS is and how to log in: validated before anything is attempted.
//!
//! [`Given`] is the one place that decides what wins, for the `onair` commands
//! and the tray app alike: the connection comes from `--host`/`--port`, then the
//! settings file's `[obs]` table, then `localhost:4455`; the password from
//! `--password-stdin`, then `ONAIR_PASSWORD`, then the OS keyring. The password
//! is never part of the file, and it is wrapped so it cannot be printed by
//! accident.

use std::path::PathBuf;

use crate::settings::SettingsFile;

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

/// What this run was given on the command line and in the environment: what
/// wins over the settings file and the keyring. The `onair` commands and the
/// tray app both resolve through it, so they agree on the order:
///
/// - the settings file: `--config`, else the platform's;
/// - host and port, each on its own: the flag, else the file's `[obs]`, else
///   `localhost:4455` (the file reader fills in the defaults);
/// - the password: `--password-stdin`'s line, else `ONAIR_PASSWORD`, else the
///   one stored in the keyring for the target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Given {
    pub config: Option<PathBuf>,
    pub host: Option<String>,
    pub port: Option<i64>,
    /// The password given for this run (see [`Given::password_from`]).
    pub password: Option<Password>,
}

impl Given {
    /// The password given for this run: when `--password-stdin` was given, the
    /// line read (`stdin_line`), and the environment is not consulted; else
    /// `ONAIR_PASSWORD`'s value. An empty one is none.
    pub fn password_from(stdin_line: Option<String>, environment: Option<String>) -> Option<Password> {
        let given = match stdin_line {
            Some(line) => Some(line),
            None => environment,
        };
        given.filter(|p| !p.is_empty()).map(Password::new)
    }

    /// The settings file to read.
    pub fn settings_path(&self) -> Option<PathBuf> {
        self.config.clone().or_else(SettingsFile::default_path)
    }

    /// The host and port given for this run only, over the settings file's.
    pub fn run_override(&self) -> RunOverride {
        RunOverride { host: self.host.clone(), port: self.port, source: "the command line" }
    }

    /// Where to connect: each flag given over the saved host and port.
    pub fn target(&self, saved_host: &str, saved_port: u16) -> Result<Target, String> {
        self.run_override().target(saved_host, saved_port)
    }

    /// The password to log in with: the one given, else what `stored` answers
    /// (asked only when none was given).
    pub fn password_or<E>(&self, stored: impl FnOnce() -> Result<Option<Password>, E>) -> Result<Option<Password>, E> {
        match &self.password {
            Some(given) => Ok(Some(given.clone())),
            None => stored(),
        }
    }
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
        let host = self.host.as_deref().unwrap_or(saved_host);
        let port = self.port.unwrap_or(i64::from(saved_port));
        Target::new(host, port)
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

    fn flags(host: Option<&str>, port: Option<i64>) -> Given {
        Given { host: host.map(String::from), port, ..Given::default() }
    }

    #[test]
    fn host_and_port_come_from_the_flags_then_the_file_then_the_defaults() {
        let file_guard = temp_file("order", "[obs]\nhost = \"studio\"\nport = 4456\n[ui]\ntheme = \"dark\"\n");
        let saved = crate::settings::read_connection(&file_guard.0);
        assert!(saved.warnings.is_empty(), "{:?}", saved.warnings);
        let target = |given: Given| given.target(&saved.host, saved.port);
        assert_eq!(target(flags(None, None)), Ok(Target { host: "studio".into(), port: 4456 }));
        assert_eq!(target(flags(Some("127.0.0.1"), None)), Ok(Target { host: "127.0.0.1".into(), port: 4456 }));
        assert_eq!(target(flags(None, Some(1))), Ok(Target { host: "studio".into(), port: 1 }));
        assert_eq!(target(flags(Some("obs.lan"), Some(2))), Ok(Target { host: "obs.lan".into(), port: 2 }));
        // A flag is checked as typed: it never falls back to the file.
        assert!(target(flags(None, Some(0))).unwrap_err().contains("out of range"));
        assert!(target(flags(Some("ws://x"), None)).unwrap_err().contains("URL"));
        // No file at all: the defaults.
        let missing = crate::settings::read_connection(&file_guard.0.with_file_name("missing.toml"));
        assert!(missing.warnings.is_empty());
        assert_eq!(flags(None, None).target(&missing.host, missing.port), Ok(Target::default()));
        assert_eq!(flags(None, Some(4460)).target(&missing.host, missing.port).unwrap().port, 4460);
    }

    #[test]
    fn the_settings_file_is_the_flags_else_the_platforms() {
        let given = Given { config: Some(PathBuf::from("/tmp/mine.toml")), ..Given::default() };
        assert_eq!(given.settings_path(), Some(PathBuf::from("/tmp/mine.toml")));
        assert_eq!(Given::default().settings_path(), SettingsFile::default_path());
    }

    #[test]
    fn a_bad_file_falls_back_key_by_key_and_says_so_without_moving_it() {
        let bad = temp_file("bad", "[obs\nhost=");
        let saved = crate::settings::read_connection(&bad.0);
        assert_eq!((saved.host.as_str(), saved.port), (DEFAULT_HOST, DEFAULT_PORT));
        assert!(saved.warnings.len() == 1 && saved.warnings[0].contains("settings.toml"), "{:?}", saved.warnings);
        assert!(bad.0.exists(), "a command leaves a broken file where it is");
        let wrong_type = temp_file("type", "[obs]\nhost = \"studio\"\nport = \"x\"\n");
        let saved = crate::settings::read_connection(&wrong_type.0);
        assert_eq!((saved.host.as_str(), saved.port), ("studio", DEFAULT_PORT));
        assert!(saved.warnings.len() == 1 && saved.warnings[0].contains("obs.port"), "{:?}", saved.warnings);
    }

    #[test]
    fn a_password_given_on_stdin_wins_over_the_environment_and_either_over_the_keyring() {
        let password = |p: &str| Some(Password::new(p.into()));
        assert_eq!(Given::password_from(Some("typed".into()), Some("env".into())), password("typed"));
        assert_eq!(Given::password_from(None, Some("env".into())), password("env"));
        // Asked for stdin and given an empty line: no password, not the environment's.
        assert_eq!(Given::password_from(Some(String::new()), Some("env".into())), None);
        assert_eq!(Given::password_from(None, Some(String::new())), None);
        assert_eq!(Given::password_from(None, None), None);

        let stored = || Ok::<_, ()>(password("stored"));
        let given = Given { password: password("typed"), ..Given::default() };
        let mut asked = false;
        let answer = given.password_or(|| {
            asked = true;
            stored()
        });
        assert_eq!((answer, asked), (Ok(password("typed")), false), "the keyring is not asked");
        assert_eq!(Given::default().password_or(stored), Ok(password("stored")));
        assert_eq!(Given::default().password_or(|| Ok::<_, ()>(None)), Ok(None));
        assert_eq!(Given::default().password_or(|| Err::<Option<Password>, _>("locked")), Err("locked"));
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
