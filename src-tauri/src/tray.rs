//! The tray icon and its menu, rendered from the headless crate's pure menu
//! model (`onair_headless::desktop::menu_model`).
//!
//! When only words, enabled flags or checks change (the LIVE clock ticking),
//! the existing items are updated in place, so the rows update while the menu
//! is open; a new shape (a scene added, connected or not) rebuilds the menu.
//!
//! The toolkit reads `&` in a label as a mnemonic marker ("Q&A" would show
//! "QA"), so every label is escaped on its way in; the model's labels stay
//! plain words.

use std::collections::HashMap;

use onair_headless::desktop::{MenuEntry, TrayIcon};
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon as TauriTrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Runtime};

pub const TRAY_ID: &str = "onair";

fn icon_bytes(icon: TrayIcon) -> &'static [u8] {
    match icon {
        TrayIcon::NotConnected => include_bytes!("../../icons/tray-not-connected.png"),
        TrayIcon::Offline => include_bytes!("../../icons/tray-offline.png"),
        TrayIcon::Live => include_bytes!("../../icons/tray-live.png"),
        TrayIcon::Reconnecting => include_bytes!("../../icons/tray-reconnecting.png"),
        TrayIcon::Recording => include_bytes!("../../icons/tray-recording.png"),
        TrayIcon::LiveRecording => include_bytes!("../../icons/tray-live-recording.png"),
        TrayIcon::Alert => include_bytes!("../../icons/tray-alert.png"),
        TrayIcon::Error => include_bytes!("../../icons/tray-error.png"),
    }
}

pub fn icon_image(icon: TrayIcon) -> Option<Image<'static>> {
    match Image::from_bytes(icon_bytes(icon)) {
        Ok(image) => Some(image),
        Err(e) => {
            tracing::error!(icon = icon.name(), error = %e, "cannot decode a tray icon");
            None
        }
    }
}

/// A label as the menu toolkit wants it: muda takes `&` before a letter as a
/// mnemonic and `&&` as a literal `&`, on every platform (GTK's `_` it escapes
/// itself). Item texts read back from muda come in this same form, so in-place
/// updates compare escaped with escaped.
fn toolkit_text(label: &str) -> String {
    label.replace('&', "&&")
}

/// An item that can be updated in place.
enum Live<R: Runtime> {
    Item(MenuItem<R>),
    Check(CheckMenuItem<R>),
    Submenu(Submenu<R>),
}

/// The shape of a menu: what would force a rebuild if it changed.
fn shape(entries: &[MenuEntry]) -> Vec<String> {
    let mut out = Vec::new();
    for entry in entries {
        match entry {
            MenuEntry::Info { id, .. } => out.push(format!("info:{id}")),
            MenuEntry::Item { action, .. } => out.push(format!("item:{}", action.id())),
            MenuEntry::Check { action, .. } => out.push(format!("check:{}", action.id())),
            MenuEntry::Submenu { id, entries, .. } => {
                out.push(format!("submenu:{id}["));
                out.extend(shape(entries));
                out.push("]".into());
            }
            MenuEntry::Separator => out.push("-".into()),
        }
    }
    out
}

pub struct TauriTray<R: Runtime> {
    app: AppHandle<R>,
    tray: Option<TauriTrayIcon<R>>,
    icon: Option<TrayIcon>,
    shape: Vec<String>,
    items: HashMap<String, Live<R>>,
    /// The text and enabled flag each item was last given, by the same key:
    /// asking the toolkit is a round trip to the main thread per item, and only
    /// OnAir changes these. (A check mark the user's click toggled is read back.)
    shown: HashMap<String, (String, bool)>,
}

impl<R: Runtime> TauriTray<R> {
    pub fn new(app: AppHandle<R>) -> TauriTray<R> {
        TauriTray { app, tray: None, icon: None, shape: Vec::new(), items: HashMap::new(), shown: HashMap::new() }
    }

    fn build_menu(&mut self, entries: &[MenuEntry]) -> tauri::Result<Menu<R>> {
        self.items.clear();
        self.shown.clear();
        let built = self.build_entries(entries)?;
        let refs: Vec<&dyn IsMenuItem<R>> = built.iter().map(|b| b.as_ref()).collect();
        Menu::with_items(&self.app, &refs)
    }

    fn build_entries(&mut self, entries: &[MenuEntry]) -> tauri::Result<Vec<Box<dyn IsMenuItem<R>>>> {
        let mut built: Vec<Box<dyn IsMenuItem<R>>> = Vec::new();
        for entry in entries {
            match entry {
                MenuEntry::Info { id, label } => {
                    let key = format!("info:{id}");
                    let item = MenuItem::with_id(&self.app, key.clone(), toolkit_text(label), false, None::<&str>)?;
                    self.shown.insert(key.clone(), (toolkit_text(label), false));
                    self.items.insert(key, Live::Item(item.clone()));
                    built.push(Box::new(item));
                }
                MenuEntry::Item { action, label, enabled } => {
                    let item = MenuItem::with_id(&self.app, action.id(), toolkit_text(label), *enabled, None::<&str>)?;
                    self.shown.insert(action.id(), (toolkit_text(label), *enabled));
                    self.items.insert(action.id(), Live::Item(item.clone()));
                    built.push(Box::new(item));
                }
                MenuEntry::Check { action, label, checked, enabled } => {
                    let item = CheckMenuItem::with_id(
                        &self.app,
                        action.id(),
                        toolkit_text(label),
                        *enabled,
                        *checked,
                        None::<&str>,
                    )?;
                    self.shown.insert(action.id(), (toolkit_text(label), *enabled));
                    self.items.insert(action.id(), Live::Check(item.clone()));
                    built.push(Box::new(item));
                }
                MenuEntry::Submenu { id, label, enabled, entries } => {
                    let children = self.build_entries(entries)?;
                    let refs: Vec<&dyn IsMenuItem<R>> = children.iter().map(|b| b.as_ref()).collect();
                    let submenu =
                        Submenu::with_id_and_items(&self.app, id.as_str(), toolkit_text(label), *enabled, &refs)?;
                    self.shown.insert(format!("submenu:{id}"), (toolkit_text(label), *enabled));
                    self.items.insert(format!("submenu:{id}"), Live::Submenu(submenu.clone()));
                    built.push(Box::new(submenu));
                }
                MenuEntry::Separator => built.push(Box::new(PredefinedMenuItem::separator(&self.app)?)),
            }
        }
        Ok(built)
    }

    fn update_in_place(&mut self, entries: &[MenuEntry]) -> tauri::Result<()> {
        for entry in entries {
            match entry {
                MenuEntry::Info { id, label } => self.update(&format!("info:{id}"), label, false, None)?,
                MenuEntry::Item { action, label, enabled } => self.update(&action.id(), label, *enabled, None)?,
                MenuEntry::Check { action, label, checked, enabled } => {
                    self.update(&action.id(), label, *enabled, Some(*checked))?
                }
                MenuEntry::Submenu { id, label, enabled, entries } => {
                    self.update(&format!("submenu:{id}"), label, *enabled, None)?;
                    self.update_in_place(entries)?;
                }
                MenuEntry::Separator => {}
            }
        }
        Ok(())
    }

    /// Gives the item under `key` this text and enabled flag where they
    /// changed since it was last given them, and the check mark where the
    /// toolkit's differs (a click toggles it before OBS has said anything).
    fn update(&mut self, key: &str, label: &str, enabled: bool, checked: Option<bool>) -> tauri::Result<()> {
        let Some(live) = self.items.get(key) else { return Ok(()) };
        let text = toolkit_text(label);
        let (text_changed, enabled_changed) = match self.shown.get(key) {
            Some((shown_text, shown_enabled)) => (*shown_text != text, *shown_enabled != enabled),
            None => (true, true),
        };
        match live {
            Live::Item(item) => {
                if text_changed {
                    item.set_text(&text)?;
                }
                if enabled_changed {
                    item.set_enabled(enabled)?;
                }
            }
            Live::Check(item) => {
                if text_changed {
                    item.set_text(&text)?;
                }
                if enabled_changed {
                    item.set_enabled(enabled)?;
                }
                if let Some(checked) = checked {
                    if item.is_checked()? != checked {
                        item.set_checked(checked)?;
                    }
                }
            }
            Live::Submenu(submenu) => {
                if text_changed {
                    submenu.set_text(&text)?;
                }
                if enabled_changed {
                    submenu.set_enabled(enabled)?;
                }
            }
        }
        self.shown.insert(key.to_string(), (text, enabled));
        Ok(())
    }

    fn try_render(&mut self, icon: TrayIcon, entries: &[MenuEntry]) -> tauri::Result<()> {
        let new_shape = shape(entries);
        match &self.tray {
            None => {
                let menu = self.build_menu(entries)?;
                let mut builder = TrayIconBuilder::with_id(TRAY_ID).menu(&menu).tooltip("OnAir");
                if let Some(image) = icon_image(icon) {
                    builder = builder.icon(image);
                }
                self.tray = Some(builder.build(&self.app)?);
                self.icon = Some(icon);
                self.shape = new_shape;
                return Ok(());
            }
            Some(_) if new_shape != self.shape => {
                let menu = self.build_menu(entries)?;
                if let Some(tray) = &self.tray {
                    tray.set_menu(Some(menu))?;
                }
                self.shape = new_shape;
            }
            Some(_) => self.update_in_place(entries)?,
        }
        if self.icon != Some(icon) {
            if let (Some(tray), Some(image)) = (&self.tray, icon_image(icon)) {
                tray.set_icon(Some(image))?;
            }
            self.icon = Some(icon);
        }
        Ok(())
    }
}

impl<R: Runtime> TauriTray<R> {
    /// Shows this icon and menu; a failure is logged, and the next render tries again.
    pub fn render(&mut self, icon: TrayIcon, menu: &[MenuEntry]) {
        if let Err(e) = self.try_render(icon, menu) {
            tracing::error!(error = %e, "cannot update the tray");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onair_headless::desktop::MenuAction;

    #[test]
    fn every_tray_icon_decodes() {
        for icon in [
            TrayIcon::NotConnected,
            TrayIcon::Offline,
            TrayIcon::Live,
            TrayIcon::Reconnecting,
            TrayIcon::Recording,
            TrayIcon::LiveRecording,
            TrayIcon::Alert,
            TrayIcon::Error,
        ] {
            let image = icon_image(icon).unwrap_or_else(|| panic!("{} decodes", icon.name()));
            assert!(image.width() >= 16 && image.height() >= 16);
        }
    }

    #[test]
    fn an_ampersand_in_a_label_is_shown_not_taken_as_a_mnemonic() {
        // muda turns `&x` into a mnemonic and `&&` into one literal `&`.
        assert_eq!(toolkit_text("Q&A"), "Q&&A");
        assert_eq!(toolkit_text("Scene: Q&A && more"), "Scene: Q&&A &&&& more");
        assert_eq!(toolkit_text("Rock & Roll_Time"), "Rock && Roll_Time", "GTK's `_` is muda's to escape");
        assert_eq!(toolkit_text("Gameplay"), "Gameplay");
    }

    #[test]
    fn words_do_not_change_the_shape_but_a_new_scene_does() {
        let menu = |label: &str, scenes: &[&str]| {
            vec![
                MenuEntry::Info { id: "status".into(), label: label.into() },
                MenuEntry::Submenu {
                    id: "scenes".into(),
                    label: "Scenes".into(),
                    enabled: true,
                    entries: scenes
                        .iter()
                        .map(|s| MenuEntry::Check {
                            action: MenuAction::SwitchScene(s.to_string()),
                            label: s.to_string(),
                            checked: false,
                            enabled: true,
                        })
                        .collect(),
                },
            ]
        };
        assert_eq!(shape(&menu("● LIVE 00:00:01", &["A"])), shape(&menu("● LIVE 00:00:02", &["A"])));
        assert_ne!(shape(&menu("● LIVE 00:00:01", &["A"])), shape(&menu("● LIVE 00:00:01", &["A", "B"])));
    }
}
