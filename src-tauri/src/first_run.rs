//! The tray app's first start: with no settings file yet, OBS's own WebSocket
//! settings found on this machine (the ones `onair connect --from-obs` reads)
//! are offered, in a notification with a "Use OBS's settings" button and in a
//! card in the window. Nothing of them reaches OnAir's settings file or the
//! keyring until the user says yes: the offer holds where they were found and
//! what they say (port, whether a password is set, whether the server is on),
//! never the password, and a yes reads OBS's files again, so what is used is
//! what OBS has then.
//!
//! Here: when to look and what was found ([`offer_at_start`]), the offer as
//! the window and the notification say it, and the yes carried out off the
//! controller's task ([`adopt`]): the password to the keyring and the address
//! to the settings file, each within its time limit, each failure kept apart
//! so the other still happens. The controller's side is `controller/obs_offer.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use onair_headless::connect::command::{self as connect, Found, Source};
use onair_headless::settings::obs_config;
use onair_headless::settings::{
    save_connection, KeyringWorker, Password, PendingCall, RunOverride, Settings, SettingsFile, StoreError, Target,
};
use serde::Serialize;

/// The notification's kind and slot: category `x-onair.setup`.
pub const SETUP_KIND: &str = "setup";

/// Where OBS says to turn its server on.
pub const ENABLE_SERVER: &str = "Tools › WebSocket Server Settings › Enable WebSocket server";

/// OBS's settings found at the start, as offered: no password in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObsOffer {
    /// The OBS config folder they are in, read again on yes.
    pub dir: PathBuf,
    /// "OBS's settings in /home/x/.config/obs-studio/global.ini (obs-websocket 5.0 to 5.4)".
    pub origin: String,
    pub port: u16,
    /// OBS's settings hold a password (which OnAir would store).
    pub password_set: bool,
    /// OBS asks for a password but none is set there yet.
    pub password_unset: bool,
    /// OBS's WebSocket server is off in its settings.
    pub server_off: bool,
}

impl ObsOffer {
    fn of(dir: &Path, found: &Found) -> ObsOffer {
        ObsOffer {
            dir: dir.to_path_buf(),
            origin: found.origin.clone(),
            port: found.target.port,
            password_set: found.password.is_some(),
            password_unset: found.password_unset,
            server_off: found.server_off,
        }
    }

    /// Where OnAir would connect: OBS on this machine.
    pub fn target(&self) -> Target {
        Target { host: onair_headless::settings::DEFAULT_HOST.into(), port: self.port }
    }

    /// "port 4455, with a password" and its kin.
    fn what(&self) -> String {
        let password = if self.password_set {
            "with a password (OnAir keeps it in the keyring)"
        } else if self.password_unset {
            "OBS asks for a password but none is set there yet"
        } else {
            "no password asked for"
        };
        format!("port {}, {password}", self.port)
    }

    /// The sentence for a server that is off, if it is.
    fn server_note(&self) -> Option<String> {
        self.server_off.then(|| format!("OBS's WebSocket server is off: in OBS, {ENABLE_SERVER}."))
    }

    /// The offer as the window's first-run card shows it.
    pub fn view(&self, problem: Option<&str>) -> ObsOfferView {
        ObsOfferView {
            found: format!("Found {} on this machine: {}.", self.origin, self.what()),
            port: self.port,
            password_set: self.password_set,
            server_off: self.server_off,
            enable: self.server_note(),
            problem: problem.map(String::from),
        }
    }

    /// The notification's summary and body.
    pub fn notice(&self) -> (String, String) {
        let mut body = format!("Found {}: {}.", self.origin, self.what());
        if let Some(note) = self.server_note() {
            body.push(' ');
            body.push_str(&note);
        }
        body.push_str(" Nothing is saved until you say so, here or in OnAir's window.");
        ("Use OBS's own settings?".to_string(), body)
    }
}

/// The first-run card: what was found, in words, with the facts the window
/// may style by. Never the password, only whether there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObsOfferView {
    /// "Found OBS's settings in FILE (obs-websocket ...) on this machine: port 4455, with a password ...".
    pub found: String,
    pub port: u16,
    pub password_set: bool,
    pub server_off: bool,
    /// How to turn OBS's server on, when it is off.
    pub enable: Option<String>,
    /// Why the last yes did not save everything, if it did not.
    pub problem: Option<String>,
}

/// The offer at the tray app's start: only when the settings file in use does
/// not exist yet (`settings_path`), not in the demo, not with `--host` or
/// `--port` given, and only when OBS's settings are found in one of OBS's
/// config folders. Reads only OBS's files; a folder whose file cannot be read
/// is logged and nothing offered.
pub fn offer_at_start(settings_path: Option<&Path>, demo: bool, run: &RunOverride) -> Option<ObsOffer> {
    offer_when(settings_path, demo, run, obs_config::config_dirs)
}

/// [`offer_at_start`] with OBS's config folders from `dirs` (asked only when
/// the start is a first one).
pub fn offer_when(
    settings_path: Option<&Path>,
    demo: bool,
    run: &RunOverride,
    dirs: impl FnOnce() -> Vec<PathBuf>,
) -> Option<ObsOffer> {
    let path = settings_path?;
    if demo || !run.is_empty() || path.exists() {
        return None;
    }
    offer_in(&dirs())
}

/// The offer from the first of OBS's config folders `dirs` that holds its settings.
pub fn offer_in(dirs: &[PathBuf]) -> Option<ObsOffer> {
    for dir in dirs {
        match obs_config::read_dir(dir) {
            Ok(None) => continue,
            Ok(Some(_)) => {
                return match read_again(dir) {
                    Ok(found) => {
                        tracing::info!(origin = %found.origin, "first start: offering OBS's own WebSocket settings");
                        Some(ObsOffer::of(dir, &found))
                    }
                    Err(why) => {
                        tracing::info!("first start: {why}");
                        None
                    }
                }
            }
            Err(why) => {
                tracing::info!("first start: nothing to offer: {why}");
                return None;
            }
        }
    }
    tracing::info!("first start: no OBS WebSocket settings on this machine to offer");
    None
}

/// OBS's settings in `dir`, as `onair connect --from-obs --obs-config DIR` reads them.
fn read_again(dir: &Path) -> Result<Found, String> {
    connect::find(&Source::FromObs { config_dir: Some(dir.to_path_buf()) }, Vec::new)
}

/// What became of the password on yes.
#[derive(Debug)]
pub enum KeyringStep {
    /// Stored for the target.
    Stored,
    /// OBS's settings hold none; what the keyring holds for the target, if it answered.
    NoneToStore(Result<Option<Password>, StoreError>),
    /// Could not be stored (or looked up); the session uses OBS's for this run.
    Failed(StoreError),
}

/// A yes carried out: what OBS's settings said then, and what the keyring and
/// the settings file did with them.
#[derive(Debug)]
pub struct Adoption {
    /// OBS's settings read again; an error when they are gone or unreadable
    /// (then nothing else was tried).
    pub found: Result<Found, String>,
    /// The settings to keep once the file holds them.
    pub settings: Settings,
    pub keyring: Option<KeyringStep>,
    /// The settings file as saved, or why it was not.
    pub file: Option<Result<SettingsFile, String>>,
    /// A store that timed out and may still go through.
    pub late_store: Option<PendingCall<()>>,
}

/// Carries out a yes, off the controller's task: reads OBS's settings in
/// `dir` again, stores their password for localhost:port (within `limit`),
/// then writes host `localhost` and the port into `settings` and the file's
/// `[obs]` table, the rest of the file kept (within `limit`). Each step is
/// tried whatever became of the other.
pub async fn adopt(
    keyring: &KeyringWorker,
    limit: Duration,
    dir: PathBuf,
    file: Option<SettingsFile>,
    mut settings: Settings,
) -> Adoption {
    let read = tokio::task::spawn_blocking(move || read_again(&dir));
    let found = match tokio::time::timeout(limit, read).await {
        Ok(Ok(found)) => found,
        Ok(Err(e)) => Err(format!("reading OBS's settings failed: {e}")),
        Err(_) => Err(format!("reading OBS's settings did not finish within {} s", limit.as_secs_f32())),
    };
    let Ok(target) = found.as_ref().map(|f| f.target.clone()) else {
        return Adoption { found, settings, keyring: None, file: None, late_store: None };
    };
    let mut late_store = None;
    let keyring_step = match found.as_ref().ok().and_then(|f| f.password.clone()) {
        Some(password) => {
            let mut call = keyring.set(&target, &password);
            match call.within(limit).await {
                Ok(()) => KeyringStep::Stored,
                Err(error @ StoreError::TimedOut(_)) => {
                    late_store = Some(call);
                    KeyringStep::Failed(error)
                }
                Err(error) => KeyringStep::Failed(error),
            }
        }
        None => KeyringStep::NoneToStore(keyring.get(&target).within(limit).await),
    };
    (settings.host, settings.port) = (target.host.clone(), target.port);
    let file = match file {
        None => Some(Err("this system has no config directory to save settings in".to_string())),
        Some(file) => {
            // Only `[obs]` is written, as `onair connect` does: the rest of the
            // settings stay defaults, not values frozen into the file.
            let path = file.path.clone();
            let shown = path.display().to_string();
            let to_save = target.clone();
            let write = tokio::task::spawn_blocking(move || {
                save_connection(&path, &to_save, None).map(|()| SettingsFile::load(&path).file)
            });
            Some(match tokio::time::timeout(limit, write).await {
                Ok(Ok(saved)) => saved,
                Ok(Err(e)) => Err(format!("cannot write {shown}: {e}")),
                Err(_) => Err(format!("writing {shown} did not finish within {} s", limit.as_secs_f32())),
            })
        }
    };
    Adoption { found, settings, keyring: Some(keyring_step), file, late_store }
}

/// This run's host and port when the file could not keep them.
pub fn run_override(target: &Target) -> RunOverride {
    RunOverride { host: Some(target.host.clone()), port: Some(i64::from(target.port)), source: "OBS's settings" }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempDir(PathBuf);
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn temp_dir(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("onair-first-run-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    const OBS_INI: &str =
        "[OBSWebSocket]\nServerEnabled=false\nServerPort=4461\nAuthRequired=true\nServerPassword=Zq8m2TcX4vBn\n";

    #[test]
    fn only_a_first_start_without_flags_or_demo_looks_for_obs() {
        let home = temp_dir("start");
        let obs = home.0.join("obs-studio");
        std::fs::create_dir_all(&obs).unwrap();
        std::fs::write(obs.join("global.ini"), OBS_INI).unwrap();
        let settings = home.0.join("onair/settings.toml");
        let none = RunOverride::default();
        let flags = RunOverride { port: Some(4456), ..RunOverride::default() };
        let obs_dirs = || vec![obs.clone()];
        let not_asked = || -> Vec<PathBuf> { panic!("OBS's folders are looked in at a first start only") };
        assert_eq!(offer_when(Some(&settings), false, &none, obs_dirs).map(|o| o.port), Some(4461));
        assert_eq!(offer_when(None, false, &none, not_asked), None, "nowhere to save");
        assert_eq!(offer_when(Some(&settings), true, &none, not_asked), None, "the demo");
        assert_eq!(offer_when(Some(&settings), false, &flags, not_asked), None, "--port given");
        std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
        std::fs::write(&settings, "").unwrap();
        assert_eq!(offer_when(Some(&settings), false, &none, not_asked), None, "a settings file");
    }

    #[test]
    fn the_offer_says_where_the_port_and_whether_a_password_is_set_never_the_password() {
        let dir = temp_dir("offer");
        let obs = dir.0.join("obs-studio");
        assert_eq!(offer_in(&[dir.0.join("none"), obs.clone()]), None, "no OBS settings anywhere");
        std::fs::create_dir_all(&obs).unwrap();
        std::fs::write(obs.join("global.ini"), OBS_INI).unwrap();
        let offer = offer_in(&[dir.0.join("none"), obs.clone()]).expect("an offer");
        assert_eq!((offer.dir.as_path(), offer.port), (obs.as_path(), 4461));
        assert!(offer.password_set && offer.server_off && !offer.password_unset);
        assert_eq!(offer.target(), Target::new("localhost", 4461).unwrap());
        let view = offer.view(None);
        assert!(view.found.contains(&obs.join("global.ini").display().to_string()), "{}", view.found);
        assert!(view.found.contains("port 4461, with a password"), "{}", view.found);
        assert_eq!(
            view.enable.as_deref(),
            Some("OBS's WebSocket server is off: in OBS, Tools › WebSocket Server Settings › Enable WebSocket server.")
        );
        let (summary, body) = offer.notice();
        assert_eq!(summary, "Use OBS's own settings?");
        assert!(body.contains("Enable WebSocket server"), "{body}");
        let words = format!("{offer:?} {} {body}", serde_json::to_string(&view).unwrap());
        assert!(!words.contains("Zq8m2TcX4vBn"), "{words}");

        // A server on, with no password asked for.
        std::fs::write(obs.join("global.ini"), "[OBSWebSocket]\nServerEnabled=true\nAuthRequired=false\n").unwrap();
        let offer = offer_in(&[obs]).expect("an offer");
        assert!(!offer.server_off && !offer.password_set);
        assert_eq!(offer.view(None).enable, None);
        assert!(offer.view(None).found.ends_with("port 4455, no password asked for."));
    }

    #[test]
    fn an_unreadable_obs_file_offers_nothing() {
        let dir = temp_dir("unreadable");
        let json = dir.0.join("plugin_config/obs-websocket/config.json");
        std::fs::create_dir_all(json.parent().unwrap()).unwrap();
        std::fs::write(&json, "{ not json").unwrap();
        assert_eq!(offer_in(std::slice::from_ref(&dir.0)), None);
    }
}
