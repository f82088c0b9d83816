// The watched mics in the Controls card: which of the backend's buttons are the
// mics' mute buttons (id "mic:<name>", carrying the input they act on) and how
// each mic's level reads beside its button. Pure, so Node tests it; controls.js
// draws it. Levels come from State.obs.mics, published once a second while the
// stream or a recording is active (OBS's meters are not followed otherwise).

/** The level OnAir shows for digital silence (the backend floors -inf here). */
const SILENCE_DBFS = -100;

/** The mics' mute buttons among the backend's controls, in its order. */
export function micControls(view) {
  const items = Array.isArray(view?.items) ? view.items : [];
  return items.filter(
    (c) =>
      c && typeof c === "object" && typeof c.id === "string" && c.id.startsWith("mic:") &&
      typeof c.input === "string" && c.input !== "",
  );
}

/** A level in dBFS as people read it: "−18 dBFS", "silent". */
export function dbfsText(dbfs) {
  if (typeof dbfs !== "number" || Number.isNaN(dbfs)) return "";
  if (dbfs <= SILENCE_DBFS) return "silent";
  const rounded = Math.round(Math.min(dbfs, 0));
  return rounded < 0 ? `\u2212${-rounded} dBFS` : "0 dBFS";
}

/**
 * The words beside a mic's button: its level while metered ("−18 dBFS"); a
 * muted mic says so and what it hears anyway ("muted · hears −20 dBFS"), which
 * is how talking into a muted mic shows; "" for an unmuted mic that is not
 * metered, or one the state does not list.
 */
export function micLevel(mics, name) {
  const mic = (Array.isArray(mics) ? mics : []).find((m) => m && typeof m === "object" && m.name === name);
  if (!mic) return "";
  if (mic.muted === true) {
    const hears = dbfsText(mic.input_level_dbfs);
    return hears && hears !== "silent" ? `muted · hears ${hears}` : "muted";
  }
  return dbfsText(mic.level_dbfs);
}
