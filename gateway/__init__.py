"""The edge's Python parts, beside Envoy: the gateway process (`python -m gateway`), which serves
Envoy's ext_authz (`authz`: API key or JWT, scope per gRPC method) and rate-limit service
(`ratelimit`: per key and method, daily quotas from the services' metered usage) over a key cache
(`keystore`, reading `services.common.backends.keys`), and the WebSocket bridge for browsers
(`ws`, its own process: `python -m gateway.ws`)."""
