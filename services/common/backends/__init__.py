"""Clients of the backends services stand on: Triton (`triton`, and `registry`, what it serves),
PostgreSQL (`db`, `records`), Redis (`redis_client`, `usage`). None of them imports grpc's server side."""
