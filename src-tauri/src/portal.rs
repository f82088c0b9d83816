//! Global hotkeys on Wayland through the XDG desktop portal's `GlobalShortcuts`
//! interface (KDE Plasma, GNOME 48+, Hyprland), where no application may grab
//! keys: the desktop owns the keys, OnAir asks it to bind its actions, and the
//! desktop says when one is pressed (`Activated`).
//!
//! Spoken with zbus directly, not the `ashpd` crate: the app already has zbus 6
//! (the notifications), and the four calls and three signals needed here cost
//! less to write than ashpd and its dependencies cost to build on every machine.
//!
//! The portal answers through the Request pattern: a call returns a request
//! object at once and its result arrives later as that object's `Response`
//! signal, after the desktop may have asked the user. The app id is registered
//! first (`org.freedesktop.host.portal.Registry`): recent portals refuse
//! unsandboxed apps that have none, and show the installed `.desktop` file's
//! name for the shortcuts. Where there is no portal or no `GlobalShortcuts`,
//! nothing here runs and the hotkeys adapter keeps its advice (bind `onair …`
//! commands in the desktop's own keyboard settings).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use onair_headless::desktop::{portal_shortcuts, wants_portal, HotkeyPress, HotkeySettings, SHORTCUTS_ENV};
use tokio::sync::mpsc;
use zbus::message::Type as MessageType;
use zbus::{Connection, MatchRule, Message, MessageStream};
use zbus::{ObjectPath, OwnedObjectPath, OwnedVariant, Variant};

use crate::controller::DesktopInput;

const PORTAL: &str = "org.freedesktop.portal.Desktop";
const PATH: &str = "/org/freedesktop/portal/desktop";
const SHORTCUTS: &str = "org.freedesktop.portal.GlobalShortcuts";
const REGISTRY: &str = "org.freedesktop.host.portal.Registry";
const REQUEST: &str = "org.freedesktop.portal.Request";
const SESSION: &str = "org.freedesktop.portal.Session";
/// How long start-up waits to learn whether there is a portal.
const PROBE_LIMIT: Duration = Duration::from_secs(3);
/// A portal call's own answer (the request handle); the `Response` may take
/// as long as the user needs in the desktop's dialog, so it has no limit.
const CALL_LIMIT: Duration = Duration::from_secs(10);

/// The portal session in use, as the app's managed state: [`crate::hotkeys`]
/// hands it the hotkey settings in place of grabbing keys.
pub struct PortalShortcuts {
    wishes: mpsc::UnboundedSender<HotkeySettings>,
    bound: Arc<Mutex<Vec<(HotkeyPress, String)>>>,
}

impl PortalShortcuts {
    /// Binds the settings' hotkeys in place of the previous ones (none while off).
    pub fn bind(&self, settings: &HotkeySettings) {
        let _ = self.wishes.send(settings.clone());
    }

    /// What the desktop last said each action is bound to (its `trigger_description`;
    /// empty while the user has not given it a trigger), for the window's settings.
    pub fn bound(&self) -> Vec<(HotkeyPress, String)> {
        self.bound.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

/// Finds the portal when this session wants it (Wayland, or `ONAIR_SHORTCUTS=portal`)
/// and starts the task that keeps the shortcuts bound; `None` (with one log
/// line saying why) leaves hotkeys to the global grab or its advice.
pub fn start(app_id: &str, inputs: mpsc::Sender<DesktopInput>) -> Option<PortalShortcuts> {
    let session_type = std::env::var("XDG_SESSION_TYPE").ok();
    let wayland_display = std::env::var("WAYLAND_DISPLAY").ok();
    let choice = std::env::var(SHORTCUTS_ENV).ok();
    if !wants_portal(session_type.as_deref(), wayland_display.as_deref(), choice.as_deref()) {
        return None;
    }
    let probe = tauri::async_runtime::block_on(async {
        tokio::time::timeout(PROBE_LIMIT, Portal::connect(app_id))
            .await
            .unwrap_or_else(|_| Err(format!("the session bus gave no answer within {PROBE_LIMIT:?}")))
    });
    let portal = match probe {
        Ok(portal) => portal,
        Err(reason) => {
            tracing::warn!(
                "no global shortcuts portal ({reason}): hotkeys cannot work here; bind commands such as `onair stream toggle` in your desktop's keyboard settings instead"
            );
            return None;
        }
    };
    tracing::info!(version = portal.version, app_id, "hotkeys go through the desktop portal's GlobalShortcuts");
    let (wishes, inbox) = mpsc::unbounded_channel();
    let bound = Arc::new(Mutex::new(Vec::new()));
    tauri::async_runtime::spawn(portal.run(inbox, inputs, bound.clone()));
    Some(PortalShortcuts { wishes, bound })
}

struct Portal {
    connection: Connection,
    version: u32,
    /// `Activated` and `ShortcutsChanged`.
    signals: MessageStream,
    /// The session the shortcuts are bound in, once there is one.
    session: Option<OwnedObjectPath>,
}

impl Portal {
    async fn connect(app_id: &str) -> Result<Portal, String> {
        let connection = zbus::connection::Builder::session()
            .method_timeout(CALL_LIMIT)
            .build()
            .await
            .map_err(|e| format!("no session bus: {e}"))?;
        // Before any other portal call: the portal ties the app id to the
        // connection on its first call. Older portals have no Registry, and
        // sandboxed apps have their id already; either way carry on.
        let options: HashMap<&str, Variant> = HashMap::new();
        if let Err(e) = connection.call_method(Some(PORTAL), PATH, Some(REGISTRY), "Register", &(app_id, options)).await
        {
            tracing::debug!(error = %e, app_id, "the portal did not register the app id");
        }
        let version = connection
            .call_method(Some(PORTAL), PATH, Some("org.freedesktop.DBus.Properties"), "Get", &(SHORTCUTS, "version"))
            .await
            .map_err(|e| match e {
                zbus::Error::MethodError(name, _, _)
                    if name.as_str() == "org.freedesktop.DBus.Error.ServiceUnknown" =>
                {
                    format!("nothing owns {PORTAL} on the session bus")
                }
                other => format!("{PORTAL} has no {SHORTCUTS}: {other}"),
            })?
            .body()
            .deserialize::<OwnedVariant>()
            .ok()
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(1);
        let rule = MatchRule::builder()
            .msg_type(MessageType::Signal)
            .interface(SHORTCUTS)
            .path(PATH)
            .build()
            .map_err(|e| format!("match rule: {e}"))?;
        let signals = MessageStream::for_match_rule(rule, &connection, None)
            .await
            .map_err(|e| format!("cannot follow {SHORTCUTS}'s signals: {e}"))?;
        Ok(Portal { connection, version, signals, session: None })
    }

    async fn run(
        mut self,
        mut wishes: mpsc::UnboundedReceiver<HotkeySettings>,
        inputs: mpsc::Sender<DesktopInput>,
        bound: Arc<Mutex<Vec<(HotkeyPress, String)>>>,
    ) {
        loop {
            tokio::select! {
                wish = wishes.recv() => {
                    let Some(settings) = wish else { return };
                    match self.bind(&settings).await {
                        Ok(now) => {
                            record(&bound, now);
                            let _ = inputs.try_send(DesktopInput::ShortcutsChanged);
                        }
                        Err(e) => tracing::warn!("the desktop portal did not bind OnAir's hotkeys: {e}"),
                    }
                }
                signal = self.signals.next() => match signal {
                    Some(Ok(message)) => self.on_signal(&message, &inputs, &bound),
                    Some(Err(e)) => tracing::debug!(error = %e, "unreadable portal signal"),
                    None => {
                        tracing::warn!("the session bus connection to the desktop portal closed; hotkeys stop");
                        return;
                    }
                },
            }
        }
    }

    /// Starts over with a new session holding these settings' shortcuts: a
    /// session binds once (GNOME refuses a second `BindShortcuts`).
    async fn bind(&mut self, settings: &HotkeySettings) -> Result<Vec<(HotkeyPress, String)>, String> {
        if let Some(old) = self.session.take() {
            let _ = self.connection.call_method(Some(PORTAL), &old, Some(SESSION), "Close", &()).await;
        }
        let wanted = portal_shortcuts(settings);
        if wanted.is_empty() {
            tracing::info!("hotkeys are off: no portal shortcuts bound");
            return Ok(Vec::new());
        }
        let token = next_token();
        let mut options: HashMap<&str, Variant> = HashMap::new();
        options.insert("handle_token", Variant::from(token.clone()));
        options.insert("session_handle_token", Variant::from(next_token()));
        let results = self.request("CreateSession", &token, &(options,)).await?;
        let session = results
            .get("session_handle")
            .and_then(|v| match &**v {
                Variant::Str(s) => OwnedObjectPath::try_from(s.as_str()).ok(),
                Variant::ObjectPath(p) => Some(OwnedObjectPath::from(p.clone())),
                _ => None,
            })
            .ok_or("CreateSession answered with no session handle")?;
        self.session = Some(session.clone());
        let shortcuts: Vec<(&str, HashMap<&str, Variant>)> = wanted
            .iter()
            .map(|s| {
                let mut details: HashMap<&str, Variant> = HashMap::new();
                details.insert("description", Variant::from(s.description.as_str()));
                if let Some(trigger) = &s.preferred_trigger {
                    details.insert("preferred_trigger", Variant::from(trigger.as_str()));
                }
                (s.id.as_str(), details)
            })
            .collect();
        let token = next_token();
        let mut options: HashMap<&str, Variant> = HashMap::new();
        options.insert("handle_token", Variant::from(token.clone()));
        let results = self.request("BindShortcuts", &token, &(&session, shortcuts, "", options)).await?;
        Ok(results.get("shortcuts").map(|v| triggers(v)).unwrap_or_default())
    }

    /// Calls `method` and waits for its Request's `Response`; the results on success.
    async fn request<B>(&self, method: &str, token: &str, body: &B) -> Result<HashMap<String, OwnedVariant>, String>
    where
        B: serde::ser::Serialize + zbus::DynamicType,
    {
        let sender = self.connection.unique_name().map(|n| n.trim_start_matches(':').replace('.', "_"));
        let expected = format!("{PATH}/request/{}/{token}", sender.unwrap_or_default());
        // Followed before the call, so a quick answer is not missed.
        let mut responses = self.responses(&expected).await?;
        let reply = self
            .connection
            .call_method(Some(PORTAL), PATH, Some(SHORTCUTS), method, body)
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        let handle: OwnedObjectPath = reply.body().deserialize().map_err(|e| format!("{method}'s answer: {e}"))?;
        // Portals older than handle_token choose the path themselves.
        if handle.as_str() != expected {
            responses = self.responses(handle.as_str()).await?;
        }
        let message = responses
            .next()
            .await
            .ok_or_else(|| format!("the bus closed before {method} was answered"))?
            .map_err(|e| format!("{method}'s response: {e}"))?;
        let (code, results): (u32, HashMap<String, OwnedVariant>) =
            message.body().deserialize().map_err(|e| format!("{method}'s response: {e}"))?;
        match code {
            0 => Ok(results),
            1 => Err(format!("{method} was cancelled in the desktop's dialog")),
            _ => Err(format!("{method} failed in the desktop portal")),
        }
    }

    async fn responses(&self, path: &str) -> Result<MessageStream, String> {
        let path = ObjectPath::try_from(path).map_err(|e| format!("request path {path}: {e}"))?;
        let rule = MatchRule::builder()
            .msg_type(MessageType::Signal)
            .interface(REQUEST)
            .member("Response")
            .path(path)
            .build()
            .map_err(|e| format!("match rule: {e}"))?;
        MessageStream::for_match_rule(rule, &self.connection, None)
            .await
            .map_err(|e| format!("cannot follow the portal's response: {e}"))
    }

    fn on_signal(
        &self,
        message: &Message,
        inputs: &mpsc::Sender<DesktopInput>,
        bound: &Arc<Mutex<Vec<(HotkeyPress, String)>>>,
    ) {
        let header = message.header();
        let Some(member) = header.member() else { return };
        match member.as_str() {
            "Activated" => {
                let Ok((session, id, _timestamp, _options)) =
                    message.body().deserialize::<(OwnedObjectPath, String, u64, HashMap<String, OwnedVariant>)>()
                else {
                    return;
                };
                if self.session.as_ref() != Some(&session) {
                    return;
                }
                match HotkeyPress::from_portal_id(&id) {
                    Some(press) => {
                        tracing::debug!(id, "portal shortcut activated");
                        let _ = inputs.try_send(DesktopInput::hotkey(press));
                    }
                    None => tracing::debug!(id, "the portal activated a shortcut OnAir did not bind"),
                }
            }
            "ShortcutsChanged" => {
                type Shortcuts = Vec<(String, HashMap<String, OwnedVariant>)>;
                let Ok((session, shortcuts)) = message.body().deserialize::<(OwnedObjectPath, Shortcuts)>() else {
                    return;
                };
                if self.session.as_ref() == Some(&session) {
                    let now = shortcuts
                        .iter()
                        .filter_map(|(id, details)| {
                            shortcut_trigger(id, details.iter().map(|(key, value)| (key.as_str(), &**value)))
                        })
                        .collect();
                    record(bound, now);
                    let _ = inputs.try_send(DesktopInput::ShortcutsChanged);
                }
            }
            _ => {}
        }
    }
}

/// Keeps and logs what the desktop says each action is bound to.
fn record(bound: &Mutex<Vec<(HotkeyPress, String)>>, now: Vec<(HotkeyPress, String)>) {
    for (press, trigger) in &now {
        let action = press.action.key();
        let connection = press.connection.as_deref();
        if trigger.is_empty() {
            tracing::info!(
                action,
                connection,
                "portal shortcut bound, no trigger yet: give it one in the desktop's settings"
            );
        } else {
            tracing::info!(action, connection, trigger = trigger.as_str(), "portal shortcut bound");
        }
    }
    if let Ok(mut bound) = bound.lock() {
        *bound = now;
    }
}

/// The `trigger_description` of each of OnAir's shortcuts in an `a(sa{sv})`.
fn triggers(shortcuts: &Variant) -> Vec<(HotkeyPress, String)> {
    let Variant::Array(shortcuts) = unwrap_variant(shortcuts) else { return Vec::new() };
    shortcuts
        .inner()
        .iter()
        .filter_map(|shortcut| {
            let Variant::Structure(shortcut) = unwrap_variant(shortcut) else { return None };
            let [Variant::Str(id), Variant::Dict(details)] = shortcut.fields() else { return None };
            let details = details.iter().filter_map(|(key, value)| match key {
                Variant::Str(key) => Some((key.as_str(), value)),
                _ => None,
            });
            shortcut_trigger(id.as_str(), details)
        })
        .collect()
}

/// One shortcut's action and `trigger_description` (empty when it has none), if it is OnAir's.
fn shortcut_trigger<'a, 'v: 'a>(
    id: &str,
    mut details: impl Iterator<Item = (&'a str, &'a Variant<'v>)>,
) -> Option<(HotkeyPress, String)> {
    let press = HotkeyPress::from_portal_id(id)?;
    let trigger = details.find_map(|(key, value)| match unwrap_variant(value) {
        Variant::Str(trigger) if key == "trigger_description" => Some(trigger.to_string()),
        _ => None,
    });
    Some((press, trigger.unwrap_or_default()))
}

fn unwrap_variant<'a, 'v>(value: &'a Variant<'v>) -> &'a Variant<'v> {
    match value {
        Variant::Variant(inner) => unwrap_variant(inner),
        other => other,
    }
}

/// A request or session token, unique in this process (object path characters only).
fn next_token() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    format!("onair{}", NEXT.fetch_add(1, Ordering::Relaxed))
}
