"""The edge's control plane: renders Envoy's routes with the policy and the per-key data, and publishes them by RDS."""
