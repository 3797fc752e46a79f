// Unary calls through the edge with the generated SDK (Connect-Web, gRPC-Web through Envoy).
// The credential is the signed-in user's JWT when there is a session (lib/session.ts), else the
// API key from Settings.
"use client";

import { useMemo } from "react";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { Interceptor } from "@connectrpc/connect";
import { asr, auth, client, credentialsInterceptor, errorDetails, metrics, nmt, pipeline, tts, ConnectError, Code } from "@ai4vc/sdk/web";
import { useSettings, type Settings } from "./settings";
import { Refresher, loadSession, sessionFrom, useSession, type Session } from "./session";
import type { WsCredential } from "./wsasr";

const TIMEOUT_MS = 60_000;

function transport(edgeUrl: string, interceptors: Interceptor[]) {
  return createGrpcWebTransport({ baseUrl: edgeUrl.replace(/\/$/, ""), interceptors, defaultTimeoutMs: TIMEOUT_MS });
}

/** AuthService without a credential: Login, Refresh and Logout are public at the edge (the
 * password or the refresh token is the credential), and no API key should ride along. */
export function publicAuth(edgeUrl: string) {
  return client(auth.AuthService, transport(edgeUrl, []));
}

const refreshers = new Map<string, Refresher>();

/** The one Refresher per edge of this tab. */
export function refresher(edgeUrl: string): Refresher {
  let found = refreshers.get(edgeUrl);
  if (!found) {
    found = new Refresher(
      async (refreshToken) => {
        const username = loadSession()?.username ?? "";
        return sessionFrom(username, await publicAuth(edgeUrl).refresh({ refreshToken }));
      },
      undefined, undefined,
      (error) => [Code.Unauthenticated, Code.InvalidArgument].includes(ConnectError.from(error).code));
    refreshers.set(edgeUrl, found);
  }
  return found;
}

/** `authorization: Bearer <access>` on every call, refreshed before it expires; a unary call
 * refused UNAUTHENTICATED (revoked, or expired in flight) is refreshed and sent once more. */
function bearerInterceptor(edgeUrl: string): Interceptor {
  return (next) => async (req) => {
    const session = await refresher(edgeUrl).current(Date.now());
    if (!session) return next(req); // signed out meanwhile: the edge answers 401, shown as such
    req.header.set("authorization", `Bearer ${session.accessToken}`);
    try {
      return await next(req);
    } catch (error) {
      if (req.stream || ConnectError.from(error).code !== Code.Unauthenticated) throw error;
      const renewed = await refresher(edgeUrl).current(Date.now(), session.accessToken);
      if (!renewed) throw error;
      req.header.set("authorization", `Bearer ${renewed.accessToken}`);
      return next(req);
    }
  };
}

export function clients(settings: Settings, session: Session | null = loadSession()) {
  const credential = session ? bearerInterceptor(settings.edgeUrl)
    : credentialsInterceptor(settings.apiKey ? { apiKey: settings.apiKey } : undefined);
  const t = transport(settings.edgeUrl, [credential]);
  return {
    nmt: client(nmt.NmtService, t),
    tts: client(tts.TtsService, t),
    asr: client(asr.AsrService, t),
    auth: client(auth.AuthService, t),
    metrics: client(metrics.MetricsService, t),
    pipeline: client(pipeline.PipelineService, t),
  };
}

export type Clients = ReturnType<typeof clients>;

/** The WebSocket bridge's credential: the session's (fresh) access token, else the API key. */
export async function wsCredential(settings: Settings): Promise<WsCredential> {
  if (loadSession()) {
    const session = await refresher(settings.edgeUrl).current(Date.now());
    if (session) return { bearer: session.accessToken };
  }
  return { apiKey: settings.apiKey };
}

export function useClients(): { settings: Settings | null; api: Clients | null; cacheKey: string; user: string } {
  const [settings] = useSettings();
  const session = useSession();
  const user = session?.username ?? "";
  // New clients when the credential changes kind or user, not on every token refresh: the
  // interceptor reads the stored session at call time.
  const signedIn = !!session;
  const api = useMemo(() => (settings ? clients(settings, signedIn ? loadSession() : null) : null),
    [settings, signedIn, user]);
  const cacheKey = `${settings?.edgeUrl}|${user ? `user:${user}` : settings?.apiKey}`;
  return { settings, api, cacheKey, user };
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
