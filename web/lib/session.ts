// Signing in with a user and password (AuthService Login): the JWT access token (15 minutes) and
// the refresh token, kept in this tab's sessionStorage — not localStorage — for two reasons:
// a password session then ends with the tab (the refresh token is the long-lived credential, and
// nothing of it outlives the tab), and Refresh rotates the refresh token (the one presented stops
// working), so two tabs sharing one stored token would refresh over each other and sign each
// other out. Calls carry `authorization: Bearer <access>`; the token is refreshed shortly before it
// expires, or once when a call comes back UNAUTHENTICATED; one refresh at a time per tab.
"use client";

import { useEffect, useState } from "react";

export interface Session {
  username: string;
  accessToken: string;
  /** Epoch milliseconds. */
  accessExpiresAt: number;
  refreshToken: string;
  /** Epoch milliseconds (0: not told). */
  refreshExpiresAt: number;
}

export const SESSION_KEY = "ai4vc.session";
const EVENT = "ai4vc-session";
/** Refresh this long before the access token expires (clock skew, a slow call on its way). */
export const REFRESH_MARGIN_MS = 60_000;

export function loadSession(): Session | null {
  if (typeof window === "undefined") return null;
  try {
    const value = JSON.parse(window.sessionStorage.getItem(SESSION_KEY) ?? "null") as Session | null;
    return value && value.accessToken && value.refreshToken ? value : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) window.sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else window.sessionStorage.removeItem(SESSION_KEY);
  window.dispatchEvent(new Event(EVENT));
}

/** Whether the access token is expired or about to be (a refresh is due before using it). */
export function needsRefresh(session: Session, now: number, margin = REFRESH_MARGIN_MS): boolean {
  return session.accessExpiresAt - margin <= now;
}

type Stamp = { seconds: bigint; nanos: number } | undefined;
const millis = (t: Stamp) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : 0);

/** A Login or Refresh answer as the stored session. */
export function sessionFrom(username: string, answer: {
  accessToken: string; accessTokenExpireTime?: Stamp; refreshToken: string; refreshTokenExpireTime?: Stamp;
}): Session {
  return { username, accessToken: answer.accessToken, accessExpiresAt: millis(answer.accessTokenExpireTime),
           refreshToken: answer.refreshToken, refreshExpiresAt: millis(answer.refreshTokenExpireTime) };
}

/** Single flight: every caller that finds the token stale waits on the same Refresh, since the
 * refresh token works once. `exchange` is AuthService.Refresh; a refused refresh signs out, an
 * unreachable edge leaves the session for the next try. */
export class Refresher {
  private pending: Promise<Session | null> | null = null;

  constructor(private readonly exchange: (refreshToken: string) => Promise<Session>,
              private readonly load: () => Session | null = loadSession,
              private readonly save: (s: Session | null) => void = saveSession,
              /** Whether a failed exchange means the session is over (not just the network). */
              private readonly refused: (error: unknown) => boolean = () => true) {}

  /** A session whose access token is usable now: the stored one, or a refreshed one. `stale` is the
   * token a call was refused with (force a refresh unless another call already replaced it). */
  async current(now: number, stale?: string): Promise<Session | null> {
    const session = this.load();
    if (!session) return null;
    const forced = stale !== undefined && session.accessToken === stale;
    if (!forced && !needsRefresh(session, now)) return session;
    this.pending ??= this.exchange(session.refreshToken)
      .then((fresh) => { this.save(fresh); return fresh; })
      .catch((error: unknown) => { if (this.refused(error)) this.save(null); return null; })
      .finally(() => { this.pending = null; });
    return this.pending;
  }
}

/** The signed-in session of this tab, following sign-in, refresh and sign-out. */
export function useSession(): Session | null {
  const [session, setSession] = useState<Session | null>(null);
  useEffect(() => {
    const refresh = () => setSession(loadSession());
    refresh();
    window.addEventListener(EVENT, refresh);
    return () => window.removeEventListener(EVENT, refresh);
  }, []);
  return session;
}
