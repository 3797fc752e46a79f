"""`python -m services.asr`: runs the ASR service with settings from the environment."""

import asyncio

from services.asr.app import create
from services.asr.settings import AsrSettings
from services.common.rpc.server import serve
from services.common.settings import load

if __name__ == "__main__":
    asyncio.run(serve(load(AsrSettings, "AI4VC_ASR"), create))
