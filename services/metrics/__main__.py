"""`python -m services.metrics`: runs the metrics service with settings from the environment."""

import asyncio

from services.common.rpc.server import serve
from services.common.settings import load
from services.metrics.app import create
from services.metrics.settings import MetricsSettings

if __name__ == "__main__":
    asyncio.run(serve(load(MetricsSettings, "AI4VC_METRICS"), create))
