// Push mode: the hook listens to {baseUrl}/jobs/{id}/stream with EventSource.
import { renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { describe, expect, it, vi } from "vitest";

import { DataqueueProvider, useJob } from "../src/index.js";
import {
  addJob,
  afterPolls,
  baseUrl,
  complete,
  fail,
  hits,
  jobPath,
  serverUrl,
  setProgress,
  streamPath,
} from "./control.js";
import { sourcesFor } from "./eventSources.js";

function Pushing({ children }: { children?: ReactNode }) {
  return (
    <DataqueueProvider baseUrl={baseUrl} mode="push">
      {children}
    </DataqueueProvider>
  );
}

describe("useJob push mode", () => {
  it("receives every change over one stream and closes it at completion", async () => {
    const id = await addJob();
    const onComplete = vi.fn();
    const onStatusChange = vi.fn();
    const { result } = renderHook(
      () => useJob(id, { onComplete, onStatusChange }),
      { wrapper: Pushing },
    );
    expect(result.current.isLoading).toBe(true);
    await waitFor(() => expect(result.current.status).toBe("processing"));
    for (const progress of [10, 20, 30]) {
      await setProgress(id, progress);
      await waitFor(() => expect(result.current.progress).toBe(progress));
    }
    await complete(id, { url: "/report.pdf" });
    await waitFor(() => expect(result.current.status).toBe("completed"));
    expect(result.current.data?.output).toEqual({ url: "/report.pdf" });

    await afterPolls();

    // One stream, closed by the hook (the server's close alone would make
    // EventSource reconnect), and no polling beside it.
    const [source, ...others] = sourcesFor(`${serverUrl}${streamPath(id)}`);
    expect(others).toEqual([]);
    expect(source?.readyState).toBe(EventSource.CLOSED);
    expect(await hits(streamPath(id))).toBe(1);
    expect(await hits(jobPath(id))).toBe(0);
    expect(onComplete).toHaveBeenCalledTimes(1);
    expect(onStatusChange.mock.calls.at(-1)).toEqual(["completed", "processing"]);
    expect(result.current.error).toBeNull();
  });

  it("calls onFailed once for a job that fails for good", async () => {
    const id = await addJob({ maxAttempts: 1 });
    const onFailed = vi.fn();
    const { result } = renderHook(() => useJob(id, { onFailed }), {
      wrapper: Pushing,
    });
    await waitFor(() => expect(result.current.status).toBe("processing"));
    await fail(id, "out of paper");
    await waitFor(() => expect(onFailed).toHaveBeenCalledTimes(1));
    expect(onFailed.mock.calls[0]?.[0]).toMatchObject({
      status: "failed",
      error: null,
      failure_reason: "handler_error",
    });

    await afterPolls();

    expect(onFailed).toHaveBeenCalledTimes(1);
    expect(await hits(streamPath(id))).toBe(1);
    expect(sourcesFor(`${serverUrl}${streamPath(id)}`)[0]?.readyState).toBe(
      EventSource.CLOSED,
    );
  });

  it("gets a job that is already final in one event and stops", async () => {
    const id = await addJob();
    await complete(id, 7);
    // Finished before anyone listens.
    const { result: polled } = renderHook(() =>
      useJob(id, { baseUrl, pollingInterval: 50 }),
    );
    await waitFor(() => expect(polled.current.status).toBe("completed"));

    const onComplete = vi.fn();
    const { result } = renderHook(() => useJob(id, { onComplete }), {
      wrapper: Pushing,
    });
    await waitFor(() => expect(result.current.data?.output).toBe(7));
    expect(result.current.isLoading).toBe(false);

    await afterPolls();

    expect(onComplete).toHaveBeenCalledTimes(1);
    expect(await hits(streamPath(id))).toBe(1);
    expect(sourcesFor(`${serverUrl}${streamPath(id)}`)[0]?.readyState).toBe(
      EventSource.CLOSED,
    );
  });

  it("closes the stream when the component unmounts", async () => {
    const id = await addJob({ parked: true });
    const { result, unmount } = renderHook(() => useJob(id), {
      wrapper: Pushing,
    });
    await waitFor(() => expect(result.current.status).toBe("pending"));
    const [source] = sourcesFor(`${serverUrl}${streamPath(id)}`);
    expect(source?.readyState).toBe(EventSource.OPEN);
    unmount();
    expect(source?.readyState).toBe(EventSource.CLOSED);
  });

  it("reports a stream the server refuses (unknown job) as an error", async () => {
    const { result } = renderHook(() => useJob("987654322"), { wrapper: Pushing });
    await waitFor(() => expect(result.current.error).not.toBeNull());
    expect(result.current.error?.message).toContain("refused");
    expect(result.current.isLoading).toBe(false);
    expect(result.current.data).toBeNull();
  });
});
