"""The one service chassis. Every service builds on this package, in three layers:

- this folder: what every layer shares and that knows neither grpc nor a backend — settings,
  errors (every status code and reason), logs, metrics, tracing, and the request helpers
  (audio codecs, language codes, paging, stream configs, credential formats);
- `rpc/`: the gRPC-bound parts — the server factory and lifecycle, the one interceptor (ids,
  metrics, error mapping, input checks), caller identity and call records;
- `backends/`: the clients of what a service stands on — Triton (and the model registry read
  from it), PostgreSQL with migrations, Redis, the record sink and usage metering.
"""
