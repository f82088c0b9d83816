// The status page and the header: what OBS is doing, its health, the controls,
// the scenes and this session's moments. Everything is drawn from the last
// State the backend pushed; a 1 s tick only re-draws the clocks.

import * as f from "./format.js";
import { errorText, mergeMoments } from "./format.js";

const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";
const HISTORY_MS = 5 * 60_000;
const MAX_MOMENTS = 300;
const CONFIRM_MS = 4000;

export function createStatus({ invoke, openSettings }) {
  let state = null;
  let settings = null;
  let history = []; // [{at_ms, kbps}], oldest first
  let moments = []; // the backend's logged moments, oldest first
  let busy = null; // the action being sent
  let armed = null; // { timer } while a stop-stream waits for its second press

  // ---- controls ------------------------------------------------------------

  const buttons = {
    stream: $("btn-stream"),
    record: $("btn-record"),
    pause: $("btn-pause"),
    replay: $("btn-replay"),
    vcam: $("btn-vcam"),
  };

  function controlModel(obs) {
    const m = {};
    const stream = obs?.stream?.state;
    if (stream === "live" || stream === "reconnecting") m.stream = { label: "Stop streaming", action: "stop-stream", on: true };
    else if (stream === "starting") m.stream = { label: "Starting stream…", on: true };
    else if (stream === "stopping") m.stream = { label: "Stopping stream…", on: true };
    else m.stream = { label: "Start streaming", action: "start-stream" };

    const rec = obs?.recording?.state;
    if (rec === "recording" || rec === "paused") m.record = { label: "Stop recording", action: "stop-recording", on: true };
    else if (rec === "starting") m.record = { label: "Starting recording…", on: true };
    else if (rec === "stopping") m.record = { label: "Stopping recording…", on: true };
    else m.record = { label: "Start recording", action: "start-recording" };

    if (rec === "recording") m.pause = { label: "Pause recording", action: "pause-recording" };
    else if (rec === "paused") m.pause = { label: "Resume recording", action: "resume-recording", on: true };
    else m.pause = { label: "Pause recording", why: "Not recording" };

    const replay = obs?.replay_buffer;
    if (replay === "on") m.replay = { label: "Save replay", action: "save-replay" };
    else if (replay === "unavailable") m.replay = { label: "Save replay", why: "OBS has no replay buffer set up" };
    else m.replay = { label: "Save replay", why: "The replay buffer is not running in OBS" };

    const vcam = obs?.virtual_camera;
    if (vcam === "on") m.vcam = { label: "Stop virtual camera", action: "stop-virtual-camera", on: true };
    else if (vcam === "off") m.vcam = { label: "Start virtual camera", action: "start-virtual-camera" };
    else if (vcam === "starting") m.vcam = { label: "Starting camera…", on: true };
    else if (vcam === "stopping") m.vcam = { label: "Stopping camera…", on: true };
    else m.vcam = { label: "Virtual camera", why: "This OBS has no virtual camera" };

    if (!obs) for (const k of Object.keys(m)) m[k] = { label: m[k].label, why: "Not connected to OBS" };
    return m;
  }

  // A focused control that gets disabled (say Stop streaming while OBS stops)
  // drops keyboard focus; it gets it back when it can act again, unless the
  // user has gone elsewhere meanwhile.
  let dropped = null;

  function renderControls() {
    const obs = state?.obs ?? null;
    const model = controlModel(obs);
    const focusedKey = Object.keys(buttons).find((k) => buttons[k] === document.activeElement) ?? null;
    if (dropped && document.activeElement && document.activeElement !== document.body) dropped = null;
    for (const [key, button] of Object.entries(buttons)) {
      const c = model[key];
      let label = c.label;
      let action = c.action ?? "";
      if (key === "stream" && armed && action === "stop-stream") label = "Press again to stop";
      if (key === "stream" && armed && action !== "stop-stream") disarm();
      const sending = busy !== null && busy === action;
      button.textContent = sending ? `${label}…`.replace(/……$/, "…") : label;
      button.dataset.action = action;
      button.dataset.on = c.on ? "true" : "false";
      button.classList.toggle("armed", key === "stream" && !!armed && action === "stop-stream");
      button.disabled = !action;
      if (!action && key === focusedKey) dropped = key;
      // While a command is on its way the others wait, but stay focusable.
      if (busy !== null) button.setAttribute("aria-disabled", "true");
      else button.removeAttribute("aria-disabled");
      if (sending) button.setAttribute("aria-busy", "true");
      else button.removeAttribute("aria-busy");
      if (c.why) button.title = c.why;
      else button.removeAttribute("title");
    }
    if (dropped && !buttons[dropped].disabled) {
      buttons[dropped].focus();
      dropped = null;
    }
    const hint = $("control-hint");
    hint.hidden = !!obs;
    hint.textContent = obs ? "" : "Controls wake up when OnAir is connected to OBS.";
  }

  function disarm() {
    if (armed) clearTimeout(armed.timer);
    armed = null;
  }

  function showControlError(message) {
    const el = $("control-error");
    el.textContent = message ?? "";
    el.hidden = !message;
  }

  async function send(action, scene) {
    showControlError(null);
    busy = action;
    renderControls();
    renderScenes();
    try {
      await invoke("control", scene === undefined ? { action } : { action, scene });
    } catch (e) {
      showControlError(errorText(e));
    } finally {
      busy = null;
      renderControls();
      renderScenes();
    }
  }

  for (const button of Object.values(buttons)) {
    button.addEventListener("click", () => {
      const action = button.dataset.action;
      if (!action || busy !== null) return;
      if (action === "stop-stream" && settings?.confirm_stop_stream && !armed) {
        showControlError(null);
        armed = { timer: setTimeout(() => { armed = null; renderControls(); }, CONFIRM_MS) };
        renderControls();
        return;
      }
      disarm();
      send(action);
    });
  }

  // ---- scenes --------------------------------------------------------------

  function renderScenes() {
    const list = $("scenes");
    const obs = state?.obs ?? null;
    const scenes = Array.isArray(obs?.scenes) ? obs.scenes : [];
    const current = [...list.querySelectorAll("button.scene")].map((b) => b.dataset.scene);
    if (current.length !== scenes.length || current.some((s, i) => s !== scenes[i])) {
      const focused = document.activeElement?.classList?.contains("scene") ? document.activeElement.dataset.scene : null;
      list.replaceChildren(
        ...scenes.map((name) => {
          const li = document.createElement("li");
          const b = document.createElement("button");
          b.type = "button";
          b.className = "scene";
          b.dataset.scene = name;
          b.textContent = name;
          b.addEventListener("click", () => {
            if (b.getAttribute("aria-pressed") === "true" || busy !== null) return;
            send("switch-scene", name);
          });
          li.append(b);
          return li;
        }),
      );
      if (focused !== null) list.querySelector(`button.scene[data-scene="${CSS.escape(focused)}"]`)?.focus();
    }
    const locked = !obs || obs.scene_collection_changing;
    for (const b of list.querySelectorAll("button.scene")) {
      if (busy !== null) b.setAttribute("aria-disabled", "true");
      else b.removeAttribute("aria-disabled");
      const program = obs?.program_scene === b.dataset.scene;
      b.setAttribute("aria-pressed", program ? "true" : "false");
      if (program) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
      b.disabled = locked;
    }
    const note = $("scenes-note");
    let text = "";
    if (!obs) text = "Scenes show up once OnAir is connected to OBS.";
    else if (obs.scene_collection_changing) text = "OBS is changing scene collection…";
    else if (scenes.length === 0) text = "This scene collection has no scenes.";
    else if (obs.studio_mode) text = "Studio mode is on: a click changes the program scene directly.";
    note.textContent = text;
    note.hidden = text === "";
  }

  // ---- health --------------------------------------------------------------

  /**
   * Puts a figure in its <dd>: value, an optional detail line, and a flag word
   * past a threshold. A figure that is not current (`fresh` from f.freshness)
   * is greyed, says its age instead, and takes no warning.
   */
  function setMetric(id, value, lvl = { level: "", flag: "" }, sub = "", fresh = { current: true, age: "" }) {
    const el = $(id);
    const stale = !fresh.current && value !== "" && value != null;
    if (stale) {
      lvl = { level: "", flag: "" };
      sub = fresh.age;
    }
    el.classList.toggle("stale", stale);
    const v = value === "" || value == null ? "—" : value;
    const valueSpan = el.querySelector(".v") ?? el.appendChild(Object.assign(document.createElement("span"), { className: "v" }));
    valueSpan.textContent = v;
    let subSpan = el.querySelector(".sub");
    if (sub) {
      if (!subSpan) {
        subSpan = Object.assign(document.createElement("span"), { className: "sub" });
        valueSpan.after(" ", subSpan);
      }
      subSpan.textContent = sub;
    } else if (subSpan) {
      if (subSpan.previousSibling?.nodeType === Node.TEXT_NODE) subSpan.previousSibling.remove();
      subSpan.remove();
    }
    let flag = el.querySelector(".flag");
    if (lvl.flag) {
      if (!flag) {
        flag = document.createElement("span");
        flag.className = "flag";
        el.append(" ", flag);
      }
      flag.textContent = lvl.flag;
    } else if (flag) {
      if (flag.previousSibling?.nodeType === Node.TEXT_NODE) flag.previousSibling.remove();
      flag.remove();
    }
    el.classList.toggle("warn", lvl.level === "warn");
    el.classList.toggle("bad", lvl.level === "bad");
  }

  function recordBitrate(obs) {
    const h = obs?.stream_health;
    if (!h || typeof h.bitrate_kbps !== "number" || typeof h.polled_at_ms !== "number") return;
    const last = history[history.length - 1];
    if (last && last.at_ms >= h.polled_at_ms) return;
    history.push({ at_ms: h.polled_at_ms, kbps: h.bitrate_kbps });
  }

  function trimHistory(now) {
    const cutoff = now - HISTORY_MS;
    let i = 0;
    while (i < history.length && history[i].at_ms < cutoff) i += 1;
    if (i) history = history.slice(i);
  }

  function renderHealth(now = Date.now()) {
    const obs = state?.obs ?? null;
    const section = $("health");
    section.hidden = !obs;
    if (!obs) return;
    const onAir = f.liveSince(obs.stream) !== null || obs.stream?.state === "live";
    section.dataset.onair = onAir ? "true" : "false";
    const h = onAir ? obs.stream_health : null;
    const s = obs.stats ?? {};
    const hFresh = f.freshness(h?.polled_at_ms, now);
    const sFresh = f.freshness(s.polled_at_ms, now);

    const kbps = h?.bitrate_kbps;
    setMetric("bitrate", h ? f.mbps(kbps) : "", h ? f.bitrateLevel(kbps, history, now) : undefined, "", hFresh);
    if (h && typeof h.dropped_ratio === "number") {
      const frames = typeof h.dropped_frames === "number" ? `${f.count(h.dropped_frames)} ${h.dropped_frames === 1 ? "frame" : "frames"}` : "";
      setMetric("dropped", f.percent(h.dropped_ratio), f.droppedLevel(h.dropped_ratio), frames, hFresh);
    } else setMetric("dropped", "");
    setMetric("congestion", h ? f.percent(h.congestion) : "", h ? f.congestionLevel(h.congestion) : undefined, "", hFresh);
    setMetric("cpu", typeof s.cpu_percent === "number" ? `${s.cpu_percent.toFixed(s.cpu_percent < 10 ? 1 : 0)}%` : "", f.cpuLevel(s.cpu_percent), "", sFresh);
    setMetric("fps", typeof s.fps === "number" ? (Number.isInteger(s.fps) ? String(s.fps) : s.fps.toFixed(1)) : "", undefined, "", sFresh);
    setMetric("render-time", typeof s.render_ms === "number" ? `${s.render_ms.toFixed(1)} ms` : "", f.renderLevel(s.render_ms), "", sFresh);
    setMetric("free-disk", f.diskSpace(s.free_disk_mb), f.diskLevel(s.free_disk_mb), "", sFresh);
    $("health-note").textContent = onAir ? "" : "Stream figures appear while live.";
    $("health-note").hidden = onAir;
    drawSparkline(onAir, now);
  }

  function drawSparkline(onAir, now) {
    const svg = $("sparkline");
    const W = 300;
    const H = 48;
    const points = onAir ? history.filter((p) => p.at_ms >= now - HISTORY_MS) : [];
    const max = Math.max(1, ...points.map((p) => p.kbps)) * 1.15;
    const x = (t) => (W * (t - (now - HISTORY_MS))) / HISTORY_MS;
    const y = (k) => H - 2 - ((H - 4) * k) / max;
    let line = "";
    let area = "";
    let segStart = null;
    let prev = null;
    for (const p of points) {
      const px = x(p.at_ms).toFixed(1);
      const py = y(p.kbps).toFixed(1);
      if (!prev || p.at_ms - prev.at_ms > 15_000) {
        if (prev && segStart) area += `L${x(prev.at_ms).toFixed(1)},${H}L${segStart},${H}Z`;
        line += `M${px},${py}`;
        area += `M${px},${H}L${px},${py}`;
        segStart = px;
      } else {
        line += `L${px},${py}`;
        area += `L${px},${py}`;
      }
      prev = p;
    }
    if (prev && segStart) area += `L${x(prev.at_ms).toFixed(1)},${H}L${segStart},${H}Z`;
    let areaPath = svg.querySelector("path.area");
    let linePath = svg.querySelector("path.line");
    if (!areaPath) {
      svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
      svg.setAttribute("preserveAspectRatio", "none");
      areaPath = document.createElementNS(SVG_NS, "path");
      areaPath.setAttribute("class", "area");
      linePath = document.createElementNS(SVG_NS, "path");
      linePath.setAttribute("class", "line");
      linePath.setAttribute("vector-effect", "non-scaling-stroke");
      svg.append(areaPath, linePath);
    }
    areaPath.setAttribute("d", area || "M0,0");
    linePath.setAttribute("d", line || "M0,0");
    const vals = points.map((p) => p.kbps);
    const label = vals.length
      ? `Bitrate over the last 5 minutes: from ${f.mbps(Math.min(...vals))} to ${f.mbps(Math.max(...vals))}`
      : "Bitrate over the last 5 minutes: no data yet";
    svg.setAttribute("aria-label", label);
    svg.classList.toggle("empty", vals.length === 0);
    $("bitrate").closest(".bitrate")?.classList.toggle("has-chart", vals.length > 0);
  }

  // ---- header --------------------------------------------------------------

  function renderHeader(now = Date.now()) {
    const body = document.body;
    if (!state) return;
    const { word, key } = f.headline(state);
    const obs = state.obs ?? null;
    if ($("headline").textContent !== word) $("headline").textContent = word;
    body.dataset.state = key;
    body.dataset.connection = state.connection?.state ?? "";
    const from = obs ? f.liveSince(obs.stream) : null;
    $("clock-row").hidden = !obs;
    const tc = $("timecode");
    tc.textContent = from !== null ? f.since(from, now) : "--:--:--";
    tc.classList.toggle("idle", from === null);
    const outage = $("outage");
    if (obs?.stream?.state === "reconnecting") {
      const down = typeof obs.stream.since_ms === "number" ? f.since(obs.stream.since_ms, now) : "";
      outage.textContent = down ? `Down for ${down}` : "Connection to the server lost";
      outage.hidden = false;
    } else {
      outage.hidden = true;
      outage.textContent = "";
    }
    const rec = f.recordingStatus(obs, now);
    const recEl = $("recording-status");
    recEl.textContent = rec.text;
    recEl.dataset.rec = rec.key;
    recEl.hidden = rec.key === "none";
    $("connection-detail").textContent = f.connectionDetail(state);
    const fix = $("btn-fix-settings");
    fix.hidden = !(!obs && ["auth-failed", "invalid-settings"].includes(state.connection?.state));
    document.title = key === "live" ? `● LIVE ${tc.textContent} · OnAir` : `${word} · OnAir`;
  }

  // "Open settings" in the header when the settings are what stands in the way.
  $("btn-fix-settings").addEventListener("click", () =>
    openSettings(state?.connection?.state === "auth-failed" ? "password" : "host"),
  );

  // ---- moments -------------------------------------------------------------

  function addMoments(list) {
    const merged = mergeMoments(moments, list, MAX_MOMENTS);
    if (!merged) return;
    moments = merged;
    renderMoments();
  }

  function renderMoments() {
    const ol = $("moments");
    const items = moments
      .slice()
      .reverse()
      .map((n) => {
        const li = document.createElement("li");
        li.className = `moment tone-${f.momentTone(n.moment)}`;
        li.dataset.moment = n.moment;
        const t = document.createElement("time");
        t.dateTime = new Date(n.at_ms).toISOString();
        t.textContent = f.localTime(n.at_ms);
        const text = document.createElement("span");
        text.className = "what";
        text.textContent = f.momentText(n);
        li.append(t, text);
        return li;
      });
    ol.replaceChildren(...items);
    $("moments-empty").hidden = moments.length > 0;
  }

  // ---- public --------------------------------------------------------------

  function renderAll() {
    const now = Date.now();
    trimHistory(now);
    renderHeader(now);
    renderControls();
    renderScenes();
    renderHealth(now);
  }

  return {
    setState(next) {
      state = next;
      recordBitrate(next?.obs);
      renderAll();
    },
    setHistory(list) {
      const mine = history;
      history = (Array.isArray(list) ? list : [])
        .filter((p) => typeof p?.at_ms === "number" && typeof p?.kbps === "number")
        .map((p) => ({ at_ms: p.at_ms, kbps: p.kbps }));
      // Keep samples that arrived by event after the snapshot was taken.
      const last = history.length ? history[history.length - 1].at_ms : -Infinity;
      for (const p of mine) if (p.at_ms > last) history.push(p);
      renderHealth();
    },
    addMoments,
    setSettings(view) {
      settings = view;
      if (!settings?.confirm_stop_stream) disarm();
      if (state) renderControls();
    },
    hasState: () => state !== null,
    showProblem(message) {
      $("connection-detail").textContent = message;
    },
    tick() {
      if (!state) return;
      const now = Date.now();
      trimHistory(now);
      renderHeader(now);
      renderHealth(now);
    },
  };
}
