"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import type { Clients } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";

/** API keys of the caller (an admin sees everyone's): create — the secret shown once — list, revoke;
 * and today's usage of the key in use. */
export function Keys({ api, cacheKey }: { api: Clients; cacheKey: string }) {
  const queries = useQueryClient();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState("nmt");
  const keys = useQuery({
    queryKey: ["api-keys", cacheKey],
    queryFn: async () => (await api.auth.listApiKeys({ pageSize: 100, showRevoked: true })).apiKeys,
  });
  const usage = useQuery({
    queryKey: ["usage", cacheKey],
    queryFn: async () => (await api.metrics.getUsageSummary({})).today?.totals,
  });
  const create = useMutation({
    mutationFn: async () => api.auth.createApiKey({
      displayName: name, scopes: scopes.split(/[\s,]+/).filter(Boolean) }),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["api-keys", cacheKey] }),
  });
  const revoke = useMutation({
    mutationFn: async (keyId: string) => api.auth.revokeApiKey({ keyId }),
    onSuccess: () => queries.invalidateQueries({ queryKey: ["api-keys", cacheKey] }),
  });
  return (
    <>
      <section className="card">
        <h2>Usage today (this key)</h2>
        <ErrorBox error={usage.error} />
        {usage.data ? (
          <p id="usage">{String(usage.data.requestCount)} requests · {String(usage.data.errorCount)} errors ·{" "}
            {String(usage.data.characters)} characters · {usage.data.audioSeconds.toFixed(1)} s of audio</p>
        ) : null}
      </section>
      <section className="card">
        <h2>API keys</h2>
        <div className="row">
          <div><label htmlFor="key-name">Name</label>
            <input id="key-name" type="text" value={name} onChange={(e) => setName(e.target.value)} /></div>
          <div><label htmlFor="key-scopes">Scopes (comma-separated)</label>
            <input id="key-scopes" type="text" value={scopes} onChange={(e) => setScopes(e.target.value)} /></div>
        </div>
        <button id="key-create" disabled={!name || create.isPending} onClick={() => create.mutate()}>Create key</button>
        <ErrorBox error={create.error} />
        {create.data ? (
          <p className="output">New key (shown once; copy it now): <code id="new-key">{create.data.key}</code></p>
        ) : null}
        <ErrorBox error={keys.error} />
        <ErrorBox error={revoke.error} />
        <table id="keys">
          <thead><tr><th>name</th><th>id</th><th>owner</th><th>scopes</th><th>created</th><th /></tr></thead>
          <tbody>
            {(keys.data ?? []).map((k) => (
              <tr key={k.keyId} data-key={k.keyId} data-revoked={k.revokeTime ? "true" : "false"}>
                <td dir="auto">{k.displayName}</td><td><code>{k.keyId}</code></td><td>{k.owner}</td>
                <td>{k.scopes.join(", ")}</td>
                <td>{k.createTime ? new Date(Number(k.createTime.seconds) * 1000).toISOString().slice(0, 16) : ""}</td>
                <td>{k.revokeTime ? <span className="muted">revoked</span> : (
                  <button className="secondary revoke" style={{ marginTop: 0 }} onClick={() => revoke.mutate(k.keyId)}>
                    Revoke</button>)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
