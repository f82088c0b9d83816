//! The window's IPC commands: thin wrappers over the engine that validate their
//! input and answer errors as `{code, message}`.

use std::collections::BTreeMap;

use onair_headless::control::{Control, ControlError, ControlOutcome};
use onair_headless::obs::Session;
use onair_headless::state::{Noticed, State};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::core::AppCommand;

/// Every error the window can get: a stable code, a sentence for people, and
/// the form field it is about, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn invalid(field: Option<&str>, message: impl Into<String>) -> ApiError {
        ApiError { code: "invalid-input".into(), message: message.into(), field: field.map(String::from) }
    }

    fn gone() -> ApiError {
        ApiError { code: "not-running".into(), message: "OnAir is shutting down".into(), field: None }
    }
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        ApiError { code: e.code().to_string(), message: e.to_string(), field: None }
    }
}

/// What the window holds on to.
pub struct AppState {
    pub session: Session,
    /// The app core, for everything that touches settings or the keyring.
    pub core: mpsc::Sender<AppCommand>,
}

/// The settings as the window shows them. The password itself never leaves
/// the backend: only whether one is stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingsView {
    /// The host and port in use (a command-line override included, see `connection_note`).
    pub host: String,
    pub port: u16,
    /// Says which of host and port come from the command line for this run
    /// only, and what the settings file keeps; `None` when nothing is overridden.
    pub connection_note: Option<String>,
    /// Whether the keyring holds a password for `password_target` (false while unknown).
    pub password_stored: bool,
    /// The OBS the password belongs to: `host:port` in use.
    pub password_target: Option<String>,
    /// Why `password_stored` is not known (the keyring has not answered).
    pub password_note: Option<String>,
    pub keyring: KeyringView,
    pub notifications: BTreeMap<String, bool>,
    pub notification_kinds: Vec<NotificationKind>,
    pub hotkeys: HotkeysView,
    pub confirm_stop_stream: bool,
    pub start_on_login: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyringView {
    pub available: bool,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotificationKind {
    pub kind: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotkeysView {
    pub enabled: bool,
    /// Why hotkeys cannot work in this session (Wayland), if they cannot.
    pub unavailable: Option<String>,
    pub bindings: Vec<BindingView>,
    /// Bindings that could not be registered, by name.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BindingView {
    pub action: String,
    pub label: String,
    pub binding: Option<String>,
    pub default: String,
}

/// The settings form as the window sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct SettingsInput {
    pub host: String,
    pub port: i64,
    /// A new password for the host and port of this form, stored and used in
    /// the same step as the rest (so no attempt is made without it).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub notifications: BTreeMap<String, bool>,
    pub hotkeys: HotkeysInput,
    pub confirm_stop_stream: bool,
    pub start_on_login: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HotkeysInput {
    pub enabled: bool,
    #[serde(default)]
    pub bindings: BTreeMap<String, Option<String>>,
}

/// What "Test connection" found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestResult {
    pub reachable: bool,
    pub authenticated: bool,
    pub obs_version: Option<String>,
    pub websocket_version: Option<String>,
    pub message: String,
}

/// A moment as the window gets it, by event and in the snapshot. `seq` counts
/// this run's moments, so the window tells apart two of one kind in the same
/// millisecond and still drops the copy it gets both ways.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedMoment {
    pub seq: u64,
    #[serde(flatten)]
    pub noticed: Noticed,
}

impl LoggedMoment {
    /// The moment that follows `last` in the log.
    pub fn after(last: Option<&LoggedMoment>, noticed: Noticed) -> LoggedMoment {
        LoggedMoment { seq: last.map_or(1, |m| m.seq + 1), noticed }
    }
}

/// Everything the window needs when it opens.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    pub state: State,
    pub moments: Vec<LoggedMoment>,
    pub bitrate_history: Vec<BitrateSample>,
    pub settings: SettingsView,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BitrateSample {
    pub at_ms: u64,
    pub kbps: f64,
}

/// A request from the window that the core answers.
#[derive(Debug)]
pub enum WindowRequest {
    Snapshot(oneshot::Sender<Snapshot>),
    SaveSettings(SettingsInput, oneshot::Sender<Result<SettingsView, ApiError>>),
    SetPassword(String, oneshot::Sender<Result<SettingsView, ApiError>>),
    ClearPassword(oneshot::Sender<Result<SettingsView, ApiError>>),
    TestConnection {
        host: String,
        port: i64,
        password: Option<String>,
        reply: oneshot::Sender<Result<TestResult, ApiError>>,
    },
}

/// Sends a request to the core and waits for its answer.
async fn ask<T>(app: &AppState, make: impl FnOnce(oneshot::Sender<T>) -> WindowRequest) -> Result<T, ApiError> {
    let (reply, answer) = oneshot::channel();
    app.core.send(AppCommand::Window(make(reply))).await.map_err(|_| ApiError::gone())?;
    answer.await.map_err(|_| ApiError::gone())
}

/// The longest password accepted from the window.
const MAX_PASSWORD: usize = 1024;

/// The longest scene name accepted from the window (OBS allows long names, but
/// not kilobytes).
const MAX_SCENE_NAME: usize = 512;

/// Turns the window's words into a control, refusing anything else.
pub fn parse_control(action: &str, scene: Option<&str>) -> Result<Control, ApiError> {
    let invalid = |message: String| ApiError::invalid(None, message);
    Ok(match action {
        "start-stream" => Control::StartStream,
        "stop-stream" => Control::StopStream,
        "toggle-stream" => Control::ToggleStream,
        "start-recording" => Control::StartRecording,
        "stop-recording" => Control::StopRecording,
        "toggle-recording" => Control::ToggleRecording,
        "pause-recording" => Control::PauseRecording,
        "resume-recording" => Control::ResumeRecording,
        "start-replay-buffer" => Control::StartReplayBuffer,
        "stop-replay-buffer" => Control::StopReplayBuffer,
        "save-replay" => Control::SaveReplay,
        "start-virtual-camera" => Control::StartVirtualCamera,
        "stop-virtual-camera" => Control::StopVirtualCamera,
        "toggle-virtual-camera" => Control::ToggleVirtualCamera,
        "switch-scene" => {
            let name = scene.ok_or_else(|| invalid("switch-scene needs a scene name".into()))?;
            if name.trim().is_empty() || name.len() > MAX_SCENE_NAME {
                return Err(invalid(format!("a scene name must have 1 to {MAX_SCENE_NAME} characters")));
            }
            Control::SwitchScene(name.to_string())
        }
        other => return Err(invalid(format!("unknown action {:?}", other.chars().take(64).collect::<String>()))),
    })
}

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
pub async fn save_settings(app: tauri::State<'_, AppState>, settings: SettingsInput) -> Result<SettingsView, ApiError> {
    // An empty field means "no new password", as the form's other password buttons do.
    if let Some(password) = settings.password.as_deref().filter(|p| !p.is_empty()) {
        check_password(password)?;
    }
    ask(&app, |reply| WindowRequest::SaveSettings(settings, reply)).await?
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

#[tauri::command]
pub async fn test_connection(
    app: tauri::State<'_, AppState>,
    host: String,
    port: i64,
    password: Option<String>,
) -> Result<TestResult, ApiError> {
    if password.as_ref().is_some_and(|p| p.len() > MAX_PASSWORD) {
        return Err(ApiError::invalid(Some("password"), "that does not look like an OBS WebSocket password"));
    }
    ask(&app, |reply| WindowRequest::TestConnection { host, port, password, reply }).await?
}

#[tauri::command]
pub async fn control(
    app: tauri::State<'_, AppState>,
    action: String,
    scene: Option<String>,
) -> Result<ControlOutcome, ApiError> {
    let control = parse_control(&action, scene.as_deref())?;
    app.session.control(control).await.map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_actions_parse_and_anything_else_is_refused() {
        assert_eq!(parse_control("start-stream", None).unwrap(), Control::StartStream);
        assert_eq!(parse_control("switch-scene", Some("Gameplay")).unwrap(), Control::SwitchScene("Gameplay".into()));
        assert_eq!(parse_control("rm -rf", None).unwrap_err().code, "invalid-input");
        assert_eq!(parse_control("switch-scene", None).unwrap_err().code, "invalid-input");
        assert_eq!(parse_control("switch-scene", Some("  ")).unwrap_err().code, "invalid-input");
        assert_eq!(parse_control("switch-scene", Some(&"x".repeat(10_000))).unwrap_err().code, "invalid-input");
    }

    #[test]
    fn two_moments_of_one_kind_in_one_millisecond_reach_the_window_as_two() {
        let noticed = Noticed { at_ms: 5, moment: onair_headless::state::Moment::RecordingPaused };
        let first = LoggedMoment::after(None, noticed.clone());
        let second = LoggedMoment::after(Some(&first), noticed);
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            serde_json::json!({"seq": 1, "at_ms": 5, "moment": "recording-paused"})
        );
        assert_eq!(serde_json::to_value(&second).unwrap()["seq"], 2);
    }

    #[test]
    fn errors_serialize_as_code_and_message() {
        let e = ApiError::from(ControlError::AlreadyActive(onair_headless::control::Output::Stream));
        assert_eq!(e.field, None);
        assert_eq!(
            serde_json::to_value(e).unwrap(),
            serde_json::json!({"code": "already-active", "message": "the stream is already live"})
        );
    }
}

/// The commands through Tauri's IPC, on the mock runtime (no display needed).
#[cfg(test)]
mod ipc_tests {
    use super::*;
    use onair_headless::obs::SessionConfig;
    use onair_headless::settings::Target;
    use tauri::ipc::InvokeBody;
    use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
    use tauri::webview::InvokeRequest;

    fn app() -> tauri::App<tauri::test::MockRuntime> {
        // Port 9 (discard) on loopback: nothing answers, so the session waits for OBS.
        let config = SessionConfig::new(Target::new("127.0.0.1", 9), None);
        let session = tauri::async_runtime::block_on(async move { onair_headless::obs::Session::spawn(config).0 });
        let (core, _closed) = tokio::sync::mpsc::channel(1);
        mock_builder()
            .manage(AppState { session, core })
            .invoke_handler(tauri::generate_handler![get_state, control])
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
    }

    #[test]
    fn only_the_main_window_may_call_the_commands() {
        let app = app();
        let err = invoke_from(&app, "intruder", "get_state", serde_json::json!({})).unwrap_err();
        assert!(err.as_str().unwrap_or_default().contains("not allowed"), "{err}");
    }
}
