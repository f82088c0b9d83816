//! What a press means: a tray click, a hotkey or a window button becomes one
//! control for OBS, after the stop confirmation. One place, so the three ways
//! in never disagree about what "toggle" does or when a stop needs a second
//! press.

use crate::control::Control;
use crate::desktop::{HotkeyAction, MenuAction, StopDecision, StopGuard};
use crate::state::{ObsStatus, OutputActivity, RecordingState};

/// What a press comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Press {
    /// Send this control to OBS.
    Send(Control),
    /// A stop waits for its confirming second press; nothing is sent.
    Armed,
    /// The stop this press would confirm has nothing left to stop (the stream
    /// left the air after the first press); nothing is sent.
    AlreadyStopped,
}

/// The control a menu item stands for, as OBS is (or was when last seen):
/// each toggle is resolved against OBS's state here, so what is sent is what
/// the item's label said. `None` for the items that are not controls.
/// The stream's toggle stays a toggle: [`press`] resolves it through the stop
/// confirmation.
pub fn menu_control(action: &MenuAction, obs: Option<&ObsStatus>) -> Option<Control> {
    Some(match action {
        MenuAction::ToggleStream => Control::ToggleStream,
        MenuAction::ToggleRecording if obs.is_some_and(|o| o.recording.is_active()) => Control::StopRecording,
        MenuAction::ToggleRecording => Control::StartRecording,
        MenuAction::TogglePause => match obs.map(|o| &o.recording) {
            Some(RecordingState::Paused { .. }) => Control::ResumeRecording,
            _ => Control::PauseRecording,
        },
        MenuAction::SaveReplay => Control::SaveReplay,
        MenuAction::ToggleVirtualCamera if obs.is_some_and(|o| o.virtual_camera == OutputActivity::On) => {
            Control::StopVirtualCamera
        }
        MenuAction::ToggleVirtualCamera => Control::StartVirtualCamera,
        MenuAction::SwitchScene(name) => Control::SwitchScene(name.clone()),
        // The item is checked while the mic is muted: a click asks for the other
        // state. A mic OnAir has not seen (yet) is toggled, and OBS answers.
        MenuAction::ToggleMute(input) => Control::Mute {
            input: input.clone(),
            muted: obs.and_then(|o| o.mics.iter().find(|m| &m.name == input)).map(|m| !m.muted),
        },
        MenuAction::Reconnect | MenuAction::OpenWindow | MenuAction::OpenSettings | MenuAction::Quit => return None,
        // The caller has picked the connection, and `obs` is that one's.
        MenuAction::ForConnection(_, action) => return menu_control(action, obs),
    })
}

/// Puts a control through the stop confirmation. Only a stop of the stream
/// (asked for as a stop or as a toggle while on the air) can need a second
/// press; a toggle off the air is a start; a stop asked for off the air is sent
/// as it is, and OBS says the stream is not live.
pub fn press(
    control: Control,
    obs: Option<&ObsStatus>,
    guard: &mut StopGuard,
    confirm_required: bool,
    now_ms: u64,
) -> Press {
    let toggle = match control {
        Control::ToggleStream => true,
        Control::StopStream => false,
        other => return Press::Send(other),
    };
    let on_air = obs.is_some_and(|o| o.stream.is_on_air());
    match guard.press(confirm_required, on_air, now_ms) {
        StopDecision::Start if toggle => Press::Send(Control::StartStream),
        StopDecision::Start | StopDecision::Stop => Press::Send(Control::StopStream),
        StopDecision::Armed => Press::Armed,
        StopDecision::AlreadyStopped => Press::AlreadyStopped,
    }
}

/// The menu action a hotkey stands for now (scene steps depend on the current
/// scene; the mute is the first watched mic's, and nothing without one).
pub fn hotkey_action(hotkey: HotkeyAction, obs: Option<&ObsStatus>) -> Option<MenuAction> {
    Some(match hotkey {
        HotkeyAction::ToggleMute => MenuAction::ToggleMute(obs?.mics.first()?.name.clone()),
        HotkeyAction::ToggleStream => MenuAction::ToggleStream,
        HotkeyAction::ToggleRecording => MenuAction::ToggleRecording,
        HotkeyAction::PauseRecording => MenuAction::TogglePause,
        HotkeyAction::SaveReplay => MenuAction::SaveReplay,
        HotkeyAction::ToggleVirtualCamera => MenuAction::ToggleVirtualCamera,
        HotkeyAction::PreviousScene | HotkeyAction::NextScene => {
            let obs = obs?;
            let count = obs.scenes.len();
            if count == 0 {
                return None;
            }
            let current = obs.program_scene.as_ref().and_then(|p| obs.scenes.iter().position(|s| s == p)).unwrap_or(0);
            // Scenes are listed top first; "previous" goes up the list, wrapping around.
            let next =
                if hotkey == HotkeyAction::NextScene { (current + 1) % count } else { (current + count - 1) % count };
            MenuAction::SwitchScene(obs.scenes[next].clone())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{MicStatus, StreamState};

    fn obs(stream: StreamState, recording: RecordingState) -> ObsStatus {
        ObsStatus {
            stream,
            recording,
            replay_buffer: OutputActivity::On,
            virtual_camera: OutputActivity::On,
            program_scene: Some("B".into()),
            scenes: vec!["A".into(), "B".into(), "C".into()],
            ..ObsStatus::idle()
        }
    }

    const LIVE: StreamState = StreamState::Live { since_ms: 0 };

    #[test]
    fn toggles_resolve_against_what_obs_is_doing() {
        let recording = obs(StreamState::Offline, RecordingState::Recording { since_ms: 0 });
        let paused = obs(StreamState::Offline, RecordingState::Paused { since_ms: 0 });
        let off = obs(StreamState::Offline, RecordingState::Off);
        assert_eq!(menu_control(&MenuAction::ToggleRecording, Some(&recording)), Some(Control::StopRecording));
        assert_eq!(menu_control(&MenuAction::ToggleRecording, Some(&off)), Some(Control::StartRecording));
        assert_eq!(menu_control(&MenuAction::ToggleRecording, None), Some(Control::StartRecording));
        assert_eq!(menu_control(&MenuAction::TogglePause, Some(&paused)), Some(Control::ResumeRecording));
        assert_eq!(menu_control(&MenuAction::TogglePause, Some(&recording)), Some(Control::PauseRecording));
        assert_eq!(menu_control(&MenuAction::ToggleVirtualCamera, Some(&off)), Some(Control::StopVirtualCamera));
        assert_eq!(menu_control(&MenuAction::Quit, Some(&off)), None);
    }

    #[test]
    fn a_stop_from_any_way_in_needs_the_same_second_press() {
        let live = obs(LIVE, RecordingState::Off);
        let mut guard = StopGuard::default();
        // The tray's toggle arms; the window's stop confirms it: one rule, one guard.
        assert_eq!(press(Control::ToggleStream, Some(&live), &mut guard, true, 1_000), Press::Armed);
        assert_eq!(press(Control::StopStream, Some(&live), &mut guard, true, 2_000), Press::Send(Control::StopStream));
        // And the other way round.
        assert_eq!(press(Control::StopStream, Some(&live), &mut guard, true, 5_000), Press::Armed);
        assert_eq!(
            press(Control::ToggleStream, Some(&live), &mut guard, true, 5_500),
            Press::Send(Control::StopStream)
        );
        // Without confirmation a stop is sent at once.
        assert_eq!(press(Control::StopStream, Some(&live), &mut guard, false, 9_000), Press::Send(Control::StopStream));
    }

    #[test]
    fn off_the_air_a_toggle_starts_and_a_confirmation_never_does() {
        let live = obs(LIVE, RecordingState::Off);
        let off = obs(StreamState::Offline, RecordingState::Off);
        let mut guard = StopGuard::default();
        assert_eq!(press(Control::ToggleStream, Some(&off), &mut guard, true, 0), Press::Send(Control::StartStream));
        assert_eq!(press(Control::StopStream, Some(&off), &mut guard, true, 0), Press::Send(Control::StopStream));
        assert_eq!(press(Control::ToggleStream, Some(&live), &mut guard, true, 1_000), Press::Armed);
        assert_eq!(press(Control::ToggleStream, Some(&off), &mut guard, true, 1_500), Press::AlreadyStopped);
        assert_eq!(
            press(Control::StartRecording, Some(&off), &mut guard, true, 0),
            Press::Send(Control::StartRecording)
        );
    }

    #[test]
    fn scene_hotkeys_step_through_the_list_and_wrap() {
        let mut status = obs(StreamState::Offline, RecordingState::Off);
        let next = |o: &ObsStatus| hotkey_action(HotkeyAction::NextScene, Some(o));
        let previous = |o: &ObsStatus| hotkey_action(HotkeyAction::PreviousScene, Some(o));
        assert_eq!(next(&status), Some(MenuAction::SwitchScene("C".into())));
        assert_eq!(previous(&status), Some(MenuAction::SwitchScene("A".into())));
        status.program_scene = Some("C".into());
        assert_eq!(next(&status), Some(MenuAction::SwitchScene("A".into())), "wraps at the bottom");
        status.program_scene = Some("A".into());
        assert_eq!(previous(&status), Some(MenuAction::SwitchScene("C".into())), "wraps at the top");
        status.scenes.clear();
        assert_eq!(next(&status), None);
        assert_eq!(hotkey_action(HotkeyAction::NextScene, None), None, "no scene step without OBS");
        assert_eq!(hotkey_action(HotkeyAction::ToggleStream, None), Some(MenuAction::ToggleStream));
    }

    fn mic(name: &str, muted: bool) -> MicStatus {
        MicStatus { name: name.into(), uuid: None, muted, level_dbfs: None, input_level_dbfs: None }
    }

    #[test]
    fn a_mute_click_asks_for_the_state_the_check_mark_does_not_show() {
        let mut status = obs(LIVE, RecordingState::Off);
        status.mics = vec![mic("Mic/Aux", false), mic("Podcast Mic", true)];
        let click = |name: &str, o: Option<&ObsStatus>| menu_control(&MenuAction::ToggleMute(name.into()), o);
        assert_eq!(click("Mic/Aux", Some(&status)), Some(Control::Mute { input: "Mic/Aux".into(), muted: Some(true) }));
        assert_eq!(
            click("Podcast Mic", Some(&status)),
            Some(Control::Mute { input: "Podcast Mic".into(), muted: Some(false) })
        );
        // A mic not (or no longer) in the state is toggled, and OBS says whether it exists.
        assert_eq!(click("Other", Some(&status)), Some(Control::Mute { input: "Other".into(), muted: None }));
        assert_eq!(click("Mic/Aux", None), Some(Control::Mute { input: "Mic/Aux".into(), muted: None }));
        // Never held back by the stop confirmation.
        let mut guard = StopGuard::default();
        let mute = Control::Mute { input: "Mic/Aux".into(), muted: Some(true) };
        assert_eq!(press(mute.clone(), Some(&status), &mut guard, true, 0), Press::Send(mute));
    }

    #[test]
    fn the_mute_hotkey_is_the_first_watched_mics() {
        let mut status = obs(LIVE, RecordingState::Off);
        assert_eq!(hotkey_action(HotkeyAction::ToggleMute, Some(&status)), None, "no mic watched");
        assert_eq!(hotkey_action(HotkeyAction::ToggleMute, None), None, "no OBS");
        status.mics = vec![mic("Mic/Aux", true), mic("Podcast Mic", false)];
        assert_eq!(
            hotkey_action(HotkeyAction::ToggleMute, Some(&status)),
            Some(MenuAction::ToggleMute("Mic/Aux".into()))
        );
        let control = hotkey_action(HotkeyAction::ToggleMute, Some(&status))
            .and_then(|action| menu_control(&action, Some(&status)));
        assert_eq!(control, Some(Control::Mute { input: "Mic/Aux".into(), muted: Some(false) }));
    }
}
