// "Recent streams": the last few streams that ended, newest first. The snapshot
// brings them from the history file, each with its summary in the words of the
// "Stream ended" notification; a stream that ends while the window is open
// arrives as its "ended" moment, whose body is that same summary. No imports,
// so the pure part runs under Node as it is (tests/ui/history.test.mjs).

export const RECENT_SHOWN = 5;

/**
 * A recent stream from an "ended" moment of the log ({at_ms, moment, body,
 * duration_ms, while_away}), shaped as the snapshot's entries; null for any
 * other moment.
 */
export function entryFromMoment(m) {
  if (!m || m.moment !== "ended" || typeof m.at_ms !== "number") return null;
  return {
    ended_at_ms: m.at_ms,
    started_at_ms: typeof m.duration_ms === "number" ? m.at_ms - m.duration_ms : null,
    summary: typeof m.body === "string" ? m.body : "",
    while_away: m.while_away === true,
  };
}

/**
 * Adds `incoming` entries to `list`: newest first, one per end time (a stream
 * that ended since the file was read comes both ways), at most `max`. Returns
 * null when nothing changed, so the page is not redrawn for nothing.
 */
export function mergeRecent(list, incoming, max = RECENT_SHOWN) {
  const seen = new Set(list.map((e) => e.ended_at_ms));
  const out = list.slice();
  for (const e of Array.isArray(incoming) ? incoming : []) {
    if (!e || typeof e.ended_at_ms !== "number" || seen.has(e.ended_at_ms)) continue;
    seen.add(e.ended_at_ms);
    out.push(e);
  }
  out.sort((a, b) => b.ended_at_ms - a.ended_at_ms);
  const kept = out.slice(0, max);
  // Only older streams than the ones shown came: nothing to redraw.
  const same = kept.length === list.length && kept.every((e, i) => e.ended_at_ms === list[i].ended_at_ms);
  return same ? null : kept;
}

/** When a stream started (or, not knowing that, ended), in local date and time. */
function when(entry) {
  const d = new Date(typeof entry.started_at_ms === "number" ? entry.started_at_ms : entry.ended_at_ms);
  if (!isFinite(d.getTime())) return { text: "", iso: "" };
  const date = d.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" });
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  return { text: `${date}, ${time}`, iso: d.toISOString() };
}

export function createHistory() {
  let entries = [];

  function item(entry) {
    const li = document.createElement("li");
    li.className = "stream";
    const time = document.createElement("time");
    const { text, iso } = when(entry);
    time.textContent = text;
    if (iso) time.dateTime = iso;
    const summary = document.createElement("span");
    summary.className = "summary";
    summary.textContent = entry.summary || "";
    li.append(time, summary);
    if (entry.while_away) {
      const note = document.createElement("span");
      note.className = "note";
      note.textContent = "ended while OnAir could not see OBS";
      li.append(note);
    }
    return li;
  }

  function take(incoming) {
    const merged = mergeRecent(entries, incoming);
    if (!merged) return;
    entries = merged;
    document.getElementById("history").replaceChildren(...entries.map(item));
    document.getElementById("history-empty").hidden = entries.length > 0;
  }

  return {
    /** The snapshot's recent streams. */
    load: take,
    /** Moments from the snapshot or an onair://moment event: each "ended" is a stream. */
    addMoments(list) {
      take((Array.isArray(list) ? list : []).map(entryFromMoment).filter(Boolean));
    },
  };
}
