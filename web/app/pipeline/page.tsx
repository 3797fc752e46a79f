"use client";

import { Box, Button, Checkbox, Input, Radio, RadioGroup, Select, SimpleGrid, Stack, Text, Textarea } from "@chakra-ui/react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { audio, pipeline } from "@ai4vc/sdk/web";
import { useClients } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";
import { useI18n } from "../../lib/i18n";
import { Field, Muted, Output, Section } from "../../lib/ui";
import { LiveSpeech } from "./LiveSpeech";

/** RunPipeline in one click: (speech →) text → translation (→ speech), each stage's output shown. */
export default function PipelinePage() {
  const { t } = useI18n();
  const { api, cacheKey } = useClients();
  const [fromAudio, setFromAudio] = useState(false);
  const [file, setFile] = useState<File | null>(null);
  const [asrLanguage, setAsrLanguage] = useState("");
  const [text, setText] = useState("");
  const [pair, setPair] = useState("");
  const [translate, setTranslate] = useState(true);
  const [speak, setSpeak] = useState(true);
  const [voice, setVoice] = useState("");
  const [url, setUrl] = useState("");
  const models = useQuery({ queryKey: ["asr-models", cacheKey], enabled: !!api,
    queryFn: async () => (await api!.asr.listModels({ pageSize: 1000 })).models });
  const pairs = useQuery({ queryKey: ["nmt-pairs", cacheKey], enabled: !!api,
    queryFn: async () => (await api!.nmt.listLanguagePairs({ pageSize: 1000 })).languagePairs });
  const voices = useQuery({ queryKey: ["tts-voices", cacheKey], enabled: !!api,
    queryFn: async () => (await api!.tts.listVoices({ pageSize: 1000 })).voices });
  const languages = [...new Set((models.data ?? []).flatMap((m) => m.languageCodes))].sort();
  const chosenPair = pair || (pairs.data?.[0] ? `${pairs.data[0].sourceLanguageCode}>${pairs.data[0].targetLanguageCode}` : "");
  const [source, target] = chosenPair.split(">");
  const spoken = translate ? target : fromAudio ? asrLanguage || languages[0] : source;
  const fitting = (voices.data ?? []).filter((v) => !spoken || v.languageCodes.some((c) => c.split("-")[0] === spoken));
  const chosenVoice = voice && fitting.some((v) => v.name === voice) ? voice : fitting[0]?.name ?? "";

  const run = useMutation({
    mutationFn: async () => {
      // Built with create(): fields the contract adds later take their defaults.
      const tasks: pipeline.PipelineTask[] = [];
      const task = (t: MessageInitShape<typeof pipeline.PipelineTaskSchema>["task"]) =>
        tasks.push(create(pipeline.PipelineTaskSchema, { task: t }));
      let input: MessageInitShape<typeof pipeline.PipelineInputSchema>["inputSource"];
      if (fromAudio) {
        // No audioConfig: the service reads the file's container header (WAV, FLAC, Ogg, MP3, WebM).
        task({ case: "asr", value: { languageCode: asrLanguage || languages[0] || "", enableAutomaticPunctuation: true } });
        input = { case: "audio", value: { content: new Uint8Array(await file!.arrayBuffer()) } };
      } else {
        input = { case: "text", value: { text, languageCode: source ?? "" } };
      }
      if (translate) {
        task({ case: "translation", value: { sourceLanguageCode: fromAudio ? "" : source ?? "",
                                             targetLanguageCode: target ?? "" } });
      }
      if (speak) {
        task({ case: "tts", value: {
          voice: { name: chosenVoice, languageCode: fitting.find((v) => v.name === chosenVoice)?.languageCodes[0] ?? spoken ?? "" },
          audioConfig: { encoding: audio.AudioEncoding.WAV } } });
      }
      const answer = await api!.pipeline.runPipeline({ tasks, input: { inputSource: input } });
      const wav = answer.outputs.find((o) => o.output.case === "audio");
      if (wav?.output.case === "audio") {
        setUrl(URL.createObjectURL(new Blob([wav.output.value.audioContent.slice()], { type: "audio/wav" })));
      } else {
        setUrl("");
      }
      return answer.outputs;
    },
  });
  const stageName = (c: string | undefined) =>
    c === "transcript" ? t("pipe.stageTranscript") : c === "translation" ? t("pipe.stageTranslation")
      : c === "audio" ? t("pipe.stageAudio") : c ?? "";
  return (
    <>
      <Section title={t("pipe.title")} level={1}>
        <Muted mt={0}>{t("pipe.note")}</Muted>
        <RadioGroup mt={3} value={fromAudio ? "audio" : "text"} onChange={(v) => setFromAudio(v === "audio")}>
          <Stack direction="row" spacing={6}>
            <Radio id="from-text" value="text">{t("common.text")}</Radio>
            <Radio id="from-audio" value="audio">{t("pipe.fromAudio")}</Radio>
          </Stack>
        </RadioGroup>
        {fromAudio ? (
          <SimpleGrid columns={{ base: 1, md: 2 }} spacing={4}>
            <Field id="pipe-file" label={t("pipe.audio")}>
              <Input type="file" p={1} accept="audio/*,.wav,.flac,.ogg,.opus,.mp3,.webm" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
            </Field>
            <Field id="pipe-asr" label={t("pipe.spoken")}>
              <Select value={asrLanguage || languages[0] || ""} onChange={(e) => setAsrLanguage(e.target.value)}>
                {languages.map((l) => <option key={l} value={l}>{l}</option>)}</Select>
            </Field>
          </SimpleGrid>
        ) : (
          <Field id="pipe-text" label={t("common.text")}>
            <Textarea dir="auto" minH="6rem" value={text} onChange={(e) => setText(e.target.value)} />
          </Field>
        )}
        <SimpleGrid columns={{ base: 1, md: 2 }} spacing={4} mt={3}>
          <Box>
            <Checkbox id="pipe-translate" isChecked={translate} onChange={(e) => setTranslate(e.target.checked)}>{t("pipe.translate")}</Checkbox>
            <Select id="pipe-pair" mt={1} value={chosenPair} onChange={(e) => setPair(e.target.value)} isDisabled={!translate}
                    aria-label={t("pipe.translate")}>
              {(pairs.data ?? []).map((p) => {
                const value = `${p.sourceLanguageCode}>${p.targetLanguageCode}`;
                return <option key={value} value={value}>{p.sourceLanguageCode} → {p.targetLanguageCode}</option>;
              })}
            </Select>
          </Box>
          <Box>
            <Checkbox id="pipe-speak" isChecked={speak} onChange={(e) => setSpeak(e.target.checked)}>{t("pipe.speak")}</Checkbox>
            <Select id="pipe-voice" mt={1} value={chosenVoice} onChange={(e) => setVoice(e.target.value)} isDisabled={!speak}
                    aria-label={t("common.voice")}>
              {fitting.map((v) => <option key={v.name} value={v.name}>{v.name}</option>)}
            </Select>
          </Box>
        </SimpleGrid>
        <Button id="pipe-run" colorScheme="blue" mt={4} isDisabled={!api || run.isPending || (fromAudio ? !file : !text)}
                onClick={() => run.mutate()}>
          {run.isPending ? t("pipe.running") : t("pipe.run")}</Button>
        <ErrorBox error={models.error ?? pairs.error ?? voices.error} />
        <ErrorBox error={run.error} />
        {(run.data ?? []).map((o) => (
          <Box key={o.taskIndex} className="stage" data-stage={o.output.case} mt={4}>
            <Text fontSize="sm" color="gray.600">{t("pipe.stage", { n: o.taskIndex + 1, name: stageName(o.output.case) })}</Text>
            {o.output.case === "transcript" ? <Output>{o.output.value.transcript}</Output> : null}
            {o.output.case === "translation" ? <Output>{o.output.value.translatedText}</Output> : null}
            {o.output.case === "audio" && url ? <audio id="pipe-player" controls src={url} style={{ width: "100%", marginTop: "0.5rem" }} /> : null}
          </Box>
        ))}
      </Section>
      <LiveSpeech />
    </>
  );
}
