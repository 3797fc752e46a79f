"""The gRPC-bound chassis: `server` (factory and lifecycle), `interceptors` (the one interceptor),
`identity` (who the edge says the caller is), `context` (deadlines and call records), `tls` (mesh mTLS credentials)."""
