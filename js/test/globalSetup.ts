// Starts test/server.py (a real job_status_app over SQLite, plus routes to
// steer its jobs) once for all test files; they read its URL with inject().
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    serverUrl: string;
  }
}

const STARTUP_SECONDS = 60;

export default async function setup(project: TestProject) {
  const python =
    process.env.DATAQUEUE_PYTHON ??
    fileURLToPath(new URL("../../.venv/bin/python", import.meta.url));
  const script = fileURLToPath(new URL("./server.py", import.meta.url));
  const scratch = mkdtempSync(join(tmpdir(), "dataqueue-react-"));
  const server = spawn(python, [script, join(scratch, "jobs.db")], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const exited = new Promise<never>((_, reject) => {
    server.once("error", reject);
    server.once("exit", (code) =>
      reject(new Error(`${script} exited with ${code} before serving`)),
    );
  });
  const listening = new Promise<string>((resolve) => {
    createInterface({ input: server.stdout }).on("line", (line) => {
      const found = /^listening on (\S+)$/.exec(line);
      if (found?.[1]) resolve(found[1]);
    });
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${script} did not serve within ${STARTUP_SECONDS}s`)),
      STARTUP_SECONDS * 1000,
    );
  });
  try {
    project.provide("serverUrl", await Promise.race([listening, exited, timeout]));
  } catch (error) {
    server.kill();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  exited.catch(() => {});

  return async () => {
    const stopped = new Promise((resolve) => server.once("exit", resolve));
    server.kill("SIGTERM");
    await stopped;
    rmSync(scratch, { recursive: true, force: true });
  };
}
