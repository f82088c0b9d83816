// The session's moments log ("This session"), newest first. The backend words
// each moment (title, body) and gives its tone, the same words its
// notifications use; this keeps each moment once and draws them.

import { $, make } from "./dom.js";
import { localTime, mergeMoments, momentView } from "./format.js";

const MAX_MOMENTS = 300;

export function createMoments() {
  let moments = []; // the backend's logged moments, oldest first

  function item(n) {
    const { title, body, tone } = momentView(n);
    const li = make("li", `moment tone-${tone}`);
    if (typeof n.moment === "string") li.dataset.moment = n.moment;
    const time = make("time", "", localTime(n.at_ms));
    const at = new Date(n.at_ms);
    if (isFinite(at.getTime())) time.dateTime = at.toISOString();
    const what = make("span", "what");
    what.append(make("span", "title", title));
    if (body) what.append(" ", make("span", "body", body));
    li.append(time, what);
    return li;
  }

  function render() {
    $("moments").replaceChildren(...moments.slice().reverse().map(item));
    $("moments-empty").hidden = moments.length > 0;
  }

  return {
    /** Moments from the snapshot or an onair://moment event; each is shown once. */
    add(list) {
      const merged = mergeMoments(moments, list, MAX_MOMENTS);
      if (!merged) return;
      moments = merged;
      render();
    },
    /** Forgets the log: another OBS is shown, with a log of its own. */
    reset() {
      moments = [];
      render();
    },
  };
}
