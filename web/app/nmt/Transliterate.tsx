"use client";

import { Button, Input, Select, Wrap, WrapItem } from "@chakra-ui/react";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import type { Clients } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";
import { useI18n } from "../../lib/i18n";
import { Field, Section } from "../../lib/ui";

/** The word being typed: the text after the last whitespace. */
export function lastWord(text: string): string {
  const match = /(\S+)$/u.exec(text);
  return match ? match[1] : "";
}

/** Transliteration as you type: word-level candidates for the word at the caret's end. */
export function Transliterate({ api, cacheKey }: { api: Clients | null; cacheKey: string }) {
  const { t } = useI18n();
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
    setText((s) => s.slice(0, s.length - lastWord(s).length) + candidate + " ");
    setWord("");
  };
  return (
    <Section title={t("translit.title")}>
      <ErrorBox error={pairs.error} />
      <Field id="translit-pair" label={t("translit.pair")}>
        <Select value={chosen} onChange={(e) => setPair(e.target.value)}>
          {(pairs.data ?? []).map((p) => {
            const value = `${p.sourceLanguageCode}>${p.targetLanguageCode}`;
            return <option key={value} value={value}>{p.sourceLanguageCode} → {p.targetLanguageCode}
              {p.supportsCandidates ? ` (${t("translit.candidates")})` : ""}</option>;
          })}
        </Select>
      </Field>
      <Field id="translit-text" label={t("common.text")}>
        <Input type="text" dir="auto" value={text} onChange={(e) => setText(e.target.value)} />
      </Field>
      <Wrap id="candidates" mt={2} spacing={2}>
        {(candidates.data ?? []).map((c) => (
          <WrapItem key={c}>
            <Button className="candidate" size="sm" variant="outline" colorScheme="gray" dir="auto"
                    onClick={() => accept(c)}>{c}</Button>
          </WrapItem>
        ))}
      </Wrap>
      <ErrorBox error={candidates.error} />
    </Section>
  );
}
