// What the TTS page does with audio in each encoding the platform names (proto/ai4vc/audio/v1):
// the file name and MIME type a download gets, and how the browser can play and draw it — a
// container it decodes itself, or headerless samples (LINEAR16, G.711 mu-law / A-law) turned into
// a WAV here. Pure functions, so Vitest checks them (tests/audioformat.test.ts).

import { wavFile } from "./pcm";

export interface AudioFormat {
  /** File extension of a download, without the dot. */
  ext: string;
  /** MIME type of a download (RFC 3551 / IANA names for the raw ones). */
  mime: string;
  /** Headerless samples: the sample rate travels beside them, not in the bytes. */
  raw: boolean;
}

/** Every encoding of ai4vc.audio.v1.AudioEncoding but UNSPECIFIED, by its short name. */
export const FORMATS = {
  WAV: { ext: "wav", mime: "audio/wav", raw: false },
  LINEAR16: { ext: "pcm", mime: "audio/L16", raw: true },
  FLAC: { ext: "flac", mime: "audio/flac", raw: false },
  OGG_OPUS: { ext: "opus", mime: "audio/ogg; codecs=opus", raw: false },
  OGG_VORBIS: { ext: "ogg", mime: "audio/ogg; codecs=vorbis", raw: false },
  WEBM_OPUS: { ext: "webm", mime: "audio/webm; codecs=opus", raw: false },
  MULAW: { ext: "ulaw", mime: "audio/PCMU", raw: true },
  ALAW: { ext: "alaw", mime: "audio/PCMA", raw: true },
  MP3: { ext: "mp3", mime: "audio/mpeg", raw: false },
} as const satisfies Record<string, AudioFormat>;

export type EncodingName = keyof typeof FORMATS;
export const ENCODINGS = Object.keys(FORMATS) as EncodingName[];

/** The MIME type of a download; raw samples carry their rate (RFC 3551: audio/L16;rate=…),
 * without which they mean nothing. */
export function downloadMime(name: EncodingName, sampleRate: number): string {
  const format: AudioFormat = FORMATS[name];
  return format.raw ? `${format.mime};rate=${sampleRate}` : format.mime;
}

/** One G.711 mu-law byte as a 16-bit sample (ITU-T G.711; 0xFF and 0x7F are the two zeros). */
export function mulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const magnitude = ((((u & 0x0f) << 3) + 0x84) << ((u >> 4) & 0x07)) - 0x84;
  return u & 0x80 ? 0 - magnitude || 0 : magnitude;
}

/** One G.711 A-law byte as a 16-bit sample (even bits inverted on the wire: the 0x55 mask). */
export function alawToLinear(byte: number): number {
  const a = (byte ^ 0x55) & 0xff;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  const magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

/** G.711 bytes as 16-bit little-endian PCM. */
export function g711ToPcm16(bytes: Uint8Array, law: "MULAW" | "ALAW"): Uint8Array {
  const decode = law === "MULAW" ? mulawToLinear : alawToLinear;
  const out = new DataView(new ArrayBuffer(bytes.length * 2));
  for (let i = 0; i < bytes.length; i++) out.setInt16(i * 2, decode(bytes[i]), true);
  return new Uint8Array(out.buffer);
}

/** Bytes the browser's <audio> and decodeAudioData take, for audio in `name`: raw samples get a
 * WAV header (G.711 decoded first), containers pass as they are. */
export function playable(name: EncodingName, bytes: Uint8Array, sampleRate: number): { bytes: Uint8Array<ArrayBuffer>; mime: string } {
  if (name === "LINEAR16") return { bytes: wavFile(bytes, sampleRate), mime: "audio/wav" };
  if (name === "MULAW" || name === "ALAW") return { bytes: wavFile(g711ToPcm16(bytes, name), sampleRate), mime: "audio/wav" };
  return { bytes: new Uint8Array(bytes), mime: FORMATS[name].mime };
}

/** Per column of a waveform drawing, the lowest and highest sample in its slice of the audio. */
export function peaks(samples: Float32Array, columns: number): { min: Float32Array; max: Float32Array } {
  const n = Math.max(0, Math.floor(columns));
  const min = new Float32Array(n);
  const max = new Float32Array(n);
  if (samples.length === 0) return { min, max };
  for (let c = 0; c < n; c++) {
    const start = Math.floor((c * samples.length) / n);
    const end = Math.max(start + 1, Math.floor(((c + 1) * samples.length) / n));
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = start; i < end && i < samples.length; i++) {
      lo = Math.min(lo, samples[i]);
      hi = Math.max(hi, samples[i]);
    }
    min[c] = lo === Infinity ? 0 : lo;
    max[c] = hi === -Infinity ? 0 : hi;
  }
  return { min, max };
}
