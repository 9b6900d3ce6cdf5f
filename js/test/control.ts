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

/** A job run by the server's processor, command by command; `parked` jobs stay pending. */
export async function addJob(
  options: { parked?: boolean; maxAttempts?: number } = {},
): Promise<number> {
  const answer = (await post("/jobs", {
    job_type: options.parked ? "parked" : "steered",
    max_attempts: options.maxAttempts ?? 1,
  })) as { id: number };
  return answer.id;
}

export const setProgress = (id: number, progress: number) =>
  post(`/jobs/${id}/progress`, { progress });
export const complete = (id: number, output: unknown) =>
  post(`/jobs/${id}/complete`, { output });
export const fail = (id: number, message: string) =>
  post(`/jobs/${id}/fail`, { message });
export const cancel = (id: number) => post(`/jobs/${id}/cancel`);

export const jobPath = (id: number) => `/api/jobs/${id}`;
export const streamPath = (id: number) => `/api/jobs/${id}/stream`;

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
