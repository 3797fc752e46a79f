"""Builds the SDK wheel from a copy of sdk/python and gen/python alone (the two folders its build
reads) and installs it into a fresh venv, offline: the wheel builds with this venv's setuptools +
wheel (--no-build-isolation), and the fresh venv finds the SDK's dependencies through a .pth line
naming this venv's site-packages, which Python adds after the venv's own site-packages — so `ai4vc`
there can only come from the installed wheel. Used by the packaging test and the e2e CLI test."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str | Path, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass(frozen=True)
class SdkVenv:
    root: Path
    python: Path
    ai4vc: Path  # the console script
    site_packages: Path
    env: dict[str, str]  # no PYTHONPATH: nothing from the source tree


def install_sdk(tmp_path: Path) -> SdkVenv:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "sdk" / "python", tree / "sdk" / "python",
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    shutil.copytree(ROOT / "gen" / "python", tree / "gen" / "python", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_NO_INDEX"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels,
        tree / "sdk" / "python", cwd=tmp_path, env=env)
    (wheel,) = wheels.glob("ai4vc-*.whl")
    fresh = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(fresh)
    python = fresh / "bin" / "python"
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                       cwd=tmp_path, env=env).strip())
    (purelib / "deps-from-project-venv.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel, cwd=tmp_path, env=env)
    return SdkVenv(fresh, python, fresh / "bin" / "ai4vc", purelib, env)
