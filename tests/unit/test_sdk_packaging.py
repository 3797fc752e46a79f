"""`pip install ./sdk/python` keeps working: the SDK is built into a wheel from a copy of sdk/python
and gen/python alone (the two folders the build reads), installed into a fresh venv, and its
`ai4vc` console script and generated messages run there with no PYTHONPATH and no source tree.

No network: the wheel builds with this venv's setuptools + wheel (--no-build-isolation), and the
fresh venv finds the SDK's dependencies through a .pth line naming this venv's site-packages, which
Python adds after the venv's own site-packages — so `ai4vc` can only come from the installed wheel."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str | Path, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def test_sdk_wheel_installs_into_a_fresh_venv_and_runs(tmp_path):
    """Built from sdk/python + gen/python only, the wheel gives a working `ai4vc --help` and imports."""
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "sdk" / "python", tree / "sdk" / "python",
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    shutil.copytree(ROOT / "gen" / "python", tree / "gen" / "python", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_NO_INDEX"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    wheels = tmp_path / "wheels"
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels,
         tree / "sdk" / "python", cwd=tmp_path, env=env)
    (wheel,) = wheels.glob("ai4vc-*.whl")

    fresh = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    python = fresh / "bin" / "python"
    fresh_site = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                           cwd=tmp_path, env=env).strip())
    (fresh_site / "deps-from-project-venv.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel, cwd=tmp_path, env=env)

    help_text = _run(fresh / "bin" / "ai4vc", "--help", cwd=tmp_path, env=env)
    for command in ("transcribe", "stream", "synthesize", "translate", "transliterate", "voices", "models",
                    "pairs", "keys", "usage"):
        assert command in help_text
    where = _run(python, "-c", "import ai4vc, ai4vc.sdk, ai4vc.nmt.v1.nmt_service_pb2 as m; "
                 "from ai4vc import Client; print(ai4vc.sdk.__file__); print(m.__file__)", cwd=tmp_path, env=env)
    assert all(line.startswith(str(fresh_site)) for line in where.split()), where
