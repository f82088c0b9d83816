// The control buttons and the scene list. What each button says and does comes
// from the backend (`controls`: a label, the action to send, whether it can act
// and why not), computed once beside the tray menu, so the window does not
// re-derive it from OBS's state. The stop confirmation is the backend's
// too: a first press answers "armed" and the pushed controls say so. This module
// only owns what is the window's alone: which command is on its way, and focus.
// Each watched mic has a mute button of its own (the backend's `mic:<name>`
// controls, drawn from mics.js), sent with the input it acts on, and its level
// beside it.

import { $, make, setAttr, showText } from "./dom.js";
import { controlFace, errorText } from "./format.js";
import { micControls, micLevel } from "./mics.js";

const CONTROL_IDS = ["stream", "record", "pause", "replay", "vcam"];

export function createControls({ invoke }) {
  let view = null; // the last ControlsView: { items: [ControlView], hint }
  let obs = null; // the last State's obs, for the scenes
  let busy = null; // the action being sent
  let busyId = null; // the button that sent it

  const buttons = Object.fromEntries(CONTROL_IDS.map((id) => [id, $(`btn-${id}`)]));

  /** The backend's word on one control, or null before it has spoken. */
  function control(id) {
    const items = Array.isArray(view?.items) ? view.items : [];
    return items.find((c) => c?.id === id) ?? null;
  }

  // A focused control that gets disabled (say Stop streaming while OBS stops)
  // drops keyboard focus; it gets it back when it can act again, unless the
  // user has gone elsewhere meanwhile.
  let dropped = null;

  function renderButtons() {
    const focusedId = CONTROL_IDS.find((id) => buttons[id] === document.activeElement) ?? null;
    if (dropped && document.activeElement && document.activeElement !== document.body) dropped = null;
    for (const [id, button] of Object.entries(buttons)) {
      const face = controlFace(control(id), busy);
      // Until the backend has described the controls, the page's own labels
      // stand and nothing can be pressed.
      if (!face) {
        button.disabled = true;
        continue;
      }
      if (face.label) button.textContent = face.label;
      button.dataset.action = face.action;
      button.dataset.on = face.on ? "true" : "false";
      button.classList.toggle("armed", face.armed);
      button.disabled = !face.action;
      if (!face.action && id === focusedId) dropped = id;
      // While a command is on its way the others wait, but stay focusable.
      setAttr(button, "aria-disabled", busy !== null);
      setAttr(button, "aria-busy", face.sending);
      if (face.why) button.title = face.why;
      else button.removeAttribute("title");
    }
    if (dropped && !buttons[dropped].disabled) {
      buttons[dropped].focus();
      dropped = null;
    }
    showText($("control-hint"), typeof view?.hint === "string" ? view.hint : "");
  }

  /** A control's answer or error under the buttons: tone "bad" for errors, "info" for news. */
  function showOutcome(message, tone = "bad") {
    const el = $("control-error");
    el.dataset.tone = tone;
    showText(el, message);
  }

  // `scene` is what the action acts on: the scene to switch to, or the mic to
  // mute (the IPC command reads it as the action's argument either way).
  async function send(action, scene, id = null) {
    showOutcome(null);
    busy = action;
    busyId = id;
    render();
    try {
      const answer = await invoke("control", scene === undefined ? { action } : { action, scene });
      // "armed" needs no words here: the pushed controls relabel the button.
      if (answer?.outcome === "already-stopped") showOutcome(answer.message, "info");
    } catch (e) {
      showOutcome(errorText(e));
    } finally {
      busy = null;
      busyId = null;
      render();
    }
  }

  for (const [id, button] of Object.entries(buttons)) {
    button.addEventListener("click", () => {
      const action = button.dataset.action;
      if (!action || busy !== null) return;
      send(action, undefined, id);
    });
  }

  // ---- mics ----------------------------------------------------------------

  function micRow(c) {
    const b = make("button", "control control-mic");
    b.type = "button";
    b.dataset.id = c.id;
    b.addEventListener("click", () => {
      const action = b.dataset.action;
      if (!action || busy !== null) return;
      send(action, b.dataset.input, b.dataset.id);
    });
    const level = make("span", "mic-level");
    const li = make("li", "mic");
    li.append(b, level);
    return li;
  }

  function renderMics() {
    const list = $("mics");
    if (!list) return;
    const mics = micControls(view);
    const shown = [...list.querySelectorAll("button.control-mic")].map((b) => b.dataset.id);
    if (shown.length !== mics.length || shown.some((id, i) => id !== mics[i].id)) {
      const focused = document.activeElement?.classList?.contains("control-mic") ? document.activeElement.dataset.id : null;
      list.replaceChildren(...mics.map(micRow));
      if (focused !== null) {
        [...list.querySelectorAll("button.control-mic")].find((b) => b.dataset.id === focused)?.focus();
      }
    }
    list.hidden = mics.length === 0;
    list.querySelectorAll("li.mic").forEach((li, i) => {
      const c = mics[i];
      const b = li.querySelector("button");
      const face = controlFace(c, busyId === c.id ? busy : null);
      b.textContent = face.label;
      b.dataset.action = face.action;
      b.dataset.input = c.input;
      b.dataset.on = face.on ? "true" : "false";
      b.disabled = !face.action;
      setAttr(b, "aria-disabled", busy !== null);
      setAttr(b, "aria-busy", face.sending);
      if (face.why) b.title = face.why;
      else b.removeAttribute("title");
      const level = li.querySelector(".mic-level");
      level.textContent = micLevel(obs?.mics, c.input);
      level.dataset.muted = face.on ? "true" : "false";
    });
  }

  // ---- scenes --------------------------------------------------------------

  function sceneButton(name) {
    const b = make("button", "scene", name);
    b.type = "button";
    b.dataset.scene = name;
    b.addEventListener("click", () => {
      if (b.getAttribute("aria-pressed") === "true" || busy !== null) return;
      send("switch-scene", name);
    });
    const li = make("li");
    li.append(b);
    return li;
  }

  function renderScenes() {
    const list = $("scenes");
    const scenes = Array.isArray(obs?.scenes) ? obs.scenes : [];
    const current = [...list.querySelectorAll("button.scene")].map((b) => b.dataset.scene);
    if (current.length !== scenes.length || current.some((s, i) => s !== scenes[i])) {
      const focused = document.activeElement?.classList?.contains("scene") ? document.activeElement.dataset.scene : null;
      list.replaceChildren(...scenes.map(sceneButton));
      if (focused !== null) list.querySelector(`button.scene[data-scene="${CSS.escape(focused)}"]`)?.focus();
    }
    const locked = !obs || obs.scene_collection_changing;
    for (const b of list.querySelectorAll("button.scene")) {
      setAttr(b, "aria-disabled", busy !== null);
      const program = obs?.program_scene === b.dataset.scene;
      b.setAttribute("aria-pressed", program ? "true" : "false");
      setAttr(b, "aria-current", program);
      b.disabled = locked;
    }
    let note = "";
    if (!obs) note = "Scenes show up once OnAir is connected to OBS.";
    else if (obs.scene_collection_changing) note = "OBS is changing scene collection…";
    else if (scenes.length === 0) note = "This scene collection has no scenes.";
    else if (obs.studio_mode) note = "Studio mode is on: a click changes the program scene directly.";
    showText($("scenes-note"), note);
  }

  function render() {
    renderButtons();
    renderMics();
    renderScenes();
  }

  return {
    /** Another OBS is shown: what a press said here was about the last one. */
    reset() {
      showOutcome(null);
      dropped = null;
    },
    /** The backend's ControlsView, from the snapshot or an onair://controls event. */
    setControls(next) {
      view = next && typeof next === "object" ? next : null;
      renderButtons();
      renderMics();
    },
    /** What OBS is doing (State.obs, null when unseen): the scenes and the mics' levels are drawn from it. */
    setObs(next) {
      obs = next ?? null;
      renderMics();
      renderScenes();
    },
  };
}
