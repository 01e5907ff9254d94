"""Peak memory of the current process, measured so that a benchmark's child process reports its own.

Why not ``resource.getrusage(RUSAGE_SELF).ru_maxrss``: on Linux that high-water mark survives ``execve``, and a
child started with ``subprocess`` (fork + exec) begins with its parent's resident size at the fork. A benchmark
whose parent first built a 30-million-row input and then timed a fresh child reported the parent's 5.5 GiB as
the child's peak (measured 2026-12-06: a child of a parent holding 2 GiB reports ``ru_maxrss`` 2,058 MiB and
``VmHWM`` 9 MiB). ``VmHWM`` in ``/proc/self/status`` belongs to the process's own address space, which exec
replaces, so it counts only what the child itself used.
"""

from __future__ import annotations

import resource


def peak_rss_bytes() -> int:
    """Peak resident set size of this process since its last exec, in bytes (Linux ``VmHWM``).

    Falls back to ``ru_maxrss`` (KiB on Linux, bytes on macOS) where ``/proc`` is missing.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import sys

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r if sys.platform == "darwin" else r * 1024)


def peak_rss_mib() -> float:
    """:func:`peak_rss_bytes` in MiB."""
    return peak_rss_bytes() / 2**20
