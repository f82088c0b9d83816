//! What the user set: which OBS to connect to (`target`), the settings file
//! that keeps it with the rest of OnAir's preferences (`file`), and where the
//! password lives instead (`secrets`: the OS keyring, never a file).

mod file;
mod secrets;
mod target;

pub use file::{write_atomically, Loaded, Settings, SettingsFile, NOTIFICATION_KINDS};
pub use secrets::{
    keyring_user, FallbackStore, KeyringWorker, LockedStore, MemoryStore, PasswordStore, PendingCall, StoreError,
    KEYRING_SERVICE, KEYRING_TIMEOUT,
};
pub use target::{
    default_settings_path, read_connection, resolve_target, validate_host, validate_port, FileConnection, Password,
    RunOverride, Target, DEFAULT_HOST, DEFAULT_PORT,
};
