//! How long to wait before the next connection attempt.
//!
//! While OBS on this machine is away (not running, restarting, crashed) an
//! attempt costs nothing, and the streamer expects OnAir to notice OBS within about a second of
//! it starting, so such attempts run about once a second, never faster. Anything
//! more expensive or more suspicious (a remote host that does not answer or
//! drops us, a peer that is not OBS, OBS closing on us for a protocol error)
//! backs off exponentially. Jitter keeps many clients from retrying in lockstep.

use std::time::Duration;

/// The kind of failure, which picks the curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// OBS on this machine is away (refused, dropped): cheap to retry.
    Local,
    /// Anything else that may be temporary on a remote host (timeouts, drops).
    Transient,
    /// OBS or the peer says this client misbehaved (4002-4008), or it is not OBS.
    Protocol,
}

#[derive(Debug, Clone)]
pub struct Backoff {
    /// The shortest wait between attempts, whatever the failure.
    pub floor: Duration,
    pub transient_cap: Duration,
    pub protocol_start: Duration,
    pub protocol_cap: Duration,
    attempts: u32,
    rng: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(15), Duration::from_secs(5), Duration::from_secs(60))
    }
}

impl Backoff {
    pub fn new(floor: Duration, transient_cap: Duration, protocol_start: Duration, protocol_cap: Duration) -> Backoff {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15)
            ^ u64::from(std::process::id()).rotate_left(32);
        Backoff { floor, transient_cap, protocol_start, protocol_cap, attempts: 0, rng: seed | 1 }
    }

    /// A connection held long enough to count as healthy: start over.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// The wait before the next attempt after a failure of this kind.
    pub fn next_delay(&mut self, kind: FailureKind) -> Duration {
        let exponent = self.attempts.min(16);
        self.attempts = self.attempts.saturating_add(1);
        let (base, cap) = match kind {
            // About once a second, up to 20% later, never sooner.
            FailureKind::Local => return self.floor.mul_f64(1.0 + 0.2 * self.unit()),
            FailureKind::Transient => (self.floor, self.transient_cap),
            FailureKind::Protocol => (self.protocol_start, self.protocol_cap),
        };
        let grown = base.saturating_mul(1u32 << exponent).min(cap);
        // Equal jitter: somewhere in [grown/2, grown], and not under the floor.
        grown.mul_f64(0.5 + 0.5 * self.unit()).max(self.floor)
    }

    /// A uniform number in [0, 1) from xorshift64*; good enough for jitter.
    fn unit(&mut self) -> f64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let x = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_refusals_retry_about_once_a_second_never_faster() {
        let mut backoff = Backoff::default();
        for _ in 0..1000 {
            let d = backoff.next_delay(FailureKind::Local);
            assert!(d >= Duration::from_secs(1) && d <= Duration::from_millis(1200), "{d:?}");
        }
    }

    #[test]
    fn transient_failures_grow_to_the_cap_with_jitter() {
        let mut backoff = Backoff::default();
        let delays: Vec<Duration> = (0..12).map(|_| backoff.next_delay(FailureKind::Transient)).collect();
        assert!(delays.iter().all(|d| *d >= Duration::from_secs(1) && *d <= Duration::from_secs(15)));
        assert!(delays[8] >= Duration::from_millis(7500), "late delays sit between cap/2 and cap: {delays:?}");
        let distinct: std::collections::HashSet<_> = delays[6..].iter().collect();
        assert!(distinct.len() > 1, "jitter spreads the waits: {delays:?}");
    }

    #[test]
    fn protocol_failures_back_off_hard_and_reset_starts_over() {
        let mut backoff = Backoff::default();
        let first = backoff.next_delay(FailureKind::Protocol);
        assert!(first >= Duration::from_millis(2500) && first <= Duration::from_secs(5));
        for _ in 0..10 {
            backoff.next_delay(FailureKind::Protocol);
        }
        assert!(backoff.next_delay(FailureKind::Protocol) >= Duration::from_secs(30));
        backoff.reset();
        assert!(backoff.next_delay(FailureKind::Protocol) <= Duration::from_secs(5));
    }
}
