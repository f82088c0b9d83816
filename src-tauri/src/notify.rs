//! Desktop notifications over one session-bus connection kept for the app's
//! life, speaking `org.freedesktop.Notifications` through zbus: the adapter
//! that carries out what `onair_headless::desktop`'s notification policy
//! decides.
//!
//! A connection per notification cost a bus handshake each time (event to
//! Notify took milliseconds), and recent GNOME drops a notification whose
//! sender left the bus. So one thread owns one connection and its own small
//! runtime, and the controller only hands it plans over a channel.
//!
//! What it keeps:
//! - the server's capabilities (`actions`, `body-markup`), asked once and
//!   again whenever the name `org.freedesktop.Notifications` changes owner;
//! - the id showing in each slot, for `replaces_id` and `CloseNotification`,
//!   all forgotten when the server changes, since the next one's ids name
//!   other notifications;
//! - the button each id shows until the server says it closed
//!   (`NotificationClosed`), so an `ActionInvoked` becomes the button's
//!   control, sent back to the controller.
//!
//! With no notification server it logs once and carries on; one that goes
//! away and comes back is logged and used again. A lost bus is connected
//! again at the next notification.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use onair_headless::desktop::{NotificationAction, NotificationButton, NotificationPlan, Urgency};
use tokio::sync::mpsc;
use zbus::message::Type as MessageType;
use zbus::{Connection, MatchRule, Message, MessageStream, Variant};

const SERVER: &str = "org.freedesktop.Notifications";
const PATH: &str = "/org/freedesktop/Notifications";
/// A server that does not answer within this is treated as missing for that call.
const CALL_LIMIT: Duration = Duration::from_secs(5);
/// Ids whose button may still be pressed; a server that never says a
/// notification closed cannot make the list grow past this.
const MAX_BUTTONS: usize = 64;
/// `expire_timeout`: the server's default.
const SERVER_DEFAULT_TIMEOUT: i32 = -1;

/// Called with the button a user pressed on one of OnAir's notifications.
pub type ButtonPressed = Box<dyn Fn(usize, NotificationButton) + Send>;

pub struct DesktopNotifier {
    actions: mpsc::UnboundedSender<NotificationAction>,
}

impl DesktopNotifier {
    pub fn start(app_name: &'static str, desktop_entry: String, pressed: ButtonPressed) -> DesktopNotifier {
        let (actions, inbox) = mpsc::unbounded_channel::<NotificationAction>();
        let spawned = std::thread::Builder::new().name("notifications".into()).spawn(move || {
            // Its own runtime: the connection's socket is driven here, never
            // waiting behind the app's other tasks.
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(e) => {
                    tracing::error!(error = %e, "cannot start the notifications' runtime; notifications are off");
                    return;
                }
            };
            runtime.block_on(Notifier::new(app_name, desktop_entry, pressed).run(inbox));
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the notification thread; notifications are off");
        }
        DesktopNotifier { actions }
    }

    /// Shows, replaces or closes a notification, on the notification thread.
    pub fn act(&self, action: NotificationAction) {
        let _ = self.actions.send(action);
    }
}

/// What the notification server said it can do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Capabilities {
    /// It shows buttons (and sends `ActionInvoked`).
    actions: bool,
    /// It reads the body as markup, so `&`, `<` and `>` must be escaped.
    body_markup: bool,
}

impl Capabilities {
    fn of(listed: &[String]) -> Capabilities {
        let has = |name: &str| listed.iter().any(|c| c == name);
        Capabilities { actions: has("actions"), body_markup: has("body-markup") }
    }
}

/// The connection and the signals it follows.
struct Bus {
    connection: Connection,
    /// `ActionInvoked` and `NotificationClosed`.
    signals: MessageStream,
    /// `NameOwnerChanged` of the notification server's name.
    owners: MessageStream,
}

impl Bus {
    async fn connect() -> zbus::Result<Bus> {
        let connection = zbus::connection::Builder::session().method_timeout(CALL_LIMIT).build().await?;
        let from_server = MatchRule::builder().msg_type(MessageType::Signal).interface(SERVER).path(PATH).build()?;
        // No sender in the rule: it is matched locally too, against the bus
        // driver's name, which is not a unique name.
        let owner_changes = MatchRule::builder()
            .msg_type(MessageType::Signal)
            .interface("org.freedesktop.DBus")
            .member("NameOwnerChanged")
            .arg(0, SERVER)
            .build()?;
        let signals = MessageStream::for_match_rule(from_server, &connection, None).await?;
        let owners = MessageStream::for_match_rule(owner_changes, &connection, None).await?;
        Ok(Bus { connection, signals, owners })
    }

    async fn call<B>(&self, method: &str, body: &B) -> zbus::Result<Message>
    where
        B: serde::ser::Serialize + zbus::DynamicType,
    {
        self.connection.call_method(Some(SERVER), PATH, Some(SERVER), method, body).await
    }

    /// The signals already received, without waiting for more.
    fn received(&mut self) -> Vec<Message> {
        let mut messages = Vec::new();
        for stream in [&mut self.signals, &mut self.owners] {
            while let Some(Some(Ok(message))) = stream.next().now_or_never() {
                messages.push(message);
            }
        }
        messages
    }
}

/// What woke the notification thread.
enum Wake {
    Action(NotificationAction),
    Signal(Message),
    /// A signal stream ended: the connection is gone.
    BusLost,
    /// Every sender is gone: the app is ending.
    Done,
}

struct Notifier {
    app_name: &'static str,
    /// The installed desktop file's id (the app's identifier), for the `desktop-entry` hint.
    desktop_entry: String,
    pressed: ButtonPressed,
    bus: Option<Bus>,
    /// "cannot reach the session bus" was logged, and not since answered.
    bus_missing: bool,
    /// The server's capabilities; `None` while no server has answered.
    server: Option<Capabilities>,
    /// "no notification server" was logged, and not since answered.
    server_missing: bool,
    /// The id of the latest notification in each slot, by connection and slot.
    slots: HashMap<(usize, &'static str), u32>,
    /// The button each id shows and the connection it acts on, oldest first.
    buttons: VecDeque<(u32, usize, NotificationButton)>,
}

impl Notifier {
    fn new(app_name: &'static str, desktop_entry: String, pressed: ButtonPressed) -> Notifier {
        Notifier {
            app_name,
            desktop_entry,
            pressed,
            bus: None,
            bus_missing: false,
            server: None,
            server_missing: false,
            slots: HashMap::new(),
            buttons: VecDeque::new(),
        }
    }

    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<NotificationAction>) {
        if self.connected().await {
            self.learn_capabilities().await;
        }
        loop {
            let wake = match self.bus.as_mut() {
                Some(bus) => tokio::select! {
                    action = inbox.recv() => action.map_or(Wake::Done, Wake::Action),
                    signal = bus.signals.next() => signal.map_or(Wake::BusLost, |s| s.map_or(Wake::BusLost, Wake::Signal)),
                    signal = bus.owners.next() => signal.map_or(Wake::BusLost, |s| s.map_or(Wake::BusLost, Wake::Signal)),
                },
                None => inbox.recv().await.map_or(Wake::Done, Wake::Action),
            };
            match wake {
                Wake::Action(NotificationAction::Show(plan)) => self.show(&plan).await,
                Wake::Action(NotificationAction::Close { connection, slot }) => self.close(connection, slot).await,
                Wake::Signal(message) => self.on_signal(&message).await,
                Wake::BusLost => self.lose_bus("the session bus connection closed"),
                Wake::Done => return,
            }
        }
    }

    /// Connects when not connected; false when the bus cannot be reached.
    async fn connected(&mut self) -> bool {
        if self.bus.is_some() {
            return true;
        }
        match Bus::connect().await {
            Ok(bus) => {
                if self.bus_missing {
                    tracing::info!("the session bus is back; notifications are shown again");
                    self.bus_missing = false;
                }
                self.bus = Some(bus);
                true
            }
            Err(error) => {
                if !self.bus_missing {
                    tracing::warn!(%error, "cannot reach the session bus; notifications are not shown until it can be");
                    self.bus_missing = true;
                }
                false
            }
        }
    }

    fn lose_bus(&mut self, why: &str) {
        if self.bus.take().is_some() {
            tracing::warn!("{why}; connecting again at the next notification");
        }
        self.forget_server_state();
        self.server = None;
    }

    /// Asks the server what it can do (which also starts one the bus can activate).
    async fn learn_capabilities(&mut self) {
        let Some(bus) = self.bus.as_ref() else { return };
        let listed = match bus.call("GetCapabilities", &()).await {
            Ok(reply) => reply.body().deserialize::<Vec<String>>(),
            Err(error) => Err(error),
        };
        match listed {
            Ok(listed) => {
                let capabilities = Capabilities::of(&listed);
                tracing::info!(
                    actions = capabilities.actions,
                    body_markup = capabilities.body_markup,
                    "a notification server is on the bus"
                );
                self.server = Some(capabilities);
                self.server_missing = false;
            }
            Err(error) => {
                self.server = None;
                self.missing_server(&error);
            }
        }
    }

    fn missing_server(&mut self, error: &zbus::Error) {
        if let Some(bus) = &self.bus {
            if bus.connection.is_closed() {
                self.lose_bus("the session bus connection closed");
                return;
            }
        }
        if !self.server_missing {
            tracing::warn!(%error, "no notification server answered; notifications are not shown until one does");
            self.server_missing = true;
        }
    }

    async fn show(&mut self, plan: &NotificationPlan) {
        if !self.connected().await {
            return;
        }
        if self.server.is_none() {
            self.learn_capabilities().await;
        }
        let capabilities = self.server.unwrap_or_default();
        let slot = (plan.connection, plan.slot);
        let replaces_id = if plan.replace { self.slots.get(&slot).copied().unwrap_or(0) } else { 0 };
        let button = plan.button.as_ref().filter(|_| capabilities.actions);
        let actions: Vec<&str> = button.map(|b| vec![b.key(), b.label()]).unwrap_or_default();
        let body = if capabilities.body_markup { escape_markup(&plan.body) } else { plan.body.clone() };
        let urgency: u8 = match plan.urgency {
            Urgency::Low => 0,
            Urgency::Normal => 1,
            Urgency::Critical => 2,
        };
        let hints: HashMap<&str, Variant<'_>> = HashMap::from([
            ("category", Variant::from(plan.category())),
            ("desktop-entry", Variant::from(self.desktop_entry.as_str())),
            ("urgency", Variant::from(urgency)),
        ]);
        let Some(bus) = self.bus.as_ref() else { return };
        let body =
            (self.app_name, replaces_id, icon_for(plan), &plan.summary, &body, actions, hints, SERVER_DEFAULT_TIMEOUT);
        let answer = match bus.call("Notify", &body).await {
            Ok(reply) => reply.body().deserialize::<u32>(),
            Err(error) => Err(error),
        };
        match answer {
            Ok(id) => {
                // A closing or a server change the bus passed on before this
                // answer happened before it.
                self.apply_received().await;
                if self.server_missing {
                    tracing::info!("a notification server is back");
                    self.server_missing = false;
                }
                self.slots.insert(slot, id);
                self.buttons.retain(|(shown, ..)| *shown != id);
                if let Some(button) = button {
                    self.buttons.push_back((id, plan.connection, button.clone()));
                    while self.buttons.len() > MAX_BUTTONS {
                        self.buttons.pop_front();
                    }
                }
            }
            Err(error) => self.missing_server(&error),
        }
    }

    async fn close(&mut self, connection: usize, slot: &'static str) {
        let Some(id) = self.slots.remove(&(connection, slot)) else { return };
        self.buttons.retain(|(shown, ..)| *shown != id);
        let Some(bus) = self.bus.as_ref() else { return };
        tracing::debug!(slot, id, "closing an answered notification");
        if let Err(error) = bus.call("CloseNotification", &(id,)).await {
            tracing::debug!(slot, id, %error, "cannot close the notification");
        }
    }

    async fn apply_received(&mut self) {
        let received = self.bus.as_mut().map(Bus::received).unwrap_or_default();
        for message in received {
            self.on_signal(&message).await;
        }
    }

    async fn on_signal(&mut self, message: &Message) {
        let header = message.header();
        let Some(member) = header.member() else { return };
        match member.as_str() {
            "ActionInvoked" => {
                let Ok((id, key)) = message.body().deserialize::<(u32, String)>() else { return };
                let pressed = self.buttons.iter().find(|(shown, _, b)| *shown == id && b.key() == key);
                if let Some((_, connection, button)) = pressed {
                    tracing::info!(id, connection, button = button.label(), "a notification's button was pressed");
                    (self.pressed)(*connection, button.clone());
                }
            }
            "NotificationClosed" => {
                // Its button cannot be pressed any more. Its slot keeps the id: the
                // next in the slot still replaces it (a server makes that a new
                // notification), and a close of it is harmless, while a server
                // that expired an alarm early must not make its answer stack.
                let Ok((id, _reason)) = message.body().deserialize::<(u32, u32)>() else { return };
                self.buttons.retain(|(shown, ..)| *shown != id);
            }
            "NameOwnerChanged" => {
                let Ok((name, _old, new)) = message.body().deserialize::<(String, String, String)>() else { return };
                if name != SERVER {
                    return;
                }
                // The next server's ids name other notifications.
                self.forget_server_state();
                if new.is_empty() {
                    tracing::warn!("the notification server left the bus; notifications wait for the next one");
                    self.server = None;
                    self.server_missing = true;
                } else {
                    tracing::info!(owner = new.as_str(), "a notification server took the name; asking what it can do");
                    self.learn_capabilities().await;
                }
            }
            _ => {}
        }
    }

    fn forget_server_state(&mut self) {
        self.slots.clear();
        self.buttons.clear();
    }
}

/// The body as text in a server's markup: only `&`, `<` and `>` mean anything there.
fn escape_markup(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            other => escaped.push(other),
        }
    }
    escaped
}

fn icon_for(plan: &NotificationPlan) -> &'static str {
    match plan.kind {
        "live" | "recording-started" | "recording-file-changed" => "media-record",
        "ended" | "recording-stopped" => "media-playback-stop",
        "recording-paused" => "media-playback-pause",
        "recording-resumed" | "reconnected" | "obs-back" => "media-playback-start",
        "replay-saved" => "document-save",
        "reconnecting" => "network-wireless-acquiring",
        _ => "dialog-warning",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_read_from_the_servers_list() {
        let listed = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert_eq!(
            Capabilities::of(&listed(&["body", "actions", "body-markup"])),
            Capabilities { actions: true, body_markup: true }
        );
        // dunst 1.9 as configured by the tests: buttons, plain bodies.
        assert_eq!(
            Capabilities::of(&listed(&["actions", "body", "body-hyperlinks", "icon-static"])),
            Capabilities { actions: true, body_markup: false }
        );
        assert_eq!(Capabilities::of(&[]), Capabilities::default());
    }

    #[test]
    fn markup_characters_in_a_body_are_escaped() {
        assert_eq!(escape_markup("Mic & Guitar <L> muted"), "Mic &amp; Guitar &lt;L&gt; muted");
        assert_eq!(escape_markup("0:42 live · 2.3 GB"), "0:42 live · 2.3 GB");
    }
}
