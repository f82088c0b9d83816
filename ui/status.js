// The status page and its header, composed from one module per job: the
// header, the controls and scenes, the stream guard's open alerts, the health
// figures, the moments log and the recent streams.
// Everything is drawn from what the backend last pushed (State, controls,
// moments) for the OBS the page shows; a 1 s tick only re-draws the clocks.
// Showing another OBS resets what accumulates before its snapshot is drawn.

import { createAlerts } from "./alerts.js";
import { createControls } from "./controls.js";
import { createHeader } from "./header.js";
import { createHealth } from "./health.js";
import { createHistory } from "./history.js";
import { createMoments } from "./moments.js";

export function createStatus({ invoke, openSettings }) {
  const header = createHeader({ openSettings });
  const controls = createControls({ invoke });
  const alerts = createAlerts();
  const health = createHealth();
  const moments = createMoments();
  const streams = createHistory();
  let state = null;

  return {
    setState(next) {
      state = next;
      const now = Date.now();
      header.setState(next, now);
      controls.setObs(next?.obs);
      alerts.setObs(next?.obs, now);
      health.setObs(next?.obs, now);
    },
    setHistory: health.setHistory,
    setControls: controls.setControls,
    setStreams: streams.load,
    addMoments(list) {
      moments.add(list);
      streams.addMoments(list);
    },
    hasState: () => state !== null,
    /**
     * Forgets what was drawn of the OBS shown until now (its moments, its
     * bitrate history, a control's answer), before another one's snapshot is
     * drawn: those accumulate, the rest is replaced by the next State.
     */
    reset() {
      moments.reset();
      health.reset();
      controls.reset();
    },
    showProblem: header.showProblem,
    tick() {
      if (!state) return;
      const now = Date.now();
      header.tick(now);
      alerts.tick(now);
      health.tick(now);
    },
  };
}
