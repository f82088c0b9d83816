//! The URL OBS hands out for its WebSocket server, `obsws://HOST:PORT/PASSWORD`
//! (what the QR code in Tools › WebSocket Server Settings › Show Connect Info
//! carries), read into a host, a port and a password. The one parser of it:
//! `onair connect URL` and the window's host field both use it.
//!
//! obs-websocket writes the password percent-encoded (everything but
//! `A-Z a-z 0-9 - . _ ~`), and leaves `/PASSWORD` out when it asks for none.

use crate::settings::{validate_host, validate_port, Password, Target};

/// The scheme, without `://`.
pub const SCHEME: &str = "obsws";

/// What a connect URL holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectUrl {
    pub target: Target,
    pub password: Option<Password>,
}

/// Whether `text` is meant as a connect URL (so a mistake in it is reported as
/// one, not as a bad host name).
pub fn looks_like_connect_url(text: &str) -> bool {
    let text = text.trim();
    text.len() > SCHEME.len() + 3
        && text.get(..SCHEME.len()).is_some_and(|scheme| scheme.eq_ignore_ascii_case(SCHEME))
        && text[SCHEME.len()..].starts_with("://")
}

/// Reads `obsws://HOST:PORT[/PASSWORD]`. The error says what is wrong, and
/// never repeats the password.
pub fn parse_connect_url(text: &str) -> Result<ConnectUrl, String> {
    const SHAPE: &str = "use obsws://HOST:PORT or obsws://HOST:PORT/PASSWORD, as OBS's Show Connect Info gives it";
    let text = text.trim();
    if !looks_like_connect_url(text) {
        return Err(format!("not an obsws:// URL: {SHAPE}"));
    }
    let rest = &text[SCHEME.len() + 3..];
    let (authority, password) = match rest.split_once('/') {
        Some((authority, password)) => (authority, Some(password)),
        None => (rest, None),
    };
    let (host, port) = split_host_port(authority).ok_or_else(|| format!("the URL has no port: {SHAPE}"))?;
    let port: i64 = port.parse().map_err(|_| format!("the URL's port {port:?} is not a number: {SHAPE}"))?;
    let target = Target { host: validate_host(host)?, port: validate_port(port)? };
    let password = match password.map(percent_decode).transpose()? {
        Some(p) if !p.is_empty() => Some(Password::new(p)),
        _ => None,
    };
    Ok(ConnectUrl { target, password })
}

/// `host:port` or `[v6]:port`.
fn split_host_port(authority: &str) -> Option<(&str, &str)> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, port) = v6.split_once("]:")?;
        return Some((host, port));
    }
    authority.rsplit_once(':').filter(|(host, _)| !host.contains(':'))
}

/// `%XX` to its byte; the result must be UTF-8. A `%` not followed by two hex
/// digits stays as it is (an older obs-websocket did not encode).
fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, _, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| "the URL's password is not valid text once decoded".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> (String, u16, Option<String>) {
        let url = parse_connect_url(text).unwrap();
        (url.target.host, url.target.port, url.password.map(|p| p.expose().to_string()))
    }

    #[test]
    fn the_url_of_obss_connect_info_with_and_without_a_password() {
        assert_eq!(
            parsed("obsws://192.168.1.20:4455/9tPNpEOc1weg0KfN"),
            ("192.168.1.20".into(), 4455, Some("9tPNpEOc1weg0KfN".into()))
        );
        assert_eq!(parsed(" obsws://studio.lan:4460 "), ("studio.lan".into(), 4460, None));
        assert_eq!(parsed("OBSWS://[::1]:4455/"), ("::1".into(), 4455, None));
    }

    #[test]
    fn the_password_is_percent_decoded_as_obs_websocket_encodes_it() {
        assert_eq!(parsed("obsws://h:1/a%2Fb%20c%25d%C3%A9").2.as_deref(), Some("a/b c%dé"));
        assert_eq!(parsed("obsws://h:1/100%").2.as_deref(), Some("100%"), "a stray % is kept");
        assert_eq!(parsed("obsws://h:1/a/b").2.as_deref(), Some("a/b"), "everything after the first / is the password");
    }

    #[test]
    fn a_bad_url_says_what_is_wrong_and_never_repeats_the_password() {
        for (url, says) in [
            ("obsws://localhost/secret", "no port"),
            ("obsws://localhost:port/secret", "not a number"),
            ("obsws://localhost:0/secret", "out of range"),
            ("obsws://:4455/secret", "host is empty"),
            ("obsws://bad host:4455/secret", "not a valid host"),
            ("obsws://h:1/%FF%FEsecret", "not valid text"),
            ("ws://localhost:4455", "not an obsws:// URL"),
        ] {
            let error = parse_connect_url(url).unwrap_err();
            assert!(error.contains(says), "{url}: {error}");
            assert!(!error.contains("secret"), "{url}: {error}");
        }
        assert!(looks_like_connect_url("obsws://x"));
        assert!(!looks_like_connect_url("localhost") && !looks_like_connect_url("obsws://"));
        assert!(!looks_like_connect_url("ééééé://x"), "not cut inside a character");
    }
}
