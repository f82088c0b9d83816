// Pure helpers: clocks, sizes, health thresholds, the header's words, how a
// control button reads and the moments log's bookkeeping (the controls' and the
// moments' own words come from the backend).
// Nothing here touches the DOM or the backend, so it can be checked on its own.

/** Milliseconds as HH:MM:SS (hours keep growing past 99). */
export function clock(ms) {
  const s = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

/** Time elapsed since a Unix-ms timestamp, as HH:MM:SS; "" without a timestamp. */
export function since(ms, now = Date.now()) {
  return typeof ms === "number" ? clock(now - ms) : "";
}

/** OBS's free disk space (MB as OBS counts them, i.e. MiB) as "123 GB". */
export function diskSpace(mb) {
  if (typeof mb !== "number" || !isFinite(mb)) return "";
  const gb = mb / 1024;
  if (gb >= 100) return `${Math.round(gb)} GB`;
  if (gb >= 1) return `${gb.toFixed(1)} GB`;
  return `${Math.round(mb)} MB`;
}

/** A ratio 0..1 as a percentage with sensible precision. */
export function percent(ratio) {
  if (typeof ratio !== "number" || !isFinite(ratio)) return "";
  const p = ratio * 100;
  if (p === 0) return "0%";
  if (p < 1) return `${p.toFixed(2)}%`;
  if (p < 10) return `${p.toFixed(1)}%`;
  return `${Math.round(p)}%`;
}

export function mbps(kbps) {
  if (typeof kbps !== "number" || !isFinite(kbps)) return "";
  const v = kbps / 1000;
  return `${v >= 10 ? v.toFixed(1) : v.toFixed(2)} Mb/s`;
}

export function count(n) {
  return typeof n === "number" && isFinite(n) ? Math.round(n).toLocaleString("en-US") : "";
}

/** Local wall-clock time of a Unix-ms timestamp, HH:MM:SS. */
export function localTime(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// ---- health thresholds -------------------------------------------------------
// Each returns { level: "" | "warn" | "bad", flag: text shown beside the value }.
// The flag makes the state readable without colour.

const ok = { level: "", flag: "" };
const level = (value, warnAbove, badAbove, warnFlag, badFlag) => {
  if (typeof value !== "number" || !isFinite(value)) return ok;
  if (value > badAbove) return { level: "bad", flag: badFlag };
  if (value > warnAbove) return { level: "warn", flag: warnFlag };
  return ok;
};

export const THRESHOLDS = Object.freeze({
  dropped: [0.005, 0.02],
  congestion: [0.2, 0.5],
  cpu: [70, 90],
  renderMs: [20, 33],
  freeDiskMb: [20 * 1024, 5 * 1024],
  bitrateFallRatio: 0.5,
});

export const droppedLevel = (ratio) => level(ratio, ...THRESHOLDS.dropped, "high", "very high");
export const congestionLevel = (c) => level(c, ...THRESHOLDS.congestion, "congested", "very congested");
export const cpuLevel = (cpu) => level(cpu, ...THRESHOLDS.cpu, "high", "very high");
export const renderLevel = (ms) => level(ms, ...THRESHOLDS.renderMs, "slow", "too slow");

export function diskLevel(mb) {
  if (typeof mb !== "number" || !isFinite(mb)) return ok;
  const [warnBelow, badBelow] = THRESHOLDS.freeDiskMb;
  if (mb < badBelow) return { level: "bad", flag: "almost full" };
  if (mb < warnBelow) return { level: "warn", flag: "low" };
  return ok;
}

export function median(values) {
  const v = values.filter((x) => typeof x === "number" && isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * Amber when the current bitrate is below half of its median over the last
 * minute (history: [{at_ms, kbps}]; needs a few samples to judge).
 */
export function bitrateLevel(kbps, history, now = Date.now()) {
  if (typeof kbps !== "number" || !isFinite(kbps)) return ok;
  const recent = history.filter((p) => p.at_ms >= now - 60_000 && p.at_ms <= now + 5_000).map((p) => p.kbps);
  if (recent.length < 3) return ok;
  const m = median(recent);
  if (m && m > 0 && kbps < m * THRESHOLDS.bitrateFallRatio) return { level: "warn", flag: "falling" };
  return ok;
}

// ---- how current a figure is -------------------------------------------------
// Health and stats figures come from polls every 2 s and carry when they were
// polled. One whose poll is older than three intervals (polls failing, OnAir
// lagging, outputs stopped) is not current: it is shown greyed with its age and
// never with warning colours. This is the only place that decides.

export const POLL_INTERVAL_MS = 2_000;
export const CURRENT_FOR_MS = 3 * POLL_INTERVAL_MS;

/** An age in words: "12 s ago", "5 min ago", "3 h ago", "2 days ago". */
export function ago(ms) {
  const s = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  if (s < 60) return `${s} s ago`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} days ago`;
}

/**
 * Whether a figure polled at `polledAtMs` (Unix ms) still counts as current,
 * and if not, its age in words. A figure that does not say when it was polled
 * is never current.
 */
export function freshness(polledAtMs, now = Date.now()) {
  if (typeof polledAtMs !== "number" || !isFinite(polledAtMs)) return { current: false, age: "age unknown" };
  const age = now - polledAtMs;
  if (age <= CURRENT_FOR_MS) return { current: true, age: "" };
  return { current: false, age: ago(age) };
}

// ---- what the header says ----------------------------------------------------

const CONNECTION_WORDS = {
  connecting: (t) => `Connecting to OBS${t}…`,
  syncing: (t) => `Connected to OBS${t}, reading its state…`,
  connected: (t) => `Connected${t}`,
  "waiting-for-obs": (t) => `Waiting for OBS${t}`,
  "auth-failed": (t) => `OBS${t} rejected the password`,
  incompatible: (t) => `OBS${t} is not supported`,
  "session-invalidated": (t) => `OBS${t} closed the session`,
  "invalid-settings": () => "The connection settings need fixing",
  stopped: () => "Not watching OBS",
};

/**
 * What OnAir's link to OBS is, under the headline: where, and when it is not
 * connected, why (the backend's message, else its reason) on a second line.
 */
export function connectionDetail(state) {
  const c = state?.connection ?? {};
  const target = state?.target ? ` at ${state.target}` : "";
  if (c.state === "connected" && state?.obs) {
    const obs = c.obs_version ? `OBS ${c.obs_version}` : "OBS";
    return `${obs}${target}`;
  }
  const base = (CONNECTION_WORDS[c.state] ?? ((t) => `Not connected to OBS${t}`))(target);
  const why = [c.message, c.reason].find((x) => typeof x === "string" && x.trim() !== "");
  return why ? `${base}\n${why.trim()}` : base;
}

/**
 * The big word and the body's data-state. OBS being unseen (obs == null) is
 * never LIVE, whatever was last known.
 */
export function headline(state) {
  const obs = state?.obs;
  if (!obs) {
    if (state?.connection?.state === "auth-failed") return { word: "PASSWORD REJECTED", key: "auth-failed" };
    return { word: "NOT CONNECTED", key: "not-connected" };
  }
  switch (obs.stream?.state) {
    case "live":
      return { word: "LIVE", key: "live" };
    case "reconnecting":
      return { word: "RECONNECTING", key: "reconnecting" };
    case "starting":
      return { word: "STARTING…", key: "starting" };
    case "stopping":
      return { word: "STOPPING…", key: "stopping" };
    default:
      return { word: "OFFLINE", key: "offline" };
  }
}

/** When the stream went on air, if it is (or still counts as) on air. */
export function liveSince(stream) {
  if (!stream) return null;
  if (stream.state === "live") return stream.since_ms ?? null;
  if (stream.state === "reconnecting" || stream.state === "stopping") return stream.live_since_ms ?? null;
  return null;
}

/** The recording badge: { text, key }. */
export function recordingStatus(obs, now = Date.now()) {
  const rec = obs?.recording;
  if (!obs || !rec) return { text: "", key: "none" };
  switch (rec.state) {
    case "recording":
      return { text: `REC ${since(rec.since_ms, now) || ""}`.trim(), key: "recording" };
    case "paused":
      return { text: "REC PAUSED", key: "paused" };
    case "starting":
      return { text: "REC STARTING…", key: "busy" };
    case "stopping":
      return { text: "REC STOPPING…", key: "busy" };
    default:
      return { text: "NOT RECORDING", key: "off" };
  }
}

// ---- moments -----------------------------------------------------------------

const TONES = new Set(["good", "warn", "bad", "plain"]);

/**
 * How a logged moment is shown: the backend words it (`title`, `body`) and
 * says how it feels (`tone`), as it does for notifications. A moment that
 * lacks a title shows its kind rather than nothing; an unknown tone is plain.
 */
export function momentView(n) {
  const text = (v) => (typeof v === "string" ? v.trim() : "");
  const kind = text(n?.moment);
  return {
    title: text(n?.title) || kind || "Moment",
    body: text(n?.body),
    tone: TONES.has(n?.tone) ? n.tone : "plain",
  };
}

/**
 * What tells two moments apart: the backend numbers each one (`seq`), since
 * two of one kind can share a millisecond. Without a number, only an identical
 * moment counts as the same one.
 */
export function momentKey(n) {
  return typeof n?.seq === "number" ? `#${n.seq}` : JSON.stringify(n);
}

/**
 * The moments log (oldest first) with `incoming` added, each moment once: the
 * snapshot and the event stream can both carry the same one. Keeps the last
 * `max`. Returns null when nothing was new.
 */
export function mergeMoments(log, incoming, max = Infinity) {
  const seen = new Set(log.map(momentKey));
  const out = log.slice();
  for (const n of Array.isArray(incoming) ? incoming : []) {
    if (!n || typeof n.at_ms !== "number") continue;
    const key = momentKey(n);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(n);
  }
  if (out.length === log.length) return null;
  const numbered = (a, b) => typeof a.seq === "number" && typeof b.seq === "number";
  out.sort((a, b) => (numbered(a, b) ? a.seq - b.seq : a.at_ms - b.at_ms));
  return out.length > max ? out.slice(out.length - max) : out;
}

// ---- controls ----------------------------------------------------------------

/**
 * How one control button looks, from the backend's ControlView ({id, label,
 * action, enabled, on, armed, why}) and the action the window is sending, if
 * any: the label ("…" added once while its own command is on its way), the
 * action a press sends ("" when it cannot act), the tooltip saying why not,
 * and whether it waits for a confirming press. Null before the backend spoke.
 */
export function controlFace(c, busy = null) {
  if (!c || typeof c !== "object") return null;
  const label = typeof c.label === "string" ? c.label : "";
  const action = c.enabled === true && typeof c.action === "string" ? c.action : "";
  const sending = busy !== null && busy === action;
  return {
    label: sending && label ? `${label}…`.replace(/……$/, "…") : label,
    action,
    on: c.on === true,
    armed: c.armed === true && action !== "",
    sending,
    why: action === "" && typeof c.why === "string" ? c.why : "",
  };
}

/**
 * What "Test connection" found (the backend's TestResult) as words and a
 * tone: the backend's message names the cause and what to do about it.
 */
export function testOutcome(r, host, port) {
  const msg = typeof r?.message === "string" && r.message.trim() ? r.message.trim() : "";
  if (!r?.reachable) return { text: msg || `Not reachable at ${host}:${port}`, tone: "bad" };
  if (!r.authenticated) return { text: msg || "Reachable, but not connected", tone: "warn" };
  const parts = [r.obs_version ? `OBS ${r.obs_version}` : "OBS", r.websocket_version ? `obs-websocket ${r.websocket_version}` : ""];
  return { text: `Connected: ${parts.filter(Boolean).join(", ")} ✓`, tone: "ok" };
}

/** An error from invoke as words: backend errors are {code, message, field?}. */
export function errorText(e) {
  if (e && typeof e === "object" && typeof e.message === "string" && e.message.trim()) return e.message;
  if (typeof e === "string" && e.trim()) return e;
  return "Something went wrong";
}

// ---- settings checks ---------------------------------------------------------

export const HOST_MESSAGE = "Give only the host name or IP address, e.g. localhost";
export const PORT_MESSAGE = "Port must be a number from 1 to 65535 (OBS's default is 4455)";

/**
 * null when the host looks usable, otherwise the reason. OBS's own
 * obsws://HOST:PORT/PASSWORD URL (its Show Connect Info) is let through: the
 * backend splits it into host, port and password, and says what is wrong with it.
 */
export function hostProblem(host) {
  const h = String(host ?? "").trim();
  if (/^obsws:\/\/./i.test(h)) return null;
  if (h === "" || h.includes("://") || /\s/.test(h) || h.includes("/")) return HOST_MESSAGE;
  return null;
}

/** { port } when valid, else { error }. */
export function parsePort(text) {
  const t = String(text ?? "").trim();
  if (!/^\d{1,5}$/.test(t)) return { error: PORT_MESSAGE };
  const n = Number(t);
  if (n < 1 || n > 65535) return { error: PORT_MESSAGE };
  return { port: n };
}
