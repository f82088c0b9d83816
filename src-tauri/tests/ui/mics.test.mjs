// ui/mics.js under Node's test runner: which of the backend's buttons are the
// mics' mute buttons, and the level words beside each. Run by src-tauri/tests/ui.rs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const source = readFileSync(new URL("../../../ui/mics.js", import.meta.url));
const m = await import(`data:text/javascript;base64,${source.toString("base64")}`);

test("the mics' buttons are the controls with a mic id and an input, in the backend's order", () => {
  // As window_controls serializes them: the outputs' buttons carry no input.
  const stream = { id: "stream", label: "Start streaming", action: "start-stream", enabled: true, on: false };
  const aux = { id: "mic:Mic/Aux", label: "Mute Mic/Aux", action: "mute-on", enabled: true, on: false, input: "Mic/Aux" };
  const pod = { id: "mic:Pod", label: "Unmute Pod", action: "mute-off", enabled: true, on: true, input: "Pod" };
  assert.deepEqual(m.micControls({ items: [stream, aux, pod], hint: null }), [aux, pod]);
  assert.deepEqual(m.micControls({ items: [stream] }), []);
  // Junk never breaks it.
  assert.deepEqual(m.micControls(null), []);
  assert.deepEqual(m.micControls({ items: "x" }), []);
  assert.deepEqual(m.micControls({ items: [null, 3, { id: "mic:x" }, { id: "mic:y", input: "" }, { id: 5, input: "z" }] }), []);
});

test("levels read in whole dBFS, silence in words", () => {
  assert.equal(m.dbfsText(-18.4), "\u221218 dBFS");
  assert.equal(m.dbfsText(-0.2), "0 dBFS", "no minus zero");
  assert.equal(m.dbfsText(3), "0 dBFS", "nothing above full scale");
  assert.equal(m.dbfsText(-100), "silent");
  assert.equal(m.dbfsText(-140), "silent");
  assert.equal(m.dbfsText(null), "");
  assert.equal(m.dbfsText("−3"), "");
  assert.equal(m.dbfsText(NaN), "");
});

test("beside each button: the level, or that it is muted and what it hears anyway", () => {
  // As ObsStatus.mics serializes them.
  const mics = [
    { name: "Mic/Aux", muted: false, level_dbfs: -23.6, input_level_dbfs: -23.6 },
    { name: "Pod", uuid: "u-1", muted: true, level_dbfs: -100, input_level_dbfs: -19.2 },
    { name: "Quiet", muted: true, level_dbfs: -100, input_level_dbfs: -100 },
    { name: "Idle", muted: false, level_dbfs: null, input_level_dbfs: null },
    { name: "Idle muted", muted: true, level_dbfs: null, input_level_dbfs: null },
  ];
  assert.equal(m.micLevel(mics, "Mic/Aux"), "\u221224 dBFS");
  assert.equal(m.micLevel(mics, "Pod"), "muted · hears \u221219 dBFS");
  assert.equal(m.micLevel(mics, "Quiet"), "muted");
  assert.equal(m.micLevel(mics, "Idle"), "", "not metered while nothing is on the air");
  assert.equal(m.micLevel(mics, "Idle muted"), "muted");
  assert.equal(m.micLevel(mics, "Gone"), "");
  assert.equal(m.micLevel(null, "Mic/Aux"), "");
  assert.equal(m.micLevel([null, 1, { name: "Mic/Aux", muted: "yes", level_dbfs: "loud" }], "Mic/Aux"), "");
});
