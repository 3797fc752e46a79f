"""Compiles the text-normalization grammars the services load (ASR's ITN, TTS's TN languages, as
their settings give them) into the grammar cache, so no service on this machine compiles them
in the background at its first start. Idempotent: cached grammars are only loaded (seconds).

    PYTHONPATH=gen/python:. .venv/bin/python -m deploy.local.grammars   # bootstrap.sh runs it
"""

from __future__ import annotations

import sys

from deploy.local.mesh import GRAMMAR_CACHE_DIR
from services.asr.settings import AsrSettings
from services.common import textnorm
from services.common.settings import load
from services.tts.settings import TtsSettings


def main() -> int:
    cache = str(GRAMMAR_CACHE_DIR)
    failed = False
    for kind, languages in (("itn", load(AsrSettings, "AI4VC_ASR").itn_languages),
                            ("tn", load(TtsSettings, "AI4VC_TTS").tn_languages)):
        grammars = textnorm.Grammars(kind, languages, cache)
        grammars.load_now()
        for language, state in grammars.status().items():
            how = "compiled" if state["compiled"] else "cached"
            print(f"{kind} {language}: {state['status']} ({how}, {state['seconds']} s) {state['error']}".rstrip())
            failed |= state["status"] != "ready"
    print(f"grammar cache: {textnorm.cache_root(cache)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
