// ui/history.js under Node's test runner: a stream that ended shown once,
// newest first, at most five, whether it came from the snapshot or as its
// "ended" moment. Run by src-tauri/tests/ui.rs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const source = readFileSync(new URL("../../../ui/history.js", import.meta.url));
const h = await import(`data:text/javascript;base64,${source.toString("base64")}`);

const entry = (ended_at_ms, summary = `stream ${ended_at_ms}`) => ({ ended_at_ms, started_at_ms: ended_at_ms - 60_000, summary, while_away: false });

test("an ended moment is a recent stream in the words of its notification", () => {
  const moment = { seq: 3, at_ms: 100_000, moment: "ended", duration_ms: 60_000, while_away: true, title: "Stream ended while OnAir could not see OBS", body: "1:00 live · 45 MB", tone: "plain" };
  assert.deepEqual(h.entryFromMoment(moment), { ended_at_ms: 100_000, started_at_ms: 40_000, summary: "1:00 live · 45 MB", while_away: true });
  assert.equal(h.entryFromMoment({ seq: 4, at_ms: 5, moment: "live", title: "You're live", body: "" }), null);
  assert.equal(h.entryFromMoment({ moment: "ended" }), null, "no time, no entry");
  assert.equal(h.entryFromMoment(null), null);
  assert.equal(h.entryFromMoment({ at_ms: 1, moment: "ended" }).started_at_ms, null, "no duration: start unknown");
});

test("recent streams are newest first, each once, at most five", () => {
  const snapshot = [entry(500), entry(400), entry(300), entry(200), entry(100)];
  const loaded = h.mergeRecent([], snapshot);
  assert.deepEqual(loaded.map((e) => e.ended_at_ms), [500, 400, 300, 200, 100]);
  // The stream that ended since: also in the moments log the snapshot carried.
  const moreRecent = h.mergeRecent(loaded, [entry(600), entry(500, "again")]);
  assert.deepEqual(moreRecent.map((e) => e.ended_at_ms), [600, 500, 400, 300, 200]);
  assert.equal(moreRecent[1].summary, "stream 500", "the first word stays");
  assert.equal(h.mergeRecent(moreRecent, [entry(600), entry(100)]), null, "nothing newer: nothing to redraw");
  assert.equal(h.mergeRecent([], undefined), null);
  assert.equal(h.mergeRecent([], [{ summary: "no time" }]), null);
  assert.equal(h.RECENT_SHOWN, 5);
});
