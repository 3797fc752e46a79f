"use client";

import { Box, Button, Checkbox, HStack, Link, Select, SimpleGrid, Slider, SliderFilledTrack, SliderThumb, SliderTrack,
  Textarea } from "@chakra-ui/react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { audio, tts } from "@ai4vc/sdk/web";
import { useClients, wsCredential, type ShownError } from "../../lib/api";
import { ENCODINGS, FORMATS, downloadMime, playable, type EncodingName } from "../../lib/audioformat";
import { ErrorBox } from "../../lib/ErrorBox";
import { useI18n } from "../../lib/i18n";
import { ltr } from "../../lib/messages";
import { wavFile } from "../../lib/pcm";
import { ChunkPlayer } from "../../lib/player";
import { Field, Muted, Section } from "../../lib/ui";
import { Waveform } from "../../lib/Waveform";
import { AsrStream, streamError as shownStreamError, type StreamError } from "../../lib/wsasr";

const GENDERS: Record<number, "tts.male" | "tts.female" | "tts.neutral"> = { 1: "tts.male", 2: "tts.female", 3: "tts.neutral" };

/** What the page shows of synthesized audio: a player and a waveform (decodable bytes), and a
 * download of the bytes as the service sent them, named and typed for their encoding. */
interface Result {
  play: { bytes: Uint8Array<ArrayBuffer>; mime: string };
  playUrl: string;
  downloadUrl: string;
  fileName: string;
  encoding: EncodingName;
  sampleRate: number;
  size: number;
  voice: string;
  streamed: boolean;
}

function result(encoding: EncodingName, content: Uint8Array, sampleRate: number, voice: string, streamed: boolean): Result {
  const play = playable(encoding, content, sampleRate);
  const download = new Blob([new Uint8Array(content)], { type: downloadMime(encoding, sampleRate) });
  return { play, playUrl: URL.createObjectURL(new Blob([play.bytes], { type: play.mime })),
           downloadUrl: URL.createObjectURL(download), fileName: `speech.${FORMATS[encoding].ext}`, encoding, sampleRate,
           size: content.length, voice, streamed };
}

function Range({ id, label, min, max, step, value, onChange }: {
  id: string; label: string; min: number; max: number; step: number; value: number; onChange: (v: number) => void;
}) {
  return (
    <Field id={id} label={label}>
      <Slider aria-label={label} min={min} max={max} step={step} value={value} onChange={onChange} focusThumbOnChange={false}>
        <SliderTrack><SliderFilledTrack /></SliderTrack>
        <SliderThumb />
      </Slider>
    </Field>
  );
}

export default function TtsPage() {
  const { t } = useI18n();
  const { settings, api, cacheKey } = useClients();
  const [voice, setVoice] = useState("");
  const [text, setText] = useState("");
  const [ssml, setSsml] = useState(false);
  const [rate, setRate] = useState(1);
  const [pitch, setPitch] = useState(0);
  const [volume, setVolume] = useState(0);
  const [encoding, setEncoding] = useState<EncodingName>("WAV");
  const [shown, setShown] = useState<Result | null>(null);
  const voices = useQuery({
    queryKey: ["tts-voices", cacheKey],
    enabled: !!api,
    queryFn: async () => (await api!.tts.listVoices({ pageSize: 1000 })).voices,
  });
  useEffect(() => () => {
    if (shown) { URL.revokeObjectURL(shown.playUrl); URL.revokeObjectURL(shown.downloadUrl); }
  }, [shown]);
  const [streaming, setStreaming] = useState(false);
  const [chunks, setChunks] = useState(0);
  const [streamError, setStreamError] = useState<ShownError | null>(null);
  const [sentence, setSentence] = useState("");

  // BidiStreamingSynthesize over /v1/ws/tts: LINEAR16 chunks played as they arrive (each
  // scheduled right after the one before), then the whole stream as a WAV for the player.
  const stream = async () => {
    if (!settings) return;
    const chosen = voices.data?.find((v) => v.name === voice) ?? voices.data?.[0];
    if (!chosen) return;
    setStreaming(true); setChunks(0); setStreamError(null); setShown(null);
    const player = new ChunkPlayer();
    let sampleRate = chosen.naturalSampleRateHertz || 22_050;
    const parts: Uint8Array[] = [];
    const s = AsrStream.connect(settings.edgeUrl, await wsCredential(settings), {
      voice: { name: chosen.name },
      audioConfig: { encoding: "AUDIO_ENCODING_LINEAR16", speakingRate: rate, pitchSemitones: pitch, volumeGainDb: volume },
    }, {
      onMessage: (m) => {
        const value = m as unknown as { audioConfig?: { sampleRateHertz?: number }; sentenceText?: string };
        if (value.audioConfig?.sampleRateHertz) sampleRate = value.audioConfig.sampleRateHertz;
        if (value.sentenceText) setSentence(value.sentenceText);
      },
      onAudio: (bytes) => {
        parts.push(bytes);
        setChunks((n) => n + 1);
        player.play(bytes, sampleRate);
      },
      onError: (e: StreamError) => {
        setStreamError(shownStreamError(e));
        setStreaming(false);
      },
      onDone: () => {
        const total = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) { total.set(p, at); at += p.length; }
        // The stream is LINEAR16; its download is the same samples with a WAV header.
        setShown(result("WAV", wavFile(total, sampleRate), sampleRate, chosen.name, true));
        setStreaming(false);
      },
    }, "v1/ws/tts");
    s.sendText(text);
    s.end();
  };
  const synthesize = useMutation({
    mutationFn: async () => {
      const chosen = voice || voices.data?.[0]?.name || "";
      setShown(null);
      const answer = await api!.tts.synthesize({
        input: { inputSource: ssml ? { case: "ssml", value: text } : { case: "text", value: text } },
        voice: { name: chosen },
        audioConfig: { encoding: audio.AudioEncoding[encoding], speakingRate: rate, pitchSemitones: pitch, volumeGainDb: volume },
      });
      setShown(result(encoding, answer.audioContent, answer.audioConfig?.sampleRateHertz ?? 0, answer.voiceName, false));
      return answer;
    },
  });
  return (
    <Section title={t("tts.title")} level={1}>
      <ErrorBox error={voices.error} />
      <Field id="voice" label={t("common.voice")}>
        <Select value={voice} onChange={(e) => setVoice(e.target.value)}>
          {(voices.data ?? []).map((v: tts.Voice) => (
            <option key={v.name} value={v.name}>
              {v.name} — {v.languageCodes.join(", ")} · {GENDERS[v.ssmlGender] ? t(GENDERS[v.ssmlGender]) : "?"} · {ltr(`${v.naturalSampleRateHertz} Hz`)}
            </option>
          ))}
        </Select>
      </Field>
      <Field id="text" label={`${t("common.text")}${ssml ? " (SSML)" : ""}`}>
        <Textarea dir="auto" minH="6rem" value={text} onChange={(e) => setText(e.target.value)} />
      </Field>
      <Checkbox id="ssml" mt={2} isChecked={ssml} onChange={(e) => setSsml(e.target.checked)}>SSML</Checkbox>
      <SimpleGrid columns={{ base: 1, md: 4 }} spacing={6}>
        <Range id="rate" label={t("tts.rate", { v: rate })} min={0.25} max={4} step={0.05} value={rate} onChange={setRate} />
        <Range id="pitch" label={t("tts.pitch", { v: pitch })} min={-20} max={20} step={1} value={pitch} onChange={setPitch} />
        <Range id="volume" label={t("tts.volume", { v: volume })} min={-20} max={16} step={1} value={volume} onChange={setVolume} />
        <Field id="encoding" label={t("tts.encoding")}>
          <Select data-testid="encoding" value={encoding} onChange={(e) => setEncoding(e.target.value as EncodingName)}>
            {ENCODINGS.map((name) => <option key={name} value={name}>{name} (.{FORMATS[name].ext})</option>)}
          </Select>
        </Field>
      </SimpleGrid>
      <HStack mt={4} spacing={3} wrap="wrap">
        <Button id="synthesize" colorScheme="blue" isDisabled={!api || synthesize.isPending} onClick={() => synthesize.mutate()}>
          {synthesize.isPending ? t("tts.synthesizing") : t("tts.synthesize")}
        </Button>
        <Button id="stream" colorScheme="gray" isDisabled={!settings || !voices.data?.length || streaming}
                onClick={() => void stream()}>{streaming ? t("tts.streaming") : t("tts.stream")}</Button>
        <Box as="span" id="stream-chunks" className="muted" color="gray.600" fontSize="sm" data-count={chunks}>
          {chunks ? t("tts.chunks", { n: chunks }) : ""}</Box>
      </HStack>
      <Muted>{t("tts.encodingNote")}</Muted>
      {sentence ? <Muted dir="auto">{t("tts.speaking", { text: sentence })}</Muted> : null}
      <ErrorBox error={synthesize.error} />
      <ErrorBox error={streamError} />
      {shown ? (
        <Box mt={4} data-testid="tts-result" data-encoding={shown.encoding}>
          <audio id="player" controls autoPlay={!shown.streamed} src={shown.playUrl} style={{ width: "100%" }} />
          <Waveform bytes={shown.play.bytes} />
          <HStack mt={2} spacing={3} wrap="wrap">
            <Button as={Link} id="download" data-testid="download" href={shown.downloadUrl} download={shown.fileName}
                    size="sm" colorScheme="teal" _hover={{ textDecoration: "none" }}>
              {t("tts.download", { file: shown.fileName })}</Button>
            <Muted mt={0}>{t("tts.resultInfo", { voice: shown.voice, encoding: shown.encoding, rate: shown.sampleRate,
                                                 kib: (shown.size / 1024).toFixed(1) })}</Muted>
          </HStack>
        </Box>
      ) : null}
    </Section>
  );
}
