// ui/hotkeys.js under Node's test runner: the binding rule against the table
// the backend's Rust `normalize` is checked against too (hotkey_cases.json),
// what the recording field makes of key presses, and clashes. Run by
// src-tauri/tests/ui.rs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

// hotkeys.js is a browser module next to the page; loaded as is, from source.
const source = readFileSync(new URL("../../../ui/hotkeys.js", import.meta.url));
const h = await import(`data:text/javascript;base64,${source.toString("base64")}`);
const { cases } = JSON.parse(readFileSync(new URL("./hotkey_cases.json", import.meta.url), "utf8"));

test("the shared table has both kinds of case", () => {
  assert.ok(cases.filter((c) => "binding" in c).length >= 10);
  assert.ok(cases.filter((c) => "error" in c).length >= 10);
  for (const c of cases) {
    assert.equal(typeof c.accelerator, "string", JSON.stringify(c));
    assert.equal("binding" in c, !("error" in c), `exactly one of binding and error: ${JSON.stringify(c)}`);
  }
});

test("bindings are normalised as the backend stores them (hotkey_cases.json)", () => {
  for (const c of cases) {
    const got = h.normalizeBinding(c.accelerator);
    if ("binding" in c) assert.deepEqual(got, { binding: c.binding }, JSON.stringify(c.accelerator));
    else {
      assert.equal(got.binding, undefined, `${JSON.stringify(c.accelerator)} should be refused, got ${got.binding}`);
      assert.ok(got.error.includes(c.error), `${JSON.stringify(c.accelerator)}: "${got.error}" lacks "${c.error}"`);
    }
  }
});

test("a canonical binding stays as it is", () => {
  for (const c of cases.filter((c) => "binding" in c)) {
    assert.deepEqual(h.normalizeBinding(c.binding), { binding: c.binding }, c.binding);
  }
});

test("a binding loaded from the settings is shown canonical, or as it was when OnAir cannot bind it", () => {
  assert.equal(h.canonicalOrAsIs("shift+ctrl+s"), "Ctrl+Shift+S");
  assert.equal(h.canonicalOrAsIs("Ctrl+Banana"), "Ctrl+Banana");
});

// A keydown as the browser reports it; code is the physical key, key what it types.
const press = (code, key, mods = {}) => ({ code, key, ctrlKey: false, altKey: false, shiftKey: false, metaKey: false, ...mods });
const CAS = { ctrlKey: true, altKey: true, shiftKey: true };

test("a recorded combination is canonical and bindable", () => {
  const recorded = [
    [press("KeyS", "S", CAS), "Ctrl+Alt+Shift+S"],
    [press("PageUp", "PageUp", CAS), "Ctrl+Alt+Shift+PageUp"],
    [press("Digit1", "!", { shiftKey: true, metaKey: true }), "Shift+Super+1"],
    [press("ArrowLeft", "ArrowLeft", { altKey: true }), "Alt+Left"],
    [press("Backquote", "`", { ctrlKey: true }), "Ctrl+Backquote"],
    [press("F13", "F13"), "F13"],
    // A layout where the physical S key types something else still binds S.
    [press("KeyS", "о", { ctrlKey: true }), "Ctrl+S"],
  ];
  for (const [event, binding] of recorded) {
    assert.deepEqual(h.interpretKey(event), { kind: "binding", binding }, binding);
    assert.deepEqual(h.normalizeBinding(binding), { binding }, `the backend accepts ${binding} as is`);
  }
});

test("the recording field lets Tab through, cancels, clears and waits for a key", () => {
  assert.deepEqual(h.interpretKey(press("Tab", "Tab")), { kind: "pass" });
  assert.deepEqual(h.interpretKey(press("Tab", "Tab", { shiftKey: true })), { kind: "pass" });
  assert.deepEqual(h.interpretKey(press("Escape", "Escape")), { kind: "cancel" });
  assert.deepEqual(h.interpretKey(press("Backspace", "Backspace")), { kind: "clear" });
  assert.deepEqual(h.interpretKey(press("Delete", "Delete")), { kind: "clear" });
  assert.deepEqual(h.interpretKey(press("ControlLeft", "Control", { ctrlKey: true, altKey: true })), { kind: "pending", text: "Ctrl+Alt+…" });
});

test("the recording field refuses a bare key and a key OnAir cannot bind", () => {
  const bare = h.interpretKey(press("KeyS", "s"));
  assert.equal(bare.kind, "invalid");
  assert.match(bare.reason, /alone would stop you typing/);
  const numpad = h.interpretKey(press("Numpad1", "1", { ctrlKey: true }));
  assert.equal(numpad.kind, "invalid");
  assert.match(numpad.reason, /not a key OnAir can bind/);
});

test("clashes list every action sharing a binding, and nothing else", () => {
  const clashes = h.conflicts({ toggle_stream: "Ctrl+S", save_replay: "Ctrl+S", next_scene: "Ctrl+N", previous_scene: null, pause_recording: null });
  assert.deepEqual([...clashes], [["Ctrl+S", ["toggle_stream", "save_replay"]]]);
});
