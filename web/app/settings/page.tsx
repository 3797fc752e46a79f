"use client";

import { useEffect, useMemo, useState } from "react";
import { clients } from "../../lib/api";
import { useSettings } from "../../lib/settings";
import { Keys } from "./Keys";

export default function SettingsPage() {
  const [settings, save] = useSettings();
  const [edgeUrl, setEdgeUrl] = useState("");
  const [apiKey, setApiKey] = useState("");
  const [language, setLanguage] = useState("");
  const [saved, setSaved] = useState(false);
  useEffect(() => {
    if (settings) {
      setEdgeUrl(settings.edgeUrl);
      setApiKey(settings.apiKey);
      setLanguage(settings.language);
    }
  }, [settings]);
  const api = useMemo(() => (settings?.apiKey ? clients(settings) : null), [settings]);
  return (
    <>
    <section className="card">
      <h1>Settings</h1>
      <form id="settings" onSubmit={(e) => { e.preventDefault(); save({ edgeUrl, apiKey, language }); setSaved(true); }}>
        <label htmlFor="edge-url">Edge URL</label>
        <input id="edge-url" type="url" value={edgeUrl} onChange={(e) => { setEdgeUrl(e.target.value); setSaved(false); }} />
        <label htmlFor="api-key">API key (stored in this browser&apos;s localStorage only)</label>
        <input id="api-key" type="password" autoComplete="off" value={apiKey}
               onChange={(e) => { setApiKey(e.target.value); setSaved(false); }} />
        <label htmlFor="default-language">Default language (BCP-47, e.g. hi)</label>
        <input id="default-language" type="text" value={language} onChange={(e) => { setLanguage(e.target.value); setSaved(false); }} />
        <button type="submit">Save</button>
        {saved ? <span id="saved" className="muted"> Saved.</span> : null}
      </form>
    </section>
    {api && settings ? <Keys api={api} cacheKey={`${settings.edgeUrl}|${settings.apiKey}`} /> : null}
    </>
  );
}
