// The health card: the stream's figures (bitrate, dropped frames, congestion),
// OBS's own (CPU, FPS, render time, free disk) and a five-minute bitrate
// sparkline. Thresholds and ages are format.js's rules; this draws them. The
// bitrate history is kept here: the backend's from the snapshot, then a sample
// per pushed State.

import { $, make, showText } from "./dom.js";
import * as f from "./format.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const HISTORY_MS = 5 * 60_000;

export function createHealth() {
  let obs = null; // the last State's obs
  let history = []; // [{at_ms, kbps}], oldest first

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
    const valueSpan = el.querySelector(".v") ?? el.appendChild(make("span", "v"));
    valueSpan.textContent = v;
    let subSpan = el.querySelector(".sub");
    if (sub) {
      if (!subSpan) {
        subSpan = make("span", "sub");
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
        flag = make("span", "flag");
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

  function recordBitrate() {
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
    showText($("health-note"), onAir ? "" : "Stream figures appear while live.");
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

  return {
    /** What OBS is doing (State.obs, null when unseen); takes its bitrate sample. */
    setObs(next, now = Date.now()) {
      obs = next ?? null;
      recordBitrate();
      trimHistory(now);
      renderHealth(now);
    },
    /** The backend's bitrate history from the snapshot, [{at_ms, kbps}]. */
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
    /** Forgets the bitrate history: another OBS is shown, with a stream of its own. */
    reset() {
      history = [];
      obs = null;
      renderHealth();
    },
    /** Re-draws the ages and the sparkline's time axis. */
    tick(now = Date.now()) {
      trimHistory(now);
      renderHealth(now);
    },
  };
}
