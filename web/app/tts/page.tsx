"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { audio, tts } from "@ai4vc/sdk/web";
import { useClients } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";

const GENDERS: Record<number, string> = { 1: "male", 2: "female", 3: "neutral" };

export default function TtsPage() {
  const { settings, api } = useClients();
  const [voice, setVoice] = useState("");
  const [text, setText] = useState("");
  const [ssml, setSsml] = useState(false);
  const [rate, setRate] = useState(1);
  const [pitch, setPitch] = useState(0);
  const [volume, setVolume] = useState(0);
  const [url, setUrl] = useState("");
  const voices = useQuery({
    queryKey: ["tts-voices", settings?.edgeUrl, settings?.apiKey],
    enabled: !!api,
    queryFn: async () => (await api!.tts.listVoices({ pageSize: 1000 })).voices,
  });
  useEffect(() => () => { if (url) URL.revokeObjectURL(url); }, [url]);
  const synthesize = useMutation({
    mutationFn: async () => {
      const chosen = voice || voices.data?.[0]?.name || "";
      const answer = await api!.tts.synthesize({
        input: { inputSource: ssml ? { case: "ssml", value: text } : { case: "text", value: text } },
        voice: { name: chosen },
        audioConfig: { encoding: audio.AudioEncoding.WAV, speakingRate: rate, pitchSemitones: pitch, volumeGainDb: volume },
      });
      const blob = new Blob([answer.audioContent.slice()], { type: "audio/wav" });
      setUrl(URL.createObjectURL(blob));
      return answer;
    },
  });
  return (
    <section className="card">
      <h1>Synthesize speech</h1>
      <ErrorBox error={voices.error} />
      <label htmlFor="voice">Voice</label>
      <select id="voice" value={voice} onChange={(e) => setVoice(e.target.value)}>
        {(voices.data ?? []).map((v: tts.Voice) => (
          <option key={v.name} value={v.name}>
            {v.name} — {v.languageCodes.join(", ")} · {GENDERS[v.ssmlGender] ?? "?"} · {v.naturalSampleRateHertz} Hz
          </option>
        ))}
      </select>
      <label htmlFor="text">Text {ssml ? "(SSML)" : ""}</label>
      <textarea id="text" dir="auto" value={text} onChange={(e) => setText(e.target.value)} />
      <label><input type="checkbox" checked={ssml} onChange={(e) => setSsml(e.target.checked)} /> SSML</label>
      <div className="row">
        <div><label htmlFor="rate">Rate {rate}</label>
          <input id="rate" type="range" min={0.25} max={4} step={0.05} value={rate} onChange={(e) => setRate(Number(e.target.value))} /></div>
        <div><label htmlFor="pitch">Pitch {pitch} st</label>
          <input id="pitch" type="range" min={-20} max={20} step={1} value={pitch} onChange={(e) => setPitch(Number(e.target.value))} /></div>
        <div><label htmlFor="volume">Volume {volume} dB</label>
          <input id="volume" type="range" min={-20} max={16} step={1} value={volume} onChange={(e) => setVolume(Number(e.target.value))} /></div>
      </div>
      <button id="synthesize" disabled={!api || synthesize.isPending} onClick={() => synthesize.mutate()}>
        {synthesize.isPending ? "Synthesizing…" : "Synthesize"}
      </button>
      <ErrorBox error={synthesize.error} />
      {url ? (
        <div>
          <audio id="player" controls autoPlay src={url} style={{ width: "100%", marginTop: "1rem" }} />
          <a href={url} download="speech.wav">Download WAV</a>
          <span className="muted"> · voice {synthesize.data?.voiceName}</span>
        </div>
      ) : null}
    </section>
  );
}
