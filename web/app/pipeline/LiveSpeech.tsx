"use client";

import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useClients, type ShownError } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";
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
  const { settings, api } = useClients();
  const cacheKey = `${settings?.edgeUrl}|${settings?.apiKey}`;
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
    const stream = AsrStream.connect(settings.edgeUrl, settings.apiKey, {
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
    <section className="card">
      <h2>Live speech to speech</h2>
      <p className="muted">Speak: each utterance is recognized (interim text as you speak), translated when a
        target is chosen, and spoken back as its audio streams in — one StreamingSpeechToSpeech over
        the WebSocket bridge (/v1/ws/speech-to-speech).</p>
      <div className="row">
        <div><label htmlFor="s2s-spoken">Spoken language</label>
          <select id="s2s-spoken" value={spoken} onChange={(e) => setSpoken(e.target.value)} disabled={running}>
            {languages.map((l) => <option key={l} value={l}>{l}</option>)}</select></div>
        <div><label htmlFor="s2s-target">Translate into</label>
          <select id="s2s-target" value={target} onChange={(e) => setTarget(e.target.value)} disabled={running}>
            <option value="">no translation</option>
            {targets.map((l) => <option key={l} value={l}>{l}</option>)}</select></div>
        <div><label htmlFor="s2s-voice">Voice</label>
          <select id="s2s-voice" value={voice?.name ?? ""} onChange={(e) => setVoice(e.target.value)} disabled={running}>
            {fitting.map((v) => <option key={v.name} value={v.name}>{v.name}</option>)}</select></div>
      </div>
      <button id="s2s-start" disabled={!settings || running || !voice || !spoken} onClick={() => void start()}>Start</button>{" "}
      <button id="s2s-stop" className="secondary" disabled={!running} onClick={stop}>Stop</button>
      <div className="meter"><div id="s2s-level" style={{ width: `${Math.round(level * 100)}%` }} /></div>
      {!voice && voices.data ? <p className="muted">No voice speaks {speakIn || "this language"} here.</p> : null}
      <ErrorBox error={models.error ?? pairs.error ?? voices.error} />
      <div id="s2s-error"><ErrorBox error={error} /></div>
      <div id="s2s">
        {utterances.map((u, i) => (
          <div key={i} className="stage utterance" data-index={i} data-audio-bytes={u.audioBytes}>
            <label>Utterance {i + 1}{u.voice ? ` · ${u.voice}` : ""}</label>
            <div className="output" dir="auto">
              {u.final !== null ? <span className="final">{u.final}</span>
                : <span className="interim" data-stability={u.stability.toFixed(2)}>{u.interim}</span>}
            </div>
            {u.translation !== null ? <div className="output translation" dir="auto">{u.translation}</div> : null}
            {u.audioBytes ? <p className="muted spoken">{(u.audioBytes / 1024).toFixed(1)} KiB of speech played</p> : null}
          </div>
        ))}
      </div>
    </section>
  );
}
