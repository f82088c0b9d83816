// The control buttons and the scene list. What each button says and does comes
// from the backend (`controls`: a label, the action to send, whether it can act
// and why not), computed once beside the tray menu, so the window does not
// re-derive it from OBS's state. The stop confirmation is the backend's
// too: a first press answers "armed" and the pushed controls say so. This module
// only owns what is the window's alone: which command is on its way, and focus.

import { $, make, setAttr, showText } from "./dom.js";
import { controlFace, errorText } from "./format.js";

const CONTROL_IDS = ["stream", "record", "pause", "replay", "vcam"];

export function createControls({ invoke }) {
  let view = null; // the last ControlsView: { items: [ControlView], hint }
  let obs = null; // the last State's obs, for the scenes
  let busy = null; // the action being sent

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

  async function send(action, scene) {
    showOutcome(null);
    busy = action;
    render();
    try {
      const answer = await invoke("control", scene === undefined ? { action } : { action, scene });
      // "armed" needs no words here: the pushed controls relabel the button.
      if (answer?.outcome === "already-stopped") showOutcome(answer.message, "info");
    } catch (e) {
      showOutcome(errorText(e));
    } finally {
      busy = null;
      render();
    }
  }

  for (const button of Object.values(buttons)) {
    button.addEventListener("click", () => {
      const action = button.dataset.action;
      if (!action || busy !== null) return;
      send(action);
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
    renderScenes();
  }

  return {
    /** The backend's ControlsView, from the snapshot or an onair://controls event. */
    setControls(next) {
      view = next && typeof next === "object" ? next : null;
      renderButtons();
    },
    /** What OBS is doing (State.obs, null when unseen): the scenes are drawn from it. */
    setObs(next) {
      obs = next ?? null;
      renderScenes();
    },
  };
}
