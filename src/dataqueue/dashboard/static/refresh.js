// Keeping a page's data fresh: live notices from the server's streams, and a
// refresh asked for after an action ("Process jobs"), never timed polling.

export const REFRESH_EVENT = "dataqueue:refresh";
/** Dispatched on window when the theme changes. */
export const THEME_EVENT = "dataqueue:theme";

/**
 * Run `load` when asked, never twice at once: requests arriving while it
 * runs are folded into one more run after it. Returns { run, stop }; after
 * stop nothing runs.
 */
export function serial(load) {
  let running = false;
  let again = false;
  let stopped = false;
  async function run() {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        await load();
      } while (again && !stopped);
    } finally {
      running = false;
    }
  }
  return {
    run,
    stop() {
      stopped = true;
    },
  };
}

/** `serial(load)` that also runs whenever a page-wide refresh is asked for. */
export function refresher(load) {
  const runner = serial(load);
  const onRefresh = () => runner.run();
  window.addEventListener(REFRESH_EVENT, onRefresh);
  return {
    run: runner.run,
    stop() {
      runner.stop();
      window.removeEventListener(REFRESH_EVENT, onRefresh);
    },
  };
}

/**
 * `fn`, run at most once per `ms`: a call within `ms` of the last run is
 * deferred to the end of that time (several such calls make one run).
 * Returns { call, stop }.
 */
export function throttled(fn, ms) {
  let last = 0;
  let timer = null;
  return {
    call() {
      if (timer) return;
      const wait = last + ms - Date.now();
      if (wait <= 0) {
        last = Date.now();
        fn();
        return;
      }
      timer = setTimeout(() => {
        timer = null;
        last = Date.now();
        fn();
      }, wait);
    },
    stop() {
      clearTimeout(timer);
    },
  };
}
