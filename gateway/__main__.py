"""`python -m gateway`: serves Envoy's ext_authz and rate-limit APIs (and health) on one port."""

import asyncio

from gateway.app import create
from gateway.settings import GatewaySettings
from services.common.rpc.server import serve
from services.common.settings import load

if __name__ == "__main__":
    asyncio.run(serve(load(GatewaySettings, "AI4VC_GATEWAY"), create))
