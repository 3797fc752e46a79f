"""`python -m services.auth`: runs the auth service with settings from the environment."""

import asyncio

from services.auth.app import create
from services.auth.settings import AuthSettings
from services.common.rpc.server import serve
from services.common.settings import load

if __name__ == "__main__":
    asyncio.run(serve(load(AuthSettings, "AI4VC_AUTH"), create))
