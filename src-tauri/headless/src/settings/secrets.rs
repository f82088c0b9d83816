//! Where the OBS password is kept: the OS keyring, one entry per OBS host and
//! port, behind a small trait so the command line and the tray share one policy
//! and tests can use memory. The app crate provides the keyring implementation.
//!
//! A keyring call can block for as long as a person takes to answer an unlock
//! prompt, or forever. The tray app therefore makes its calls through a
//! [`KeyringWorker`]: one thread that talks to the keyring, while the caller
//! waits a bounded time and then says so ([`StoreError::TimedOut`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::settings::{Password, Target};

/// How long the tray app waits for the keyring before it says the keyring did not answer.
pub const KEYRING_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// The keyring did not answer within this time (typically locked, its
    /// unlock prompt waiting for someone).
    TimedOut(Duration),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Unavailable(m) => write!(f, "no keyring available ({m})"),
            StoreError::Failed(m) => write!(f, "the keyring failed: {m}"),
            StoreError::TimedOut(limit) => {
                write!(f, "the keyring did not answer within {}; is it locked?", seconds(*limit))
            }
        }
    }
}

/// `5 s`, or `0.2 s` below a second.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

pub trait PasswordStore: Send + Sync {
    fn get(&self, target: &Target) -> Result<Option<Password>, StoreError>;
    fn set(&self, target: &Target, password: &Password) -> Result<(), StoreError>;
    /// True when there was a password to clear.
    fn clear(&self, target: &Target) -> Result<bool, StoreError>;
    /// Why passwords are only kept for this run, when the keyring cannot be used.
    fn degraded(&self) -> Option<String> {
        None
    }
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

    fn degraded(&self) -> Option<String> {
        self.degraded.lock().ok().and_then(|d| d.clone())
    }
}

type Job = Box<dyn FnOnce(&dyn PasswordStore) + Send>;

/// One thread that makes every keyring call in turn, so a blocked keyring
/// blocks that thread only, and so a locked keyring shows one unlock prompt
/// rather than one per call. Callers wait with a limit ([`PendingCall::within`]).
#[derive(Clone)]
pub struct KeyringWorker {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl KeyringWorker {
    pub fn start(store: Arc<dyn PasswordStore>) -> KeyringWorker {
        let (jobs, inbox) = std::sync::mpsc::channel::<Job>();
        let spawned = std::thread::Builder::new().name("keyring".into()).spawn(move || {
            while let Ok(job) = inbox.recv() {
                job(&*store);
            }
        });
        if let Err(e) = spawned {
            // Every call then answers "ended without an answer" rather than hanging.
            tracing::error!(error = %e, "cannot start the keyring thread");
        }
        KeyringWorker { jobs }
    }

    /// Queues a call. A call whose caller stopped waiting before its turn is
    /// skipped: nobody would hear its answer, and a timed-out "store" should not
    /// happen minutes later. One that already started runs to its end.
    pub fn call<T, F>(&self, call: F) -> PendingCall<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn PasswordStore) -> Result<T, StoreError> + Send + 'static,
    {
        let (answer_tx, answer) = oneshot::channel();
        let job: Job = Box::new(move |store| {
            if answer_tx.is_closed() {
                return;
            }
            let _ = answer_tx.send(call(store));
        });
        let _ = self.jobs.send(job);
        PendingCall { answer }
    }

    pub fn get(&self, target: &Target) -> PendingCall<Option<Password>> {
        let target = target.clone();
        self.call(move |store| store.get(&target))
    }

    pub fn set(&self, target: &Target, password: &Password) -> PendingCall<()> {
        let (target, password) = (target.clone(), password.clone());
        self.call(move |store| store.set(&target, &password))
    }

    pub fn clear(&self, target: &Target) -> PendingCall<bool> {
        let target = target.clone();
        self.call(move |store| store.clear(&target))
    }
}

/// The answer to a keyring call, to come.
#[derive(Debug)]
pub struct PendingCall<T> {
    answer: oneshot::Receiver<Result<T, StoreError>>,
}

impl<T> PendingCall<T> {
    /// The answer, or [`StoreError::TimedOut`] once `limit` has passed. The call
    /// itself goes on; [`PendingCall::late`] still gets its answer.
    pub async fn within(&mut self, limit: Duration) -> Result<T, StoreError> {
        match tokio::time::timeout(limit, &mut self.answer).await {
            Ok(answer) => answer.unwrap_or_else(|_| Err(ended())),
            Err(_) => Err(StoreError::TimedOut(limit)),
        }
    }

    /// The answer, however long it takes (after a timeout, to act on it when it comes).
    pub async fn late(self) -> Result<T, StoreError> {
        self.answer.await.unwrap_or_else(|_| Err(ended()))
    }
}

fn ended() -> StoreError {
    StoreError::Failed("the keyring call ended without an answer".into())
}

/// A keyring that holds every call until [`LockedStore::unlock`], as a locked
/// keyring holds it while its unlock prompt waits for someone: the test double
/// for code that must never block on the keyring (this crate's and the app's).
#[doc(hidden)]
#[derive(Default)]
pub struct LockedStore {
    /// What the keyring holds once unlocked.
    pub inner: MemoryStore,
    open: Mutex<bool>,
    opened: std::sync::Condvar,
    calls: std::sync::atomic::AtomicUsize,
}

impl LockedStore {
    pub fn unlock(&self) {
        if let Ok(mut open) = self.open.lock() {
            *open = true;
        }
        self.opened.notify_all();
    }

    /// How many calls reached the keyring (waiting or done).
    pub fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn wait_open(&self) {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let Ok(mut open) = self.open.lock() else { return };
        while !*open {
            match self.opened.wait(open) {
                Ok(next) => open = next,
                Err(_) => return,
            }
        }
    }
}

impl PasswordStore for LockedStore {
    fn get(&self, target: &Target) -> Result<Option<Password>, StoreError> {
        self.wait_open();
        self.inner.get(target)
    }
    fn set(&self, target: &Target, password: &Password) -> Result<(), StoreError> {
        self.wait_open();
        self.inner.set(target, password)
    }
    fn clear(&self, target: &Target) -> Result<bool, StoreError> {
        self.wait_open();
        self.inner.clear(target)
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

    /// A keyring that holds every call until released, as a locked keyring
    /// holds it while its unlock prompt waits for someone.

    #[tokio::test]
    async fn a_locked_keyring_times_out_with_a_clear_message_and_answers_late() {
        let locked = Arc::new(LockedStore::default());
        let worker = KeyringWorker::start(locked.clone());
        let t = Target::default();
        let started = std::time::Instant::now();
        let mut first = worker.set(&t, &Password::new("pw".into()));
        let error = first.within(Duration::from_millis(100)).await.unwrap_err();
        assert_eq!(error, StoreError::TimedOut(Duration::from_millis(100)));
        assert_eq!(error.to_string(), "the keyring did not answer within 0.1 s; is it locked?");
        assert!(started.elapsed() < Duration::from_secs(2), "the caller waits no longer than its limit");
        assert_eq!(
            StoreError::TimedOut(KEYRING_TIMEOUT).to_string(),
            "the keyring did not answer within 5 s; is it locked?"
        );

        // Queued behind the blocked call: one given up on is never made.
        let mut abandoned = worker.get(&t);
        assert!(matches!(abandoned.within(Duration::from_millis(20)).await, Err(StoreError::TimedOut(_))));
        drop(abandoned);
        let awaited = worker.get(&t);

        locked.unlock();
        assert_eq!(first.late().await, Ok(()));
        assert_eq!(awaited.late().await, Ok(Some(Password::new("pw".into()))));
        assert_eq!(locked.calls(), 2, "the abandoned call was skipped");
    }

    #[tokio::test]
    async fn an_answering_keyring_answers_through_the_worker() {
        let worker = KeyringWorker::start(Arc::new(FallbackStore::new(NoKeyring)));
        let t = Target::default();
        assert_eq!(worker.get(&t).within(KEYRING_TIMEOUT).await, Ok(None));
        worker.set(&t, &Password::new("pw".into())).within(KEYRING_TIMEOUT).await.unwrap();
        assert_eq!(worker.get(&t).within(KEYRING_TIMEOUT).await, Ok(Some(Password::new("pw".into()))));
        assert_eq!(worker.clear(&t).within(KEYRING_TIMEOUT).await, Ok(true));
    }
}
