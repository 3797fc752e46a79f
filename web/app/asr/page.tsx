"use client";

import { Badge, Box, Button, HStack, Input, Select, SimpleGrid, Table, TableContainer, Tbody, Td, Th, Thead, Tr,
  Wrap } from "@chakra-ui/react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { asr } from "@ai4vc/sdk/web";
import { useClients, wsCredential, type ShownError } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";
import { useI18n } from "../../lib/i18n";
import { openMicrophone, type Microphone } from "../../lib/mic";
import { Field, Muted, Output, Section } from "../../lib/ui";
import { AsrStream, streamError, type StreamMessage } from "../../lib/wsasr";

function seconds(d?: { seconds: bigint; nanos: number }): string {
  return d ? (Number(d.seconds) + d.nanos / 1e9).toFixed(2) : "";
}

function download(name: string, content: string, type: string) {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

interface Live {
  stream: AsrStream;
  mic: Microphone | null;
}

export default function AsrPage() {
  const { t } = useI18n();
  const { settings, api, cacheKey } = useClients();
  const [language, setLanguage] = useState("");
  const [model, setModel] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const models = useQuery({
    queryKey: ["asr-models", cacheKey],
    enabled: !!api,
    queryFn: async () => (await api!.asr.listModels({ pageSize: 1000 })).models,
  });
  const languages = [...new Set((models.data ?? []).flatMap((m) => m.languageCodes))].sort();
  const lang = language || settings?.language && languages.includes(settings.language) && settings.language || languages[0] || "";
  const forLanguage = (models.data ?? []).filter((m) => m.languageCodes.includes(lang));

  const recognize = useMutation({
    mutationFn: async () => {
      const content = new Uint8Array(await file!.arrayBuffer());
      return api!.asr.recognize({
        // Any audio file, WAV or not: no audioConfig, so the encoding is unspecified and the
        // service reads the container from the file's header (WAV, FLAC, Ogg, MP3, WebM); what
        // it cannot decode comes back INVALID_ARGUMENT and is shown.
        config: { languageCode: lang, model,
                  enableWordTimeOffsets: true, enableWordConfidence: true, enableAutomaticPunctuation: true,
                  subtitleFormats: [asr.SubtitleFormat.SRT, asr.SubtitleFormat.WEBVTT] },
        content,
      });
    },
  });

  // Live microphone
  const live = useRef<Live | null>(null);
  const [recording, setRecording] = useState(false);
  const [finals, setFinals] = useState<string[]>([]);
  const [interim, setInterim] = useState<{ text: string; stability: number } | null>(null);
  const [events, setEvents] = useState<string[]>([]);
  const [level, setLevel] = useState(0);
  const [liveError, setLiveError] = useState<ShownError | null>(null);

  const stopMedia = () => {
    live.current?.mic?.stop();
  };

  const start = async () => {
    if (!settings) return;
    setFinals([]); setInterim(null); setEvents([]); setLiveError(null);
    try {
      const stream = AsrStream.connect(settings.edgeUrl, await wsCredential(settings), {
        config: { languageCode: lang, model, audioConfig: { encoding: "AUDIO_ENCODING_LINEAR16", sampleRateHertz: 16000,
                                                             audioChannelCount: 1 }, enableAutomaticPunctuation: true },
        interimResults: true,
        enableVoiceActivityEvents: true,
      }, {
        onMessage: (message: StreamMessage) => {
          if (message.speechEventType && message.speechEventType !== "SPEECH_EVENT_TYPE_UNSPECIFIED") {
            setEvents((e) => [...e.slice(-9), message.speechEventType!.replace("SPEECH_EVENT_TYPE_", "")]);
          }
          for (const result of message.results ?? []) {
            const text = result.alternatives?.[0]?.transcript ?? "";
            if (result.isFinal) {
              setFinals((f) => [...f, text]);
              setInterim(null);
            } else {
              setInterim({ text, stability: result.stability ?? 0 });
            }
          }
        },
        onError: (error) => { setLiveError(streamError(error)); stopMedia(); setRecording(false); },
        onDone: () => { stopMedia(); setRecording(false); },
      });
      live.current = { stream, mic: null };
      try {
        live.current.mic = await openMicrophone((frame) => stream.sendAudio(frame), setLevel);
      } catch (e) {
        stream.close();
        throw e;
      }
      setRecording(true);
    } catch (e) {
      setLiveError({ code: "microphone", message: String(e), fields: [] });
    }
  };

  const stop = () => {
    const current = live.current;
    if (!current) return;
    const rest = current.mic?.stop();
    if (rest) current.stream.sendAudio(rest);
    current.stream.end();
  };

  useEffect(() => () => { live.current?.stream.close(); stopMedia(); }, []);

  const result = recognize.data;
  const srt = result?.subtitles.find((s) => s.format === asr.SubtitleFormat.SRT);
  const vtt = result?.subtitles.find((s) => s.format === asr.SubtitleFormat.WEBVTT);
  return (
    <>
      <Section title={t("asr.title")} level={1}>
        <ErrorBox error={models.error} />
        <SimpleGrid columns={{ base: 1, md: 2 }} spacing={4}>
          <Field id="language" label={t("common.language")}>
            <Select value={lang} onChange={(e) => { setLanguage(e.target.value); setModel(""); }}>
              {languages.map((code) => <option key={code} value={code}>{code}</option>)}
            </Select>
          </Field>
          <Field id="model" label={t("asr.model")}>
            <Select value={model} onChange={(e) => setModel(e.target.value)}>
              <option value="">{t("asr.defaultModel")}</option>
              {forLanguage.map((m) => <option key={m.name} value={m.name}>{m.name}</option>)}
            </Select>
          </Field>
        </SimpleGrid>
        <Box id="models" mt={3}>
          {forLanguage.map((m) => (
            <Wrap key={m.name} className="muted" data-model={m.name} fontSize="sm" color="gray.600" spacing={1} align="center" mt={1}>
              <code>{m.name}</code>
              {m.supportsStreaming ? <Badge colorScheme="blue" className="badge">{t("asr.streaming")}</Badge> : null}
              {m.supportsWordTimeOffsets ? <Badge colorScheme="blue" className="badge">{t("asr.wordTimings")}</Badge> : null}
              {m.supportsAutomaticPunctuation ? <Badge colorScheme="blue" className="badge">{t("asr.punctuation")}</Badge> : null}
              <Badge className="badge">{m.sampleRateHertz} Hz</Badge> <span>{m.description}</span>
            </Wrap>
          ))}
        </Box>
      </Section>

      <Section title={t("asr.fileTitle")}>
        <Muted mt={0}>{t("asr.fileNote")}</Muted>
        <Input id="file" data-testid="asr-file" type="file" accept="audio/*,.wav,.flac,.ogg,.opus,.mp3,.webm" p={1} mt={2}
               onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        {file ? <Muted data-testid="asr-file-info">{t("asr.fileInfo", { name: file.name, type: file.type || "?",
                                                                     kib: (file.size / 1024).toFixed(1) })}</Muted> : null}
        <Button id="recognize" colorScheme="blue" mt={3} isDisabled={!api || !file || recognize.isPending}
                onClick={() => recognize.mutate()}>
          {recognize.isPending ? t("asr.transcribing") : t("asr.transcribe")}
        </Button>
        <ErrorBox error={recognize.error} />
        {result && !recognize.isPending && !recognize.error ? (
          <>
            <Output id="transcript">
              {result.results.map((r) => r.alternatives[0]?.transcript ?? "").join(" ")}
            </Output>
            <Muted>{t("asr.resultInfo", { model: result.model, seconds: seconds(result.audioDuration),
                                         confidence: result.results[0]?.alternatives[0]?.confidence.toFixed(2) ?? "" })}</Muted>
            <HStack mt={2}>
              {srt ? <Button size="sm" onClick={() => download("transcript.srt", srt.content, "application/x-subrip")}>SRT</Button> : null}
              {vtt ? <Button size="sm" onClick={() => download("transcript.vtt", vtt.content, "text/vtt")}>WebVTT</Button> : null}
            </HStack>
            <TableContainer mt={3}>
              <Table id="words" size="sm">
                <Thead><Tr><Th>{t("asr.word")}</Th><Th>{t("asr.start")}</Th><Th>{t("asr.end")}</Th><Th>{t("asr.confidence")}</Th></Tr></Thead>
                <Tbody>
                  {result.results.flatMap((r) => r.alternatives[0]?.words ?? []).map((w, i) => (
                    <Tr key={i}><Td dir="auto">{w.word}</Td><Td>{seconds(w.startOffset)}</Td><Td>{seconds(w.endOffset)}</Td>
                      <Td>{w.confidence.toFixed(2)}</Td></Tr>
                  ))}
                </Tbody>
              </Table>
            </TableContainer>
          </>
        ) : null}
      </Section>

      <Section title={t("asr.liveTitle")}>
        <Muted mt={0}>{t("asr.liveNote")}</Muted>
        <HStack mt={3}>
          <Button id="mic-start" colorScheme="blue" isDisabled={!settings || recording} onClick={() => void start()}>{t("common.start")}</Button>
          <Button id="mic-stop" isDisabled={!recording} onClick={stop}>{t("common.stop")}</Button>
        </HStack>
        <Box className="meter" h="10px" bg="gray.200" borderRadius="full" overflow="hidden" mt={2}>
          <Box id="level" h="100%" bg="green.400" transition="width 80ms linear" style={{ width: `${Math.round(level * 100)}%` }} />
        </Box>
        <Output id="live">
          {finals.map((text, i) => <span key={i} className="final">{text} </span>)}
          {interim ? <Box as="span" className="interim" color="gray.500" fontStyle="italic"
                          data-stability={interim.stability.toFixed(2)}>{interim.text}</Box> : null}
        </Output>
        <Muted id="vad">{events.length ? `VAD: ${events.join(" → ")}` : ""}</Muted>
        <ErrorBox error={liveError} />
      </Section>
    </>
  );
}
