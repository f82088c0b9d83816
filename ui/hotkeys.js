// Turning key presses into bindings the backend accepts, e.g. "Ctrl+Alt+Shift+S".
// The backend's rules: modifiers in the order Ctrl, Alt, Shift, Super; a letter,
// digit, F1-F24 or a named key; a modifier is required except on F13-F24. The
// window checks as the user types, so the rule is written here too; one table of
// cases (src-tauri/tests/ui/hotkey_cases.json) holds both copies to it.

const NAMED = [
  "Space", "Enter", "Tab", "Backspace", "Delete", "Insert", "Home", "End", "PageUp", "PageDown",
  "Up", "Down", "Left", "Right", "Minus", "Equal", "Comma", "Period", "Slash", "Semicolon", "Quote", "Backquote",
];

const CODE_NAMES = {
  Space: "Space", Enter: "Enter", Tab: "Tab", Backspace: "Backspace", Delete: "Delete", Insert: "Insert",
  Home: "Home", End: "End", PageUp: "PageUp", PageDown: "PageDown",
  ArrowUp: "Up", ArrowDown: "Down", ArrowLeft: "Left", ArrowRight: "Right",
  Minus: "Minus", Equal: "Equal", Comma: "Comma", Period: "Period", Slash: "Slash",
  Semicolon: "Semicolon", Quote: "Quote", Backquote: "Backquote",
};

const KEY_NAMES = {
  " ": "Space", Spacebar: "Space", Enter: "Enter", Tab: "Tab", Backspace: "Backspace", Delete: "Delete", Del: "Delete",
  Insert: "Insert", Home: "Home", End: "End", PageUp: "PageUp", PageDown: "PageDown",
  ArrowUp: "Up", ArrowDown: "Down", ArrowLeft: "Left", ArrowRight: "Right", Up: "Up", Down: "Down", Left: "Left", Right: "Right",
  "-": "Minus", "=": "Equal", ",": "Comma", ".": "Period", "/": "Slash", ";": "Semicolon", "'": "Quote", "`": "Backquote",
};

const MODIFIER_KEYS = new Set(["Control", "Alt", "AltGraph", "Shift", "Meta", "OS", "Super", "Hyper"]);

/** The bindable key of a keyboard event, or null. Prefers the physical key (code). */
export function keyName(e) {
  const code = e.code || "";
  let m;
  if ((m = /^Key([A-Z])$/.exec(code))) return m[1];
  if ((m = /^Digit([0-9])$/.exec(code))) return m[1];
  if ((m = /^F([0-9]{1,2})$/.exec(code)) && Number(m[1]) >= 1 && Number(m[1]) <= 24) return `F${Number(m[1])}`;
  if (CODE_NAMES[code]) return CODE_NAMES[code];
  if (code.startsWith("Numpad")) return null;
  const key = e.key || "";
  if (/^[a-zA-Z0-9]$/.test(key)) return key.toUpperCase();
  if ((m = /^F([0-9]{1,2})$/.exec(key)) && Number(m[1]) >= 1 && Number(m[1]) <= 24) return `F${Number(m[1])}`;
  return KEY_NAMES[key] ?? null;
}

function modifiers(e) {
  const out = [];
  if (e.ctrlKey) out.push("Ctrl");
  if (e.altKey) out.push("Alt");
  if (e.shiftKey) out.push("Shift");
  if (e.metaKey) out.push("Super");
  return out;
}

const isHighF = (key) => /^F(1[3-9]|2[0-4])$/.test(key);

/**
 * What a key press in a recording field means:
 *   { kind: "pass" }                 let the browser have it (Tab / Shift+Tab move focus)
 *   { kind: "cancel" }               Escape: keep what was there before
 *   { kind: "clear" }                Backspace / Delete alone: unbound
 *   { kind: "pending", text }        only modifiers so far, e.g. "Ctrl+Alt+…"
 *   { kind: "binding", binding }     a complete combination
 *   { kind: "invalid", text, reason } a key that cannot be bound like this
 */
export function interpretKey(e) {
  const mods = modifiers(e);
  const plain = mods.length === 0;
  if (e.key === "Tab" && (plain || (mods.length === 1 && e.shiftKey))) return { kind: "pass" };
  if (e.key === "Escape" && plain) return { kind: "cancel" };
  if ((e.key === "Backspace" || e.key === "Delete") && plain) return { kind: "clear" };
  if (MODIFIER_KEYS.has(e.key)) return { kind: "pending", text: mods.length ? `${mods.join("+")}+…` : "" };
  const key = keyName(e);
  if (!key) {
    const shown = e.key && e.key.length === 1 ? e.key : e.key || e.code || "That key";
    return { kind: "invalid", text: "", reason: `${shown} is not a key OnAir can bind; use a letter, digit, F-key or arrow` };
  }
  if (plain && !isHighF(key)) {
    return { kind: "invalid", text: key, reason: `${key} alone would stop you typing it anywhere; add Ctrl, Alt, Shift or Super` };
  }
  return { kind: "binding", binding: [...mods, key].join("+") };
}

/**
 * Canonical form of a typed, pasted or loaded binding ("ctrl + s" → "Ctrl+S"),
 * or { error }. The same rule as the backend's `normalize`; both are checked
 * against src-tauri/tests/ui/hotkey_cases.json.
 */
// The same rule as the backend's, to the letter: only ASCII whitespace is
// trimmed and only ASCII letters fold case (JavaScript's own trim and
// toLowerCase reach further into Unicode than Rust's ASCII rules do).
const asciiTrim = (s) => s.replace(/^[ \t\n\f\r]+|[ \t\n\f\r]+$/g, "");
const asciiLower = (s) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

export function normalizeBinding(text) {
  const parts = String(text).split("+").map(asciiTrim);
  if (parts.some((p) => p === "")) return { error: `"${text}" is not a key combination like Ctrl+Alt+Shift+S` };
  const rawKey = parts.pop();
  const flags = { Ctrl: false, Alt: false, Shift: false, Super: false };
  for (const m of parts) {
    const l = asciiLower(m);
    if (["ctrl", "control", "commandorcontrol", "cmdorctrl"].includes(l)) flags.Ctrl = true;
    else if (["alt", "option"].includes(l)) flags.Alt = true;
    else if (l === "shift") flags.Shift = true;
    else if (["super", "meta", "cmd", "command", "win"].includes(l)) flags.Super = true;
    else return { error: `"${m}" is not a modifier (use Ctrl, Alt, Shift or Super)` };
  }
  let key = null;
  if (/^[a-zA-Z0-9]$/.test(rawKey)) key = rawKey.toUpperCase();
  else if (/^[fF]([0-9]{1,2})$/.test(rawKey) && +rawKey.slice(1) >= 1 && +rawKey.slice(1) <= 24) key = `F${+rawKey.slice(1)}`;
  else key = NAMED.find((k) => asciiLower(k) === asciiLower(rawKey)) ?? null;
  if (!key) return { error: `"${rawKey}" is not a key OnAir can bind` };
  const mods = Object.keys(flags).filter((k) => flags[k]);
  if (mods.length === 0 && !isHighF(key)) return { error: `${key} alone would stop you typing it anywhere; add Ctrl, Alt, Shift or Super` };
  return { binding: [...mods, key].join("+") };
}

/** A binding as the backend would store it, or as given when it is not one OnAir can bind. */
export function canonicalOrAsIs(text) {
  return normalizeBinding(text).binding ?? text;
}

/** Bindings used by more than one action: Map(binding → [action, ...]). */
export function conflicts(bindings) {
  const by = new Map();
  for (const [action, binding] of Object.entries(bindings)) {
    if (!binding) continue;
    if (!by.has(binding)) by.set(binding, []);
    by.get(binding).push(action);
  }
  for (const [b, actions] of [...by]) if (actions.length < 2) by.delete(b);
  return by;
}
