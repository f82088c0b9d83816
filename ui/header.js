// The status header: the big word (LIVE, OFFLINE, ...), the time on air, the
// recording badge, where OnAir is connected and, when the settings are what
// stands in the way, a button to them. The 1 s tick re-draws its clocks.

import { $, showText } from "./dom.js";
import * as f from "./format.js";

export function createHeader({ openSettings }) {
  let state = null;

  function render(now = Date.now()) {
    if (!state) return;
    const { word, key } = f.headline(state);
    const obs = state.obs ?? null;
    if ($("headline").textContent !== word) $("headline").textContent = word;
    document.body.dataset.state = key;
    document.body.dataset.connection = state.connection?.state ?? "";
    const from = obs ? f.liveSince(obs.stream) : null;
    $("clock-row").hidden = !obs;
    const tc = $("timecode");
    tc.textContent = from !== null ? f.since(from, now) : "--:--:--";
    tc.classList.toggle("idle", from === null);
    let outage = "";
    if (obs?.stream?.state === "reconnecting") {
      const down = typeof obs.stream.since_ms === "number" ? f.since(obs.stream.since_ms, now) : "";
      outage = down ? `Down for ${down}` : "Connection to the server lost";
    }
    showText($("outage"), outage);
    const rec = f.recordingStatus(obs, now);
    const recEl = $("recording-status");
    recEl.textContent = rec.text;
    recEl.dataset.rec = rec.key;
    recEl.hidden = rec.key === "none";
    $("connection-detail").textContent = f.connectionDetail(state);
    $("btn-fix-settings").hidden = !(!obs && ["auth-failed", "invalid-settings"].includes(state.connection?.state));
    document.title = key === "live" ? `● LIVE ${tc.textContent} · OnAir` : `${word} · OnAir`;
  }

  // "Open settings" in the header when the settings are what stands in the way.
  $("btn-fix-settings").addEventListener("click", () =>
    openSettings(state?.connection?.state === "auth-failed" ? "password" : "host"),
  );

  return {
    setState(next, now = Date.now()) {
      state = next;
      render(now);
    },
    tick: render,
    /** Says why the page has no state to show (the backend unreachable, say). */
    showProblem(message) {
      $("connection-detail").textContent = message;
    },
  };
}
