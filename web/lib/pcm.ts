// Microphone audio to what the ASR stream takes: 16 kHz mono 16-bit little-endian PCM in frames
// of a fixed duration (the bridge allows at most 32 KiB per binary frame). Pure functions, so
// Vitest checks them (tests/pcm.test.ts); the AudioWorklet (public/pcm-capture.js) only copies
// the capture's Float32 blocks to the page, which runs them through a `PcmFramer`.

export const TARGET_RATE = 16_000;

/** Linear-interpolation resampler that keeps its position across blocks (no seams). */
export class Resampler {
  private readonly step: number;
  private position = 0; // in input samples, relative to the start of `carry`
  private carry: Float32Array = new Float32Array(0);

  constructor(readonly fromRate: number, readonly toRate: number = TARGET_RATE) {
    if (!(fromRate > 0) || !(toRate > 0)) throw new RangeError("sample rates must be positive");
    this.step = fromRate / toRate;
  }

  push(block: Float32Array): Float32Array {
    if (this.fromRate === this.toRate) return block.slice();
    const input = new Float32Array(this.carry.length + block.length);
    input.set(this.carry);
    input.set(block, this.carry.length);
    const out: number[] = [];
    while (this.position + 1 < input.length) {
      const i = Math.floor(this.position);
      const frac = this.position - i;
      out.push(input[i] * (1 - frac) + input[i + 1] * frac);
      this.position += this.step;
    }
    // The next output needs input[floor(position)] onwards; that may lie past this block.
    const keep = Math.min(Math.floor(this.position), input.length);
    this.carry = input.slice(keep);
    this.position -= keep;
    return Float32Array.from(out);
  }
}

/** Float samples in [-1, 1] as 16-bit signed little-endian PCM (clipped). */
export function floatToPcm16(samples: Float32Array): Uint8Array {
  const out = new DataView(new ArrayBuffer(samples.length * 2));
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    out.setInt16(i * 2, s < 0 ? Math.round(s * 0x8000) : Math.round(s * 0x7fff), true);
  }
  return new Uint8Array(out.buffer);
}

/** Root-mean-square level of a block, 0..1 (for the level meter). */
export function rms(samples: Float32Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / samples.length);
}

/** Capture blocks in, fixed-size PCM frames out (`frameMs` of 16 kHz audio each). */
export class PcmFramer {
  private readonly resampler: Resampler;
  private readonly frameBytes: number;
  private pending = new Uint8Array(0);

  constructor(inputRate: number, readonly frameMs = 100) {
    this.resampler = new Resampler(inputRate, TARGET_RATE);
    this.frameBytes = (TARGET_RATE * frameMs / 1000) * 2;
  }

  push(block: Float32Array): Uint8Array[] {
    const pcm = floatToPcm16(this.resampler.push(block));
    const joined = new Uint8Array(this.pending.length + pcm.length);
    joined.set(this.pending);
    joined.set(pcm, this.pending.length);
    const frames: Uint8Array[] = [];
    let offset = 0;
    while (joined.length - offset >= this.frameBytes) {
      frames.push(joined.slice(offset, offset + this.frameBytes));
      offset += this.frameBytes;
    }
    this.pending = joined.slice(offset);
    return frames;
  }

  /** What is left (shorter than a frame), at the end of the capture. */
  flush(): Uint8Array | null {
    const rest = this.pending;
    this.pending = new Uint8Array(0);
    return rest.length > 0 ? rest : null;
  }
}

/** 16-bit little-endian PCM bytes as float samples (an odd trailing byte is dropped). */
export function pcm16ToFloat(bytes: Uint8Array): Float32Array<ArrayBuffer> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(Math.floor(bytes.byteLength / 2));
  for (let i = 0; i < out.length; i++) out[i] = view.getInt16(i * 2, true) / 0x8000;
  return out;
}

/** Mono 16-bit PCM wrapped in a RIFF/WAVE header (what the <audio> element plays). */
export function wavFile(pcm: Uint8Array, sampleRate: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(44 + pcm.length);
  const view = new DataView(out.buffer);
  const ascii = (offset: number, text: string) => [...text].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  ascii(0, "RIFF");
  view.setUint32(4, 36 + pcm.length, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  ascii(36, "data");
  view.setUint32(40, pcm.length, true);
  out.set(pcm, 44);
  return out;
}
