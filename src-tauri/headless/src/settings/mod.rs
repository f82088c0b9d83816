//! What the user set: which OBS to connect to, and what wins when the flags,
//! the environment, the file and the keyring disagree (`target`); the settings
//! file that keeps it with the rest of OnAir's preferences, and its one reader
//! (`file`); and where the password lives instead (`secrets`: the OS keyring,
//! never a file). OBS's own WebSocket settings, read from its config folder
//! (`obs_config`), and the `obsws://` URL of its Show Connect Info
//! (`connect_url`), so OnAir can connect with nothing typed.

pub mod connect_url;
mod file;
pub mod obs_config;
mod secrets;
mod target;

pub use connect_url::{looks_like_connect_url, parse_connect_url, ConnectUrl};
pub use file::{
    find_connection, read_connection, save_connection, write_atomically, Connection, Loaded, SavedConnection, Settings,
    SettingsFile,
};
pub use secrets::{
    keyring_user, FallbackStore, KeyringWorker, LockedStore, MemoryStore, PasswordStore, PendingCall, StoreError,
    KEYRING_SERVICE, KEYRING_TIMEOUT,
};
pub use target::{validate_host, validate_port, Given, Password, RunOverride, Target, DEFAULT_HOST, DEFAULT_PORT};
