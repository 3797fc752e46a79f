"use client";

import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { audio, pipeline } from "@ai4vc/sdk/web";
import { useClients } from "../../lib/api";
import { ErrorBox } from "../../lib/ErrorBox";
import { LiveSpeech } from "./LiveSpeech";

/** RunPipeline in one click: (speech →) text → translation (→ speech), each stage's output shown. */
export default function PipelinePage() {
  const { settings, api } = useClients();
  const cacheKey = `${settings?.edgeUrl}|${settings?.apiKey}`;
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
  return (
    <>
      <section className="card">
        <h1>Pipeline</h1>
        <p className="muted">One RunPipeline call: (speech →) text → translation → speech, each stage&apos;s output below.</p>
        <label><input type="radio" checked={!fromAudio} onChange={() => setFromAudio(false)} /> Text</label>
        <label><input id="from-audio" type="radio" checked={fromAudio} onChange={() => setFromAudio(true)} /> Speech (an audio file)</label>
        {fromAudio ? (
          <div className="row">
            <div><label htmlFor="pipe-file">Audio</label>
              <input id="pipe-file" type="file" accept="audio/*,.wav,.flac,.ogg,.opus,.mp3,.webm" onChange={(e) => setFile(e.target.files?.[0] ?? null)} /></div>
            <div><label htmlFor="pipe-asr">Spoken language</label>
              <select id="pipe-asr" value={asrLanguage || languages[0] || ""} onChange={(e) => setAsrLanguage(e.target.value)}>
                {languages.map((l) => <option key={l} value={l}>{l}</option>)}</select></div>
          </div>
        ) : (
          <>
            <label htmlFor="pipe-text">Text</label>
            <textarea id="pipe-text" dir="auto" value={text} onChange={(e) => setText(e.target.value)} />
          </>
        )}
        <div className="row">
          <div>
            <label><input id="pipe-translate" type="checkbox" checked={translate} onChange={(e) => setTranslate(e.target.checked)} /> Translate</label>
            <select id="pipe-pair" value={chosenPair} onChange={(e) => setPair(e.target.value)} disabled={!translate}>
              {(pairs.data ?? []).map((p) => {
                const value = `${p.sourceLanguageCode}>${p.targetLanguageCode}`;
                return <option key={value} value={value}>{p.sourceLanguageCode} → {p.targetLanguageCode}</option>;
              })}
            </select>
          </div>
          <div>
            <label><input id="pipe-speak" type="checkbox" checked={speak} onChange={(e) => setSpeak(e.target.checked)} /> Speak</label>
            <select id="pipe-voice" value={chosenVoice} onChange={(e) => setVoice(e.target.value)} disabled={!speak}>
              {fitting.map((v) => <option key={v.name} value={v.name}>{v.name}</option>)}
            </select>
          </div>
        </div>
        <button id="pipe-run" disabled={!api || run.isPending || (fromAudio ? !file : !text)} onClick={() => run.mutate()}>
          {run.isPending ? "Running…" : "Run"}</button>
        <ErrorBox error={models.error ?? pairs.error ?? voices.error} />
        <ErrorBox error={run.error} />
        {(run.data ?? []).map((o) => (
          <div key={o.taskIndex} className="stage" data-stage={o.output.case}>
            <label>Stage {o.taskIndex + 1}: {o.output.case}</label>
            {o.output.case === "transcript" ? <div className="output" dir="auto">{o.output.value.transcript}</div> : null}
            {o.output.case === "translation" ? <div className="output" dir="auto">{o.output.value.translatedText}</div> : null}
            {o.output.case === "audio" && url ? <audio id="pipe-player" controls src={url} style={{ width: "100%" }} /> : null}
          </div>
        ))}
      </section>
      <LiveSpeech />
    </>
  );
}
