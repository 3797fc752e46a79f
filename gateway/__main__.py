"""`python -m gateway`: the edge's control plane (publishes Envoy's routes), with health and server
reflection for the public API on one port."""

import asyncio

from gateway.app import create
from gateway.settings import GatewaySettings
from services.common.rpc.server import serve
from services.common.settings import load

if __name__ == "__main__":
    asyncio.run(serve(load(GatewaySettings, "AI4VC_GATEWAY"), create))
