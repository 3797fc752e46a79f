"""`python -m services.ulca`: runs the ULCA facade with settings from the environment."""

import asyncio

from services.common.rpc.server import serve
from services.common.settings import load
from services.ulca.app import create
from services.ulca.settings import UlcaSettings

if __name__ == "__main__":
    asyncio.run(serve(load(UlcaSettings, "AI4VC_ULCA"), create))
