// Unary calls through the edge with the generated SDK (Connect-Web, gRPC-Web through Envoy).
"use client";

import { useMemo } from "react";
import { asr, auth, client, createWebTransport, errorDetails, metrics, nmt, pipeline, tts, ConnectError, Code } from "@ai4vc/sdk/web";
import { useSettings, type Settings } from "./settings";

export function clients(settings: Settings) {
  const transport = createWebTransport({
    baseUrl: settings.edgeUrl.replace(/\/$/, ""),
    credentials: settings.apiKey ? { apiKey: settings.apiKey } : undefined,
    timeoutMs: 60_000,
  });
  return {
    nmt: client(nmt.NmtService, transport),
    tts: client(tts.TtsService, transport),
    asr: client(asr.AsrService, transport),
    auth: client(auth.AuthService, transport),
    metrics: client(metrics.MetricsService, transport),
    pipeline: client(pipeline.PipelineService, transport),
  };
}

export type Clients = ReturnType<typeof clients>;

export function useClients(): { settings: Settings | null; api: Clients | null } {
  const [settings] = useSettings();
  const api = useMemo(() => (settings ? clients(settings) : null), [settings]);
  return { settings, api };
}

export interface ShownError {
  code: string;
  message: string;
  reason?: string;
  fields: { field: string; description: string }[];
}

/** An error from a call as the page shows it: code, message, ErrorInfo reason, field violations. */
export function describeError(error: unknown): ShownError {
  const err = ConnectError.from(error);
  const details = errorDetails(err);
  return {
    code: Code[err.code] ?? String(err.code),
    message: err.rawMessage,
    reason: details.reason,
    fields: details.fieldViolations.map((v) => ({ field: v.field, description: v.description })),
  };
}
