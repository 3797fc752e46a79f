"""The WebSocket ↔ gRPC bridge for browsers: its own process (`python -m gateway.ws`), behind
Envoy's `/v1/ws/` routes. `protocol` defines the frames, `bridge` relays them to the services."""
