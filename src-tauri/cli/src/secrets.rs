//! The OS keyring (Secret Service on Linux, Keychain on macOS, Credential
//! Manager on Windows) as the headless crate's [`PasswordStore`]: the adapter for
//! `onair_headless::settings`'s password store. It lives here, beside the lean
//! `onair` binary, because it needs libdbus and no GUI; the tray app takes it
//! from here too, so both binaries read and write the same entries.

use onair_headless::settings::{keyring_user, PasswordStore, StoreError, KEYRING_SERVICE};
use onair_headless::settings::{Password, Target};

/// The OS keyring, one entry per OBS host and port.
pub struct KeyringStore;

fn entry(target: &Target) -> Result<keyring::Entry, StoreError> {
    keyring::Entry::new(KEYRING_SERVICE, &keyring_user(target)).map_err(to_store_error)
}

fn to_store_error(error: keyring::Error) -> StoreError {
    match error {
        keyring::Error::PlatformFailure(e) => StoreError::Unavailable(e.to_string()),
        keyring::Error::NoStorageAccess(e) => StoreError::Unavailable(e.to_string()),
        other => StoreError::Failed(other.to_string()),
    }
}

impl PasswordStore for KeyringStore {
    fn get(&self, target: &Target) -> Result<Option<Password>, StoreError> {
        match entry(target)?.get_password() {
            Ok(password) => Ok(Some(Password::new(password))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(to_store_error(e)),
        }
    }

    fn set(&self, target: &Target, password: &Password) -> Result<(), StoreError> {
        entry(target)?.set_password(password.expose()).map_err(to_store_error)
    }

    fn clear(&self, target: &Target) -> Result<bool, StoreError> {
        match entry(target)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(keyring::Error::NoEntry) => Ok(false),
            Err(e) => Err(to_store_error(e)),
        }
    }
}
