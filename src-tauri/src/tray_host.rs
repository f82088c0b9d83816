//! Whether a tray shows OnAir's icon on this Linux desktop, asked of the
//! session bus: the adapter behind `onair_headless::desktop::tray_host_plan`.
//!
//! The tray icon is a StatusNotifierItem, drawn only when someone owns
//! `org.kde.StatusNotifierWatcher` and a host registered with it. GNOME
//! without the AppIndicator extension has none, and OnAir would run unseen. A
//! thread of its own (one bus connection, its own small runtime, so the
//! start-up never waits on the bus) looks once, hands what it saw to the
//! controller, then only logs a watcher that comes or goes later: libayatana
//! registers with a new watcher by itself.
//!
//! A watcher or host that appears within [`GRACE`] of the start counts as
//! there from the start: at login the panel may still be loading while
//! autostarted apps already run. Without a StatusNotifier host, an XEmbed
//! system tray on the X screen (asked of the X server) shows the icon too.

use std::time::Duration;

use futures_util::StreamExt;
use onair_headless::desktop::TrayHostSeen;
use zbus::message::Type as MessageType;
use zbus::{Connection, MatchRule, MessageStream, Variant};

const WATCHER: &str = "org.kde.StatusNotifierWatcher";
const WATCHER_PATH: &str = "/StatusNotifierWatcher";
const BUS: &str = "org.freedesktop.DBus";
/// A bus or watcher that does not answer within this is treated as unknown.
const CALL_LIMIT: Duration = Duration::from_secs(3);
/// How long a missing watcher or host is waited for at start.
const GRACE: Duration = Duration::from_secs(2);

/// Called once with what the bus said at start.
pub type Seen = Box<dyn FnOnce(TrayHostSeen) + Send>;

/// Looks at the bus on a thread of its own; see the module docs.
pub fn watch(seen: Seen) {
    let spawned = std::thread::Builder::new().name("tray-host".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => return seen(TrayHostSeen::Unknown(format!("cannot start a runtime to ask the bus: {e}"))),
        };
        runtime.block_on(async move {
            match Bus::connect().await {
                Ok(mut bus) => {
                    let looked = match bus.look().await {
                        TrayHostSeen::NoWatcher | TrayHostSeen::Watcher { host_registered: Some(false) }
                            if xembed_tray() =>
                        {
                            TrayHostSeen::XEmbedTray
                        }
                        looked => looked,
                    };
                    seen(looked);
                    bus.follow().await;
                }
                Err(e) => seen(TrayHostSeen::Unknown(format!("no session bus: {e}"))),
            }
        });
    });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the thread that looks for a tray; assuming there is one");
    }
}

struct Bus {
    connection: Connection,
    /// `NameOwnerChanged` of the watcher's name.
    owners: MessageStream,
    /// The watcher's `StatusNotifierHostRegistered`.
    hosts: MessageStream,
}

impl Bus {
    async fn connect() -> zbus::Result<Bus> {
        let connection = zbus::connection::Builder::session().method_timeout(CALL_LIMIT).build().await?;
        // No sender in the rules: they are matched locally too, against names
        // that are not unique names.
        let owner_changes = MatchRule::builder()
            .msg_type(MessageType::Signal)
            .interface(BUS)
            .member("NameOwnerChanged")
            .arg(0, WATCHER)
            .build()?;
        let host_registered = MatchRule::builder()
            .msg_type(MessageType::Signal)
            .interface(WATCHER)
            .member("StatusNotifierHostRegistered")
            .build()?;
        // Subscribed before asking, so nothing that happens in between is missed.
        let owners = MessageStream::for_match_rule(owner_changes, &connection, None).await?;
        let hosts = MessageStream::for_match_rule(host_registered, &connection, None).await?;
        Ok(Bus { connection, owners, hosts })
    }

    async fn look(&mut self) -> TrayHostSeen {
        let owned = self
            .connection
            .call_method(Some(BUS), "/org/freedesktop/DBus", Some(BUS), "NameHasOwner", &(WATCHER,))
            .await
            .and_then(|reply| reply.body().deserialize::<bool>());
        match owned {
            Ok(true) => {}
            Ok(false) => {
                if !appears(&mut self.owners, |new_owner| !new_owner.is_empty()).await {
                    return TrayHostSeen::NoWatcher;
                }
            }
            Err(e) => return TrayHostSeen::Unknown(format!("asking the bus whether {WATCHER} is there: {e}")),
        }
        let mut host_registered = self.host_registered().await;
        if host_registered == Some(false) && appears(&mut self.hosts, |_| true).await {
            host_registered = Some(true);
        }
        TrayHostSeen::Watcher { host_registered }
    }

    /// `IsStatusNotifierHostRegistered`; `None` when the watcher will not say.
    async fn host_registered(&self) -> Option<bool> {
        let property = (WATCHER, "IsStatusNotifierHostRegistered");
        let reply = self
            .connection
            .call_method(Some(WATCHER), WATCHER_PATH, Some("org.freedesktop.DBus.Properties"), "Get", &property)
            .await;
        match reply.and_then(|reply| reply.body().deserialize::<Variant<'_>>().map(|v| bool::try_from(v).ok())) {
            Ok(answer) => answer,
            Err(e) => {
                tracing::debug!(error = %e, "the StatusNotifierWatcher does not say whether a host registered");
                None
            }
        }
    }

    /// Logs every later change of the watcher's owner, for as long as the bus lasts.
    async fn follow(mut self) {
        while let Some(Ok(message)) = self.owners.next().await {
            let Ok((_, _, new_owner)) = message.body().deserialize::<(String, String, String)>() else { continue };
            if new_owner.is_empty() {
                tracing::warn!("the StatusNotifierWatcher left the session bus: OnAir's tray icon is gone");
            } else {
                tracing::info!("a StatusNotifierWatcher appeared on the session bus: OnAir's tray icon can show now");
            }
        }
    }
}

/// Whether an XEmbed system tray owns this X screen's `_NET_SYSTEM_TRAY_S<n>`
/// selection: where no StatusNotifier host is, libappindicator embeds the icon
/// in such a tray. False without an X display or when the X server cannot be asked.
fn xembed_tray() -> bool {
    use x11rb::protocol::xproto::ConnectionExt as _;
    if std::env::var_os("DISPLAY").is_none() {
        return false;
    }
    let asked = (|| -> Result<bool, Box<dyn std::error::Error>> {
        let (connection, screen) = x11rb::connect(None)?;
        let name = format!("_NET_SYSTEM_TRAY_S{screen}");
        let atom = connection.intern_atom(false, name.as_bytes())?.reply()?.atom;
        let owner = connection.get_selection_owner(atom)?.reply()?.owner;
        Ok(owner != x11rb::NONE)
    })();
    asked.unwrap_or_else(|error| {
        tracing::debug!(%error, "cannot ask the X server whether an XEmbed system tray is there");
        false
    })
}

/// Whether a signal on `stream` whose last string argument passes `wanted`
/// comes within [`GRACE`].
async fn appears(stream: &mut MessageStream, wanted: impl Fn(&str) -> bool) -> bool {
    let found = async {
        while let Some(Ok(message)) = stream.next().await {
            let last = message.body().deserialize::<(String, String, String)>().map(|(_, _, new)| new);
            // `StatusNotifierHostRegistered` has no arguments: any counts.
            if last.as_deref().map_or(true, &wanted) {
                return true;
            }
        }
        false
    };
    tokio::time::timeout(GRACE, found).await.unwrap_or(false)
}
