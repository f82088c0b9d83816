//! `onair connect --from-obs [--obs-config DIR]` and `onair connect
//! obsws://HOST:PORT[/PASSWORD]`: OBS's address and password, taken from
//! where OBS itself says them, into OnAir's settings (the address, in the
//! settings file) and the keyring (the password, never a file, never
//! printed), then one connection to check them. Each step says what it did,
//! so a streamer sees where the settings came from and what is left to do.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::exit;
use crate::connect::Cause;
use crate::obs::{ClientOptions, ConnectError};
use crate::settings::obs_config::{self, FoundSettings, SettingsFormat};
use crate::settings::{parse_connect_url, save_connection, Password, PasswordStore, StoreError, Target};

/// Where the connection comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// OBS's own settings on this machine; `config_dir` replaces the folders looked in.
    FromObs { config_dir: Option<PathBuf> },
    /// The URL of OBS's Show Connect Info.
    Url(String),
}

/// What was found, before anything is saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub target: Target,
    pub password: Option<Password>,
    /// Where it came from, in words.
    pub origin: String,
    /// OBS's settings say its server is off.
    pub server_off: bool,
    /// OBS asks for a password but its settings hold none yet.
    pub password_unset: bool,
}

/// Reads the source: OBS's settings in `dirs` (or the folder given), or the URL.
pub fn find(source: &Source, dirs: impl FnOnce() -> Vec<PathBuf>) -> Result<Found, String> {
    match source {
        Source::Url(url) => {
            let url = parse_connect_url(url)?;
            Ok(Found {
                origin: "the obsws:// URL".into(),
                target: url.target,
                password: url.password,
                server_off: false,
                password_unset: false,
            })
        }
        Source::FromObs { config_dir } => {
            let dirs = config_dir.clone().map(|dir| vec![dir]).unwrap_or_else(dirs);
            let FoundSettings { settings, file, format } = obs_config::find(&dirs).map_err(|e| e.to_string())?;
            let version = match format {
                SettingsFormat::ConfigJson => "obs-websocket 5.5 or newer",
                SettingsFormat::GlobalIni => "obs-websocket 5.0 to 5.4",
            };
            Ok(Found {
                target: Target { host: crate::settings::DEFAULT_HOST.into(), port: settings.port },
                origin: format!("OBS's settings in {} ({version})", file.display()),
                server_off: !settings.enabled,
                password_unset: settings.auth_required && settings.password.is_none(),
                password: settings.password,
            })
        }
    }
}

/// The exit code for a connection that failed with `cause`, as the other
/// commands have it.
pub fn exit_code(cause: Cause) -> u8 {
    match cause {
        Cause::PasswordMissing | Cause::PasswordRejected => exit::AUTH,
        Cause::Incompatible => exit::INCOMPATIBLE,
        _ => exit::UNREACHABLE,
    }
}

/// Where `onair connect` saves what it found.
#[derive(Debug, Clone, Copy)]
pub struct Destination<'a> {
    /// OnAir's settings file (`None`: the system has no config folder).
    pub settings: Option<&'a Path>,
    /// The connection to save into, by its name (`--obs`); `None`: the first.
    pub connection: Option<&'a str>,
}

/// What a successful check saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// `None` when OBS did not say (GetVersion failed).
    pub obs_version: Option<String>,
    pub websocket_version: String,
    pub target: Target,
}

impl std::fmt::Display for Checked {
    /// `Connected to OBS 29.0.2 (obs-websocket 5.1.0) at localhost:4455`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let obs = self.obs_version.as_deref().unwrap_or("?");
        write!(f, "Connected to OBS {obs} (obs-websocket {}) at {}", self.websocket_version, self.target)
    }
}

/// One connection to OBS, closed again: what it saw, or why it failed.
pub async fn check(target: &Target, password: Option<&Password>, timeout: Duration) -> Result<Checked, ConnectError> {
    let options = ClientOptions { handshake_timeout: timeout, ..ClientOptions::default() };
    let connection = crate::obs::connect(&target.host, target.port, password.map(Password::expose), &options).await?;
    let obs_version = connection
        .client
        .request_as::<crate::obs::protocol::responses::Version>("GetVersion", None)
        .await
        .map(|v| v.obs_version)
        .ok();
    connection.client.close().await;
    Ok(Checked { obs_version, websocket_version: connection.hello.obs_web_socket_version, target: target.clone() })
}

/// `onair connect`: find, save, store, check. `into` says where to save;
/// `dirs` lists OBS's config folders (asked only for `--from-obs` without a
/// folder given).
pub async fn run(
    source: &Source,
    dirs: impl FnOnce() -> Vec<PathBuf>,
    into: Destination<'_>,
    store: &dyn PasswordStore,
    timeout: Duration,
) -> u8 {
    let found = match find(source, dirs) {
        Ok(found) => found,
        Err(message) => {
            eprintln!("onair: {message}");
            return exit::USAGE;
        }
    };
    let target = &found.target;
    let password_words = match (&found.password, found.password_unset) {
        (Some(_), _) => "with a password",
        (None, true) => "a password is asked for but none is set there yet",
        (None, false) => "no password asked for",
    };
    println!("Found OBS at {target} in {}: {password_words}", found.origin);
    let Some(settings) = into.settings else {
        eprintln!("onair: this system has no config folder for OnAir's settings; use --config PATH");
        return exit::USAGE;
    };
    if let Err(message) = save_connection(settings, target, into.connection) {
        eprintln!("onair: {message}");
        return exit::USAGE;
    }
    match into.connection {
        Some(name) => println!("Saved {target} as the connection \"{name}\" in {}", settings.display()),
        None => println!("Saved {target} in {}", settings.display()),
    }
    // The address is right whatever the keyring says: it stays saved, and the
    // check below uses the password for this run.
    let mut keyring_failed = false;
    if let Some(password) = &found.password {
        match tokio::task::block_in_place(|| store.set(target, password)) {
            Ok(()) => println!("Stored the password for OBS at {target} in the keyring"),
            Err(e) => {
                keyring_failed = true;
                let instead = match e {
                    StoreError::Unavailable(_) => "give it with ONAIR_PASSWORD or --password-stdin instead",
                    _ => "try again, or give it with ONAIR_PASSWORD or --password-stdin",
                };
                eprintln!("onair: {e}; the password was not stored: {instead}");
            }
        }
    }
    if found.password_unset {
        eprintln!(
            "onair: OBS asks for a password but none is set in its settings: set one in Tools › WebSocket Server Settings, then run this again"
        );
    }
    if found.server_off {
        eprintln!("onair: OBS's WebSocket server is off in its settings: in OBS, Tools › WebSocket Server Settings › Enable WebSocket server");
    }
    let code = match check(target, found.password.as_ref(), timeout).await {
        Ok(checked) => {
            println!("{checked}");
            exit::OK
        }
        Err(error) => {
            let cause = error.cause();
            let why = cause.explain(target).unwrap_or_else(|| error.to_string());
            if found.server_off && cause == Cause::Refused {
                eprintln!("onair: OBS at {target} refused the connection: turn its WebSocket server on as said above");
            } else {
                eprintln!("onair: cannot connect to OBS at {target}: {why}");
            }
            exit_code(cause)
        }
    };
    match (code, keyring_failed) {
        (exit::OK, true) => exit::NO_KEYRING,
        (code, _) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("onair-connect-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_url_gives_its_host_port_and_password() {
        let found = find(&Source::Url("obsws://192.168.1.20:4460/s%3Dcret".into()), || unreachable!()).unwrap();
        assert_eq!(found.target, Target::new("192.168.1.20", 4460).unwrap());
        assert_eq!(found.password.as_ref().map(Password::expose), Some("s=cret"));
        assert!(!found.server_off && !found.password_unset);
        assert!(find(&Source::Url("obsws://h/x".into()), Vec::new).unwrap_err().contains("no port"));
    }

    #[test]
    fn obss_settings_give_localhost_their_port_and_what_is_off() {
        let dir = temp_dir("from-obs");
        std::fs::write(
            dir.join("global.ini"),
            "[OBSWebSocket]\nServerEnabled=false\nServerPort=4461\nAuthRequired=true\n",
        )
        .unwrap();
        let given = Source::FromObs { config_dir: Some(dir.clone()) };
        let found = find(&given, || unreachable!("the folder given is the only one looked in")).unwrap();
        assert_eq!(found.target, Target::new("localhost", 4461).unwrap());
        assert!(found.server_off && found.password_unset && found.password.is_none());
        assert!(found.origin.contains("global.ini"), "{}", found.origin);
        let looked = find(&Source::FromObs { config_dir: None }, || vec![dir.join("nothing-here")]).unwrap_err();
        assert!(looked.contains("nothing-here") && looked.contains("--obs-config"), "{looked}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn exit_codes_follow_the_other_commands() {
        assert_eq!(exit_code(Cause::Refused), exit::UNREACHABLE);
        assert_eq!(exit_code(Cause::NoAnswer), exit::UNREACHABLE);
        assert_eq!(exit_code(Cause::PasswordRejected), exit::AUTH);
        assert_eq!(exit_code(Cause::PasswordMissing), exit::AUTH);
        assert_eq!(exit_code(Cause::Incompatible), exit::INCOMPATIBLE);
    }
}
