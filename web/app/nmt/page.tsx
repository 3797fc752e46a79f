"use client";

import { Button, Select, SimpleGrid, Textarea } from "@chakra-ui/react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useClients } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";
import { useI18n } from "../../lib/i18n";
import { Field, Muted, Output, Section } from "../../lib/ui";
import { Transliterate } from "./Transliterate";

export default function NmtPage() {
  const { t } = useI18n();
  const { api, cacheKey } = useClients();
  const [source, setSource] = useState("");
  const [target, setTarget] = useState("");
  const [text, setText] = useState("");
  // Phrases kept verbatim (names, product terms): one a line, blanks ignored.
  const [keep, setKeep] = useState("");
  const pairs = useQuery({
    queryKey: ["nmt-pairs", cacheKey],
    enabled: !!api,
    queryFn: async () => (await api!.nmt.listLanguagePairs({ pageSize: 1000 })).languagePairs,
  });
  const sources = [...new Set((pairs.data ?? []).map((p) => p.sourceLanguageCode))].sort();
  const targets = [...new Set((pairs.data ?? []).filter((p) => !source || p.sourceLanguageCode === source)
    .map((p) => p.targetLanguageCode))].sort();
  const translate = useMutation({
    mutationFn: async () => {
      const doNotTranslate = keep.split("\n").map((phrase) => phrase.trim()).filter(Boolean);
      const answer = await api!.nmt.translateText({ contents: [text], sourceLanguageCode: source,
                                                    targetLanguageCode: target || targets[0] || "", doNotTranslate });
      return answer.translations[0];
    },
  });
  return (
    <>
      <Section title={t("nmt.title")} level={1}>
        <ErrorBox error={pairs.error} />
        <SimpleGrid columns={{ base: 1, md: 2 }} spacing={4}>
          <Field id="source" label={t("nmt.from")}>
            <Select value={source} onChange={(e) => setSource(e.target.value)}>
              <option value="">{t("nmt.detect")}</option>
              {sources.map((code) => <option key={code} value={code}>{code}</option>)}
            </Select>
          </Field>
          <Field id="target" label={t("nmt.to")}>
            <Select value={target} onChange={(e) => setTarget(e.target.value)}>
              {targets.map((code) => <option key={code} value={code}>{code}</option>)}
            </Select>
          </Field>
        </SimpleGrid>
        <Field id="text" label={t("common.text")}>
          <Textarea dir="auto" minH="6rem" value={text} onChange={(e) => setText(e.target.value)} />
        </Field>
        <Field id="keep" label={t("nmt.keep")}>
          <Textarea dir="auto" minH="3rem" placeholder={t("nmt.keepHint")} value={keep}
                    onChange={(e) => setKeep(e.target.value)} />
        </Field>
        <Button id="translate" colorScheme="blue" mt={3} isDisabled={!api || translate.isPending}
                onClick={() => translate.mutate()}>
          {translate.isPending ? t("nmt.translating") : t("nmt.translate")}
        </Button>
        <ErrorBox error={translate.error} />
        {translate.data ? (
          <>
            <Muted>{t("nmt.translation")}{translate.data.detectedLanguageCode
              ? <span id="detected"> ({t("nmt.detected", { code: translate.data.detectedLanguageCode })})</span> : null}</Muted>
            <Output id="translation">{translate.data.translatedText}</Output>
            <Muted>{t("common.model", { name: translate.data.model })}</Muted>
          </>
        ) : null}
        <Muted>{pairs.data ? t("nmt.pairsServed", { n: pairs.data.length }) : pairs.isLoading ? t("nmt.loadingPairs") : ""}</Muted>
      </Section>
      <Transliterate api={api} cacheKey={cacheKey} />
    </>
  );
}
