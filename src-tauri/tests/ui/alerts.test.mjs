// ui/alerts.js under Node's test runner: the stream guard's open alerts as the
// health card lists them, oldest first, in the backend's words, with how long
// each has been open in the words of the tray's row. Run by src-tauri/tests/ui.rs.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const source = readFileSync(new URL("../../../ui/alerts.js", import.meta.url));
const a = await import(`data:text/javascript;base64,${source.toString("base64")}`);

test("how long an alert has been open reads as the backend's span", () => {
  // The same cases as text::span's test in the headless crate.
  assert.equal(a.span(0), "0 s");
  assert.equal(a.span(59_999), "59 s");
  assert.equal(a.span(60_000), "1:00");
  assert.equal(a.span(3_599_000), "59:59");
  assert.equal(a.span(3_600_000), "1:00:00");
  assert.equal(a.span(100 * 3_600_000 + 61_000), "100:01:01");
  assert.equal(a.span(-5_000), "0 s", "a clock that stepped back is not negative time");
});

test("open alerts are listed oldest first in the backend's words, critical as it says", () => {
  const now = 1_700_000_100_000;
  // As ObsStatus.alerts serializes them: the guard's kind order, not the order they began in.
  const alerts = [
    { alert: "muted-while-live", mic: "Mic/Aux", since_ms: now - 42_000, title: "Mic muted while live", critical: true },
    { alert: "stalled", since_ms: now - 102_000, title: "Stream stalled", critical: true },
    { alert: "dropping-frames", since_ms: now - 5_000, title: "Dropping frames", critical: false },
  ];
  assert.deepEqual(a.alertRows(alerts, now), [
    { key: "stalled", title: "Stream stalled", mic: "", open: "1:42", critical: true },
    { key: "muted-while-live:Mic/Aux", title: "Mic muted while live", mic: "Mic/Aux", open: "42 s", critical: true },
    { key: "dropping-frames", title: "Dropping frames", mic: "", open: "5 s", critical: false },
  ]);
  // A second later, only the times have moved.
  assert.deepEqual(a.alertRows(alerts, now + 1_000).map((r) => r.open), ["1:43", "43 s", "6 s"]);
});

test("junk and missing fields never break the list", () => {
  assert.deepEqual(a.alertRows(undefined), []);
  assert.deepEqual(a.alertRows(null), []);
  assert.deepEqual(a.alertRows([null, { title: "no kind", since_ms: 1 }, { alert: "stalled" }], 10_000), []);
  // Without a title the wire name stands in; without `critical` it is a warning.
  assert.deepEqual(a.alertRows([{ alert: "low-disk", since_ms: 0 }], 61_000), [
    { key: "low-disk", title: "low-disk", mic: "", open: "1:01", critical: false },
  ]);
});

// Just enough of the DOM for createAlerts: elements with classes, text, data and children.
function fakeDocument() {
  class El {
    constructor(tag) {
      this.tag = tag;
      this.className = "";
      this.dataset = {};
      this.children = [];
      this.hidden = false;
      this.ownText = "";
    }
    get classList() {
      return { contains: (c) => this.className.split(" ").includes(c) };
    }
    set textContent(t) {
      this.ownText = t;
      this.children = [];
    }
    get textContent() {
      return this.ownText + this.children.map((c) => (typeof c === "string" ? c : c.textContent)).join("");
    }
    append(...nodes) {
      this.children.push(...nodes);
    }
    replaceChildren(...nodes) {
      this.children = nodes;
    }
    querySelector(sel) {
      const cls = sel.replace(/^\./, "");
      for (const c of this.children) {
        if (typeof c === "string") continue;
        if (c.classList.contains(cls)) return c;
        const deeper = c.querySelector(sel);
        if (deeper) return deeper;
      }
      return null;
    }
  }
  const list = new El("ul");
  list.hidden = true;
  return { list, getElementById: (id) => (id === "alerts" ? list : null), createElement: (tag) => new El(tag) };
}

test("the list shows each open alert, ticks in place, and hides when all is well", () => {
  const doc = fakeDocument();
  globalThis.document = doc;
  const view = a.createAlerts();
  const now = 1_700_000_000_000;
  view.setObs({ alerts: [] }, now);
  assert.equal(doc.list.hidden, true);
  view.setObs(
    {
      alerts: [
        { alert: "low-disk", since_ms: now - 5_000, title: "Low disk space", critical: false },
        { alert: "muted-while-live", mic: "Mic/Aux", since_ms: now - 42_000, title: "Mic muted while live", critical: true },
      ],
    },
    now,
  );
  assert.equal(doc.list.hidden, false);
  const [first, second] = doc.list.children;
  assert.equal(first.className, "alert critical");
  assert.equal(first.textContent, "Mic muted while live Mic/Aux 42 s");
  assert.equal(second.className, "alert warning");
  assert.equal(second.textContent, "Low disk space 5 s");
  view.tick(now + 20_000);
  assert.equal(doc.list.children[0], first, "a tick keeps the rows");
  assert.equal(first.textContent, "Mic muted while live Mic/Aux 1:02");
  view.setObs(null, now + 21_000);
  assert.equal(doc.list.hidden, true);
  assert.equal(doc.list.children.length, 0);
  delete globalThis.document;
});
