// @ai4vc/sdk: messages and service descriptors generated from proto/ (src/gen, `make sdks`),
// Connect client helpers and error decoding. Runtime-neutral: the transports live in
// "@ai4vc/sdk/node" (gRPC over HTTP/2) and "@ai4vc/sdk/web" (gRPC-Web through Envoy).
import { createClient, ConnectError, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
  type BadRequest_FieldViolation,
  type ErrorInfo,
} from "./gen/google/rpc/error_details_pb.js";

export * as asr from "./gen/ai4vc/asr/v1/asr_service_pb.js";
export * as audio from "./gen/ai4vc/audio/v1/audio_pb.js";
export * as auth from "./gen/ai4vc/auth/v1/auth_service_pb.js";
export * as config from "./gen/ai4vc/config/v1/config_service_pb.js";
export * as events from "./gen/ai4vc/events/v1/events_pb.js";
export * as metrics from "./gen/ai4vc/metrics/v1/metrics_service_pb.js";
export * as nmt from "./gen/ai4vc/nmt/v1/nmt_service_pb.js";
export * as pipeline from "./gen/ai4vc/pipeline/v1/pipeline_service_pb.js";
export * as telemetry from "./gen/ai4vc/telemetry/v1/telemetry_service_pb.js";
export * as tts from "./gen/ai4vc/tts/v1/tts_service_pb.js";
export * as rpc from "./gen/google/rpc/error_details_pb.js";
export { ConnectError, Code } from "@connectrpc/connect";
export type { Client, Transport } from "@connectrpc/connect";

/** How a caller proves who it is at the edge: an API key or a JWT access token. */
export type Credentials = { apiKey: string } | { accessToken: string | (() => string) } | undefined;

/** Header name the edge reads API keys from (see gateway/edge). */
export const API_KEY_HEADER = "x-api-key";

/** An interceptor that adds the credentials to every request. */
export function credentialsInterceptor(credentials: Credentials): Interceptor {
  return (next) => async (req) => {
    if (credentials && "apiKey" in credentials) {
      req.header.set(API_KEY_HEADER, credentials.apiKey);
    } else if (credentials && "accessToken" in credentials) {
      const token = typeof credentials.accessToken === "function" ? credentials.accessToken() : credentials.accessToken;
      req.header.set("authorization", `Bearer ${token}`);
    }
    return next(req);
  };
}

/** A typed client for one service over a transport made by "@ai4vc/sdk/node" or "@ai4vc/sdk/web". */
export function client<T extends DescService>(service: T, transport: Transport): Client<T> {
  return createClient(service, transport);
}

/** What the platform puts in an error's google.rpc.Status details, decoded. */
export interface ErrorDetails {
  /** ErrorInfo.reason, e.g. "UNSUPPORTED_LANGUAGE_PAIR" (proto/README.md lists them). */
  reason?: string;
  info?: ErrorInfo;
  fieldViolations: BadRequest_FieldViolation[];
  /** RetryInfo.retry_delay in seconds, when the server says when to retry. */
  retryDelaySeconds?: number;
}

/** Decodes ErrorInfo, BadRequest field violations and RetryInfo from an error thrown by a client. */
export function errorDetails(error: unknown): ErrorDetails {
  const err = ConnectError.from(error);
  const info = err.findDetails(ErrorInfoSchema)[0];
  const badRequest = err.findDetails(BadRequestSchema)[0];
  const retry = err.findDetails(RetryInfoSchema)[0];
  const delay = retry?.retryDelay;
  return {
    reason: info?.reason,
    info,
    fieldViolations: badRequest?.fieldViolations ?? [],
    retryDelaySeconds: delay ? Number(delay.seconds) + delay.nanos / 1e9 : undefined,
  };
}
