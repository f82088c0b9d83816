//! What the user set: which OBS to connect to, and what wins when the flags,
//! the environment, the file and the keyring disagree (`target`); the settings
//! file that keeps it with the rest of OnAir's preferences, and its one reader
//! (`file`); and where the password lives instead (`secrets`: the OS keyring,
//! never a file).

mod file;
mod secrets;
mod target;

pub use file::{read_connection, write_atomically, Loaded, SavedConnection, Settings, SettingsFile};
pub use secrets::{
    keyring_user, FallbackStore, KeyringWorker, LockedStore, MemoryStore, PasswordStore, PendingCall, StoreError,
    KEYRING_SERVICE, KEYRING_TIMEOUT,
};
pub use target::{validate_host, validate_port, Given, Password, RunOverride, Target, DEFAULT_HOST, DEFAULT_PORT};
