// enabled, null ids, custom fetchers, and options overriding the provider.
import { renderHook, waitFor } from "@testing-library/react";
import type { ReactNode } from "react";
import { describe, expect, it, vi } from "vitest";

import {
  DataqueueProvider,
  jobFetcher,
  useJob,
  type Fetcher,
  type JobLike,
} from "../src/index.js";
import {
  POLL_MS,
  addJob,
  afterPolls,
  baseUrl,
  complete,
  hits,
  jobPath,
  serverUrl,
} from "./control.js";

function Provider({ children }: { children?: ReactNode }) {
  return (
    <DataqueueProvider baseUrl={baseUrl} pollingInterval={POLL_MS}>
      {children}
    </DataqueueProvider>
  );
}

describe("useJob options", () => {
  it("fetches nothing while enabled is false, and starts when it turns true", async () => {
    const id = await addJob({ parked: true });
    const { result, rerender } = renderHook(
      ({ enabled }) => useJob(id, { enabled }),
      { wrapper: Provider, initialProps: { enabled: false } },
    );
    expect(result.current).toEqual({
      data: null,
      status: null,
      progress: null,
      isLoading: false,
      error: null,
    });

    await afterPolls();

    expect(await hits(jobPath(id))).toBe(0);
    expect(result.current.data).toBeNull();

    rerender({ enabled: true });
    await waitFor(() => expect(result.current.status).toBe("pending"));
    expect(await hits(jobPath(id))).toBeGreaterThan(0);
  });

  it("fetches nothing for a null or undefined handle", async () => {
    const fetcher = vi.fn<Fetcher<JobLike>>();
    const { result } = renderHook(() => useJob(null, { fetcher }), {
      wrapper: Provider,
    });
    const { result: undefinedId } = renderHook(
      () => useJob(undefined, { fetcher }),
      { wrapper: Provider },
    );
    await afterPolls();
    expect(fetcher).not.toHaveBeenCalled();
    expect(result.current.isLoading).toBe(false);
    expect(undefinedId.current.status).toBeNull();
  });

  it("uses a custom fetcher given to the hook, shaped as the app's own route answers", async () => {
    const id = await addJob();
    // A site's own route wrapping the job: { job: {...} }.
    const calls: string[] = [];
    const fetcher = async (handle: string, signal: AbortSignal) => {
      calls.push(handle);
      const response = await fetch(`${serverUrl}/api/jobs/${handle}`, { signal });
      const job = (await response.json()) as JobLike & { output: unknown };
      return { job, ...job };
    };
    const onComplete = vi.fn();
    const { result } = renderHook(
      () => useJob(id, { fetcher, onComplete, pollingInterval: POLL_MS }),
    );
    await waitFor(() => expect(result.current.status).toBe("processing"));
    await complete(id, "via custom fetcher");
    await waitFor(() => expect(onComplete).toHaveBeenCalledTimes(1));
    expect(result.current.data?.job.output).toBe("via custom fetcher");
    expect(new Set(calls)).toEqual(new Set([id]));
    expect(calls.length).toBe(await hits(jobPath(id)));
  });

  it("takes the provider's fetcher, and lets the hook's own override it", async () => {
    const id = await addJob({ parked: true });
    const fromProvider = vi.fn(jobFetcher(baseUrl));
    const fromHook = vi.fn(jobFetcher(baseUrl));
    function WithFetcher({ children }: { children?: ReactNode }) {
      return (
        <DataqueueProvider fetcher={fromProvider} pollingInterval={POLL_MS}>
          {children}
        </DataqueueProvider>
      );
    }
    const { result: shared } = renderHook(() => useJob(id), {
      wrapper: WithFetcher,
    });
    await waitFor(() => expect(shared.current.status).toBe("pending"));
    expect(fromProvider).toHaveBeenCalledWith(id, expect.any(AbortSignal));

    const { result: own } = renderHook(() => useJob(id, { fetcher: fromHook }), {
      wrapper: WithFetcher,
    });
    await waitFor(() => expect(own.current.status).toBe("pending"));
    expect(fromHook).toHaveBeenCalled();
  });

  it("does not restart polling when given new inline callbacks on every render", async () => {
    const id = await addJob({ parked: true });
    const { result, rerender } = renderHook(
      () => useJob(id, { onStatusChange: () => {}, onComplete: () => {} }),
      { wrapper: Provider },
    );
    await waitFor(() => expect(result.current.status).toBe("pending"));
    const before = await hits(jobPath(id));
    for (let i = 0; i < 20; i++) rerender();
    // Restarting would fetch at once on each render.
    expect(await hits(jobPath(id))).toBeLessThan(before + 5);
  });

  it("says what is missing when there is neither a fetcher nor a baseUrl", async () => {
    const { result } = renderHook(() => useJob("some-handle"));
    await waitFor(() => expect(result.current.error).not.toBeNull());
    expect(result.current.error?.message).toMatch(/needs a fetcher or a baseUrl/);
    expect(result.current.isLoading).toBe(false);
  });
});
