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
