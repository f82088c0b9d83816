//! The obs-websocket v5 authentication string.
//!
//! OBS never sees the password: it sends a salt and a per-connection challenge in
//! Hello, and the client proves it knows the password by hashing it with both.
//! Both values are used as the base64 *text* they arrived as, never decoded.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// `base64(sha256(base64(sha256(password + salt)) + challenge))`, as the spec defines it.
pub fn authentication_string(password: &str, salt: &str, challenge: &str) -> String {
    let secret = base64_sha256(&[password.as_bytes(), salt.as_bytes()]);
    base64_sha256(&[secret.as_bytes(), challenge.as_bytes()])
}

fn base64_sha256(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    STANDARD.encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector from the obs-websocket protocol documentation.
    const PASSWORD: &str = "supersecretpassword";
    const SALT: &str = "lM1GncleQOaCu9lT1yeUZhFYnqhsLLP1G5lAGo3ixaI=";
    const CHALLENGE: &str = "+IxH4CnCiqpX1rM9scsNynZzbOe4KhDeYcTNS3PDaeY=";

    #[test]
    fn secret_matches_the_spec_vector() {
        assert_eq!(
            base64_sha256(&[PASSWORD.as_bytes(), SALT.as_bytes()]),
            "H1IfVz1pSREUQzbFTVnX/Tyb+gMhMik5x7yUBCY0PTs="
        );
    }

    #[test]
    fn authentication_matches_the_spec_vector() {
        assert_eq!(authentication_string(PASSWORD, SALT, CHALLENGE), "1Ct943GAT+6YQUUX47Ia/ncufilbe6+oD6lY+5kaCu4=");
    }

    #[test]
    fn a_different_password_gives_a_different_answer() {
        assert_ne!(
            authentication_string("supersecretpassword2", SALT, CHALLENGE),
            "1Ct943GAT+6YQUUX47Ia/ncufilbe6+oD6lY+5kaCu4="
        );
    }
}
