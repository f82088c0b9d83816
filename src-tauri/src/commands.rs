//! The window's IPC commands: thin wrappers that check their input and hand
//! the request to the controller, answering errors as `{code, message}`.

use onair_headless::control::Control;
use onair_headless::obs::Session;
use onair_headless::state::State;
use tokio::sync::{mpsc, oneshot};

use crate::changes::split_connect_url;
use crate::window::{
    ApiError, ConnectionsInput, ControlReply, SettingsInput, SettingsView, Snapshot, TestResult, WindowRequest,
};

/// What the window's commands hold on to.
pub struct AppState {
    /// For reading the state at once, without a round trip.
    pub session: Session,
    /// Everything else goes to the controller, on the window's own channel.
    pub window: mpsc::Sender<WindowRequest>,
}

/// Sends a request to the controller and waits for its answer.
async fn ask<T>(app: &AppState, make: impl FnOnce(oneshot::Sender<T>) -> WindowRequest) -> Result<T, ApiError> {
    let (reply, answer) = oneshot::channel();
    app.window.send(make(reply)).await.map_err(|_| ApiError::gone())?;
    answer.await.map_err(|_| ApiError::gone())
}

/// The longest password accepted from the window.
const MAX_PASSWORD: usize = 1024;

#[tauri::command]
pub fn get_state(app: tauri::State<'_, AppState>) -> State {
    app.session.state().borrow().clone()
}

#[tauri::command]
pub async fn get_snapshot(app: tauri::State<'_, AppState>) -> Result<Snapshot, ApiError> {
    ask(&app, WindowRequest::Snapshot).await
}

/// Refuses what cannot be an obs-websocket password.
pub fn check_password(password: &str) -> Result<(), ApiError> {
    if password.is_empty() {
        return Err(ApiError::invalid(Some("password"), "the password is empty; use Clear password to remove it"));
    }
    if password.len() > MAX_PASSWORD || password.contains(['\n', '\r', '\0']) {
        return Err(ApiError::invalid(Some("password"), "that does not look like an OBS WebSocket password"));
    }
    Ok(())
}

#[tauri::command]
pub async fn save_settings(
    app: tauri::State<'_, AppState>,
    mut settings: SettingsInput,
) -> Result<SettingsView, ApiError> {
    // OBS's obsws:// URL pasted into the host field: its password is saved like a typed one.
    split_connect_url(&mut settings.host, &mut settings.port, &mut settings.password)?;
    // An empty field means "no new password", as the form's other password buttons do.
    if let Some(password) = settings.password.as_deref().filter(|p| !p.is_empty()) {
        check_password(password)?;
    }
    ask(&app, |reply| WindowRequest::SaveSettings(settings, reply)).await?
}

/// The OBS list: the first OBS's name and the others (with write-only passwords).
#[tauri::command]
pub async fn save_connections(
    app: tauri::State<'_, AppState>,
    connections: ConnectionsInput,
) -> Result<SettingsView, ApiError> {
    ask(&app, |reply| WindowRequest::SaveConnections(connections, reply)).await?
}

/// Shows this OBS (its index in the settings' list) in the window from now on.
#[tauri::command]
pub async fn show_connection(app: tauri::State<'_, AppState>, index: usize) -> Result<Snapshot, ApiError> {
    ask(&app, |reply| WindowRequest::ShowConnection(index, reply)).await?
}

#[tauri::command]
pub async fn set_password(app: tauri::State<'_, AppState>, password: String) -> Result<SettingsView, ApiError> {
    check_password(&password)?;
    ask(&app, |reply| WindowRequest::SetPassword(password, reply)).await?
}

#[tauri::command]
pub async fn clear_password(app: tauri::State<'_, AppState>) -> Result<SettingsView, ApiError> {
    ask(&app, WindowRequest::ClearPassword).await?
}

/// Yes to the first-run offer of OBS's own settings; the answer says where OnAir connects now.
#[tauri::command]
pub async fn use_obs_settings(app: tauri::State<'_, AppState>) -> Result<String, ApiError> {
    ask(&app, WindowRequest::UseObsSettings).await?
}

#[tauri::command]
pub async fn test_connection(
    app: tauri::State<'_, AppState>,
    mut host: String,
    mut port: i64,
    mut password: Option<String>,
) -> Result<TestResult, ApiError> {
    split_connect_url(&mut host, &mut port, &mut password)?;
    if password.as_ref().is_some_and(|p| p.len() > MAX_PASSWORD) {
        return Err(ApiError::invalid(Some("password"), "that does not look like an OBS WebSocket password"));
    }
    ask(&app, |reply| WindowRequest::TestConnection { host, port, password, reply }).await?
}

/// Sends one control. `scene` is the action's argument, whatever it names: the
/// scene for `switch-scene`, the input for `mute-on`, `mute-off` and
/// `toggle-mute` (the window's mic buttons send their `input` in it).
#[tauri::command]
pub async fn control(
    app: tauri::State<'_, AppState>,
    action: String,
    scene: Option<String>,
) -> Result<ControlReply, ApiError> {
    let control = Control::parse(&action, scene.as_deref())?;
    ask(&app, |reply| WindowRequest::Control(control, reply)).await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_gets_a_bad_action_back_as_invalid_input() {
        let refused = |action: &str, scene: Option<&str>| ApiError::from(Control::parse(action, scene).unwrap_err());
        assert_eq!(refused("rm -rf", None).code, "invalid-input");
        assert_eq!(refused("switch-scene", None).code, "invalid-input");
        assert_eq!(refused("switch-scene", Some(&"x".repeat(10_000))).code, "invalid-input");
    }
}

/// The commands through Tauri's IPC, on the mock runtime (no display needed).
#[cfg(test)]
mod ipc_tests {
    use super::*;
    use crate::controller::{Controller, ControllerParts, Inboxes};
    use crate::integration::fake::FakeDesktop;
    use onair_headless::obs::SessionConfig;
    use onair_headless::settings::{KeyringWorker, MemoryStore, PasswordStore, RunOverride, Settings, Target};
    use std::sync::Arc;
    use tauri::ipc::InvokeBody;
    use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
    use tauri::webview::InvokeRequest;

    /// The commands wired to a real controller (with a fake desktop) and a
    /// session that waits for an OBS that is not there.
    fn app() -> tauri::App<tauri::test::MockRuntime> {
        app_saving_to(None)
    }

    /// [`app`], saving the settings to this file.
    fn app_saving_to(
        settings_file: Option<onair_headless::settings::SettingsFile>,
    ) -> tauri::App<tauri::test::MockRuntime> {
        // Port 9 (discard) on loopback: nothing answers, so the session waits for OBS.
        let mut settings = Settings::default();
        (settings.host, settings.port) = ("127.0.0.1".into(), 9);
        let config = SessionConfig::new(Target::new("127.0.0.1", 9), None);
        let (window, window_rx) = mpsc::channel(8);
        let session = tauri::async_runtime::block_on(async move {
            let (session, moments, _task) = Session::spawn_subscribed(config);
            let store: Arc<dyn PasswordStore> = Arc::new(MemoryStore::default());
            let parts = ControllerParts {
                settings,
                settings_file,
                run: RunOverride::default(),
                keyring: KeyringWorker::start(Arc::clone(&store)),
                store,
                password: None,
                password_stored: Some(false),
                history: None,
            };
            let controller = Controller::new(FakeDesktop::default(), session.clone(), parts);
            let (desktop_tx, desktop) = mpsc::channel(1);
            tauri::async_runtime::spawn(async move {
                let _desktop_stays_open = desktop_tx;
                controller.run(Inboxes { desktop, window: window_rx, moments }).await;
            });
            session
        });
        mock_builder()
            .manage(AppState { session, window })
            .invoke_handler(tauri::generate_handler![
                get_state,
                control,
                save_settings,
                test_connection,
                use_obs_settings
            ])
            // The real context, so the real capabilities (ACL) apply.
            .build(tauri::generate_context!("../tauri.conf.json"))
            .expect("mock app")
    }

    fn invoke(
        app: &tauri::App<tauri::test::MockRuntime>,
        cmd: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        invoke_from(app, "main", cmd, body)
    }

    fn invoke_from(
        app: &tauri::App<tauri::test::MockRuntime>,
        window: &str,
        cmd: &str,
        body: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        use tauri::Manager;
        let webview = match app.get_webview_window(window) {
            Some(existing) => existing,
            None => tauri::WebviewWindowBuilder::new(app, window, Default::default()).build().expect("mock window"),
        };
        let request = InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: "tauri://localhost".parse().expect("url"),
            body: InvokeBody::Json(body),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        };
        get_ipc_response(&webview, request).map(|r| r.deserialize::<serde_json::Value>().expect("json"))
    }

    #[test]
    fn get_state_says_where_it_waits_and_never_claims_live() {
        let app = app();
        let state = invoke(&app, "get_state", serde_json::json!({})).expect("state");
        assert_eq!(state["target"], "127.0.0.1:9");
        assert!(state["obs"].is_null(), "{state}");
    }

    #[test]
    fn control_refuses_bad_input_and_reports_not_connected_as_code_and_message() {
        let app = app();
        let err = invoke(&app, "control", serde_json::json!({"action": "format-disk"})).unwrap_err();
        assert_eq!(err["code"], "invalid-input", "{err}");
        let err = invoke(&app, "control", serde_json::json!({"action": "start-stream"})).unwrap_err();
        assert_eq!(err["code"], "not-connected", "{err}");
        assert!(err["message"].as_str().unwrap_or_default().starts_with("not connected to OBS"), "{err}");
        // A mic's mute button sends its input as the argument; without one it is refused.
        let err = invoke(&app, "control", serde_json::json!({"action": "mute-on"})).unwrap_err();
        assert_eq!(err["code"], "invalid-input", "{err}");
        let err = invoke(&app, "control", serde_json::json!({"action": "mute-on", "scene": "Mic/Aux"})).unwrap_err();
        assert_eq!(err["code"], "not-connected", "{err}");
    }

    #[test]
    fn obss_obsws_url_pasted_as_the_host_saves_host_port_and_password_and_tests_the_same() {
        let dir = std::env::temp_dir().join(format!("onair-ipc-connect-url-{}", std::process::id()));
        let path = dir.join("settings.toml");
        let app = app_saving_to(Some(onair_headless::settings::SettingsFile::load(&path).file));
        let settings = serde_json::json!({
            "host": "obsws://127.0.0.1:19/s%2Fcret",
            "port": 4455,
            "password": null,
            "hotkeys": {"enabled": false},
            "confirm_stop_stream": false,
            "start_on_login": false,
        });
        let view = invoke(&app, "save_settings", serde_json::json!({ "settings": settings })).expect("saved");
        assert_eq!((view["host"].as_str(), view["port"].as_u64()), (Some("127.0.0.1"), Some(19)), "{view}");
        assert_eq!(view["password_stored"], true, "the URL's password is stored with them: {view}");
        assert!(!view.to_string().contains("cret"), "the password is never sent back: {view}");
        let saved = onair_headless::settings::read_connection(&path);
        assert_eq!((saved.host.as_str(), saved.port), ("127.0.0.1", 19));
        let written = std::fs::read_to_string(&path).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!written.contains("cret") && !written.contains("obsws"), "{written}");
        // Nothing listens on loopback's port 9: the test says why, by its cause.
        let tested = invoke(&app, "test_connection", serde_json::json!({"host": "obsws://127.0.0.1:9", "port": 1}))
            .expect("tested");
        assert_eq!(tested["reachable"], false, "{tested}");
        let message = tested["message"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("OBS at 127.0.0.1:9: OBS is not running, or its WebSocket server is off"),
            "{message}"
        );
        let bad = serde_json::json!({"host": "obsws://127.0.0.1/secret", "port": 1});
        let err = invoke(&app, "test_connection", bad).unwrap_err();
        assert_eq!((err["code"].as_str(), err["field"].as_str()), (Some("invalid-input"), Some("host")), "{err}");
    }

    #[test]
    fn use_obs_settings_is_allowed_and_without_an_offer_says_so() {
        let app = app();
        let err = invoke(&app, "use_obs_settings", serde_json::json!({})).unwrap_err();
        assert_eq!(err["code"], "no-offer", "{err}");
        let err = invoke_from(&app, "intruder", "use_obs_settings", serde_json::json!({})).unwrap_err();
        assert!(err.as_str().unwrap_or_default().contains("not allowed"), "{err}");
    }

    #[test]
    fn only_the_main_window_may_call_the_commands() {
        let app = app();
        let err = invoke_from(&app, "intruder", "get_state", serde_json::json!({})).unwrap_err();
        assert!(err.as_str().unwrap_or_default().contains("not allowed"), "{err}");
    }
}
