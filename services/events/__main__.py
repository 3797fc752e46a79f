"""`python -m services.events`: runs the event relay with settings from the environment."""

import asyncio

from services.common.rpc.server import serve
from services.common.settings import load
from services.events.app import create
from services.events.settings import EventsSettings

if __name__ == "__main__":
    asyncio.run(serve(load(EventsSettings, "AI4VC_EVENTS"), create))
