//! A minimal `org.kde.StatusNotifierWatcher` on the desktop's bus, as a panel
//! with a tray (KDE, GNOME with the AppIndicator extension) provides: the app
//! checks for one at start and opens its window when there is none, so a
//! desktop that should look like a tray user's needs it. It says a host is
//! registered, keeps the items that register (libayatana registers its
//! icon here) and emits the watcher's signals; it shows nothing.
//!
//! It runs on a thread of its own with its own runtime, so it answers whatever
//! runtime the test uses, and stops (leaving the bus) when dropped.

use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::oneshot;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;

use super::Desktop;

pub const WATCHER: &str = "org.kde.StatusNotifierWatcher";
const WATCHER_PATH: &str = "/StatusNotifierWatcher";

/// The running watcher; dropping it takes it off the bus.
pub(super) struct TrayWatcher {
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TrayWatcher {
    /// Connects to `bus_address`, serves the watcher and owns its name; returns once it does.
    fn start(bus_address: &str) -> Result<TrayWatcher, String> {
        let address = bus_address.to_string();
        let (ready_tx, ready) = std_mpsc::channel::<Result<(), String>>();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("tray-watcher".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    Ok(runtime) => runtime,
                    Err(e) => return drop(ready_tx.send(Err(format!("watcher runtime: {e}")))),
                };
                runtime.block_on(async move {
                    let built = zbus::connection::Builder::address(address.as_str())
                        .serve_at(WATCHER_PATH, Watcher::default())
                        .name(WATCHER)
                        .build()
                        .await;
                    match built {
                        Ok(_connection) => {
                            let _ = ready_tx.send(Ok(()));
                            // The connection (and the name) lasts until the desktop drops this.
                            let _ = stopped.await;
                        }
                        Err(e) => drop(ready_tx.send(Err(format!("serving {WATCHER}: {e}")))),
                    }
                });
            })
            .map_err(|e| format!("cannot start the watcher thread: {e}"))?;
        let watcher = TrayWatcher { stop: Some(stop), thread: Some(thread) };
        match ready.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(watcher),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("{WATCHER} did not come up within 10 s")),
        }
    }
}

impl Drop for TrayWatcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Desktop {
    /// Starts the StatusNotifierWatcher (see the module docs) unless it runs;
    /// a desktop started with `tray_watcher: false` gains its tray here.
    pub async fn start_tray_watcher(&mut self) -> Result<(), String> {
        if self.watcher.is_none() {
            let address = self.bus_address().to_string();
            let watcher = tokio::task::spawn_blocking(move || TrayWatcher::start(&address))
                .await
                .map_err(|e| format!("starting the watcher: {e}"))??;
            self.watcher = Some(watcher);
        }
        Ok(())
    }

    /// Takes the StatusNotifierWatcher off the bus, as a panel that quits does.
    pub fn stop_tray_watcher(&mut self) {
        self.watcher = None;
    }

    /// How many mapped X windows titled exactly `title` this desktop shows right now
    /// (`xdotool search --onlyvisible`).
    pub async fn visible_windows(&self, title: &str) -> Result<usize, String> {
        let mut cmd = self.command("xdotool");
        cmd.args(["search", "--onlyvisible", "--name", &format!("^{title}$")]);
        let out = super::procs::run(cmd, None, "xdotool search").await?;
        // xdotool exits 1 when it finds nothing.
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && !stderr.trim().is_empty() {
            return Err(format!("xdotool search failed ({}): {}", out.status, stderr.trim()));
        }
        Ok(String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.trim().is_empty()).count())
    }
}

/// What the watcher keeps: the items registered, as `<bus name><path>` or a bus name.
#[derive(Default)]
struct Watcher {
    items: Vec<String>,
}

#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    async fn register_status_notifier_item(
        &mut self,
        service: &str,
        #[zbus(header)] header: Header<'_>,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> zbus::fdo::Result<()> {
        // An object path names an item on the caller's own connection.
        let item = match (service.starts_with('/'), header.sender()) {
            (true, Some(sender)) => format!("{sender}{service}"),
            _ => service.to_string(),
        };
        if !self.items.contains(&item) {
            self.items.push(item.clone());
        }
        Self::status_notifier_item_registered(&emitter, &item).await?;
        self.registered_status_notifier_items_changed(&emitter).await?;
        Ok(())
    }

    async fn register_status_notifier_host(
        &self,
        _service: &str,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> zbus::fdo::Result<()> {
        Self::status_notifier_host_registered(&emitter).await?;
        Ok(())
    }

    #[zbus(property)]
    fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.clone()
    }

    /// A panel is always there to show the items: that is what this desktop stands for.
    #[zbus(property)]
    fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(signal)]
    async fn status_notifier_item_registered(emitter: &SignalEmitter<'_>, service: &str) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn status_notifier_item_unregistered(emitter: &SignalEmitter<'_>, service: &str) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn status_notifier_host_registered(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;

    #[zbus(signal)]
    async fn status_notifier_host_unregistered(emitter: &SignalEmitter<'_>) -> zbus::Result<()>;
}
