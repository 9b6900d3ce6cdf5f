// Poll mode against a real job_status_app: updates, callbacks, stopping.
import { renderHook, waitFor } from "@testing-library/react";
import { StrictMode, type ReactNode } from "react";
import { describe, expect, it, vi } from "vitest";

import { DataqueueProvider, useJob, type JobData } from "../src/index.js";
import {
  POLL_MS,
  addJob,
  afterPolls,
  baseUrl,
  cancel,
  complete,
  fail,
  hits,
  jobPath,
  setProgress,
  streamPath,
} from "./control.js";

function Provider({ children }: { children?: ReactNode }) {
  return (
    <DataqueueProvider baseUrl={baseUrl} pollingInterval={POLL_MS}>
      {children}
    </DataqueueProvider>
  );
}

describe("useJob polling", () => {
  it("follows a job's status and progress to its output", async () => {
    const id = await addJob();
    const { result } = renderHook(() => useJob(id), { wrapper: Provider });
    expect(result.current.isLoading).toBe(true);
    expect(result.current.data).toBeNull();

    await waitFor(() => expect(result.current.status).toBe("processing"));
    expect(result.current.isLoading).toBe(false);
    expect(result.current.progress).toBeNull();

    await setProgress(id, 40);
    await waitFor(() => expect(result.current.progress).toBe(40));
    await setProgress(id, 80);
    await waitFor(() => expect(result.current.progress).toBe(80));

    await complete(id, { rows: 12 });
    await waitFor(() => expect(result.current.status).toBe("completed"));
    const job = result.current.data as JobData;
    // The allow-list: no id, job type or payload reaches the browser.
    expect(job).not.toHaveProperty("id");
    expect(job).not.toHaveProperty("job_type");
    expect(job.output).toEqual({ rows: 12 });
    expect(job.completed_at).not.toBeNull();
    expect(result.current.error).toBeNull();
    // Polling only: the stream was never opened.
    expect(await hits(streamPath(id))).toBe(0);
  });

  it("stops polling at completion and calls each callback once", async () => {
    const id = await addJob();
    const onStatusChange = vi.fn();
    const onComplete = vi.fn();
    const onFailed = vi.fn();
    const { result } = renderHook(
      () => useJob(id, { onStatusChange, onComplete, onFailed }),
      { wrapper: Provider },
    );
    await waitFor(() => expect(result.current.status).toBe("processing"));
    await complete(id, "done");
    await waitFor(() => expect(result.current.status).toBe("completed"));
    const polled = await hits(jobPath(id));

    await afterPolls();

    expect(await hits(jobPath(id))).toBe(polled);
    expect(onComplete).toHaveBeenCalledTimes(1);
    expect(onComplete.mock.calls[0]?.[0]).toMatchObject({
      status: "completed",
      output: "done",
    });
    expect(onFailed).not.toHaveBeenCalled();
    // The first status seen is not a change; every call after it is one.
    expect(onStatusChange.mock.calls.at(-1)).toEqual(["completed", "processing"]);
    for (const [status, previous] of onStatusChange.mock.calls) {
      expect(status).not.toBe(previous);
    }
    const transitions = onStatusChange.mock.calls.map(([s, p]) => `${p}>${s}`);
    expect(new Set(transitions).size).toBe(transitions.length);
  });

  it("calls each callback once under StrictMode's double effects", async () => {
    const id = await addJob();
    const onComplete = vi.fn();
    const onStatusChange = vi.fn();
    const { result } = renderHook(() => useJob(id, { onComplete, onStatusChange }), {
      wrapper: ({ children }) => (
        <StrictMode>
          <Provider>{children}</Provider>
        </StrictMode>
      ),
    });
    await waitFor(() => expect(result.current.status).toBe("processing"));
    await complete(id, null);
    await waitFor(() => expect(result.current.status).toBe("completed"));

    await afterPolls();

    expect(onComplete).toHaveBeenCalledTimes(1);
    expect(
      onStatusChange.mock.calls.filter(([status]) => status === "completed"),
    ).toHaveLength(1);
  });

  it("calls onFailed once, when no attempt is left, not at a failure that will be retried", async () => {
    const id = await addJob({ maxAttempts: 2 });
    const onFailed = vi.fn();
    const onComplete = vi.fn();
    const { result } = renderHook(
      () => useJob(id, { onFailed, onComplete }),
      { wrapper: Provider },
    );
    await waitFor(() => expect(result.current.status).toBe("processing"));
    await fail(id, "first try");
    await waitFor(() => expect(result.current.data?.attempts).toBe(2));
    expect(onFailed).not.toHaveBeenCalled();
    await fail(id, "second try");
    await waitFor(() => expect(onFailed).toHaveBeenCalledTimes(1));
    const job = onFailed.mock.calls[0]?.[0] as JobData;
    expect(job).toMatchObject({
      status: "failed",
      error: null, // raw error text only with show_errors=True
      failure_reason: "handler_error",
      attempts: 2,
      next_attempt_at: null,
    });
    const polled = await hits(jobPath(id));

    await afterPolls();

    expect(await hits(jobPath(id))).toBe(polled);
    expect(onFailed).toHaveBeenCalledTimes(1);
    expect(onComplete).not.toHaveBeenCalled();
  });

  it("stops polling a cancelled job without calling onComplete or onFailed", async () => {
    const id = await addJob({ parked: true });
    const onComplete = vi.fn();
    const onFailed = vi.fn();
    const onStatusChange = vi.fn();
    const { result } = renderHook(
      () => useJob(id, { onComplete, onFailed, onStatusChange }),
      { wrapper: Provider },
    );
    await waitFor(() => expect(result.current.status).toBe("pending"));
    await cancel(id);
    await waitFor(() => expect(result.current.status).toBe("cancelled"));
    const polled = await hits(jobPath(id));

    await afterPolls();

    expect(await hits(jobPath(id))).toBe(polled);
    expect(onStatusChange.mock.calls).toEqual([["cancelled", "pending"]]);
    expect(onComplete).not.toHaveBeenCalled();
    expect(onFailed).not.toHaveBeenCalled();
  });

  it("encodes the handle into the URL", async () => {
    const handle = "a/b?c#d";
    const { result } = renderHook(() => useJob(handle), { wrapper: Provider });
    await waitFor(() => expect(result.current.error).not.toBeNull());
    // Sent encoded, the whole handle reached the app as one path segment.
    expect(await hits(jobPath(handle))).toBeGreaterThan(0);
    expect(result.current.error).toMatchObject({ status: 404 });
  });

  it("reports a raw job id (not a handle) as an unknown job and ends loading", async () => {
    await addJob({ parked: true }); // so job 1 exists, whatever ran before
    const raw = "1";
    const { result } = renderHook(() => useJob(raw), { wrapper: Provider });
    await waitFor(() => expect(result.current.error).not.toBeNull());
    expect(result.current.error?.message).toContain("404");
    expect(result.current.error).toMatchObject({ status: 404 });
    expect(result.current.isLoading).toBe(false);
    expect(result.current.data).toBeNull();
  });
});
