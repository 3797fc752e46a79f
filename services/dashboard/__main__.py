"""`python -m services.dashboard`: runs the dashboard service with settings from the environment."""

import asyncio

from services.common.rpc.server import serve
from services.common.settings import load
from services.dashboard.app import create
from services.dashboard.settings import DashboardSettings

if __name__ == "__main__":
    asyncio.run(serve(load(DashboardSettings, "AI4VC_DASHBOARD"), create))
