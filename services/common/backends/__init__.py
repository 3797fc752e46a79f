"""Clients of the backends services stand on: Triton (`triton`, and `registry`, what it serves),
PostgreSQL (`db`, `records`), Redis (`redis_client`, `usage`), and the API-key records auth writes
and the edge reads (`keys`: one type, one query, one set of Redis names). None imports grpc's
server side."""
