// ui/first_run.js under Node's test runner: the first-run card shows the
// backend's words for the offer, how to turn OBS's server on when it is off,
// and why a yes did not save everything; nothing without an offer. Run by
// src-tauri/tests/ui.rs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const source = readFileSync(new URL("../../../ui/first_run.js", import.meta.url));
const f = await import(`data:text/javascript;base64,${source.toString("base64")}`);

const found = "Found OBS's settings in /home/s/.config/obs-studio/global.ini (obs-websocket 5.0 to 5.4) on this machine: port 4455, with a password (OnAir keeps it in the keyring).";

test("an offer is shown in the backend's words, with how to turn the server on", () => {
  const enable = "OBS's WebSocket server is off: in OBS, Tools › WebSocket Server Settings › Enable WebSocket server.";
  assert.deepEqual(f.cardText({ found, port: 4455, password_set: true, server_off: true, enable, problem: null }), { found, enable, problem: "" });
  assert.deepEqual(f.cardText({ found, port: 4455, password_set: true, server_off: false, enable: null, problem: null }), { found, enable: "", problem: "" });
});

test("a yes that did not save everything says why on the card", () => {
  const problem = "OnAir connects to OBS at localhost:4455 for this run. The address could not be saved (...).";
  assert.equal(f.cardText({ found, enable: null, problem }).problem, problem);
});

test("no offer, no card", () => {
  assert.equal(f.cardText(null), null);
  assert.equal(f.cardText(undefined), null);
  assert.equal(f.cardText({ port: 4455 }), null);
  assert.equal(f.cardText({ found: "" }), null);
});
