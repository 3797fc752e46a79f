"""`python -m services.riva`: runs the Riva facade with settings from the environment."""

import asyncio

from services.common.rpc.server import serve
from services.common.settings import load
from services.riva.app import create
from services.riva.settings import RivaSettings

if __name__ == "__main__":
    asyncio.run(serve(load(RivaSettings, "AI4VC_RIVA"), create))
