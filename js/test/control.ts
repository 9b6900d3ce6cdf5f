// Steering the jobs of test/server.py, and counting the requests it served.
import { renderHook, waitFor } from "@testing-library/react";
import { inject } from "vitest";

import { useJob } from "../src/index.js";

export const serverUrl = inject("serverUrl");
export const baseUrl = `${serverUrl}/api`;
export const POLL_MS = 50;

async function post(path: string, body: unknown = {}): Promise<unknown> {
  const response = await fetch(`${serverUrl}/control${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${path}: ${response.status}`);
  return response.json();
}

/**
 * A job run by the server's processor, command by command; `parked` jobs
 * stay pending. Returns its handle, as a site hands one to its users.
 */
export async function addJob(
  options: { parked?: boolean; maxAttempts?: number } = {},
): Promise<string> {
  const answer = (await post("/jobs", {
    job_type: options.parked ? "parked" : "steered",
    max_attempts: options.maxAttempts ?? 1,
  })) as { handle: string };
  return answer.handle;
}

const steer = (handle: string, kind: string, body: unknown = {}) =>
  post(`/jobs/${encodeURIComponent(handle)}/${kind}`, body);
export const setProgress = (handle: string, progress: number) =>
  steer(handle, "progress", { progress });
export const complete = (handle: string, output: unknown) =>
  steer(handle, "complete", { output });
export const fail = (handle: string, message: string) =>
  steer(handle, "fail", { message });
export const cancel = (handle: string) => steer(handle, "cancel");

/** The (decoded) path the status app sees for a handle's routes. */
export const jobPath = (handle: string) => `/api/jobs/${handle}`;
export const streamPath = (handle: string) => `/api/jobs/${handle}/stream`;

/** How many requests the server received for `path`. */
export async function hits(path: string): Promise<number> {
  const response = await fetch(
    `${serverUrl}/control/hits?path=${encodeURIComponent(path)}`,
  );
  return ((await response.json()) as { count: number }).count;
}

/**
 * Resolves once another hook, polling a job that never ends at the same
 * interval, has polled `count` more times: long enough that a hook which had
 * not stopped would have asked again.
 */
export async function afterPolls(count = 3): Promise<void> {
  const witness = await addJob({ parked: true });
  const { unmount } = renderHook(() =>
    useJob(witness, { baseUrl, pollingInterval: POLL_MS }),
  );
  try {
    await waitFor(async () => {
      if ((await hits(jobPath(witness))) < count + 1) throw new Error("polling");
    });
  } finally {
    unmount();
  }
}
