// The status page and its header, composed from one module per job: the
// header, the controls and scenes, the health figures, the moments log and the
// recent streams.
// Everything is drawn from what the backend last pushed (State, controls,
// moments); a 1 s tick only re-draws the clocks.

import { createControls } from "./controls.js";
import { createHeader } from "./header.js";
import { createHealth } from "./health.js";
import { createHistory } from "./history.js";
import { createMoments } from "./moments.js";

export function createStatus({ invoke, openSettings }) {
  const header = createHeader({ openSettings });
  const controls = createControls({ invoke });
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
    showProblem: header.showProblem,
    tick() {
      if (!state) return;
      const now = Date.now();
      header.tick(now);
      health.tick(now);
    },
  };
}
