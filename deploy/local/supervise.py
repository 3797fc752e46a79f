"""`python -m deploy.local.supervise [--restart on-failure] [--clean-shm] -- CMD...`

Keeps one child process running: it is the parent that stays (Envoy, for one, exits when the
process that started it goes away), forwards SIGTERM/SIGINT to the child, and restarts the
child when it dies on its own (a crashed Triton comes back without anyone's help), with a
capped backoff, after killing whatever the child left in the process group. It exits with
the child's status once asked to stop.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time


def reap_group() -> None:
    """Kills what the dead child left behind in our process group (Triton's Python-backend
    stubs outlive a SIGKILLed tritonserver), so a restart starts clean."""
    me = os.getpid()
    group = os.getpgid(0)
    if group != me:
        # Only a supervisor that leads its own process group (the launcher starts it in a
        # session of its own) owns the group; anything else (a test calling main() in its own
        # process) would kill its parent's processes.
        return
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == group:  # fields: state, ppid, pgrp, ...
                os.kill(int(entry), signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--restart", choices=["no", "on-failure", "always"], default="on-failure")
    parser.add_argument("--clean-shm", action="store_true", help="remove orphaned Triton shm regions before a restart")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")

    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    backoff = 0.5
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)
        code = child.wait()
        if stopping:
            return code
        if args.restart == "no" or (args.restart == "on-failure" and code == 0):
            return code
        if time.monotonic() - started > 30:
            backoff = 0.5  # it ran a good while: a fresh crash, not a crash loop
        print(f"supervise: {command[0]} exited with {code}; restarting in {backoff:.1f} s", file=sys.stderr,
              flush=True)
        deadline = time.monotonic() + backoff
        while time.monotonic() < deadline and not stopping:
            time.sleep(0.05)
        if stopping:
            return code
        reap_group()
        if args.clean_shm:
            from deploy.local.parts import clean_shm

            clean_shm()
        backoff = min(backoff * 2, 10.0)


if __name__ == "__main__":
    sys.exit(main())
