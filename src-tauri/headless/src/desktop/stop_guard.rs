//! The stop confirmation: one rule for every way to stop the stream (the tray,
//! a hotkey, the window), so a stop that needs a second press needs it
//! everywhere, within the same few seconds.

/// Stopping a live stream can require a second press within a few seconds.
///
/// A confirmation only ever confirms the stop it armed: if the stream leaves
/// the air between the two presses (OBS gave up reconnecting, someone stopped it
/// in OBS), the second press sends nothing, least of all a start.
#[derive(Debug, Default, Clone)]
pub struct StopGuard {
    armed_at_ms: Option<u64>,
}

/// What a press on "toggle stream" should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopDecision {
    /// Start streaming: the stream is off the air and no stop waits for its confirmation.
    Start,
    /// Stop streaming: no confirmation is asked for, or this press confirms.
    Stop,
    /// Wait for a confirming second press.
    Armed,
    /// The stop this press would confirm has nothing left to stop: the stream
    /// left the air after the first press. Nothing is sent.
    AlreadyStopped,
}

impl StopGuard {
    pub const WINDOW_MS: u64 = 3_000;

    /// `stream_on_air`: live or reconnecting, as far as OnAir knows.
    pub fn press(&mut self, confirm_required: bool, stream_on_air: bool, now_ms: u64) -> StopDecision {
        let confirming = self.armed_at_ms.take().is_some_and(|armed| now_ms.saturating_sub(armed) <= Self::WINDOW_MS);
        match (stream_on_air, confirming) {
            (false, true) => StopDecision::AlreadyStopped,
            (false, false) => StopDecision::Start,
            (true, true) => StopDecision::Stop,
            (true, false) if !confirm_required => StopDecision::Stop,
            (true, false) => {
                self.armed_at_ms = Some(now_ms);
                StopDecision::Armed
            }
        }
    }

    pub fn is_armed(&self, now_ms: u64) -> bool {
        self.armed_at_ms.is_some_and(|armed| now_ms.saturating_sub(armed) <= Self::WINDOW_MS)
    }
}
