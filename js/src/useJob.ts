import { useEffect, useRef, useState } from "react";

import { isFinal, jobFetcher, jobStreamUrl } from "./client.js";
import { useDataqueueConfig } from "./provider.js";
import type {
  Fetcher,
  JobData,
  JobLike,
  JobStatus,
  UseJobOptions,
  UseJobResult,
} from "./types.js";

export const DEFAULT_POLLING_INTERVAL = 1000;

/** Where answers go; `accept` returns true once the job is final. */
interface Sink<TJob> {
  accept(job: TJob): boolean;
  fail(error: Error): void;
}

interface Snapshot<TJob> {
  handle: string | null;
  data: TJob | null;
  error: Error | null;
  answered: boolean;
}

/** What the hook has seen of one job, kept across re-subscriptions so callbacks fire once. */
interface Seen {
  handle: string | null;
  status: JobStatus | null;
  final: boolean;
}

/**
 * Follows one job's status and progress: polls `fetcher` (mode `"poll"`, the
 * default) or listens to `{baseUrl}/jobs/{handle}/stream` (mode `"push"`),
 * and stops once the job is final. `handle` is the job handle your server
 * made with `dataqueue.web.job_handle` (never a raw job id); `null` or
 * `undefined` fetches nothing.
 */
export function useJob<TJob extends JobLike = JobData>(
  handle: string | null | undefined,
  options: UseJobOptions<TJob> = {},
): UseJobResult<TJob> {
  const config = useDataqueueConfig();
  const id = handle ?? null;
  const baseUrl = options.baseUrl ?? config.baseUrl;
  const mode = options.mode ?? config.mode ?? "poll";
  const pollingInterval =
    options.pollingInterval ??
    config.pollingInterval ??
    DEFAULT_POLLING_INTERVAL;
  const enabled = (options.enabled ?? true) && id !== null;

  // Callbacks and fetchers are read when an answer arrives, so inline
  // functions (new on every render) do not restart the subscription.
  const latest = useRef({ options, providerFetcher: config.fetcher });
  useEffect(() => {
    latest.current = { options, providerFetcher: config.fetcher };
  });

  const [snapshot, setSnapshot] = useState<Snapshot<TJob>>({
    handle: id,
    data: null,
    error: null,
    answered: false,
  });
  const seen = useRef<Seen>({ handle: null, status: null, final: false });

  useEffect(() => {
    if (!enabled || id === null) return;
    if (seen.current.handle !== id) {
      seen.current = { handle: id, status: null, final: false };
    }
    if (seen.current.final) return;
    let live = true;
    const sink: Sink<TJob> = {
      accept(job) {
        if (!live) return true;
        setSnapshot({ handle: id, data: job, error: null, answered: true });
        return observe(seen.current, job, latest.current.options);
      },
      fail(error) {
        if (!live) return;
        setSnapshot((before) => ({
          handle: id,
          data: before.handle === id ? before.data : null,
          error,
          answered: true,
        }));
      },
    };
    let stop: () => void;
    if (mode === "push" && typeof EventSource !== "undefined") {
      stop =
        baseUrl === undefined
          ? failWith(sink, "useJob: push mode needs a baseUrl")
          : listen(jobStreamUrl(baseUrl, id), sink);
    } else {
      const resolveFetcher = (): Fetcher<TJob> | undefined =>
        latest.current.options.fetcher ??
        (latest.current.providerFetcher as Fetcher<TJob> | undefined) ??
        (baseUrl === undefined
          ? undefined
          : (jobFetcher(baseUrl) as unknown as Fetcher<TJob>));
      stop = poll(id, pollingInterval, resolveFetcher, sink);
    }
    return () => {
      live = false;
      stop();
    };
  }, [id, enabled, mode, pollingInterval, baseUrl]);

  const current =
    snapshot.handle === id
      ? snapshot
      : { data: null, error: null, answered: false };
  return {
    data: current.data,
    status: current.data?.status ?? null,
    progress: current.data?.progress ?? null,
    isLoading: enabled && !current.answered,
    error: current.error,
  };
}

/** Records `job` in `seen`, fires the callbacks its change calls for, and says whether it is final. */
function observe<TJob extends JobLike>(
  seen: Seen,
  job: TJob,
  callbacks: UseJobOptions<TJob>,
): boolean {
  const previous = seen.status;
  seen.status = job.status;
  if (previous !== null && previous !== job.status) {
    callbacks.onStatusChange?.(job.status, previous);
  }
  if (!seen.final && isFinal(job)) {
    seen.final = true;
    if (job.status === "completed") callbacks.onComplete?.(job);
    if (job.status === "failed") callbacks.onFailed?.(job);
  }
  return seen.final;
}

function poll<TJob>(
  id: string,
  interval: number,
  resolveFetcher: () => Fetcher<TJob & JobLike> | undefined,
  sink: Sink<TJob>,
): () => void {
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ask = async (): Promise<void> => {
    const fetcher = resolveFetcher();
    if (fetcher === undefined) {
      sink.fail(
        new Error(
          "useJob needs a fetcher or a baseUrl (as an option or from DataqueueProvider)",
        ),
      );
      return;
    }
    try {
      if (sink.accept(await fetcher(id, controller.signal))) return;
    } catch (error) {
      if (controller.signal.aborted) return;
      sink.fail(error instanceof Error ? error : new Error(String(error)));
    }
    if (!controller.signal.aborted) timer = setTimeout(ask, interval);
  };
  void ask();
  return () => {
    controller.abort();
    clearTimeout(timer);
  };
}

function listen<TJob>(url: string, sink: Sink<TJob>): () => void {
  const source = new EventSource(url);
  source.addEventListener("job", (message) => {
    let job: TJob;
    try {
      job = JSON.parse((message as MessageEvent<string>).data) as TJob;
    } catch {
      sink.fail(new Error(`the job stream at ${url} sent an event that is not JSON`));
      return;
    }
    if (sink.accept(job)) source.close();
  });
  source.addEventListener("error", () => {
    // EventSource reconnects by itself unless the server refused the stream.
    sink.fail(
      new Error(
        source.readyState === source.CLOSED
          ? `the job stream at ${url} was refused`
          : `the job stream at ${url} was interrupted; reconnecting`,
      ),
    );
  });
  return () => source.close();
}

function failWith(sink: Sink<unknown>, message: string): () => void {
  sink.fail(new Error(message));
  return () => {};
}
