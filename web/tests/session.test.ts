import { describe, expect, it } from "vitest";
import { Refresher, needsRefresh, sessionFrom, type Session } from "../lib/session";

const session = (token: string, expiresAt: number): Session =>
  ({ username: "u", accessToken: token, accessExpiresAt: expiresAt, refreshToken: `r-${token}`, refreshExpiresAt: 0 });

/** A store and an AuthService.Refresh stand-in (the browser test drives the real one). */
function harness(start: Session | null, refused = false) {
  const state = { stored: start, exchanges: [] as string[] };
  let n = 0;
  const refresher = new Refresher(
    async (refreshToken) => {
      state.exchanges.push(refreshToken);
      await new Promise((r) => setTimeout(r, 5));
      if (refused) throw new Error("INVALID_REFRESH_TOKEN");
      return session(`fresh${++n}`, 10_000_000);
    },
    () => state.stored, (s) => { state.stored = s; });
  return { state, refresher };
}

describe("session", () => {
  it("is due for a refresh a margin before the access token expires", () => {
    expect(needsRefresh(session("a", 100_000), 30_000)).toBe(false);
    expect(needsRefresh(session("a", 100_000), 40_000)).toBe(true);
    expect(needsRefresh(session("a", 100_000), 200_000)).toBe(true);
  });

  it("is read from a Login answer's timestamps", () => {
    const s = sessionFrom("asha", { accessToken: "a", refreshToken: "r",
      accessTokenExpireTime: { seconds: 1700000000n, nanos: 500_000_000 } });
    expect(s).toEqual({ username: "asha", accessToken: "a", accessExpiresAt: 1700000000500, refreshToken: "r", refreshExpiresAt: 0 });
  });

  it("keeps a token that is still good, and refreshes a stale one once for many callers", async () => {
    const good = harness(session("a", 1_000_000));
    expect((await good.refresher.current(0))?.accessToken).toBe("a");
    expect(good.state.exchanges).toEqual([]);

    const stale = harness(session("a", 1_000));
    const all = await Promise.all([stale.refresher.current(5_000), stale.refresher.current(5_000), stale.refresher.current(5_000)]);
    expect(all.map((s) => s?.accessToken)).toEqual(["fresh1", "fresh1", "fresh1"]);
    expect(stale.state.exchanges).toEqual(["r-a"]);
    expect(stale.state.stored?.accessToken).toBe("fresh1");
  });

  it("refreshes a token the edge refused, unless another call already replaced it", async () => {
    const h = harness(session("a", 1_000_000));
    expect((await h.refresher.current(0, "a"))?.accessToken).toBe("fresh1");
    expect((await h.refresher.current(0, "a"))?.accessToken).toBe("fresh1");
    expect(h.state.exchanges).toEqual(["r-a"]);
  });

  it("signs out when the refresh token is refused", async () => {
    const h = harness(session("a", 0), true);
    expect(await h.refresher.current(10_000)).toBeNull();
    expect(h.state.stored).toBeNull();
  });
});
