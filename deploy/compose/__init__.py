"""The container deployment (docker compose): the layered compose files beside this package, and
the small programs their containers run — the health probe and the renderers of Envoy's,
Prometheus's and Alertmanager's configuration for services reached by name."""
