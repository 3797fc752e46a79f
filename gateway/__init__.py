"""The edge's Python parts, beside Envoy: the gateway process (`python -m gateway`), the control
plane (`edge`) that publishes Envoy's routes with the keys, scopes (`policy`), limits and blocks —
Envoy then decides every call with its own filters — and the WebSocket bridge for browsers (`ws`,
its own process: `python -m gateway.ws`)."""
