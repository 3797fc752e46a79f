// Node transports for the AI4V-C edge (Envoy): gRPC over HTTP/2 by default, or gRPC-Web.
import { createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import type { Transport } from "@connectrpc/connect";
import { credentialsInterceptor, type Credentials } from "./index.js";

export * from "./index.js";

export interface NodeTransportOptions {
  /** The edge, e.g. "http://127.0.0.1:8080" (plaintext h2c) or "https://api.example" (TLS). */
  baseUrl: string;
  credentials?: Credentials;
  /** "grpc" (HTTP/2, default) or "grpc-web" (HTTP/1.1, as browsers call it). */
  protocol?: "grpc" | "grpc-web";
  /** Default deadline per call in milliseconds (a call's own timeoutMs wins). */
  timeoutMs?: number;
}

/** A transport to the edge that sends the API key (or bearer token) on every call. */
export function createNodeTransport(options: NodeTransportOptions): Transport {
  const common = {
    baseUrl: options.baseUrl,
    interceptors: [credentialsInterceptor(options.credentials)],
    defaultTimeoutMs: options.timeoutMs,
  };
  return options.protocol === "grpc-web"
    ? createGrpcWebTransport({ ...common, httpVersion: "1.1" })
    : createGrpcTransport(common);
}
