"""`python -m services.nmt`: runs the NMT service with settings from the environment."""

import asyncio

from services.common.rpc.server import serve
from services.common.settings import load
from services.nmt.app import create
from services.nmt.settings import NmtSettings

if __name__ == "__main__":
    asyncio.run(serve(load(NmtSettings, "AI4VC_NMT"), create))
