"""`python -m services.alerting`: runs the alerting service with settings from the environment."""

import asyncio

from services.alerting.app import create
from services.alerting.settings import AlertingSettings
from services.common.rpc.server import serve
from services.common.settings import load

if __name__ == "__main__":
    asyncio.run(serve(load(AlertingSettings, "AI4VC_ALERTING"), create))
