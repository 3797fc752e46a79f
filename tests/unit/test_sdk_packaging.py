"""`pip install ./sdk/python` keeps working: the wheel, built from sdk/python and gen/python alone,
installs into a fresh venv (tests/sdk_venv.py, offline) and its `ai4vc` console script and the
generated messages run there with no PYTHONPATH and no source tree."""

from __future__ import annotations

from tests.sdk_venv import install_sdk, run


def test_sdk_wheel_installs_into_a_fresh_venv_and_runs(tmp_path):
    """Built from sdk/python + gen/python only, the wheel gives a working `ai4vc --help` and imports."""
    sdk = install_sdk(tmp_path)
    help_text = run(sdk.ai4vc, "--help", cwd=tmp_path, env=sdk.env)
    for command in ("transcribe", "stream", "synthesize", "translate", "transliterate", "voices", "models",
                    "pairs", "keys", "usage"):
        assert command in help_text
    where = run(sdk.python, "-c", "import ai4vc, ai4vc.sdk, ai4vc.nmt.v1.nmt_service_pb2 as m; "
                "from ai4vc import Client; print(ai4vc.sdk.__file__); print(m.__file__)", cwd=tmp_path, env=sdk.env)
    assert all(line.startswith(str(sdk.site_packages)) for line in where.split()), where
