"""`python -m services.telemetry`: runs the telemetry service with settings from the environment."""

import asyncio

from services.common.rpc.server import serve
from services.common.settings import load
from services.telemetry.app import create
from services.telemetry.settings import TelemetrySettings

if __name__ == "__main__":
    asyncio.run(serve(load(TelemetrySettings, "AI4VC_TELEMETRY"), create))
