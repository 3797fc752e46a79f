"""`python -m services.config`: runs the config service with settings from the environment."""

import asyncio

from services.common.rpc.server import serve
from services.common.settings import load
from services.config.app import create
from services.config.settings import ConfigSettings

if __name__ == "__main__":
    asyncio.run(serve(load(ConfigSettings, "AI4VC_CONFIG"), create))
