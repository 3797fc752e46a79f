"use client";

import { Box, Button, HStack, Select, SimpleGrid, Text } from "@chakra-ui/react";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useClients, wsCredential, type ShownError } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";
import { useI18n } from "../../lib/i18n";
import { Field, Muted, Output, Section } from "../../lib/ui";
import { openMicrophone, type Microphone } from "../../lib/mic";
import { ChunkPlayer } from "../../lib/player";
import { AsrStream, streamError } from "../../lib/wsasr";

/** One utterance of the stream, as its events arrive (StreamingSpeechToSpeechResponse). */
interface Utterance {
  interim: string;
  stability: number;
  final: string | null;
  translation: string | null;
  audioBytes: number;
  voice: string;
}

interface S2sEvent {
  utteranceIndex?: number;
  transcript?: { transcript?: string; isFinal?: boolean; stability?: number };
  translation?: { translatedText?: string };
  audio?: { audioConfig?: { sampleRateHertz?: number }; voiceName?: string };
}

const EMPTY: Utterance = { interim: "", stability: 0, final: null, translation: null, audioBytes: 0, voice: "" };

/** The live speech-to-speech stream (/v1/ws/speech-to-speech → PipelineService.StreamingSpeechToSpeech):
 * the microphone in; per utterance its interim and final transcripts, its translation and its speech,
 * played as the chunks arrive. */
export function LiveSpeech() {
  const { t } = useI18n();
  const { settings, api, cacheKey } = useClients();
  const models = useQuery({ queryKey: ["asr-models", cacheKey], enabled: !!api,
    queryFn: async () => (await api!.asr.listModels({ pageSize: 1000 })).models });
  const pairs = useQuery({ queryKey: ["nmt-pairs", cacheKey], enabled: !!api,
    queryFn: async () => (await api!.nmt.listLanguagePairs({ pageSize: 1000 })).languagePairs });
  const voices = useQuery({ queryKey: ["tts-voices", cacheKey], enabled: !!api,
    queryFn: async () => (await api!.tts.listVoices({ pageSize: 1000 })).voices });
  const streaming = (models.data ?? []).filter((m) => m.supportsStreaming);
  const languages = [...new Set(streaming.flatMap((m) => m.languageCodes))].sort();
  const [spokenChoice, setSpoken] = useState("");
  const spoken = spokenChoice && languages.includes(spokenChoice) ? spokenChoice : languages[0] ?? "";
  const base = (code: string) => code.split("-")[0];
  const targets = [...new Set((pairs.data ?? []).filter((p) => base(p.sourceLanguageCode) === base(spoken))
    .map((p) => p.targetLanguageCode))].sort();
  const [targetChoice, setTarget] = useState("");
  const target = targets.includes(targetChoice) ? targetChoice : "";
  const speakIn = target || spoken;
  const fitting = (voices.data ?? []).filter((v) => v.languageCodes.some((c) => base(c) === base(speakIn)));
  const [voiceChoice, setVoice] = useState("");
  const voice = fitting.find((v) => v.name === voiceChoice) ?? fitting[0];

  const [utterances, setUtterances] = useState<Utterance[]>([]);
  const [running, setRunning] = useState(false);
  const [level, setLevel] = useState(0);
  const [error, setError] = useState<ShownError | null>(null);
  const live = useRef<{ stream: AsrStream; mic: Microphone | null; player: ChunkPlayer } | null>(null);

  const update = (index: number, change: (u: Utterance) => Utterance) =>
    setUtterances((all) => {
      const out = [...all];
      while (out.length <= index) out.push({ ...EMPTY });
      out[index] = change(out[index]);
      return out;
    });

  const finish = () => {
    live.current?.mic?.stop();
    setRunning(false);
  };

  const start = async () => {
    if (!settings || !voice) return;
    setUtterances([]); setError(null);
    const player = new ChunkPlayer();
    // Audio arrives as a JSON frame (utterance index, settings on the first chunk) then the bytes.
    let audioFor = 0;
    let rate = 0;
    const stream = AsrStream.connect(settings.edgeUrl, await wsCredential(settings), {
      recognitionConfig: {
        config: { languageCode: spoken, audioConfig: { encoding: "AUDIO_ENCODING_LINEAR16", sampleRateHertz: 16000,
                                                       audioChannelCount: 1 } },
        interimResults: true,
      },
      targetLanguageCode: target,
      voice: { name: voice.name, languageCode: voice.languageCodes.find((c) => base(c) === base(speakIn)) ?? speakIn },
      audioConfig: { encoding: "AUDIO_ENCODING_LINEAR16" },
    }, {
      onMessage: (message) => {
        const event = message as S2sEvent;
        const index = event.utteranceIndex ?? 0;
        if (event.transcript) {
          const t = event.transcript;
          update(index, (u) => t.isFinal ? { ...u, final: t.transcript ?? "", interim: "" }
                                          : { ...u, interim: t.transcript ?? "", stability: t.stability ?? 0 });
        } else if (event.translation) {
          update(index, (u) => ({ ...u, translation: event.translation!.translatedText ?? "" }));
        } else if (event.audio) {
          audioFor = index;
          if (event.audio.audioConfig?.sampleRateHertz) rate = event.audio.audioConfig.sampleRateHertz;
          if (event.audio.voiceName) update(index, (u) => ({ ...u, voice: event.audio!.voiceName! }));
        }
      },
      onAudio: (bytes) => {
        player.play(bytes, rate);
        update(audioFor, (u) => ({ ...u, audioBytes: u.audioBytes + bytes.length }));
      },
      onError: (e) => { setError(streamError(e)); finish(); },
      onDone: finish,
    }, "v1/ws/speech-to-speech");
    live.current = { stream, mic: null, player };
    try {
      live.current.mic = await openMicrophone((frame) => stream.sendAudio(frame), setLevel);
      setRunning(true);
    } catch (e) {
      stream.close();
      setError({ code: "microphone", message: String(e), fields: [] });
    }
  };

  const stop = () => {
    const current = live.current;
    if (!current) return;
    const rest = current.mic?.stop();
    if (rest) current.stream.sendAudio(rest);
    current.stream.end();
  };

  useEffect(() => () => { live.current?.stream.close(); live.current?.mic?.stop(); live.current?.player.close(); }, []);

  return (
    <Section title={t("s2s.title")}>
      <Muted mt={0}>{t("s2s.note")}</Muted>
      <SimpleGrid columns={{ base: 1, md: 3 }} spacing={4}>
        <Field id="s2s-spoken" label={t("pipe.spoken")}>
          <Select value={spoken} onChange={(e) => setSpoken(e.target.value)} isDisabled={running}>
            {languages.map((l) => <option key={l} value={l}>{l}</option>)}</Select>
        </Field>
        <Field id="s2s-target" label={t("s2s.target")}>
          <Select value={target} onChange={(e) => setTarget(e.target.value)} isDisabled={running}>
            <option value="">{t("s2s.noTranslation")}</option>
            {targets.map((l) => <option key={l} value={l}>{l}</option>)}</Select>
        </Field>
        <Field id="s2s-voice" label={t("common.voice")}>
          <Select value={voice?.name ?? ""} onChange={(e) => setVoice(e.target.value)} isDisabled={running}>
            {fitting.map((v) => <option key={v.name} value={v.name}>{v.name}</option>)}</Select>
        </Field>
      </SimpleGrid>
      <HStack mt={3}>
        <Button id="s2s-start" colorScheme="blue" isDisabled={!settings || running || !voice || !spoken}
                onClick={() => void start()}>{t("common.start")}</Button>
        <Button id="s2s-stop" isDisabled={!running} onClick={stop}>{t("common.stop")}</Button>
      </HStack>
      <Box className="meter" h="10px" bg="gray.200" borderRadius="full" overflow="hidden" mt={2}>
        <Box id="s2s-level" h="100%" bg="green.400" transition="width 80ms linear" style={{ width: `${Math.round(level * 100)}%` }} />
      </Box>
      {!voice && voices.data ? <Muted>{t("s2s.noVoice", { language: speakIn || "?" })}</Muted> : null}
      <ErrorBox error={models.error ?? pairs.error ?? voices.error} />
      <div id="s2s-error"><ErrorBox error={error} /></div>
      <div id="s2s">
        {utterances.map((u, i) => (
          <Box key={i} className="stage utterance" data-index={i} data-audio-bytes={u.audioBytes} mt={4}>
            <Text fontSize="sm" color="gray.600">{t("s2s.utterance", { n: i + 1 })}{u.voice ? ` · ${u.voice}` : ""}</Text>
            <Output>
              {u.final !== null ? <span className="final">{u.final}</span>
                : <Box as="span" className="interim" color="gray.500" fontStyle="italic"
                       data-stability={u.stability.toFixed(2)}>{u.interim}</Box>}
            </Output>
            {u.translation !== null ? <Output className="output translation">{u.translation}</Output> : null}
            {u.audioBytes ? <Muted className="muted spoken">{t("s2s.played", { kib: (u.audioBytes / 1024).toFixed(1) })}</Muted> : null}
          </Box>
        ))}
      </div>
    </Section>
  );
}
