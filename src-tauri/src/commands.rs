//! The window's IPC commands: thin wrappers over the engine that validate their
//! input and answer errors as `{code, message}`.

use onair_engine::control::{Control, ControlError, ControlOutcome};
use onair_engine::session::Session;
use onair_engine::state::State;
use serde::Serialize;

/// Every error the window can get: a stable code and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl From<ControlError> for ApiError {
    fn from(e: ControlError) -> Self {
        ApiError { code: e.code().to_string(), message: e.to_string() }
    }
}

/// What the window holds on to.
pub struct AppState {
    pub session: Session,
}

/// The longest scene name accepted from the window (OBS allows long names, but
/// not kilobytes).
const MAX_SCENE_NAME: usize = 512;

/// Turns the window's words into a control, refusing anything else.
pub fn parse_control(action: &str, scene: Option<&str>) -> Result<Control, ApiError> {
    let invalid = |message: String| ApiError { code: "invalid-input".into(), message };
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
    fn errors_serialize_as_code_and_message() {
        let e = ApiError::from(ControlError::AlreadyActive(onair_engine::control::Output::Stream));
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
    use onair_engine::session::SessionConfig;
    use onair_engine::settings::Target;
    use tauri::ipc::InvokeBody;
    use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
    use tauri::webview::InvokeRequest;

    fn app() -> tauri::App<tauri::test::MockRuntime> {
        // Port 9 (discard) on loopback: nothing answers, so the session waits for OBS.
        let config = SessionConfig::new(Target::new("127.0.0.1", 9), None);
        let session = tauri::async_runtime::block_on(async move { onair_engine::session::Session::spawn(config).0 });
        mock_builder()
            .manage(AppState { session })
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
