//! A fake XDG desktop portal on the desktop's bus: it owns
//! `org.freedesktop.portal.Desktop` and serves what the app needs for hotkeys
//! on Wayland, `org.freedesktop.host.portal.Registry` (the app id of an
//! unsandboxed app) and, unless told not to, `org.freedesktop.portal.GlobalShortcuts`
//! (`CreateSession`, `BindShortcuts`, `ListShortcuts`, the `version` property),
//! answering through the Request pattern as the real portal does: the call
//! returns the request's object path, and the result follows as that object's
//! `Response` signal. It records what was registered and bound, and emits
//! `Activated` when the test presses a shortcut ([`FakePortal::activate`]).
//!
//! Where a real desktop asks the user, this one accepts the app's wishes:
//! each shortcut gets its `preferred_trigger`, described as
//! [`FakePortal::describe`] says, so a test can tell the desktop's words from
//! the app's.
//!
//! It runs on a thread of its own with its own runtime, so it answers whatever
//! runtime the test uses, and leaves the bus when dropped.

use std::collections::HashMap;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;
use zbus::message::Header;
use zbus::{Connection, OwnedObjectPath, OwnedVariant, Variant};

pub const PORTAL: &str = "org.freedesktop.portal.Desktop";
const PATH: &str = "/org/freedesktop/portal/desktop";
const SHORTCUTS: &str = "org.freedesktop.portal.GlobalShortcuts";

/// A shortcut as the app asked for it in `BindShortcuts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundShortcut {
    pub id: String,
    pub description: String,
    pub preferred_trigger: Option<String>,
}

/// Everything the portal was asked, in order.
#[derive(Debug, Clone, Default)]
pub struct PortalRecord {
    /// The app ids given to `Registry.Register`.
    pub registered: Vec<String>,
    /// Whether any GlobalShortcuts call came before `Register` (recent portals then
    /// tie the connection to no app id for good).
    pub called_before_register: bool,
    /// Each session created, with the unique name of the connection that made it.
    pub sessions: Vec<(String, String)>,
    /// The shortcuts of the latest `BindShortcuts` (session, shortcuts).
    pub bound: Option<(String, Vec<BoundShortcut>)>,
    pub bind_calls: usize,
    /// Triggers the user gave in the desktop's settings ([`FakePortal::change_trigger`]), by id.
    pub assigned: HashMap<String, String>,
}

/// What the portal offers.
#[derive(Debug, Clone, Copy)]
pub struct PortalOptions {
    /// Serve `org.freedesktop.portal.GlobalShortcuts` (sway and COSMIC do not).
    pub global_shortcuts: bool,
}

impl Default for PortalOptions {
    fn default() -> Self {
        PortalOptions { global_shortcuts: true }
    }
}

/// The running portal; dropping it takes it off the bus.
pub struct FakePortal {
    record: Arc<Mutex<PortalRecord>>,
    connection: Connection,
    runtime: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakePortal {
    /// Connects to `bus_address`, serves the portal and owns its name; returns once it does.
    pub fn start(bus_address: &str, options: PortalOptions) -> Result<FakePortal, String> {
        let address = bus_address.to_string();
        let record = Arc::new(Mutex::new(PortalRecord::default()));
        let shared = record.clone();
        type Ready = Result<(Connection, tokio::runtime::Handle), String>;
        let (ready_tx, ready) = std_mpsc::channel::<Ready>();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("fake-portal".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => return drop(ready_tx.send(Err(format!("portal runtime: {e}")))),
                };
                let handle = runtime.handle().clone();
                runtime.block_on(async move {
                    let mut builder = zbus::connection::Builder::address(address.as_str())
                        .serve_at(PATH, Registry { record: shared.clone() });
                    if options.global_shortcuts {
                        builder = builder.serve_at(PATH, GlobalShortcuts { record: shared });
                    }
                    match builder.name(PORTAL).build().await {
                        Ok(connection) => {
                            let _ = ready_tx.send(Ok((connection, handle)));
                            let _ = stopped.await;
                        }
                        Err(e) => drop(ready_tx.send(Err(format!("serving {PORTAL}: {e}")))),
                    }
                });
            })
            .map_err(|e| format!("cannot start the portal thread: {e}"))?;
        match ready.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok((connection, runtime))) => {
                Ok(FakePortal { record, connection, runtime, stop: Some(stop), thread: Some(thread) })
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("{PORTAL} did not come up within 10 s")),
        }
    }

    /// Everything asked so far.
    pub fn record(&self) -> PortalRecord {
        self.record.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Waits until a `BindShortcuts` was answered; its shortcuts.
    pub async fn wait_bound(&self, timeout: Duration) -> Result<Vec<BoundShortcut>, String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some((_, shortcuts)) = self.record().bound {
                return Ok(shortcuts);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(format!("nothing bound within {timeout:?}; the portal saw {:?}", self.record()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How this desktop describes a trigger to the user (`trigger_description`).
    pub fn describe(trigger: &str) -> String {
        format!("Press {}", trigger.replace('+', " + "))
    }

    /// The user gave the shortcut `id` another trigger in the desktop's settings:
    /// `ShortcutsChanged` with every bound shortcut, as the portal sends it.
    pub async fn change_trigger(&self, id: &str, trigger: &str) -> Result<(), String> {
        let (session, app) = {
            let mut record = self.record.lock().map_err(|_| "the record is poisoned")?;
            let (session, shortcuts) = record.bound.clone().ok_or("nothing is bound")?;
            if !shortcuts.iter().any(|s| s.id == id) {
                return Err(format!("{id} is not bound"));
            }
            record.assigned.insert(id.to_string(), trigger.to_string());
            let app = record.sessions.iter().find(|(s, _)| *s == session).map(|(_, app)| app.clone());
            (session, app.ok_or("the bound session has no owner")?)
        };
        let shortcuts = described(&self.record);
        let connection = self.connection.clone();
        let sent = self.runtime.spawn(async move {
            let path = OwnedObjectPath::try_from(session).map_err(|e| e.to_string())?;
            connection
                .emit_signal(Some(app.as_str()), PATH, SHORTCUTS, "ShortcutsChanged", &(path, shortcuts))
                .await
                .map_err(|e| format!("emit ShortcutsChanged: {e}"))
        });
        sent.await.map_err(|e| format!("emit ShortcutsChanged: {e}"))?
    }

    /// The user pressed the shortcut `id`: `Activated` to the app that bound it.
    pub async fn activate(&self, id: &str) -> Result<(), String> {
        let (session, app) = {
            let record = self.record();
            let (session, _) = record.bound.ok_or("nothing is bound")?;
            let app = record.sessions.iter().find(|(s, _)| *s == session).map(|(_, app)| app.clone());
            (session, app.ok_or("the bound session has no owner")?)
        };
        let connection = self.connection.clone();
        let id = id.to_string();
        let sent = self.runtime.spawn(async move {
            let path = OwnedObjectPath::try_from(session).map_err(|e| e.to_string())?;
            let options: HashMap<&str, Variant> = HashMap::new();
            let timestamp: u64 = 1;
            connection
                .emit_signal(Some(app.as_str()), PATH, SHORTCUTS, "Activated", &(path, id.as_str(), timestamp, options))
                .await
                .map_err(|e| format!("emit Activated: {e}"))
        });
        sent.await.map_err(|e| format!("emit Activated: {e}"))?
    }
}

impl Drop for FakePortal {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl super::Desktop {
    /// Starts a [`FakePortal`] on this desktop's bus.
    pub async fn start_portal(&self, options: PortalOptions) -> Result<FakePortal, String> {
        let address = self.bus_address().to_string();
        tokio::task::spawn_blocking(move || FakePortal::start(&address, options))
            .await
            .map_err(|e| format!("starting the portal: {e}"))?
    }
}

struct Registry {
    record: Arc<Mutex<PortalRecord>>,
}

#[zbus::interface(name = "org.freedesktop.host.portal.Registry")]
impl Registry {
    async fn register(&self, app_id: String, _options: HashMap<String, OwnedVariant>) -> zbus::fdo::Result<()> {
        if let Ok(mut record) = self.record.lock() {
            record.registered.push(app_id);
        }
        Ok(())
    }
}

struct GlobalShortcuts {
    record: Arc<Mutex<PortalRecord>>,
}

/// The caller's part of request and session paths: its unique name without
/// the colon, dots as underscores.
fn sender_part(header: &Header<'_>) -> String {
    header.sender().map(|s| s.trim_start_matches(':').replace('.', "_")).unwrap_or_default()
}

fn token(options: &HashMap<String, OwnedVariant>, key: &str, fallback: &str) -> String {
    options
        .get(key)
        .and_then(|v| match &**v {
            Variant::Str(s) => Some(s.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| fallback.to_string())
}

impl GlobalShortcuts {
    fn note_call(&self) {
        if let Ok(mut record) = self.record.lock() {
            if record.registered.is_empty() {
                record.called_before_register = true;
            }
        }
    }

    /// The request object for this call, and its `Response` sent a moment after
    /// the call returned (as a portal's arrives after the user answered).
    fn answer(
        &self,
        connection: &Connection,
        header: &Header<'_>,
        options: &HashMap<String, OwnedVariant>,
        results: HashMap<&'static str, Variant<'static>>,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        let request = format!("{PATH}/request/{}/{}", sender_part(header), token(options, "handle_token", "t"));
        let path = OwnedObjectPath::try_from(request).map_err(|e| zbus::fdo::Error::Failed(e.to_string()))?;
        let sender = header.sender().map(|s| s.to_string()).unwrap_or_default();
        let connection = connection.clone();
        let response_path = path.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = connection
                .emit_signal(
                    Some(sender.as_str()),
                    &response_path,
                    "org.freedesktop.portal.Request",
                    "Response",
                    &(0u32, results),
                )
                .await;
        });
        Ok(path)
    }
}

/// The bound shortcuts as the portal describes them (`a(sa{sv})`): each with its
/// description and the trigger it got, in this desktop's words.
fn described(record: &Mutex<PortalRecord>) -> Vec<(String, HashMap<String, Variant<'static>>)> {
    let (bound, assigned) = match record.lock() {
        Ok(r) => (r.bound.clone().map(|(_, s)| s).unwrap_or_default(), r.assigned.clone()),
        Err(_) => return Vec::new(),
    };
    bound
        .into_iter()
        .map(|s| {
            let trigger = assigned.get(&s.id).cloned().or(s.preferred_trigger);
            let mut details: HashMap<String, Variant<'static>> = HashMap::new();
            details.insert("description".into(), Variant::from(s.description));
            let described = trigger.as_deref().map(FakePortal::describe).unwrap_or_default();
            details.insert("trigger_description".into(), Variant::from(described));
            (s.id, details)
        })
        .collect()
}

#[zbus::interface(name = "org.freedesktop.portal.GlobalShortcuts")]
impl GlobalShortcuts {
    async fn create_session(
        &self,
        options: HashMap<String, OwnedVariant>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        self.note_call();
        let session =
            format!("{PATH}/session/{}/{}", sender_part(&header), token(&options, "session_handle_token", "s"));
        if let Ok(mut record) = self.record.lock() {
            let app = header.sender().map(|s| s.to_string()).unwrap_or_default();
            record.sessions.push((session.clone(), app));
        }
        let mut results = HashMap::new();
        results.insert("session_handle", Variant::from(session));
        self.answer(connection, &header, &options, results)
    }

    async fn bind_shortcuts(
        &self,
        session_handle: OwnedObjectPath,
        shortcuts: Vec<(String, HashMap<String, OwnedVariant>)>,
        _parent_window: String,
        options: HashMap<String, OwnedVariant>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        self.note_call();
        let shortcuts = shortcuts
            .iter()
            .map(|(id, details)| BoundShortcut {
                id: id.clone(),
                description: token(details, "description", ""),
                preferred_trigger: details
                    .contains_key("preferred_trigger")
                    .then(|| token(details, "preferred_trigger", "")),
            })
            .collect();
        if let Ok(mut record) = self.record.lock() {
            record.bind_calls += 1;
            record.bound = Some((session_handle.to_string(), shortcuts));
        }
        let mut results = HashMap::new();
        results.insert("shortcuts", Variant::from(described(&self.record)));
        self.answer(connection, &header, &options, results)
    }

    async fn list_shortcuts(
        &self,
        _session_handle: OwnedObjectPath,
        options: HashMap<String, OwnedVariant>,
        #[zbus(header)] header: Header<'_>,
        #[zbus(connection)] connection: &Connection,
    ) -> zbus::fdo::Result<OwnedObjectPath> {
        self.note_call();
        let mut results = HashMap::new();
        results.insert("shortcuts", Variant::from(described(&self.record)));
        self.answer(connection, &header, &options, results)
    }

    /// Lower-case, as the portal spells it (zbus would say `Version`).
    #[zbus(property, name = "version")]
    fn version(&self) -> u32 {
        1
    }
}
