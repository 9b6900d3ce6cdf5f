import { createContext, useContext, useMemo, type ReactNode } from "react";

import type { Fetcher, JobLike, Mode } from "./types.js";

/** Defaults for every `useJob` below a `DataqueueProvider`. */
export interface DataqueueConfig {
  /** Where `job_status_app` is mounted, e.g. `"/api"`. */
  baseUrl?: string;
  fetcher?: Fetcher<JobLike>;
  pollingInterval?: number;
  mode?: Mode;
}

const DataqueueContext = createContext<DataqueueConfig>({});

export interface DataqueueProviderProps extends DataqueueConfig {
  children?: ReactNode;
}

/** Shares `baseUrl`, `fetcher`, `pollingInterval` and `mode`; options given to `useJob` win. */
export function DataqueueProvider({
  baseUrl,
  fetcher,
  pollingInterval,
  mode,
  children,
}: DataqueueProviderProps) {
  const config = useMemo(
    () => ({ baseUrl, fetcher, pollingInterval, mode }),
    [baseUrl, fetcher, pollingInterval, mode],
  );
  return (
    <DataqueueContext.Provider value={config}>
      {children}
    </DataqueueContext.Provider>
  );
}

export function useDataqueueConfig(): DataqueueConfig {
  return useContext(DataqueueContext);
}
