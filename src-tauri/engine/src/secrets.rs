//! Where the OBS password is kept: the OS keyring, one entry per OBS host and
//! port, behind a small trait so the command line and the tray share one policy
//! and tests can use memory. The app crate provides the keyring implementation.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::settings::{Password, Target};

/// The keyring "service" every OnAir entry is filed under.
pub const KEYRING_SERVICE: &str = "OnAir";

/// The keyring "user" of the entry for this OBS: one entry per host and port.
pub fn keyring_user(target: &Target) -> String {
    format!("obs-websocket@{target}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No keyring to talk to (no Secret Service running, locked and no prompt, ...).
    Unavailable(String),
    /// The keyring answered with an error.
    Failed(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Unavailable(m) => write!(f, "no keyring available ({m})"),
            StoreError::Failed(m) => write!(f, "the keyring failed: {m}"),
        }
    }
}

pub trait PasswordStore: Send + Sync {
    fn get(&self, target: &Target) -> Result<Option<Password>, StoreError>;
    fn set(&self, target: &Target, password: &Password) -> Result<(), StoreError>;
    /// True when there was a password to clear.
    fn clear(&self, target: &Target) -> Result<bool, StoreError>;
}

/// Passwords held for this run only: the fallback when there is no keyring.
#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, Password>>,
}

impl PasswordStore for MemoryStore {
    fn get(&self, target: &Target) -> Result<Option<Password>, StoreError> {
        Ok(self.entries.lock().map_err(|_| StoreError::Failed("poisoned".into()))?.get(&keyring_user(target)).cloned())
    }

    fn set(&self, target: &Target, password: &Password) -> Result<(), StoreError> {
        self.entries
            .lock()
            .map_err(|_| StoreError::Failed("poisoned".into()))?
            .insert(keyring_user(target), password.clone());
        Ok(())
    }

    fn clear(&self, target: &Target) -> Result<bool, StoreError> {
        Ok(self
            .entries
            .lock()
            .map_err(|_| StoreError::Failed("poisoned".into()))?
            .remove(&keyring_user(target))
            .is_some())
    }
}

/// A keyring that falls back to memory, once, when the keyring is unavailable,
/// and says so: the password then lasts for this run only.
pub struct FallbackStore<S> {
    primary: S,
    memory: MemoryStore,
    /// Why the keyring could not be used, once it failed.
    pub degraded: Mutex<Option<String>>,
}

impl<S: PasswordStore> FallbackStore<S> {
    pub fn new(primary: S) -> FallbackStore<S> {
        FallbackStore { primary, memory: MemoryStore::default(), degraded: Mutex::new(None) }
    }

    /// The reason the keyring is not in use, if it is not.
    pub fn degraded(&self) -> Option<String> {
        self.degraded.lock().ok().and_then(|d| d.clone())
    }

    fn note(&self, error: &StoreError) {
        if let Ok(mut degraded) = self.degraded.lock() {
            if degraded.is_none() {
                tracing::warn!(%error, "keyring unavailable: the password is held for this run only");
                *degraded = Some(error.to_string());
            }
        }
    }
}

impl<S: PasswordStore> PasswordStore for FallbackStore<S> {
    fn get(&self, target: &Target) -> Result<Option<Password>, StoreError> {
        if let Some(p) = self.memory.get(target)? {
            return Ok(Some(p));
        }
        match self.primary.get(target) {
            Err(e @ StoreError::Unavailable(_)) => {
                self.note(&e);
                Ok(None)
            }
            other => other,
        }
    }

    fn set(&self, target: &Target, password: &Password) -> Result<(), StoreError> {
        match self.primary.set(target, password) {
            Ok(()) => {
                self.memory.clear(target)?;
                Ok(())
            }
            Err(e @ StoreError::Unavailable(_)) => {
                self.note(&e);
                self.memory.set(target, password)
            }
            Err(e) => Err(e),
        }
    }

    fn clear(&self, target: &Target) -> Result<bool, StoreError> {
        let in_memory = self.memory.clear(target)?;
        match self.primary.clear(target) {
            Ok(cleared) => Ok(cleared || in_memory),
            Err(e @ StoreError::Unavailable(_)) => {
                self.note(&e);
                Ok(in_memory)
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoKeyring;
    impl PasswordStore for NoKeyring {
        fn get(&self, _: &Target) -> Result<Option<Password>, StoreError> {
            Err(StoreError::Unavailable("no Secret Service".into()))
        }
        fn set(&self, _: &Target, _: &Password) -> Result<(), StoreError> {
            Err(StoreError::Unavailable("no Secret Service".into()))
        }
        fn clear(&self, _: &Target) -> Result<bool, StoreError> {
            Err(StoreError::Unavailable("no Secret Service".into()))
        }
    }

    #[test]
    fn one_entry_per_host_and_port() {
        let store = MemoryStore::default();
        let a = Target::new("localhost", 4455).unwrap();
        let b = Target::new("localhost", 4456).unwrap();
        store.set(&a, &Password::new("one".into())).unwrap();
        assert_eq!(store.get(&a).unwrap(), Some(Password::new("one".into())));
        assert_eq!(store.get(&b).unwrap(), None);
        assert!(store.clear(&a).unwrap());
        assert!(!store.clear(&a).unwrap());
        assert_eq!(keyring_user(&a), "obs-websocket@localhost:4455");
    }

    #[test]
    fn without_a_keyring_the_password_lasts_for_this_run_and_it_says_so() {
        let store = FallbackStore::new(NoKeyring);
        let t = Target::default();
        assert_eq!(store.get(&t).unwrap(), None);
        assert!(store.degraded().unwrap().contains("no Secret Service"));
        store.set(&t, &Password::new("pw".into())).unwrap();
        assert_eq!(store.get(&t).unwrap(), Some(Password::new("pw".into())));
        assert!(store.clear(&t).unwrap());
        assert_eq!(store.get(&t).unwrap(), None);
    }
}
