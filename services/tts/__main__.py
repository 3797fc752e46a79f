"""`python -m services.tts`: runs the TTS service with settings from the environment."""

import asyncio

from services.common.rpc.server import serve
from services.common.settings import load
from services.tts.app import create
from services.tts.settings import TtsSettings

if __name__ == "__main__":
    asyncio.run(serve(load(TtsSettings, "AI4VC_TTS"), create))
