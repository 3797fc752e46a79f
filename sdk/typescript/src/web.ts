// Browser transport for the AI4V-C edge: gRPC-Web, which Envoy translates to gRPC.
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { Transport } from "@connectrpc/connect";
import { credentialsInterceptor, type Credentials } from "./index.js";

export * from "./index.js";

export interface WebTransportOptions {
  /** The edge as the page reaches it, e.g. "https://api.example" or "/". */
  baseUrl: string;
  credentials?: Credentials;
  /** Default deadline per call in milliseconds. */
  timeoutMs?: number;
}

/** A gRPC-Web transport that sends the API key (or bearer token) on every call. */
export function createWebTransport(options: WebTransportOptions): Transport {
  return createGrpcWebTransport({
    baseUrl: options.baseUrl,
    interceptors: [credentialsInterceptor(options.credentials)],
    defaultTimeoutMs: options.timeoutMs,
  });
}
