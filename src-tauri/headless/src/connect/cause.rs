//! Why OnAir cannot reach OBS, by cause, and what to do about it: the one
//! vocabulary the `waiting-for-obs` state, the tray's first row, the window,
//! the CLI's errors, `onair connect` and "Test connection" all word their
//! failures from, so one situation reads the same everywhere.
//!
//! A [`Cause`] is decided once, where the failure is seen (`obs::client` for
//! a failed connect, the supervisor for a lost connection); its words come
//! from here.

use serde::Serialize;

use crate::settings::Target;

/// What went wrong, as a kind (its wire name is in the state's JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// Nothing accepts connections on that port (OBS not running, its server
    /// off, a wrong port, or a firewall that refuses).
    Refused,
    /// The host name does not resolve.
    Unresolved,
    /// The host did not answer the connection at all (a firewall dropping it,
    /// or a wrong address).
    NoAnswer,
    /// No route to the host (the network or the address is wrong).
    Unreachable,
    /// A web server answered, not a WebSocket server.
    Http,
    /// A WebSocket server answered, but not obs-websocket 5.
    NotObs,
    /// Something accepted the connection but never answered.
    Silent,
    /// OBS wants a password and none is set.
    PasswordMissing,
    /// OBS rejected the password (close 4009).
    PasswordRejected,
    /// OBS speaks another protocol version (close 4010, or an RPC version below 1).
    Incompatible,
    /// The connection dropped (during the handshake, or after).
    Dropped,
    /// Anything else: the reason's own words are all there is.
    Other,
}

impl Cause {
    pub fn wire_name(self) -> &'static str {
        match self {
            Cause::Refused => "refused",
            Cause::Unresolved => "unresolved",
            Cause::NoAnswer => "no-answer",
            Cause::Unreachable => "unreachable",
            Cause::Http => "http",
            Cause::NotObs => "not-obs",
            Cause::Silent => "silent",
            Cause::PasswordMissing => "password-missing",
            Cause::PasswordRejected => "password-rejected",
            Cause::Incompatible => "incompatible",
            Cause::Dropped => "dropped",
            Cause::Other => "other",
        }
    }

    /// The cause in a few words, as a line that already names OBS's address
    /// goes on (`Waiting for OBS at localhost:4455: ...`); `None` for
    /// [`Cause::Other`], whose reason speaks for itself.
    pub fn what(self, target: &Target) -> Option<String> {
        let (host, port) = (&target.host, target.port);
        Some(match self {
            Cause::Refused if target.is_loopback() => "OBS is not running, or its WebSocket server is off".into(),
            Cause::Refused => format!("nothing accepts connections on port {port} there"),
            Cause::Unresolved => format!("the name {host} does not resolve"),
            Cause::NoAnswer => "no answer (timed out)".into(),
            Cause::Unreachable => format!("this machine has no route to {host}"),
            Cause::Http => format!("a web server answered on port {port}, not OBS's WebSocket server"),
            Cause::NotObs => {
                format!("a WebSocket server answered on port {port}, but it is not OBS's (obs-websocket 5)")
            }
            Cause::Silent => format!("something accepted the connection on port {port} but did not answer"),
            Cause::PasswordMissing => "OBS wants a password and none is set".into(),
            Cause::PasswordRejected => "OBS rejected the password".into(),
            Cause::Incompatible => "OBS's WebSocket server speaks another protocol version".into(),
            Cause::Dropped => "the connection to OBS dropped".into(),
            Cause::Other => return None,
        })
    }

    /// What to do about it; `None` when waiting is all there is to do.
    pub fn next_step(self, target: &Target) -> Option<String> {
        let port = target.port;
        Some(match self {
            Cause::Refused if target.is_loopback() => {
                "Tools › WebSocket Server Settings › Enable WebSocket server".into()
            }
            Cause::Refused => format!(
                "is OBS running there, with Tools › WebSocket Server Settings › Enable WebSocket server on and port {port}? A firewall there may refuse it too"
            ),
            Cause::Unresolved => {
                "check the name, or use the IP address from OBS's Tools › WebSocket Server Settings › Show Connect Info"
                    .into()
            }
            // On this machine no firewall is likely in the way: something
            // holds the port without answering, or the port is wrong.
            Cause::NoAnswer if target.is_loopback() => {
                "check the port: OBS's is in its Tools › WebSocket Server Settings (4455 unless changed)".into()
            }
            Cause::NoAnswer => format!(
                "a firewall drops the connection, or the address is wrong: on the OBS machine, let port {port} in through its firewall, and check the address in OBS's Show Connect Info"
            ),
            Cause::Unreachable => {
                "check the address (OBS's Tools › WebSocket Server Settings › Show Connect Info) and that this machine is on the same network"
                    .into()
            }
            // A frozen OBS accepts connections too (the system does), and says nothing.
            Cause::Silent => {
                "if OBS hangs, restart it; else check the port: OBS's is in its Tools › WebSocket Server Settings (4455 unless changed)"
                    .into()
            }
            Cause::Http | Cause::NotObs => {
                "check the port: OBS's is in its Tools › WebSocket Server Settings (4455 unless changed); OBS older than 28 has no obs-websocket 5"
                    .into()
            }
            // Both password causes have one remedy.
            Cause::PasswordMissing | Cause::PasswordRejected => PASSWORD_NEXT_STEP.into(),
            Cause::Incompatible => "OnAir needs obs-websocket 5: OBS 28 or newer".into(),
            Cause::Dropped | Cause::Other => return None,
        })
    }

    /// The cause and its next step in one line (without the address), or
    /// `None` for [`Cause::Other`].
    pub fn explain(self, target: &Target) -> Option<String> {
        let what = self.what(target)?;
        Some(match self.next_step(target) {
            Some(next) => format!("{what}: {next}"),
            None => what,
        })
    }
}

impl Cause {
    /// [`Cause::explain`] for a target as the state shows it (`host:port`, `[v6]:port`).
    pub fn explain_at(self, target: &str) -> Option<String> {
        let (host, port) = target.rsplit_once(':')?;
        self.explain(&Target::new(host, port.parse().ok()?).ok()?)
    }
}

/// What to do when OBS wants a password: the same whether none was set or the
/// one set was wrong.
pub const PASSWORD_NEXT_STEP: &str =
    "copy it from OBS's Tools › WebSocket Server Settings › Show Connect Info, then run onair connect --from-obs or set it in Settings…";

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Cause; 12] = [
        Cause::Refused,
        Cause::Unresolved,
        Cause::NoAnswer,
        Cause::Unreachable,
        Cause::Http,
        Cause::NotObs,
        Cause::Silent,
        Cause::PasswordMissing,
        Cause::PasswordRejected,
        Cause::Incompatible,
        Cause::Dropped,
        Cause::Other,
    ];

    #[test]
    fn each_cause_has_its_own_wire_name_as_the_state_serializes_it() {
        for cause in ALL {
            assert_eq!(serde_json::to_value(cause).unwrap(), cause.wire_name());
        }
        let mut names: Vec<_> = ALL.iter().map(|c| c.wire_name()).collect();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn a_refused_connection_here_points_at_obss_server_settings() {
        let local = Target::new("localhost", 4455).unwrap();
        assert_eq!(
            Cause::Refused.explain(&local).unwrap(),
            "OBS is not running, or its WebSocket server is off: Tools › WebSocket Server Settings › Enable WebSocket server"
        );
        let remote = Target::new("192.168.1.20", 4460).unwrap();
        let text = Cause::Refused.explain(&remote).unwrap();
        assert!(text.contains("port 4460") && text.contains("firewall"), "{text}");
    }

    #[test]
    fn every_cause_but_other_is_worded_and_those_one_can_act_on_say_how() {
        let target = Target::new("studio.lan", 4455).unwrap();
        for cause in ALL {
            assert_eq!(cause.what(&target).is_some(), cause != Cause::Other, "{cause:?}");
            let acts = !matches!(cause, Cause::Dropped | Cause::Other);
            assert_eq!(cause.next_step(&target).is_some(), acts, "{cause:?}");
        }
        assert!(Cause::Unresolved.explain(&target).unwrap().contains("studio.lan does not resolve"));
        assert!(Cause::NoAnswer.explain(&target).unwrap().contains("firewall"));
        let here = Target::new("127.0.0.1", 4460).unwrap();
        assert!(Cause::NoAnswer.explain(&here).unwrap().starts_with("no answer (timed out): check the port"));
        assert_eq!(Cause::NoAnswer.explain_at("studio.lan:4455"), Cause::NoAnswer.explain(&target));
        assert_eq!(Cause::Refused.explain_at("[::1]:4455"), Cause::Refused.explain(&Target::new("::1", 4455).unwrap()));
        assert_eq!(Cause::Refused.explain_at("(invalid settings)"), None);
    }
}
