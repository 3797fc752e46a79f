"""The process supervisor: restart policy and exit status."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.supervise import main

# Appends a line per run; fails (exit 3) on the first run, succeeds afterwards.
FLAKY = """
import sys
from pathlib import Path
log = Path(sys.argv[1])
runs = len(log.read_text().splitlines()) if log.exists() else 0
with log.open("a") as f:
    f.write("run\\n")
sys.exit(3 if runs == 0 else 0)
"""


@pytest.fixture(autouse=True)
def _restore_signal_handlers() -> Iterator[None]:
    """main() installs SIGTERM/SIGINT handlers; put pytest's back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def _runs(log: Path) -> int:
    return len(log.read_text().splitlines())


def test_on_failure_restarts_until_success(tmp_path: Path) -> None:
    """With --restart on-failure a child that fails once is restarted, and its final 0 is returned."""
    log = tmp_path / "runs.log"
    assert main(["--restart", "on-failure", "--", sys.executable, "-c", FLAKY, str(log)]) == 0
    assert _runs(log) == 2


def test_no_restart_returns_failure_code(tmp_path: Path) -> None:
    """With --restart no a failing child runs once and its exit code is returned."""
    log = tmp_path / "runs.log"
    assert main(["--restart", "no", "--", sys.executable, "-c", FLAKY, str(log)]) == 3
    assert _runs(log) == 1


def test_on_failure_does_not_restart_success(tmp_path: Path) -> None:
    """A child that exits 0 under on-failure is not restarted."""
    log = tmp_path / "runs.log"
    log.write_text("earlier\n")  # makes FLAKY succeed on its first run here
    assert main(["--restart", "on-failure", "--", sys.executable, "-c", FLAKY, str(log)]) == 0
    assert _runs(log) == 2


def test_command_without_separator(tmp_path: Path) -> None:
    """The command may follow the options without a `--` separator."""
    assert main(["--restart", "no", sys.executable, "-c", "raise SystemExit(5)"]) == 5


def test_missing_command_is_usage_error() -> None:
    """No command is an argparse usage error (exit 2)."""
    with pytest.raises(SystemExit) as info:
        main(["--restart", "no", "--"])
    assert info.value.code == 2


def test_reaping_spares_a_group_the_supervisor_does_not_lead() -> None:
    """Run in-process (not as a group leader), reap_group kills nothing: the group belongs to
    whoever started us (CI's shell, make, pytest)."""
    import subprocess

    from deploy.local.supervise import reap_group

    sibling = subprocess.Popen(["sleep", "30"])  # same process group as this test
    try:
        reap_group()
        assert sibling.poll() is None
    finally:
        sibling.kill()
        sibling.wait()
