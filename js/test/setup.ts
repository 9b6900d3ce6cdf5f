import { cleanup, configure } from "@testing-library/react";
import { afterEach } from "vitest";

import { TrackedEventSource } from "./eventSources.js";

// The hook uses the global EventSource a browser provides.
globalThis.EventSource =
  TrackedEventSource as unknown as typeof globalThis.EventSource;

configure({ asyncUtilTimeout: 10_000 });

afterEach(cleanup);
