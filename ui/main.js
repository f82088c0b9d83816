// OnAir's window: wires the backend (Tauri commands and pushed events) to the
// status and settings pages. The page never polls: one snapshot at start, then
// events (state, controls, moments, settings, the OBS list); a 1 s timer only
// re-draws clocks from the timestamps it already has. With several OBS the
// page shows one at a time: choosing another asks the backend for its
// snapshot, and from then on the pushed state, controls and moments are its.

import { $, setAttr } from "./dom.js";
import { createConnections } from "./connections.js";
import { createFirstRun } from "./first_run.js";
import { errorText } from "./format.js";
import { createSettings } from "./settings.js";
import { createStatus } from "./status.js";

const tauri = window.__TAURI__;

function showPage(page, { focus = null } = {}) {
  const settings = page === "settings";
  $("page-status").hidden = settings;
  $("page-settings").hidden = !settings;
  document.body.dataset.page = settings ? "settings" : "status";
  setAttr($("tab-status"), "aria-current", !settings, "page");
  setAttr($("tab-settings"), "aria-current", settings, "page");
  const hash = settings ? "#settings" : "";
  if (location.hash !== hash) history.replaceState(null, "", `${location.pathname}${location.search}${hash}`);
  $("content").scrollTop = 0;
  if (focus) $(focus)?.focus();
}

$("tab-status").addEventListener("click", () => showPage("status"));
$("tab-settings").addEventListener("click", () => showPage("settings"));
window.addEventListener("hashchange", () => showPage(location.hash === "#settings" ? "settings" : "status"));
showPage(location.hash === "#settings" ? "settings" : "status");

if (!tauri?.core?.invoke || !tauri?.event?.listen) {
  $("connection-detail").textContent = "OnAir's backend is not available to this page.";
} else {
  start(tauri.core.invoke, tauri.event.listen);
}

async function start(invoke, listen) {
  const settings = createSettings({ invoke, afterConnectionsSaved: () => resync() });
  const firstRun = createFirstRun({ invoke, errorText });
  const status = createStatus({
    invoke,
    openSettings: (field) => showPage("settings", { focus: field }),
  });
  const connections = createConnections({ choose: (index) => showConnection(index) });

  /**
   * Draws a snapshot of the OBS it shows. `fresh`: the page showed another
   * OBS (or may have), so what accumulates is dropped first.
   */
  function draw(snap, { fresh, pushedState = false, pushedControls = false }) {
    if (fresh) status.reset();
    if (Array.isArray(snap?.connections)) connections.setRows(snap.connections);
    connections.setShown(snap?.shown_connection ?? 0);
    status.setHistory(snap?.bitrate_history);
    status.setStreams(snap?.history);
    status.addMoments(snap?.moments);
    // The settings are the same whichever OBS is shown; they come with the
    // first snapshot, then by event (a later load would drop unsaved edits).
    if (!fresh && snap?.settings) settings.load(snap.settings);
    if (!pushedState && snap?.state) status.setState(snap.state);
    if (!pushedControls && snap?.controls) status.setControls(snap.controls);
  }

  // While the page changes OBS, what is pushed may be the last one's (sent
  // before the switch) or the next one's: the answer's snapshot is the next
  // one's as of the switch, and only a State that names the next OBS's
  // address is kept from meanwhile.
  let heldState = null;

  async function showConnection(index) {
    if (connections.isBusy()) return;
    connections.showError("");
    connections.setBusy(index);
    heldState = null;
    try {
      const snap = await invoke("show_connection", { index });
      draw(snap, { fresh: true });
      if (heldState && heldState.target === snap?.state?.target) status.setState(heldState);
    } catch (e) {
      connections.showError(`OnAir could not show that OBS: ${errorText(e)}`);
    } finally {
      heldState = null;
      connections.setBusy(null);
    }
  }

  /** Draws again what the backend shows now (after the OBS list changed, say). */
  async function resync() {
    try {
      draw(await invoke("get_snapshot"), { fresh: true });
    } catch (e) {
      status.showProblem(`OnAir could not read its state: ${errorText(e)}`);
    }
  }

  // Listen first so nothing pushed while the snapshot is on its way is lost;
  // a state or controls pushed meanwhile are newer than the snapshot's and win.
  let pushedState = false;
  let pushedControls = false;
  let pushedOffer = false;
  const listeners = [
    listen("onair://state", (e) => {
      if (connections.isBusy()) {
        heldState = e.payload;
        return;
      }
      if (connections.isOthers(e.payload)) return;
      pushedState = true;
      status.setState(e.payload);
    }),
    listen("onair://controls", (e) => {
      if (connections.isBusy()) return;
      pushedControls = true;
      status.setControls(e.payload);
    }),
    listen("onair://moment", (e) => {
      if (!connections.isBusy()) status.addMoments([e.payload]);
    }),
    listen("onair://connections", (e) => {
      const before = connections.shownRow();
      connections.setRows(e.payload);
      const after = connections.shownRow();
      // The OBS on show went from the list, or another one took its place:
      // ask the backend which one it shows now.
      const moved = before && (!after || after.target !== before.target);
      if (moved && !connections.isBusy()) resync();
    }),
    listen("onair://settings", (e) => settings.apply(e.payload)),
    listen("onair://obs-offer", (e) => {
      pushedOffer = true;
      firstRun.show(e.payload);
    }),
    listen("onair://page", (e) => showPage(e.payload === "settings" ? "settings" : "status")),
  ];
  try {
    await Promise.all(listeners);
  } catch (e) {
    status.showProblem(`OnAir could not subscribe to updates: ${errorText(e)}`);
  }

  try {
    const snap = await invoke("get_snapshot");
    draw(snap, { fresh: false, pushedState, pushedControls });
    if (!pushedOffer) firstRun.show(snap?.obs_offer);
  } catch (e) {
    if (!status.hasState()) status.showProblem(`OnAir could not read its state: ${errorText(e)}`);
  }

  setInterval(() => status.tick(), 1000);
}
