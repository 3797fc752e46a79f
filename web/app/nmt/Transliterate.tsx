"use client";

import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import type { Clients } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";

/** The word being typed: the text after the last whitespace. */
export function lastWord(text: string): string {
  const match = /(\S+)$/u.exec(text);
  return match ? match[1] : "";
}

/** Transliteration as you type: word-level candidates for the word at the caret's end. */
export function Transliterate({ api, cacheKey }: { api: Clients | null; cacheKey: string }) {
  const [pair, setPair] = useState("");
  const [text, setText] = useState("");
  const [word, setWord] = useState("");
  const pairs = useQuery({
    queryKey: ["translit-pairs", cacheKey],
    enabled: !!api,
    queryFn: async () => (await api!.nmt.listTransliterationPairs({ pageSize: 1000 })).transliterationPairs,
  });
  const chosen = pair || (pairs.data?.[0] ? `${pairs.data[0].sourceLanguageCode}>${pairs.data[0].targetLanguageCode}` : "");
  const [source, target] = chosen.split(">");
  useEffect(() => {
    const timer = setTimeout(() => setWord(lastWord(text)), 200);
    return () => clearTimeout(timer);
  }, [text]);
  const candidates = useQuery({
    queryKey: ["translit", cacheKey, chosen, word],
    enabled: !!api && !!word && !!chosen,
    queryFn: async () => (await api!.nmt.transliterate({
      contents: [word], sourceLanguageCode: source, targetLanguageCode: target, isWordLevel: true, topK: 5,
    })).transliterations[0]?.candidates ?? [],
  });
  const accept = (candidate: string) => {
    setText((t) => t.slice(0, t.length - lastWord(t).length) + candidate + " ");
    setWord("");
  };
  return (
    <section className="card">
      <h2>Transliterate as you type</h2>
      <ErrorBox error={pairs.error} />
      <label htmlFor="translit-pair">Script pair</label>
      <select id="translit-pair" value={chosen} onChange={(e) => setPair(e.target.value)}>
        {(pairs.data ?? []).map((p) => {
          const value = `${p.sourceLanguageCode}>${p.targetLanguageCode}`;
          return <option key={value} value={value}>{p.sourceLanguageCode} → {p.targetLanguageCode}
            {p.supportsCandidates ? " (candidates)" : ""}</option>;
        })}
      </select>
      <label htmlFor="translit-text">Text</label>
      <input id="translit-text" type="text" dir="auto" value={text} onChange={(e) => setText(e.target.value)} />
      <div id="candidates" style={{ marginTop: ".5rem" }}>
        {(candidates.data ?? []).map((c) => (
          <button key={c} className="secondary candidate" dir="auto" style={{ marginRight: ".5rem" }}
                  onClick={() => accept(c)}>{c}</button>
        ))}
      </div>
      <ErrorBox error={candidates.error} />
    </section>
  );
}
