"""What Envoy calls: the ext_authz server (`authz`), the rate-limit service (`ratelimit`), and the
usage counters services feed for daily quotas (`usage`)."""
