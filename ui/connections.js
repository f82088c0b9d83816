// The switcher at the top of the status page: every OBS OnAir watches, each
// with its name, its tray icon and its state in the tray's words (the
// backend's ConnectionView: {index, name, target, line, icon}), and which one
// the page shows. Hidden while there is only one. Choosing another one is the
// page's business (main.js asks the backend and redraws); this draws the list
// and knows which OBS a pushed state belongs to.

import { $, make, setAttr, showText } from "./dom.js";

/** The tray's icon names; anything else is drawn without an icon. */
const ICON = /^tray-[a-z]+(-[a-z]+)*$/;

/** The connections as the backend sent them, each checked; the rest dropped. */
export function connectionRows(list) {
  return (Array.isArray(list) ? list : []).filter(
    (c) => c && typeof c === "object" && Number.isInteger(c.index) && c.index >= 0 && typeof c.name === "string",
  );
}

export function createConnections({ choose }) {
  let rows = []; // [ConnectionView]
  let shown = 0; // the index the page shows
  let busy = null; // the index being switched to

  function button(row) {
    const b = make("button", "connection");
    b.type = "button";
    b.dataset.index = String(row.index);
    const icon = make("img", "connection-icon");
    icon.alt = "";
    icon.width = 28;
    icon.height = 28;
    const name = make("span", "connection-name");
    const line = make("span", "connection-line");
    const text = make("span", "connection-text");
    text.append(name, line);
    b.append(icon, text);
    b.addEventListener("click", () => {
      const index = Number(b.dataset.index);
      if (busy !== null || index === shown) return;
      choose(index);
    });
    const li = make("li");
    li.append(b);
    return li;
  }

  function render() {
    const section = $("switcher");
    section.hidden = rows.length < 2;
    const list = $("connection-list");
    const have = [...list.querySelectorAll("button.connection")].map((b) => b.dataset.index).join(",");
    if (have !== rows.map((r) => String(r.index)).join(",")) {
      const focused = document.activeElement?.classList?.contains("connection") ? document.activeElement.dataset.index : null;
      list.replaceChildren(...rows.map(button));
      if (focused !== null) list.querySelector(`button.connection[data-index="${focused}"]`)?.focus();
    }
    list.querySelectorAll("button.connection").forEach((b, i) => {
      const row = rows[i];
      const icon = typeof row.icon === "string" && ICON.test(row.icon) ? row.icon : "";
      const img = b.querySelector(".connection-icon");
      const src = icon ? `icons/${icon}.svg` : "";
      if (img.getAttribute("src") !== src) {
        if (src) img.setAttribute("src", src);
        else img.removeAttribute("src");
      }
      img.hidden = !icon;
      b.dataset.icon = icon;
      b.querySelector(".connection-name").textContent = row.name;
      b.querySelector(".connection-line").textContent = typeof row.line === "string" ? row.line : "";
      const current = row.index === shown;
      b.setAttribute("aria-pressed", current ? "true" : "false");
      setAttr(b, "aria-current", current);
      setAttr(b, "aria-busy", busy === row.index);
      setAttr(b, "aria-disabled", busy !== null && busy !== row.index);
      if (typeof row.target === "string" && row.target) b.title = row.target;
      else b.removeAttribute("title");
    });
    setAttr(list, "aria-busy", busy !== null);
    // The header names the OBS on show, so LIVE is never read as the wrong one's.
    const named = rows.length > 1 ? rows.find((r) => r.index === shown) : null;
    showText($("shown-obs"), named ? named.name : "");
  }

  return {
    /** The backend's connections (snapshot or onair://connections). */
    setRows(list) {
      rows = connectionRows(list);
      render();
    },
    /** Which one the page now shows (the snapshot's shown_connection). */
    setShown(index) {
      shown = Number.isInteger(index) && index >= 0 ? index : 0;
      render();
    },
    /** Marks a switch on its way (an index), or none (null). */
    setBusy(index) {
      busy = index;
      render();
    },
    isBusy: () => busy !== null,
    shown: () => shown,
    /** The shown connection as last listed, or null. */
    shownRow: () => rows.find((r) => r.index === shown) ?? null,
    /**
     * Whether a pushed State is another OBS's than the one shown: its target
     * is that of another listed connection. Unknown targets are taken as the
     * shown one's (the list may be a step behind a new host and port).
     */
    isOthers(state) {
      const target = typeof state?.target === "string" ? state.target.toLowerCase() : "";
      if (!target || rows.length < 2) return false;
      const mine = rows.find((r) => r.index === shown);
      if (mine && String(mine.target).toLowerCase() === target) return false;
      return rows.some((r) => r.index !== shown && String(r.target).toLowerCase() === target);
    },
    showError(message) {
      showText($("switcher-error"), message ?? "");
    },
  };
}
