"""CPU time and peak memory of this process and of others (by pid), for the
benchmarks beside this file; Linux only (``/proc``)."""

from __future__ import annotations

import os
import resource

TICK = os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    """This process's CPU seconds (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int) -> float:
    """Another process's CPU seconds, in clock ticks (10 ms)."""
    with open(f"/proc/{pid}/stat") as stat:
        # Fields after the command name, which may hold spaces: utime and
        # stime are the 14th and 15th fields of the line.
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_memory_mib(pid: int) -> float:
    """Another process's peak resident memory (VmHWM), MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")
