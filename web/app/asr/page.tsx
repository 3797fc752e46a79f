"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { asr } from "@ai4vc/sdk/web";
import { useClients, type ShownError } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";
import { openMicrophone, type Microphone } from "../../lib/mic";
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
  const { settings, api } = useClients();
  const [language, setLanguage] = useState("");
  const [model, setModel] = useState("");
  const [file, setFile] = useState<File | null>(null);
  const models = useQuery({
    queryKey: ["asr-models", settings?.edgeUrl, settings?.apiKey],
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
        // No audioConfig: the server reads the file's container header (WAV, FLAC, Ogg, MP3, WebM).
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
      const stream = AsrStream.connect(settings.edgeUrl, settings.apiKey, {
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
      <section className="card">
        <h1>Speech recognition</h1>
        <ErrorBox error={models.error} />
        <div className="row">
          <div>
            <label htmlFor="language">Language</label>
            <select id="language" value={lang} onChange={(e) => { setLanguage(e.target.value); setModel(""); }}>
              {languages.map((code) => <option key={code} value={code}>{code}</option>)}
            </select>
          </div>
          <div>
            <label htmlFor="model">Model</label>
            <select id="model" value={model} onChange={(e) => setModel(e.target.value)}>
              <option value="">default for the language</option>
              {forLanguage.map((m) => <option key={m.name} value={m.name}>{m.name}</option>)}
            </select>
          </div>
        </div>
        <div id="models">
          {forLanguage.map((m) => (
            <div key={m.name} className="muted" data-model={m.name}>
              <code>{m.name}</code> {m.supportsStreaming ? <span className="badge">streaming</span> : null}
              {m.supportsWordTimeOffsets ? <span className="badge">word timings</span> : null}
              {m.supportsAutomaticPunctuation ? <span className="badge">punctuation</span> : null}
              <span className="badge">{m.sampleRateHertz} Hz</span> {m.description}
            </div>
          ))}
        </div>
      </section>

      <section className="card">
        <h2>Transcribe a file</h2>
        <input id="file" type="file" accept="audio/*,.wav,.flac,.ogg,.opus,.mp3,.webm" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        <br />
        <button id="recognize" disabled={!api || !file || recognize.isPending} onClick={() => recognize.mutate()}>
          {recognize.isPending ? "Transcribing…" : "Transcribe"}
        </button>
        <ErrorBox error={recognize.error} />
        {result ? (
          <>
            <div id="transcript" className="output" dir="auto">
              {result.results.map((r) => r.alternatives[0]?.transcript ?? "").join(" ")}
            </div>
            <p className="muted">model {result.model} · {seconds(result.audioDuration)} s of audio ·
              confidence {result.results[0]?.alternatives[0]?.confidence.toFixed(2)}</p>
            {srt ? <button className="secondary" onClick={() => download("transcript.srt", srt.content, "application/x-subrip")}>SRT</button> : null}{" "}
            {vtt ? <button className="secondary" onClick={() => download("transcript.vtt", vtt.content, "text/vtt")}>WebVTT</button> : null}
            <table id="words">
              <thead><tr><th>word</th><th>start</th><th>end</th><th>confidence</th></tr></thead>
              <tbody>
                {result.results.flatMap((r) => r.alternatives[0]?.words ?? []).map((w, i) => (
                  <tr key={i}><td dir="auto">{w.word}</td><td>{seconds(w.startOffset)}</td><td>{seconds(w.endOffset)}</td>
                    <td>{w.confidence.toFixed(2)}</td></tr>
                ))}
              </tbody>
            </table>
          </>
        ) : null}
      </section>

      <section className="card">
        <h2>Live microphone</h2>
        <p className="muted">16 kHz PCM from an AudioWorklet over the WebSocket bridge (/v1/ws/asr).</p>
        <button id="mic-start" disabled={!settings || recording} onClick={() => void start()}>Start</button>{" "}
        <button id="mic-stop" className="secondary" disabled={!recording} onClick={stop}>Stop</button>
        <div className="meter"><div id="level" style={{ width: `${Math.round(level * 100)}%` }} /></div>
        <div id="live" className="output" dir="auto">
          {finals.map((t, i) => <span key={i} className="final">{t} </span>)}
          {interim ? <span className="interim" data-stability={interim.stability.toFixed(2)}>{interim.text}</span> : null}
        </div>
        <p id="vad" className="muted">{events.length ? `VAD: ${events.join(" → ")}` : ""}</p>
        <ErrorBox error={liveError} />
      </section>
    </>
  );
}
