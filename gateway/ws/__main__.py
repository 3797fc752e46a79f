"""`python -m gateway.ws`: the WebSocket bridge, until SIGTERM/SIGINT."""

import asyncio

from gateway.ws.bridge import WsBridgeSettings, main
from services.common.settings import load

if __name__ == "__main__":
    asyncio.run(main(load(WsBridgeSettings, "AI4VC_WSBRIDGE")))
