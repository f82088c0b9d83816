// The window's status header, pushed from the backend as Tauri events.
const { invoke } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;

function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

function headline(state) {
  const stream = state.obs?.stream;
  if (!stream) return ["NOT CONNECTED", "not-connected", ""];
  switch (stream.state) {
    case "live": return ["LIVE", "live", clock(Date.now() - stream.since_ms)];
    case "reconnecting": return ["RECONNECTING", "reconnecting", clock(Date.now() - stream.live_since_ms)];
    case "starting": return ["STARTING", "offline", ""];
    case "stopping": return ["STOPPING", "offline", ""];
    default: return ["OFFLINE", "offline", ""];
  }
}

let current = null;

function render() {
  if (!current) return;
  const [text, cls, detail] = headline(current);
  document.getElementById("headline").textContent = text;
  document.getElementById("header").className = cls;
  document.getElementById("detail").textContent = detail;
  const c = current.connection;
  document.getElementById("connection").textContent =
    c.state === "connected" ? `OBS ${c.obs_version} at ${current.target}` : (c.message || c.reason || `${c.state} (${current.target})`);
}

listen("onair://state", (event) => { current = event.payload; render(); });
invoke("get_state").then((state) => { current = state; render(); });
setInterval(render, 1000);
