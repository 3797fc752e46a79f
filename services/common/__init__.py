"""The one service chassis: settings, server factory, interceptors, errors, telemetry,
and adapters for Triton, PostgreSQL and Redis. Every service builds on this package."""
