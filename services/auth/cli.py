"""`python -m services.auth.cli create-key --name NAME --scopes nmt,asr [--owner admin]`: prints a new
API key. Reads the auth service's settings (AI4VC_DATABASE_URL, AI4VC_KEY_PEPPER, …) from the
environment and acts as the system administrator; run it where those secrets live."""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.auth.app import open_pool
from services.auth.core import AuthCore, Caller, Quota
from services.auth.settings import AuthSettings
from services.common.backends import redis_client
from services.common.errors import DomainError
from services.common.settings import SettingsError, load


async def create_key(settings: AuthSettings, args: argparse.Namespace) -> str:
    pool = await open_pool(settings)
    redis = redis_client.create(settings.redis_url) if settings.redis_url else None
    try:
        core = AuthCore(settings, pool, redis)
        issued = await core.create_key(
            Caller("cli", frozenset({"admin"})), args.name, args.scopes.split(","),
            Quota(args.requests_per_minute, args.audio_seconds_per_day, args.characters_per_day), args.owner)
        return issued.key
    finally:
        await pool.close()
        if redis is not None:
            await redis.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.auth.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create an API key and print it (shown only once)")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", required=True, help="comma-separated: asr,tts,nmt,pipeline,admin")
    create.add_argument("--owner", default="admin", help="username the key acts as (default admin)")
    create.add_argument("--requests-per-minute", type=int, default=0)
    create.add_argument("--audio-seconds-per-day", type=int, default=0)
    create.add_argument("--characters-per-day", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        settings = load(AuthSettings, "AI4VC_AUTH")
        if not settings.database_url:
            raise SettingsError("AI4VC_DATABASE_URL is required")
        if len(settings.key_pepper) < 16:
            raise SettingsError("AI4VC_KEY_PEPPER must be at least 16 characters")
        print(asyncio.run(create_key(settings, args)))
    except (SettingsError, DomainError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
