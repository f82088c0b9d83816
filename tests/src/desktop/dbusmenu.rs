//! The app's tray menu as a desktop shell sees it: libayatana-appindicator exports it on the bus
//! as `com.canonical.dbusmenu`; the desktop finds it by the app's pid, reads its layout into a
//! [`MenuNode`] tree and clicks items the way a shell does.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::procs::is_same_or_descendant;
use super::Desktop;

const DBUSMENU: &str = "com.canonical.dbusmenu";

impl Desktop {
    /// Finds an object path ending in `/Menu` that implements `com.canonical.dbusmenu`,
    /// exported by a bus connection of process `pid` or of one of its descendants
    /// (`GetConnectionUnixProcessID`), waiting up to `timeout`. Returns (unique bus
    /// name, path), e.g. `(":1.7", "/org/ayatana/NotificationItem/<id>/Menu")`.
    pub async fn find_menu(&self, pid: u32, timeout: Duration) -> Result<(String, String), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = match self.try_find_menu(pid).await {
                Ok(Ok(found)) => return Ok(found),
                Ok(Err(why)) | Err(why) => why,
            };
            if Instant::now() >= deadline {
                return Err(format!("no {DBUSMENU} menu of pid {pid} on the bus within {timeout:?}: {last}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ok(Ok(found)), Ok(Err(why not yet)), or Err(bus trouble).
    async fn try_find_menu(&self, pid: u32) -> Result<Result<(String, String), String>, String> {
        let names = self.bus_driver_call("ListNames", &[]).await?;
        let names: Vec<String> = names["data"][0]
            .as_array()
            .map(|a| a.iter().filter_map(|n| n.as_str()).filter(|n| n.starts_with(':')).map(String::from).collect())
            .unwrap_or_default();
        let mut of_pid = Vec::new();
        for name in &names {
            let Ok(reply) = self.bus_driver_call("GetConnectionUnixProcessID", &["s", name]).await else {
                continue; // the connection went away meanwhile
            };
            if reply["data"][0].as_u64().is_some_and(|p| is_same_or_descendant(p as u32, pid)) {
                of_pid.push(name.clone());
            }
        }
        if of_pid.is_empty() {
            return Ok(Err(format!("no bus connection of pid {pid} (or its children)")));
        }
        for name in &of_pid {
            // A connection that never reads its messages (the keyring's libdbus
            // one, between calls) would hold each probe for the whole call timeout.
            let Ok(tree) = self.busctl_text(&["--timeout=1", "tree", "--list", name]).await else {
                continue;
            };
            for path in tree.lines().map(str::trim).filter(|p| p.ends_with("/Menu")) {
                let Ok(xml) = self
                    .busctl_json(&[
                        "--timeout=1",
                        "call",
                        "--",
                        name,
                        path,
                        "org.freedesktop.DBus.Introspectable",
                        "Introspect",
                    ])
                    .await
                else {
                    continue;
                };
                if xml["data"][0].as_str().is_some_and(|x| x.contains(DBUSMENU)) {
                    return Ok(Ok((name.clone(), path.to_string())));
                }
            }
        }
        Ok(Err(format!("connections {of_pid:?} of pid {pid} export no {DBUSMENU} object at a path ending in /Menu")))
    }

    /// Reads the whole menu: `AboutToShow(0)` (errors ignored), then
    /// `GetLayout(0, -1, [])` (all properties).
    pub async fn menu_layout(&self, bus_name: &str, path: &str) -> Result<MenuNode, String> {
        let _ = self.busctl_json(&["call", "--", bus_name, path, DBUSMENU, "AboutToShow", "i", "0"]).await;
        let reply =
            self.busctl_json(&["call", "--", bus_name, path, DBUSMENU, "GetLayout", "iias", "0", "-1", "0"]).await?;
        parse_layout(&reply)
    }

    /// Clicks item `id`: `Event(id, "clicked", <s "">, 0)`, which the toolkit turns into
    /// an "activate" (Tauri's `on_menu_event`). Works for items in submenus too.
    pub async fn menu_click(&self, bus_name: &str, path: &str, id: i32) -> Result<(), String> {
        let id = id.to_string();
        self.busctl_json(&["call", "--", bus_name, path, DBUSMENU, "Event", "isvu", &id, "clicked", "s", "", "0"])
            .await
            .map(|_| ())
    }

    /// Reads the menu, finds the first item whose label starts with `label_prefix`
    /// (depth-first) and clicks it, enabled or not. Returns the item as it was.
    pub async fn menu_click_label(&self, bus_name: &str, path: &str, label_prefix: &str) -> Result<MenuNode, String> {
        let menu = self.menu_layout(bus_name, path).await?;
        let item = menu
            .find(label_prefix)
            .cloned()
            .ok_or_else(|| format!("no menu item starts with {label_prefix:?}; menu:\n{}", menu.render()))?;
        self.menu_click(bus_name, path, item.id).await?;
        Ok(item)
    }
}

/// One item of a dbusmenu layout (dbusmenu's defaults applied for absent properties).
#[derive(Debug, Clone, PartialEq)]
pub struct MenuNode {
    /// dbusmenu's id (not Tauri's menu id): use it for [`Desktop::menu_click`].
    pub id: i32,
    /// The label with mnemonics removed ("_Quit" -> "Quit", "a__b" -> "a_b").
    pub label: String,
    pub enabled: bool,
    pub visible: bool,
    /// 1 checked, 0 unchecked (check and radio items only).
    pub toggle_state: Option<i32>,
    /// "checkmark" or "radio" (check and radio items only).
    pub toggle_type: Option<String>,
    /// "standard" or "separator".
    pub kind: String,
    pub children: Vec<MenuNode>,
}

impl MenuNode {
    /// The first node (this one included, then depth-first) whose label starts with
    /// `label_prefix`.
    pub fn find(&self, label_prefix: &str) -> Option<&MenuNode> {
        if self.kind != "separator" && self.label.starts_with(label_prefix) {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(label_prefix))
    }

    /// Labels of the visible top-level items, separators as "---": what a user sees.
    pub fn labels(&self) -> Vec<String> {
        self.children
            .iter()
            .filter(|c| c.visible)
            .map(|c| if c.kind == "separator" { "---".to_string() } else { c.label.clone() })
            .collect()
    }

    /// An indented text picture of the menu, for error messages.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(0, &mut out);
        out
    }

    fn render_into(&self, depth: usize, out: &mut String) {
        use std::fmt::Write as _;
        let text = if self.kind == "separator" { "---".to_string() } else { format!("{:?}", self.label) };
        let mut flags = Vec::new();
        if !self.enabled {
            flags.push("disabled".to_string());
        }
        if !self.visible {
            flags.push("hidden".to_string());
        }
        if let Some(state) = self.toggle_state {
            flags.push(format!("{}={state}", self.toggle_type.as_deref().unwrap_or("toggle")));
        }
        let _ = writeln!(out, "{}#{} {text} {}", "  ".repeat(depth), self.id, flags.join(" "));
        for c in &self.children {
            c.render_into(depth + 1, out);
        }
    }
}

/// The reply of `GetLayout` (`u(ia{sv}av)`) as busctl's JSON shows it.
fn parse_layout(reply: &Value) -> Result<MenuNode, String> {
    parse_menu_node(&reply["data"][1]).map_err(|e| format!("unexpected GetLayout reply ({e}): {reply}"))
}

/// One `(ia{sv}av)`: id, properties, children (each a variant of the same).
fn parse_menu_node(v: &Value) -> Result<MenuNode, String> {
    let parts = v.as_array().filter(|a| a.len() == 3).ok_or("a node is not [id, props, children]")?;
    let id = parts[0].as_i64().ok_or("a node id is not a number")? as i32;
    let props = parts[1].as_object().ok_or("node properties are not a map")?;
    let prop = |name: &str| props.get(name).map(|p| &p["data"]);
    let children = parts[2]
        .as_array()
        .ok_or("node children are not an array")?
        .iter()
        .map(|c| parse_menu_node(&c["data"]))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(MenuNode {
        id,
        label: strip_mnemonics(prop("label").and_then(Value::as_str).unwrap_or_default()),
        enabled: prop("enabled").and_then(Value::as_bool).unwrap_or(true),
        visible: prop("visible").and_then(Value::as_bool).unwrap_or(true),
        toggle_state: prop("toggle-state").and_then(Value::as_i64).map(|s| s as i32),
        toggle_type: prop("toggle-type").and_then(Value::as_str).filter(|t| !t.is_empty()).map(String::from),
        kind: prop("type").and_then(Value::as_str).unwrap_or("standard").to_string(),
        children,
    })
}

/// dbusmenu labels mark mnemonics with '_' and a literal underscore with "__".
fn strip_mnemonics(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    let mut chars = label.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '_' {
            if chars.peek() == Some(&'_') {
                chars.next();
                out.push('_');
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real `GetLayout 0 -1 []` reply from libayatana-appindicator3 (Python GTK test
    /// menu: disabled "Status: _idle" row, separator, "_Go live", a "Scenes" submenu
    /// with two radio items and a check item, a hidden item, "Quit").
    const CAPTURED_LAYOUT: &str = r#"{"type":"u(ia{sv}av)","data":[2,[0,{"children-display":{"type":"s","data":"submenu"}},[{"type":"(ia{sv}av)","data":[2,{"enabled":{"type":"b","data":false},"label":{"type":"s","data":"Status: __idle"}},[]]},{"type":"(ia{sv}av)","data":[3,{"enabled":{"type":"b","data":true},"type":{"type":"s","data":"separator"}},[]]},{"type":"(ia{sv}av)","data":[4,{"label":{"type":"s","data":"_Go live"}},[]]},{"type":"(ia{sv}av)","data":[5,{"children-display":{"type":"s","data":"submenu"},"label":{"type":"s","data":"Scenes"}},[{"type":"(ia{sv}av)","data":[6,{"toggle-state":{"type":"i","data":1},"toggle-type":{"type":"s","data":"radio"},"label":{"type":"s","data":"Scene A"}},[]]},{"type":"(ia{sv}av)","data":[7,{"toggle-state":{"type":"i","data":0},"toggle-type":{"type":"s","data":"radio"},"label":{"type":"s","data":"Scene B"}},[]]},{"type":"(ia{sv}av)","data":[8,{"toggle-state":{"type":"i","data":1},"toggle-type":{"type":"s","data":"checkmark"},"label":{"type":"s","data":"Mute"}},[]]}]]},{"type":"(ia{sv}av)","data":[9,{"visible":{"type":"b","data":false},"label":{"type":"s","data":"Hidden"}},[]]},{"type":"(ia{sv}av)","data":[10,{"label":{"type":"s","data":"Quit"}},[]]}]]]}"#;

    #[test]
    fn parses_a_captured_appindicator_layout() {
        let reply: Value = serde_json::from_str(CAPTURED_LAYOUT).unwrap();
        let menu = parse_layout(&reply).expect("layout parses");
        assert_eq!(menu.id, 0);
        assert_eq!(menu.labels(), vec!["Status: _idle", "---", "Go live", "Scenes", "Quit"]);
        let status = menu.find("Status").unwrap();
        assert_eq!((status.id, status.enabled, status.kind.as_str()), (2, false, "standard"));
        let sep = &menu.children[1];
        assert_eq!((sep.id, sep.kind.as_str(), sep.label.as_str()), (3, "separator", ""));
        let go = menu.find("Go").unwrap();
        assert_eq!((go.id, go.enabled, go.visible, go.toggle_state), (4, true, true, None));
        let scenes = menu.find("Scenes").unwrap();
        assert_eq!(scenes.children.len(), 3);
        let b = menu.find("Scene B").unwrap();
        assert_eq!((b.id, b.toggle_state, b.toggle_type.as_deref()), (7, Some(0), Some("radio")));
        assert_eq!(menu.find("Scene A").unwrap().toggle_state, Some(1));
        let mute = menu.find("Mute").unwrap();
        assert_eq!((mute.toggle_state, mute.toggle_type.as_deref()), (Some(1), Some("checkmark")));
        let hidden = menu.find("Hidden").unwrap();
        assert!(!hidden.visible);
        assert_eq!(menu.find("Quit").unwrap().id, 10);
        assert!(menu.find("Nope").is_none());
        let picture = menu.render();
        assert!(picture.contains("#2 \"Status: _idle\" disabled"), "{picture}");
        assert!(picture.contains("    #7 \"Scene B\" radio=0"), "{picture}");
    }

    #[test]
    fn mnemonics_are_removed_and_double_underscores_kept_once() {
        assert_eq!(strip_mnemonics("_Quit"), "Quit");
        assert_eq!(strip_mnemonics("Status: __idle"), "Status: _idle");
        assert_eq!(strip_mnemonics("a__b_c"), "a_bc");
        assert_eq!(strip_mnemonics("trailing_"), "trailing");
        assert_eq!(strip_mnemonics(""), "");
    }
}
