// The settings page: connection, password (write-only), notifications, hotkeys
// and behaviour. Input is checked here before anything is sent; what the backend
// refuses is shown next to the field it names.
//
// A Save sends a typed password with the rest, so the backend stores it under
// the new host and port and connects once, with it. Host and port given on the
// command line show here as in use, with a note; the backend writes them to
// the settings file only once they are changed here.
//
// The OBS list (the first OBS's name, "More OBS") is more_obs.js's; Save sends
// it first, and only when it changed, since saving it restarts the other
// OBS's sessions.

import { $, make, setAttr, showText } from "./dom.js";
import { errorText, hostProblem, parsePort, testOutcome } from "./format.js";
import { canonicalOrAsIs, conflicts, interpretKey, normalizeBinding } from "./hotkeys.js";
import { createMoreObs } from "./more_obs.js";

const SAVED_MS = 5000;

export function createSettings({ invoke, afterConnectionsSaved = () => {} }) {
  let view = null; // the last SettingsView
  let dirty = false; // the form has edits not saved yet
  let meta = []; // [{action, label, default}]
  let draft = {}; // action -> binding | null
  let savedTimer = null;
  let saving = false; // a Save is on its way: the views it pushes are its own
  const form = $("settings-form");
  const moreObs = createMoreObs({ invoke });

  // ---- small helpers -------------------------------------------------------

  function fieldError(input, errorEl, message) {
    showText(errorEl, message);
    if (input) setAttr(input, "aria-invalid", !!message);
  }

  function status(el, message, tone = "") {
    showText(el, message);
    el.dataset.tone = tone;
  }

  function settingsStatus(message, tone, transient = false) {
    clearTimeout(savedTimer);
    status($("settings-status"), message, tone);
    if (transient) savedTimer = setTimeout(() => status($("settings-status"), ""), SAVED_MS);
  }

  const actionFromField = (name) => meta.find((m) => m.action.replace(/_/g, "-") === name.replace(/_/g, "-"))?.action;
  const labelOf = (action) => meta.find((m) => m.action === action)?.label ?? action;

  /** Shows a backend rejection next to the field it names; false when it names none we show. */
  function showFieldError(field, message) {
    if (moreObs.showFieldError(field, message)) return true;
    const simple = { host: "error-host", port: "error-port", password: "error-password" };
    if (simple[field]) {
      fieldError($(field), $(simple[field]), message);
      $(field).focus();
      return true;
    }
    if (typeof field === "string" && field.startsWith("hotkeys.")) {
      const action = actionFromField(field.slice("hotkeys.".length));
      if (action) {
        rowError(action, message);
        $(`hotkey-${action}`)?.focus();
        return true;
      }
    }
    return false;
  }

  function clearErrors() {
    fieldError($("host"), $("error-host"), null);
    fieldError($("port"), $("error-port"), null);
    fieldError($("password"), $("error-password"), null);
    for (const m of meta) rowError(m.action, null);
    renderConflicts();
  }

  // ---- filling the form from a SettingsView -------------------------------

  /** The note under host and port saying what the command line sets for this run only. */
  function connectionNote() {
    let note = $("connection-note");
    if (!note) {
      note = make("p", "hint");
      note.id = "connection-note";
      note.hidden = true;
      $("error-host").before(note);
      for (const id of ["host", "port"]) {
        const input = $(id);
        input.setAttribute("aria-describedby", `${input.getAttribute("aria-describedby") ?? ""} connection-note`.trim());
      }
    }
    return note;
  }

  function renderConnectionNote() {
    const text = typeof view?.connection_note === "string" ? view.connection_note : "";
    const note = connectionNote();
    showText(note, text);
  }

  function renderPassword() {
    const stored = !!view?.password_stored;
    const where = typeof view?.password_target === "string" && view.password_target ? ` for ${view.password_target}` : " for this OBS";
    const unknown = typeof view?.password_note === "string" ? view.password_note : "";
    $("password-status").textContent = unknown || (stored ? `A password is stored${where}` : `No password stored${where}`);
    $("password-status").dataset.stored = stored ? "true" : "false";
    $("btn-clear-password").disabled = !stored;
    const keyring = view?.keyring;
    const note = $("keyring-note");
    const unavailable = keyring && keyring.available === false;
    showText(note, unavailable ? `The system keyring is not available, so a password cannot be kept${keyring.message ? `: ${keyring.message}` : "."}` : "");
  }

  function renderNotificationKinds() {
    const list = $("notif-list");
    const kinds = Array.isArray(view?.notification_kinds) ? view.notification_kinds : [];
    const have = [...list.querySelectorAll("input")].map((i) => i.dataset.kind).join("\n");
    if (have !== kinds.map((k) => k.kind).join("\n")) {
      list.replaceChildren(
        ...kinds.map(({ kind, label }) => {
          const wrap = make("div", "check");
          const input = make("input");
          input.type = "checkbox";
          input.id = `notif-${kind}`;
          input.dataset.kind = kind;
          const l = make("label", "", label || kind);
          l.htmlFor = input.id;
          wrap.append(input, l);
          return wrap;
        }),
      );
    }
    $("notif-empty").hidden = kinds.length > 0;
  }

  function renderHotkeyRows() {
    const list = $("hotkey-list");
    const bindings = Array.isArray(view?.hotkeys?.bindings) ? view.hotkeys.bindings : [];
    meta = bindings.map(({ action, label, default: def }) => ({ action, label: label || action, default: def ?? null }));
    const have = [...list.querySelectorAll("input.hotkey")].map((i) => i.dataset.action).join("\n");
    if (have === meta.map((m) => m.action).join("\n")) return;
    list.replaceChildren(
      ...meta.map(({ action, label }) => {
        const row = make("div", "hotkey-row");
        const l = make("label", "", label);
        l.htmlFor = `hotkey-${action}`;
        const input = make("input", "hotkey");
        input.type = "text";
        input.id = `hotkey-${action}`;
        input.dataset.action = action;
        input.autocomplete = "off";
        input.spellcheck = false;
        input.placeholder = "Not set";
        input.setAttribute("autocapitalize", "off");
        input.setAttribute("aria-describedby", `hotkey-error-${action} hotkeys-hint`);
        const err = make("p", "field-error");
        err.id = `hotkey-error-${action}`;
        err.hidden = true;
        const bound = make("p", "hint");
        bound.id = `hotkey-desktop-${action}`;
        bound.hidden = true;
        row.append(l, input, err, bound);
        wireRecorder(input);
        return row;
      }),
    );
  }

  function fillForm() {
    $("host").value = view?.host ?? "";
    $("port").value = view?.port != null ? String(view.port) : "";
    for (const input of $("notif-list").querySelectorAll("input")) {
      input.checked = view?.notifications?.[input.dataset.kind] !== false;
    }
    $("hotkeys-enabled").checked = !!view?.hotkeys?.enabled;
    draft = {};
    // As the backend would store it, so "ctrl+s" from a hand-edited file and a
    // recorded Ctrl+S count as the same key when looking for clashes.
    for (const b of view?.hotkeys?.bindings ?? []) draft[b.action] = b.binding ? canonicalOrAsIs(b.binding) : null;
    for (const m of meta) showBinding(m.action);
    $("confirm-stop").checked = !!view?.confirm_stop_stream;
    $("start-on-login").checked = !!view?.start_on_login;
    dirty = false;
    clearErrors();
    renderEnabled();
  }

  function renderHotkeyNotes() {
    const unavailable = view?.hotkeys?.unavailable;
    const u = $("hotkeys-unavailable");
    showText(u, unavailable ? `Global hotkeys cannot work here: ${unavailable}` : "");
    renderDesktopShortcuts(view?.hotkeys?.desktop ?? null);
    renderConflicts();
  }

  /** Where the desktop portal binds the shortcuts: its note, and what each is bound to. */
  function renderDesktopShortcuts(desktop) {
    const bound = Array.isArray(desktop?.bound) ? desktop.bound : [];
    showText($("hotkeys-desktop"), desktop ? desktop.note ?? "" : "");
    for (const m of meta) {
      const own = bound.find((b) => b.action === m.action && b.connection == null);
      const text = !desktop ? "" : own?.trigger ? `Your desktop: ${own.trigger}` : "Your desktop: not bound yet";
      showText($(`hotkey-desktop-${m.action}`), text);
    }
    const named = bound.filter((b) => b.connection != null);
    const list = $("hotkeys-desktop-named");
    list.replaceChildren(
      ...named.map((b) => make("li", "", `${b.label}: ${b.trigger || "not bound yet"}`)),
    );
    list.hidden = named.length === 0;
  }

  function renderEnabled() {
    $("hotkey-list").classList.toggle("off", !$("hotkeys-enabled").checked);
  }

  // ---- hotkey recording ----------------------------------------------------

  function showBinding(action) {
    const input = $(`hotkey-${action}`);
    if (input) input.value = draft[action] ?? "";
  }

  function rowError(action, message) {
    const err = $(`hotkey-error-${action}`);
    if (!err) return;
    showText(err, message);
    err.dataset.kind = message ? "error" : "";
    const input = $(`hotkey-${action}`);
    if (input) setAttr(input, "aria-invalid", !!message);
  }

  function setBinding(action, binding) {
    if ((draft[action] ?? null) === binding) {
      showBinding(action);
      return;
    }
    draft[action] = binding;
    dirty = true;
    showBinding(action);
    rowError(action, null);
    renderConflicts();
  }

  /** Marks every row whose binding another action also uses; lists them in #hotkeys-problems. */
  function renderConflicts() {
    const clashes = conflicts(draft);
    const clashing = new Map();
    for (const [binding, actions] of clashes) for (const a of actions) clashing.set(a, { binding, others: actions.filter((x) => x !== a) });
    for (const m of meta) {
      const err = $(`hotkey-error-${m.action}`);
      if (!err) continue;
      const c = clashing.get(m.action);
      if (c) {
        err.textContent = `${c.binding} is also used by ${c.others.map(labelOf).join(" and ")}`;
        err.hidden = false;
        err.dataset.kind = "conflict";
        $(`hotkey-${m.action}`).setAttribute("aria-invalid", "true");
      } else if (err.dataset.kind === "conflict") {
        rowError(m.action, null);
      }
    }
    const lines = [];
    for (const [binding, actions] of clashes) lines.push(`${binding} is set for both ${actions.map(labelOf).join(" and ")}; change one before saving.`);
    // The backend's own problems, less its word on a clash already listed above.
    for (const p of view?.hotkeys?.problems ?? []) {
      if (![...clashes.keys()].some((b) => p.startsWith(`${b} `))) lines.push(p);
    }
    const box = $("hotkeys-problems");
    box.replaceChildren(
      ...lines.map((text) => make("li", "", text)));
    box.hidden = lines.length === 0;
    return clashes;
  }

  function wireRecorder(input) {
    const action = input.dataset.action;
    let before = null;
    let pending = false;
    input.addEventListener("focus", () => {
      before = draft[action] ?? null;
      input.classList.add("recording");
      input.placeholder = "Press keys…";
    });
    input.addEventListener("blur", () => {
      input.classList.remove("recording");
      input.placeholder = "Not set";
      pending = false;
      showBinding(action);
      const err = $(`hotkey-error-${action}`);
      if (err?.dataset.kind === "hint") rowError(action, null);
    });
    input.addEventListener("keydown", (e) => {
      const r = interpretKey(e);
      if (r.kind === "pass") return;
      e.preventDefault();
      e.stopPropagation();
      if (e.repeat) return;
      pending = false;
      switch (r.kind) {
        case "cancel":
          setBinding(action, before);
          rowError(action, null);
          renderConflicts();
          break;
        case "clear":
          setBinding(action, null);
          break;
        case "pending":
          pending = true;
          input.value = r.text;
          break;
        case "binding":
          setBinding(action, r.binding);
          break;
        case "invalid": {
          showBinding(action);
          rowError(action, r.reason);
          $(`hotkey-error-${action}`).dataset.kind = "hint";
          break;
        }
      }
    });
    input.addEventListener("keyup", (e) => {
      if (pending && !e.ctrlKey && !e.altKey && !e.shiftKey && !e.metaKey) {
        pending = false;
        showBinding(action);
      }
    });
    input.addEventListener("paste", (e) => {
      e.preventDefault();
      const text = e.clipboardData?.getData("text") ?? "";
      const n = normalizeBinding(text.trim());
      if (n.binding) setBinding(action, n.binding);
      else rowError(action, n.error);
    });
    // Typing is caught on keydown; this sees only other edits (a cleared field, dropped text).
    input.addEventListener("input", () => {
      const text = input.value.trim();
      if (text === "") return setBinding(action, null);
      const n = normalizeBinding(text);
      if (n.binding) setBinding(action, n.binding);
      else {
        showBinding(action);
        rowError(action, n.error);
      }
    });
  }

  // ---- actions -------------------------------------------------------------

  /** Checks host and port; shows what is wrong; returns {host, port} or null. */
  function checkTarget() {
    const host = $("host").value.trim();
    const hp = hostProblem(host);
    fieldError($("host"), $("error-host"), hp);
    const p = parsePort($("port").value);
    fieldError($("port"), $("error-port"), p.error ?? null);
    if (hp) $("host").focus();
    else if (p.error) $("port").focus();
    return hp || p.error ? null : { host, port: p.port };
  }

  async function save(e) {
    e.preventDefault();
    settingsStatus("");
    for (const m of meta) {
      const err = $(`hotkey-error-${m.action}`);
      if (err?.dataset.kind === "error" || err?.dataset.kind === "hint") rowError(m.action, null);
    }
    // The list's wrong fields are marked first, so the form's own, above
    // them, take the focus.
    const list = moreObs.check();
    const target = checkTarget();
    if (!target || !list) return settingsStatus("Not saved: fix the marked field first.", "bad");
    const clashes = renderConflicts();
    if (clashes.size > 0) {
      const [, actions] = [...clashes][0];
      $(`hotkey-${actions[1]}`)?.focus();
      return settingsStatus("Not saved: two actions share a hotkey.", "bad");
    }
    const notifications = { ...(view?.notifications ?? {}) };
    for (const input of $("notif-list").querySelectorAll("input")) notifications[input.dataset.kind] = input.checked;
    const bindings = {};
    for (const m of meta) bindings[m.action] = draft[m.action] ?? null;
    const typed = $("password").value;
    const payload = {
      host: target.host,
      port: target.port,
      // One step: stored under this form's host and port, and used for the connection to them.
      password: typed ? typed : null,
      notifications,
      hotkeys: { enabled: $("hotkeys-enabled").checked, bindings },
      confirm_stop_stream: $("confirm-stop").checked,
      start_on_login: $("start-on-login").checked,
    };
    const button = $("btn-save");
    button.disabled = true;
    saving = true;
    settingsStatus("Saving…", "busy");
    // The OBS list first: it is what the backend refuses most (a name used
    // twice), and then nothing else is saved either.
    let listSaved = false;
    try {
      if (moreObs.changed(list)) {
        const afterList = await invoke("save_connections", { connections: list });
        listSaved = true;
        moreObs.apply(afterList?.connections, `${afterList?.host}:${afterList?.port}`, true);
      }
      const next = await invoke("save_settings", { settings: payload });
      dirty = false;
      apply(next, true);
      $("password").value = "";
      settingsStatus(`${typed ? "Settings and password saved" : "Settings saved"} ✓`, "ok", true);
    } catch (err) {
      const shown = err?.field ? showFieldError(err.field, errorText(err)) : false;
      const what = listSaved ? "The OBS list was saved, the other settings were not" : "Not saved";
      settingsStatus(shown ? `${what}: see the marked field.` : `${what}: ${errorText(err)}`, "bad");
    } finally {
      saving = false;
      button.disabled = false;
      // The backend may show another OBS now (the one on show was removed or restarted).
      if (listSaved) afterConnectionsSaved();
    }
  }

  async function savePassword() {
    fieldError($("password"), $("error-password"), null);
    status($("password-feedback"), "");
    const typed = $("password").value;
    if (!typed) {
      fieldError($("password"), $("error-password"), "Type the password from OBS's WebSocket Server Settings first.");
      $("password").focus();
      return;
    }
    // The password goes with the OBS in use. With another host or port typed
    // above, it belongs to that one: Save stores it there, in one step.
    const host = $("host").value.trim();
    const port = parsePort($("port").value);
    if (!hostProblem(host) && !port.error && view && (host !== view.host || port.port !== view.port)) {
      fieldError(
        $("password"),
        $("error-password"),
        `The connection above (${host}:${port.port}) is not saved yet: press Save to store the password with it.`,
      );
      return;
    }
    $("btn-save-password").disabled = true;
    try {
      apply(await invoke("set_password", { password: typed }), false);
      $("password").value = "";
      status($("password-feedback"), "Password saved ✓", "ok");
    } catch (err) {
      fieldError($("password"), $("error-password"), errorText(err));
    } finally {
      $("btn-save-password").disabled = false;
    }
  }

  async function clearPassword() {
    fieldError($("password"), $("error-password"), null);
    status($("password-feedback"), "");
    try {
      apply(await invoke("clear_password"), false);
      $("password").value = "";
      status($("password-feedback"), "Password cleared", "ok");
      $("password").focus();
    } catch (err) {
      fieldError($("password"), $("error-password"), errorText(err));
    }
  }

  async function testConnection() {
    const result = $("test-result");
    const target = checkTarget();
    if (!target) return status(result, "Fix the host or port first.", "bad");
    const typed = $("password").value;
    const button = $("btn-test");
    button.disabled = true;
    status(result, `Testing ${target.host}:${target.port}…`, "busy");
    try {
      const r = await invoke("test_connection", { host: target.host, port: target.port, password: typed ? typed : null });
      const { text, tone } = testOutcome(r, target.host, target.port);
      status(result, text, tone);
    } catch (err) {
      if (!(err?.field && showFieldError(err.field, errorText(err)))) status(result, `Test failed: ${errorText(err)}`, "bad");
      else status(result, "Test not run: see the marked field.", "bad");
    } finally {
      button.disabled = false;
    }
  }

  /** A SettingsView from the backend: refreshes what it owns; the form only when it has no edits. */
  function apply(next, force) {
    if (!next || typeof next !== "object") return;
    view = next;
    renderConnectionNote();
    renderPassword();
    renderNotificationKinds();
    renderHotkeyRows();
    moreObs.apply(next.connections, `${next.host}:${next.port}`, force);
    if (force || !dirty) fillForm();
    else if (!saving) settingsStatus("Settings changed elsewhere; your unsaved edits here are kept.", "warn");
    renderHotkeyNotes();
  }

  form.addEventListener("submit", save);
  form.addEventListener("input", (e) => {
    if (e.target.type !== "password" && !e.target.classList.contains("hotkey")) dirty = true;
    if (e.target.id === "host") fieldError($("host"), $("error-host"), null);
    if (e.target.id === "port") fieldError($("port"), $("error-port"), null);
    if (e.target.id === "password") {
      fieldError($("password"), $("error-password"), null);
      status($("password-feedback"), "");
    }
  });
  form.addEventListener("change", (e) => {
    if (e.target.id === "hotkeys-enabled") renderEnabled();
    if (e.target.type === "checkbox") dirty = true;
  });
  $("btn-save-password").addEventListener("click", savePassword);
  $("btn-clear-password").addEventListener("click", clearPassword);
  $("btn-test").addEventListener("click", testConnection);
  $("btn-hotkey-defaults").addEventListener("click", () => {
    for (const m of meta) setBinding(m.action, m.default ?? null);
    for (const m of meta) rowError(m.action, null);
    renderConflicts();
  });

  // Never keep a password in the page longer than needed.
  $("password").value = "";

  return {
    apply: (next) => apply(next, false),
    load: (next) => apply(next, true),
    focusField(id) {
      $(id)?.focus();
    },
  };
}
