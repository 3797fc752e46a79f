"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useClients } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";
import { Transliterate } from "./Transliterate";

export default function NmtPage() {
  const { settings, api } = useClients();
  const [source, setSource] = useState("");
  const [target, setTarget] = useState("");
  const [text, setText] = useState("");
  const pairs = useQuery({
    queryKey: ["nmt-pairs", settings?.edgeUrl, settings?.apiKey],
    enabled: !!api,
    queryFn: async () => (await api!.nmt.listLanguagePairs({ pageSize: 1000 })).languagePairs,
  });
  const sources = [...new Set((pairs.data ?? []).map((p) => p.sourceLanguageCode))].sort();
  const targets = [...new Set((pairs.data ?? []).filter((p) => !source || p.sourceLanguageCode === source)
    .map((p) => p.targetLanguageCode))].sort();
  const translate = useMutation({
    mutationFn: async () => {
      const answer = await api!.nmt.translateText({ contents: [text], sourceLanguageCode: source,
                                                    targetLanguageCode: target || targets[0] || "" });
      return answer.translations[0];
    },
  });
  return (
    <>
    <section className="card">
      <h1>Translate</h1>
      <ErrorBox error={pairs.error} />
      <div className="row">
        <div>
          <label htmlFor="source">From</label>
          <select id="source" value={source} onChange={(e) => setSource(e.target.value)}>
            <option value="">Detect language</option>
            {sources.map((code) => <option key={code} value={code}>{code}</option>)}
          </select>
        </div>
        <div>
          <label htmlFor="target">To</label>
          <select id="target" value={target} onChange={(e) => setTarget(e.target.value)}>
            {targets.map((code) => <option key={code} value={code}>{code}</option>)}
          </select>
        </div>
      </div>
      <label htmlFor="text">Text</label>
      <textarea id="text" dir="auto" value={text} onChange={(e) => setText(e.target.value)} />
      <button id="translate" disabled={!api || translate.isPending} onClick={() => translate.mutate()}>
        {translate.isPending ? "Translating…" : "Translate"}
      </button>
      <ErrorBox error={translate.error} />
      {translate.data ? (
        <>
          <label>Translation{translate.data.detectedLanguageCode
            ? <span id="detected"> (detected: {translate.data.detectedLanguageCode})</span> : null}</label>
          <div id="translation" className="output" dir="auto">{translate.data.translatedText}</div>
          <p className="muted">model {translate.data.model}</p>
        </>
      ) : null}
      <p className="muted">{pairs.data ? `${pairs.data.length} language pairs served` : pairs.isLoading ? "loading pairs…" : ""}</p>
    </section>
    <Transliterate api={api} cacheKey={`${settings?.edgeUrl}|${settings?.apiKey}`} />
    </>
  );
}
