// OnAir's window: wires the backend (Tauri commands and pushed events) to the
// status and settings pages. The page never polls: one snapshot at start, then
// events (state, controls, moments, settings); a 1 s timer only re-draws clocks
// from the timestamps it already has.

import { $, setAttr } from "./dom.js";
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
  const settings = createSettings({ invoke });
  const firstRun = createFirstRun({ invoke, errorText });
  const status = createStatus({
    invoke,
    openSettings: (field) => showPage("settings", { focus: field }),
  });

  // Listen first so nothing pushed while the snapshot is on its way is lost;
  // a state or controls pushed meanwhile are newer than the snapshot's and win.
  let pushedState = false;
  let pushedControls = false;
  let pushedOffer = false;
  const listeners = [
    listen("onair://state", (e) => {
      pushedState = true;
      status.setState(e.payload);
    }),
    listen("onair://controls", (e) => {
      pushedControls = true;
      status.setControls(e.payload);
    }),
    listen("onair://moment", (e) => status.addMoments([e.payload])),
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
    status.setHistory(snap?.bitrate_history);
    status.setStreams(snap?.history);
    status.addMoments(snap?.moments);
    if (snap?.settings) settings.load(snap.settings);
    if (!pushedState && snap?.state) status.setState(snap.state);
    if (!pushedControls && snap?.controls) status.setControls(snap.controls);
    if (!pushedOffer) firstRun.show(snap?.obs_offer);
  } catch (e) {
    if (!status.hasState()) status.showProblem(`OnAir could not read its state: ${errorText(e)}`);
  }

  setInterval(() => status.tick(), 1000);
}
