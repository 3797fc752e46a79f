import Link from "next/link";

export default function Home() {
  return (
    <section className="card">
      <h1>AI4V-C console</h1>
      <p>Try the platform&apos;s services in the browser. Set the edge URL and your API key in{" "}
        <Link href="/settings/">Settings</Link> first (kept in this browser only).</p>
      <ul>
        <li><Link href="/asr/">ASR</Link>: transcribe a file, or speak into the microphone (live, over the WebSocket bridge)</li>
        <li><Link href="/tts/">TTS</Link>: synthesize text with a voice and play it</li>
        <li><Link href="/nmt/">NMT</Link>: translate between the deployment&apos;s language pairs, transliterate as you type</li>
        <li><Link href="/pipeline/">Pipeline</Link>: (speech →) text → translation → speech in one call</li>
      </ul>
    </section>
  );
}
