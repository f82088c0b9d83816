// ui/format.js under Node's test runner: the age rule for health figures, how
// a control button reads the backend's ControlView, how the moments log keeps
// each moment once and shows the backend's words. Run by src-tauri/tests/ui.rs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

// format.js is a browser module next to the page; loaded as is, from source.
const source = readFileSync(new URL("../../../ui/format.js", import.meta.url));
const f = await import(`data:text/javascript;base64,${source.toString("base64")}`);

test("a figure is current for three poll intervals, then greyed with its age", () => {
  const now = 1_700_000_000_000;
  assert.deepEqual(f.freshness(now, now), { current: true, age: "" });
  assert.deepEqual(f.freshness(now - 6_000, now), { current: true, age: "" });
  assert.deepEqual(f.freshness(now - 6_001, now), { current: false, age: "6 s ago" });
  assert.deepEqual(f.freshness(now - 5 * 60_000, now), { current: false, age: "5 min ago" });
  assert.deepEqual(f.freshness(now - 3 * 3_600_000, now), { current: false, age: "3 h ago" });
  assert.equal(f.CURRENT_FOR_MS, 3 * f.POLL_INTERVAL_MS);
});

test("a figure that does not say when it was polled is never current", () => {
  for (const polled of [undefined, null, "12", NaN]) {
    assert.deepEqual(f.freshness(polled, 1_000), { current: false, age: "age unknown" }, String(polled));
  }
});

test("ages read as words", () => {
  assert.equal(f.ago(0), "0 s ago");
  assert.equal(f.ago(59_999), "59 s ago");
  assert.equal(f.ago(60_000), "1 min ago");
  assert.equal(f.ago(47 * 3_600_000), "47 h ago");
  assert.equal(f.ago(72 * 3_600_000), "3 days ago");
});

const paused = (seq, at_ms = 5_000) => ({ seq, at_ms, moment: "recording-paused" });

test("two moments of one kind in one millisecond are both kept", () => {
  const log = f.mergeMoments([], [paused(1), paused(2)]);
  assert.deepEqual(log, [paused(1), paused(2)]);
  assert.deepEqual(f.mergeMoments(log, [paused(3)]), [paused(1), paused(2), paused(3)]);
});

test("a moment in both the snapshot and the event stream is shown once", () => {
  // Events that arrived before the snapshot, then the snapshot, then a late event.
  let log = f.mergeMoments([], [paused(3), paused(4)]);
  log = f.mergeMoments(log, [paused(1), paused(2), paused(3)]);
  assert.deepEqual(log.map((n) => n.seq), [1, 2, 3, 4]);
  assert.equal(f.mergeMoments(log, [paused(4)]), null, "nothing new");
});

test("the log keeps the last moments in the backend's order and skips junk", () => {
  // The backend's order stands even if the wall clock stepped back between two moments.
  const log = f.mergeMoments([], [paused(2, 1_000), null, { seq: 9 }, paused(1, 2_000), paused(3, 3_000)], 2);
  assert.deepEqual(log.map((n) => n.seq), [2, 3]);
});

test("moments without a number only merge when identical", () => {
  const a = { at_ms: 5, moment: "replay-saved", path: "/a.mkv" };
  const b = { at_ms: 5, moment: "replay-saved", path: "/b.mkv" };
  assert.deepEqual(f.mergeMoments([a], [a, b]), [a, b]);
});

test("a moment shows the backend's title, body and tone", () => {
  const ended = { seq: 7, at_ms: 5, moment: "ended", duration_ms: 3_600_000, title: "Stream ended", body: "01:00:00 on air · 2.5 GB sent", tone: "plain" };
  assert.deepEqual(f.momentView(ended), { title: "Stream ended", body: "01:00:00 on air · 2.5 GB sent", tone: "plain" });
  const lost = { seq: 8, at_ms: 6, moment: "obs-lost", title: "Lost OBS while live", body: "", tone: "bad" };
  assert.deepEqual(f.momentView(lost), { title: "Lost OBS while live", body: "", tone: "bad" });
});

test("a moment without words shows its kind, and an unknown tone is plain", () => {
  assert.deepEqual(f.momentView({ seq: 1, at_ms: 1, moment: "replay-saved" }), { title: "replay-saved", body: "", tone: "plain" });
  assert.deepEqual(f.momentView({ seq: 2, at_ms: 1, moment: "live", title: "  ", tone: "loud" }), { title: "live", body: "", tone: "plain" });
  assert.equal(f.momentView({ seq: 3, at_ms: 1, title: 42 }).title, "Moment");
});

const stop = { id: "stream", label: "Stop streaming", action: "stop-stream", enabled: true, on: true, armed: false, why: null };

test("a control button says what the backend says and sends its action", () => {
  assert.deepEqual(f.controlFace(stop), { label: "Stop streaming", action: "stop-stream", on: true, armed: false, sending: false, why: "" });
  const armed = { ...stop, label: "Press again to stop", armed: true };
  assert.deepEqual(f.controlFace(armed), { label: "Press again to stop", action: "stop-stream", on: true, armed: true, sending: false, why: "" });
  assert.equal(f.controlFace(null), null, "nothing from the backend yet");
});

test("a control that cannot act sends nothing, says why and is never armed", () => {
  const pause = { id: "pause", label: "Pause recording", action: null, enabled: false, on: false, armed: false, why: "Not recording" };
  assert.deepEqual(f.controlFace(pause), { label: "Pause recording", action: "", on: false, armed: false, sending: false, why: "Not recording" });
  // "enabled" rules even when an action is named.
  const off = f.controlFace({ ...stop, enabled: false, armed: true, why: "Not connected to OBS" });
  assert.deepEqual([off.action, off.armed, off.why], ["", false, "Not connected to OBS"]);
});

test("the button whose command is on its way says so, with one ellipsis", () => {
  assert.deepEqual([f.controlFace(stop, "stop-stream").label, f.controlFace(stop, "stop-stream").sending], ["Stop streaming…", true]);
  const starting = { ...stop, label: "Starting stream…", action: "stop-stream" };
  assert.equal(f.controlFace(starting, "stop-stream").label, "Starting stream…");
  assert.deepEqual([f.controlFace(stop, "start-recording").label, f.controlFace(stop, "start-recording").sending], ["Stop streaming", false]);
});

test("the host field takes a host, or OBS's obsws:// URL for the backend to split", () => {
  assert.equal(f.hostProblem("studio.lan"), null);
  assert.equal(f.hostProblem(" obsws://192.168.1.20:4455/secret "), null);
  assert.equal(f.hostProblem("OBSWS://[::1]:4455"), null);
  assert.equal(f.hostProblem("ws://localhost:4455"), f.HOST_MESSAGE);
  assert.equal(f.hostProblem("obsws://"), f.HOST_MESSAGE);
  assert.equal(f.hostProblem("a/b"), f.HOST_MESSAGE);
});
