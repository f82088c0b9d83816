//! Connecting with nothing typed, and saying why it did not work.
//!
//! [`Cause`] is the one vocabulary of connection failures (`cause`).
//! [`command`] is `onair connect`: it takes OBS's address and password from
//! OBS's own settings on this machine (`--from-obs`) or from the `obsws://`
//! URL of OBS's Show Connect Info, saves the address to the settings file and
//! the password to the keyring, and checks the connection.

mod cause;
pub mod command;

pub use cause::{Cause, PASSWORD_NEXT_STEP};
