"""`python -m services.pipeline`: runs the pipeline service with settings from the environment."""

import asyncio

from services.common.rpc.server import serve
from services.common.settings import load
from services.pipeline.app import create
from services.pipeline.settings import PipelineSettings

if __name__ == "__main__":
    asyncio.run(serve(load(PipelineSettings, "AI4VC_PIPELINE"), create))
