// Streamed 16-bit PCM played as it arrives: each chunk scheduled right after the one before on
// one AudioContext (created at the first chunk), so chunks play back to back without gaps.
// Used by the TTS page's stream and the pipeline page's live speech to speech.

import { pcm16ToFloat } from "./pcm";

export class ChunkPlayer {
  private context: AudioContext | null = null;
  private next = 0;

  play(pcm: Uint8Array, rate: number): void {
    const samples = pcm16ToFloat(pcm);
    if (samples.length === 0 || !(rate > 0)) return;
    this.context ??= new AudioContext();
    const buffer = this.context.createBuffer(1, samples.length, rate);
    buffer.copyToChannel(samples, 0);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.context.destination);
    this.next = Math.max(this.next, this.context.currentTime);
    source.start(this.next);
    this.next += buffer.duration;
  }

  close(): void {
    void this.context?.close();
    this.context = null;
    this.next = 0;
  }
}
