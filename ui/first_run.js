// The first-run card: at a first start, OnAir found OBS's own WebSocket
// settings on this machine and offers to use them. The backend says what it
// found, in words (where, the port, whether a password is set: never the
// password) and how to turn OBS's server on when it is off; the card shows
// that and one button, `use_obs_settings`. Nothing is saved until it is
// pressed. The offer comes in the snapshot and as `onair://obs-offer` (null
// once it is taken). No imports, so the pure part runs under Node as it is
// (tests/ui/first_run.test.mjs).

/**
 * What the card shows for the backend's offer ({found, enable, problem}), or
 * null when there is none to show.
 */
export function cardText(offer) {
  if (!offer || typeof offer !== "object" || typeof offer.found !== "string" || !offer.found) return null;
  const text = (v) => (typeof v === "string" ? v : "");
  return { found: offer.found, enable: text(offer.enable), problem: text(offer.problem) };
}

/** The card in the status page; `errorText` words a rejected command. */
export function createFirstRun({ invoke, errorText }) {
  const $ = (id) => document.getElementById(id);
  let busy = false;

  function say(message, tone) {
    const el = $("first-run-feedback");
    el.textContent = message;
    el.hidden = !message;
    el.dataset.tone = tone;
  }

  function show(offer) {
    const text = cardText(offer);
    if (!text) {
      // Taken: what the button's answer said stays in view, the rest goes.
      const answered = !$("first-run-feedback").hidden && $("first-run-feedback").dataset.tone === "ok";
      $("first-run").hidden = !answered;
      $("first-run-offer").hidden = true;
      return;
    }
    $("first-run").hidden = false;
    $("first-run-offer").hidden = false;
    $("first-run-found").textContent = text.found;
    $("first-run-enable").textContent = text.enable;
    $("first-run-enable").hidden = !text.enable;
    if (text.problem && !busy) say(text.problem, "bad");
  }

  $("btn-use-obs").addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    const button = $("btn-use-obs");
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    say("Using OBS's settings…", "busy");
    try {
      say(await invoke("use_obs_settings"), "ok");
      // The offer is taken (its push may have come first): the answer stays in view.
      $("first-run-offer").hidden = true;
      $("first-run").hidden = false;
    } catch (e) {
      say(errorText(e), "bad");
    } finally {
      busy = false;
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  });

  return { show };
}
