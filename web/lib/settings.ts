// The console's settings: the edge URL and the API key live in this browser only
// (localStorage), never in the build or on the server.
"use client";

import { useCallback, useEffect, useState } from "react";

export interface Settings {
  edgeUrl: string;
  apiKey: string;
  language: string;
}

const STORAGE_KEY = "ai4vc.settings";

/** The edge this page was served by: its own origin through Envoy (/ui/), or the edge URL the
 * web UI's server names in /ui/config.json when the page comes straight from :3000. */
export async function defaultEdgeUrl(): Promise<string> {
  try {
    const answer = await fetch("/ui/config.json", { cache: "no-store" });
    if (answer.ok) {
      const config = (await answer.json()) as { edgeUrl?: string; webPort?: number };
      if (config.edgeUrl && String(config.webPort) === window.location.port) return config.edgeUrl;
    }
  } catch {
    // no config: the page's origin
  }
  return window.location.origin;
}

export function loadSettings(): Partial<Settings> {
  try {
    return JSON.parse(window.localStorage.getItem(STORAGE_KEY) ?? "{}") as Partial<Settings>;
  } catch {
    return {};
  }
}

export function saveSettings(settings: Settings): void {
  window.localStorage.setItem(STORAGE_KEY, JSON.stringify(settings));
  window.dispatchEvent(new Event("ai4vc-settings"));
}

export function useSettings(): [Settings | null, (s: Settings) => void] {
  const [settings, setSettings] = useState<Settings | null>(null);
  useEffect(() => {
    let live = true;
    const refresh = async () => {
      const stored = loadSettings();
      const edgeUrl = stored.edgeUrl || (await defaultEdgeUrl());
      if (live) setSettings({ edgeUrl, apiKey: stored.apiKey ?? "", language: stored.language ?? "" });
    };
    void refresh();
    window.addEventListener("ai4vc-settings", refresh);
    return () => {
      live = false;
      window.removeEventListener("ai4vc-settings", refresh);
    };
  }, []);
  const save = useCallback((s: Settings) => saveSettings(s), []);
  return [settings, save];
}
