//! A change of the settings or the password, from the window's form to the
//! session: planned on the controller's task, carried out off it (the keyring
//! and the disk can block, and a locked keyring's prompt can wait for
//! minutes), then applied in one step, so the session never connects to a new
//! OBS with the old one's password. Also "Test connection", which must not
//! wait on the controller either.

use std::time::Duration;

use onair_headless::connect::{self, Cause};
use onair_headless::desktop::{normalize_hotkey, HotkeyAction};
use onair_headless::settings::{
    looks_like_connect_url, parse_connect_url, validate_host, validate_port, Connection, KeyringWorker, Password,
    PendingCall, RunOverride, Settings, SettingsFile, StoreError, Target,
};
use onair_headless::state::MomentKind;

use crate::window::{ApiError, ConnectionsInput, Reply, SettingsInput, SettingsView, TestResult};

/// A change of the settings or the password: worked out on the controller's task,
/// carried out off it (the keyring and the disk can block), then applied to
/// the session in one step.
#[derive(Debug)]
pub struct Change {
    /// The form's settings, when the form was saved.
    pub settings: Option<Settings>,
    pub run: RunOverride,
    /// The OBS after the change.
    pub target: Result<Target, String>,
    pub password: PasswordStep,
}

/// What a change does with the password.
#[derive(Debug)]
pub enum PasswordStep {
    /// Same OBS, no new password: the session keeps its own.
    Keep,
    /// Store this one for the change's OBS, and connect with it.
    Store(Password),
    /// Remove the stored one, and connect without.
    Clear,
    /// Another OBS: connect with what the keyring holds for it.
    LookUp,
}

/// What carrying out a change found.
#[derive(Debug, Default)]
pub struct Carried {
    /// The settings file as saved.
    pub file: Option<SettingsFile>,
    /// The password for the change's OBS (unused with [`PasswordStep::Keep`]).
    pub password: Option<Password>,
    /// Whether the keyring holds one for it, if known.
    pub stored: Option<bool>,
    /// A lookup the keyring did not answer in time; its answer is used when it comes.
    pub late: Option<PendingCall<Option<Password>>>,
    /// Something the user should hear about, though the change went through.
    pub warning: Option<String>,
}

/// A change carried out, back on the controller's task.
#[derive(Debug)]
pub struct ChangeDone {
    pub change: Change,
    pub outcome: Result<Carried, ApiError>,
    /// A password store that timed out (so the change failed) but may still go through.
    pub late_store: Option<PendingCall<()>>,
    pub reply: Reply<SettingsView>,
}

/// Checks the form and builds the settings it asks for, with what stays
/// overridden for this run; each refusal names its field. A host or port the
/// form shows from the command line is not written unless the user changed it.
pub fn settings_from_input(
    current: &Settings,
    run: &RunOverride,
    input: SettingsInput,
) -> Result<(Settings, RunOverride), ApiError> {
    let mut settings = current.clone();
    let host = validate_host(&input.host).map_err(|e| ApiError::invalid(Some("host"), e))?;
    let port = validate_port(input.port).map_err(|e| ApiError::invalid(Some("port"), e))?;
    let ((host, port), run) = run.after_save((&current.host, current.port), (&host, port));
    (settings.host, settings.port) = (host, port);
    for (kind, on) in input.notifications {
        if MomentKind::from_wire_name(&kind).is_none() {
            return Err(ApiError::invalid(
                Some(&format!("notifications.{kind}")),
                format!("{kind:?} is not a notification kind"),
            ));
        }
        settings.notifications.insert(kind, on);
    }
    settings.hotkeys.enabled = input.hotkeys.enabled;
    let mut seen: Vec<(String, HotkeyAction)> = Vec::new();
    for (key, binding) in input.hotkeys.bindings {
        let action = HotkeyAction::from_wire_name(&key).ok_or_else(|| {
            ApiError::invalid(Some(&format!("hotkeys.{key}")), format!("{key:?} is not a hotkey action"))
        })?;
        let field = format!("hotkeys.{}", action.wire_name());
        let binding = match binding.filter(|b| !b.trim().is_empty()) {
            None => None,
            Some(b) => Some(normalize_hotkey(&b).map_err(|e| ApiError::invalid(Some(&field), e))?),
        };
        if let Some(b) = &binding {
            if let Some((_, other)) = seen.iter().find(|(existing, _)| existing == b) {
                return Err(ApiError::invalid(Some(&field), format!("{b} is already used for {}", other.label())));
            }
            seen.push((b.clone(), action));
        }
        settings.hotkeys.bindings.insert(action, binding);
    }
    settings.confirm_stop_stream = input.confirm_stop_stream;
    settings.start_on_login = input.start_on_login;
    Ok((settings, run))
}

/// Does a change's keyring and file work, each within `limit`. The password
/// comes first: the settings must not point at an OBS whose new password
/// could not be stored.
pub async fn carry_out(
    keyring: &KeyringWorker,
    limit: Duration,
    file: Option<SettingsFile>,
    change: &Change,
    late_store: &mut Option<PendingCall<()>>,
) -> Result<Carried, ApiError> {
    let mut carried = Carried::default();
    let target = || change.target.clone().map_err(|e| ApiError::invalid(Some("host"), e));
    match &change.password {
        PasswordStep::Keep => {}
        PasswordStep::Store(password) => {
            let mut call = keyring.set(&target()?, password);
            match call.within(limit).await {
                Ok(()) => {}
                Err(error @ StoreError::TimedOut(_)) => {
                    *late_store = Some(call);
                    let mut error = keyring_error(error);
                    error.message.push_str(" If it answers later, the password is stored and used then.");
                    return Err(error);
                }
                Err(error) => return Err(keyring_error(error)),
            }
            carried.password = Some(password.clone());
            carried.stored = Some(true);
        }
        PasswordStep::Clear => {
            keyring.clear(&target()?).within(limit).await.map_err(keyring_error)?;
            carried.stored = Some(false);
        }
        PasswordStep::LookUp => {
            if let Ok(target) = &change.target {
                let mut call = keyring.get(target);
                match call.within(limit).await {
                    Ok(password) => {
                        carried.stored = Some(password.is_some());
                        carried.password = password;
                    }
                    Err(error @ StoreError::TimedOut(_)) => {
                        carried.warning = Some(format!(
                            "Reading the password for {target}: {error} OnAir connects without a password until it answers."
                        ));
                        carried.late = Some(call);
                    }
                    Err(error) => {
                        carried.warning = Some(format!("Cannot read the password for {target}: {error}."));
                    }
                }
            }
        }
    }
    if let (Some(mut file), Some(settings)) = (file, change.settings.clone()) {
        let path = file.path.display().to_string();
        let write = tokio::task::spawn_blocking(move || file.save(&settings).map(|()| file));
        let io = |message: String| ApiError { code: "io".into(), message, field: None };
        carried.file = Some(match tokio::time::timeout(limit, write).await {
            Ok(Ok(Ok(file))) => file,
            Ok(Ok(Err(message))) => return Err(io(message)),
            Ok(Err(e)) => return Err(io(format!("cannot write {path}: {e}"))),
            Err(_) => return Err(io(format!("writing {path} did not finish within {} s", limit.as_secs_f32()))),
        });
    }
    Ok(carried)
}

/// A keyring failure as the window shows it, next to the password field.
pub fn keyring_error(error: StoreError) -> ApiError {
    let code = if matches!(error, StoreError::TimedOut(_)) { "keyring-timeout" } else { "keyring-failed" };
    ApiError { code: code.into(), message: error.to_string(), field: Some("password".into()) }
}

/// "Test connection": can OnAir reach this OBS, and does the password work?
pub async fn test_connection(
    keyring: KeyringWorker,
    limit: Duration,
    host: String,
    port: i64,
    password: Option<String>,
) -> Result<TestResult, ApiError> {
    let host = validate_host(&host).map_err(|e| ApiError::invalid(Some("host"), e))?;
    let port = validate_port(port).map_err(|e| ApiError::invalid(Some("port"), e))?;
    let target = Target { host, port };
    let password = match password.filter(|p| !p.is_empty()) {
        Some(p) => Some(Password::new(p)),
        None => keyring.get(&target).within(limit).await.map_err(keyring_error)?,
    };
    let failed = |reachable: bool, message: String| TestResult {
        reachable,
        authenticated: false,
        obs_version: None,
        websocket_version: None,
        message,
    };
    Ok(match connect::command::check(&target, password.as_ref(), Duration::from_secs(4)).await {
        Ok(checked) => TestResult {
            reachable: true,
            authenticated: true,
            message: checked.to_string(),
            obs_version: checked.obs_version,
            websocket_version: Some(checked.websocket_version),
        },
        Err(error) => {
            let cause = error.cause();
            let why = cause.explain(&target).unwrap_or_else(|| error.to_string());
            let reachable = !matches!(cause, Cause::Refused | Cause::Unresolved | Cause::NoAnswer | Cause::Unreachable);
            failed(reachable, format!("OBS at {target}: {why}"))
        }
    })
}

/// The OBS list from the window: the first OBS's name and the others, each
/// checked as the settings file's entries are (a name of 1 to 64 characters,
/// a host, a port, no name or address twice), with the typed passwords. An
/// `obsws://` URL in a host field is split as in the main form.
pub fn connections_from_input(
    current: &Settings,
    input: ConnectionsInput,
) -> Result<(Settings, Vec<(Target, Password)>), ApiError> {
    let mut settings = current.clone();
    let name = |field: &str, name: Option<String>| -> Result<Option<String>, ApiError> {
        match name.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(n) if n.chars().count() > 64 => Err(ApiError::invalid(Some(field), "a name is at most 64 characters")),
            Some(n) => Ok(Some(n.to_string())),
        }
    };
    settings.name = name("first_name", input.first_name)?;
    let first = Connection::named(settings.name.as_deref(), &settings.host, settings.port);
    let mut list = vec![first];
    let mut typed = Vec::new();
    for (i, row) in input.more.into_iter().enumerate() {
        let field = |key: &str| format!("more.{i}.{key}");
        let (mut host, mut port, mut password) = (row.host, row.port, row.password);
        split_connect_url(&mut host, &mut port, &mut password)
            .map_err(|e| ApiError { field: Some(field("host")), ..e })?;
        let host = validate_host(&host).map_err(|e| ApiError::invalid(Some(&field("host")), e))?;
        let port = validate_port(port).map_err(|e| ApiError::invalid(Some(&field("port")), e))?;
        let connection = Connection::named(name(&field("name"), row.name)?.as_deref(), &host, port);
        if let Some(same) = list.iter().find(|c| c.name.to_lowercase() == connection.name.to_lowercase()) {
            let message = format!("another OBS is already called \"{}\"", same.name);
            return Err(ApiError::invalid(Some(&field("name")), message));
        }
        if let Some(same) = list.iter().find(|c| c.host.eq_ignore_ascii_case(&host) && c.port == port) {
            let message = format!("\"{}\" already connects to {host}:{port}", same.name);
            return Err(ApiError::invalid(Some(&field("port")), message));
        }
        if let Some(password) = password.filter(|p| !p.is_empty()) {
            crate::commands::check_password(&password).map_err(|e| ApiError { field: Some(field("password")), ..e })?;
            typed.push((Target { host: host.clone(), port }, Password::new(password)));
        }
        list.push(connection);
    }
    settings.more_connections = list.split_off(1);
    Ok((settings, typed))
}

/// The `obsws://HOST:PORT[/PASSWORD]` URL of OBS's Show Connect Info, pasted
/// into the host field, split into the form's host, port and password (the
/// URL's password replaces a typed one). Anything else is left as typed.
pub fn split_connect_url(host: &mut String, port: &mut i64, password: &mut Option<String>) -> Result<(), ApiError> {
    if !looks_like_connect_url(host) {
        return Ok(());
    }
    let url = parse_connect_url(host).map_err(|e| ApiError::invalid(Some("host"), e))?;
    *host = url.target.host;
    *port = i64::from(url.target.port);
    if let Some(from_url) = url.password {
        *password = Some(from_url.expose().to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::window::HotkeysInput;
    use std::collections::BTreeMap;

    fn from_form(input: SettingsInput) -> Result<Settings, ApiError> {
        settings_from_input(&Settings::default(), &RunOverride::default(), input).map(|(settings, _)| settings)
    }

    fn input() -> SettingsInput {
        SettingsInput {
            host: "studio.lan".into(),
            port: 4456,
            password: None,
            notifications: BTreeMap::from([("recording-paused".to_string(), false)]),
            hotkeys: HotkeysInput {
                enabled: true,
                bindings: BTreeMap::from([("toggle-stream".to_string(), Some("ctrl+alt+f9".to_string()))]),
            },
            confirm_stop_stream: true,
            start_on_login: false,
        }
    }

    #[test]
    fn a_good_form_becomes_settings_with_canonical_bindings() {
        let settings = from_form(input()).unwrap();
        assert_eq!((settings.host.as_str(), settings.port), ("studio.lan", 4456));
        assert!(!settings.notifies(MomentKind::RecordingPaused));
        assert!(settings.notifies(MomentKind::Live));
        assert_eq!(settings.hotkeys.binding(HotkeyAction::ToggleStream).as_deref(), Some("Ctrl+Alt+F9"));
        assert!(settings.hotkeys.enabled && settings.confirm_stop_stream);
    }

    #[test]
    fn each_refusal_names_its_field() {
        let field = |f: fn(&mut SettingsInput)| {
            let mut i = input();
            f(&mut i);
            from_form(i).unwrap_err().field.unwrap_or_default()
        };
        assert_eq!(field(|i| i.port = 0), "port");
        assert_eq!(field(|i| i.port = 70_000), "port");
        assert_eq!(field(|i| i.host = "ws://x".into()), "host");
        assert_eq!(field(|i| i.host = String::new()), "host");
        assert_eq!(
            field(|i| {
                i.notifications.insert("nonsense".into(), true);
            }),
            "notifications.nonsense"
        );
        assert_eq!(
            field(|i| {
                i.hotkeys.bindings.insert("save-replay".into(), Some("Ctrl+Banana".into()));
            }),
            "hotkeys.save-replay"
        );
        assert_eq!(
            field(|i| {
                i.hotkeys.bindings.insert("launch-rockets".into(), None);
            }),
            "hotkeys.launch-rockets"
        );
    }

    #[test]
    fn a_connect_url_in_the_host_field_is_split_into_host_port_and_password() {
        let (mut host, mut port, mut password) = ("obsws://192.168.1.20:4460/s%2Fcret".to_string(), 4455, None);
        split_connect_url(&mut host, &mut port, &mut password).unwrap();
        assert_eq!((host.as_str(), port, password.as_deref()), ("192.168.1.20", 4460, Some("s/cret")));
        // Without a password in it, a typed one stays.
        let (mut host, mut port, mut password) = ("obsws://studio.lan:4461".to_string(), 4455, Some("typed".into()));
        split_connect_url(&mut host, &mut port, &mut password).unwrap();
        assert_eq!((host.as_str(), port, password.as_deref()), ("studio.lan", 4461, Some("typed")));
        // A plain host is left for the usual checks.
        let (mut host, mut port, mut password) = ("ws://x".to_string(), 4455, None);
        split_connect_url(&mut host, &mut port, &mut password).unwrap();
        assert_eq!(host, "ws://x");
        let mut host = "obsws://studio.lan/secret".to_string();
        let error = split_connect_url(&mut host, &mut port, &mut password).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("host"));
        assert!(!error.message.contains("secret"), "{}", error.message);
    }

    #[test]
    fn two_actions_on_one_binding_are_refused() {
        let mut i = input();
        i.hotkeys.bindings.insert("save-replay".into(), Some("Ctrl+Alt+F9".into()));
        let err = from_form(i).unwrap_err();
        assert_eq!(err.code, "invalid-input");
        assert!(err.message.contains("already used"), "{}", err.message);
    }

    #[test]
    fn an_empty_binding_unbinds() {
        let mut i = input();
        i.hotkeys.bindings.insert("next-scene".into(), Some("  ".into()));
        let settings = from_form(i).unwrap();
        assert_eq!(settings.hotkeys.binding(HotkeyAction::NextScene), None);
    }

    #[test]
    fn an_obs_list_is_checked_row_by_row_with_the_field_named() {
        use crate::window::{ConnectionInput, ConnectionsInput};
        let row = |name: Option<&str>, host: &str, port: i64| ConnectionInput {
            name: name.map(String::from),
            host: host.into(),
            port,
            password: None,
        };
        let list = |more: Vec<ConnectionInput>| ConnectionsInput { first_name: Some(" Stream PC ".into()), more };
        let current = Settings::default();
        let (settings, typed) = connections_from_input(
            &current,
            ConnectionsInput {
                first_name: None,
                more: vec![row(None, "obsws://10.0.0.2:4460/s3cret", 4455), row(Some("Game PC"), "10.0.0.3", 4455)],
            },
        )
        .unwrap();
        let names: Vec<String> = settings.connections().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["localhost:4455", "10.0.0.2:4460", "Game PC"]);
        assert_eq!(typed.len(), 1, "the URL's password");
        assert_eq!((typed[0].0.to_string(), typed[0].1.expose()), ("10.0.0.2:4460".into(), "s3cret"));
        let field = |input| connections_from_input(&current, input).unwrap_err().field;
        assert_eq!(field(list(vec![row(Some("stream pc"), "10.0.0.2", 4455)])).as_deref(), Some("more.0.name"));
        assert_eq!(field(list(vec![row(None, "LOCALHOST", 4455)])).as_deref(), Some("more.0.port"));
        assert_eq!(field(list(vec![row(None, "a", 4455), row(None, "ws://b", 4455)])).as_deref(), Some("more.1.host"));
        assert_eq!(field(list(vec![row(None, "a", 0)])).as_deref(), Some("more.0.port"));
        let long = "x".repeat(65);
        assert_eq!(field(ConnectionsInput { first_name: Some(long), more: vec![] }).as_deref(), Some("first_name"));
        let (trimmed, _) = connections_from_input(&current, list(vec![])).unwrap();
        assert_eq!(trimmed.name.as_deref(), Some("Stream PC"));
    }
}
