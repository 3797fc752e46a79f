"""Packages the SDK (src/ai4vc) together with the generated messages and gRPC stubs in
../../gen/python/ai4vc, which `make gen` writes: the wheel is complete, git keeps one copy.

The list of generated packages is read from gen/ at build time, so a new API in proto/ ships
with the next build without editing this file."""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
GEN = HERE.parent.parent / "gen" / "python"

if not (GEN / "ai4vc").is_dir():
    raise SystemExit(f"ai4vc SDK: generated code not found at {GEN}; run `make gen` in the repository root")

own = find_packages("src")
# ai4vc.* only: gen/python also holds stubs of foreign APIs the services serve (riva.proto, NVIDIA
# Riva's, for services/riva), which are not this SDK's.
generated = [p for p in find_packages(str(GEN), include=["ai4vc.*"]) if p not in own]
clash = {p.split(".")[1] for p in generated} & {p.split(".")[1] for p in own if "." in p}
if clash:
    raise SystemExit(f"ai4vc SDK: SDK packages clash with generated API packages: {sorted(clash)}")

# src/ai4vc/__init__.py (the SDK's) is the top-level package; the generated one is empty.
package_dir = {"": "src"}
package_dir.update({p: os.path.relpath(GEN / p.replace(".", "/"), HERE) for p in generated})

setup(packages=own + generated, package_dir=package_dir)
