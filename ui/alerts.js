// The stream guard's open alerts, at the top of the health card: each in the
// backend's words (its title, the mic it is about) with how long it has been
// open, ticking with the page's 1 s timer. Which alerts are critical (red) is
// the backend's call (`critical`), the rest are warnings (amber), so the list of
// critical kinds lives in one place. Oldest first, as the tray names the oldest.
// No imports, so the pure part runs under Node as it is (tests/ui/alerts.test.mjs).

/** How long something has lasted, in the words of the backend's `text::span`: "42 s", "1:42", "1:02:03". */
export function span(ms) {
  const s = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const pad = (n) => String(n).padStart(2, "0");
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)}:${pad(s % 60)}`;
  return `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

/**
 * The rows to show for State.obs.alerts at `now` (Unix ms): oldest first, each
 * {key, title, mic, open, critical}; entries without a kind or a start are
 * skipped rather than shown half.
 */
export function alertRows(alerts, now = Date.now()) {
  return (Array.isArray(alerts) ? alerts : [])
    .filter((a) => a && typeof a.alert === "string" && typeof a.since_ms === "number")
    .slice()
    .sort((a, b) => a.since_ms - b.since_ms)
    .map((a) => ({
      key: typeof a.mic === "string" ? `${a.alert}:${a.mic}` : a.alert,
      title: typeof a.title === "string" && a.title ? a.title : a.alert,
      mic: typeof a.mic === "string" ? a.mic : "",
      open: span(now - a.since_ms),
      critical: a.critical === true,
    }));
}

export function createAlerts() {
  let alerts = []; // State.obs.alerts as last pushed

  function item(row) {
    const li = document.createElement("li");
    li.className = `alert ${row.critical ? "critical" : "warning"}`;
    li.dataset.alert = row.key;
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = row.title;
    li.append(title);
    if (row.mic) {
      const mic = document.createElement("span");
      mic.className = "mic";
      mic.textContent = row.mic;
      li.append(" ", mic);
    }
    const open = document.createElement("span");
    open.className = "open";
    open.textContent = row.open;
    li.append(" ", open);
    return li;
  }

  function render(now = Date.now()) {
    const list = document.getElementById("alerts");
    const rows = alertRows(alerts, now);
    list.hidden = rows.length === 0;
    // From one tick to the next only the times change: update them in place
    // rather than rebuild the list (and lose a selection in it) every second.
    const same =
      list.children.length === rows.length &&
      rows.every((r, i) => list.children[i].dataset.alert === r.key && list.children[i].classList.contains(r.critical ? "critical" : "warning"));
    if (same) {
      rows.forEach((r, i) => {
        const open = list.children[i].querySelector(".open");
        if (open && open.textContent !== r.open) open.textContent = r.open;
      });
    } else list.replaceChildren(...rows.map(item));
  }

  return {
    /** What OBS is doing (State.obs, null when unseen). */
    setObs(obs, now = Date.now()) {
      alerts = Array.isArray(obs?.alerts) ? obs.alerts : [];
      render(now);
    },
    /** Re-draws how long each alert has been open. */
    tick: render,
  };
}
