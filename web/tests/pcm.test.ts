import { describe, expect, it } from "vitest";
import { PcmFramer, Resampler, TARGET_RATE, floatToPcm16, pcm16ToFloat, rms, wavFile } from "../lib/pcm";

function sine(rate: number, hz: number, n: number, start = 0): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * hz * (start + i)) / rate));
}

describe("Resampler", () => {
  it("48 kHz to 16 kHz gives a third of the samples, in any block split", () => {
    const whole = new Resampler(48_000).push(sine(48_000, 440, 4800));
    const split = new Resampler(48_000);
    const parts: number[] = [];
    for (let i = 0; i < 4800; i += 128) parts.push(...split.push(sine(48_000, 440, Math.min(128, 4800 - i), i)));
    expect(Math.abs(whole.length - 1600)).toBeLessThanOrEqual(1);
    expect(parts.length).toBe(whole.length);
    parts.forEach((v, i) => expect(v).toBeCloseTo(whole[i], 5));
  });

  it("keeps the tone: the resampled sine matches one computed at 16 kHz", () => {
    const out = new Resampler(44_100).push(sine(44_100, 300, 44_100));
    const expected = sine(16_000, 300, out.length);
    for (let i = 0; i < out.length; i += 97) expect(out[i]).toBeCloseTo(expected[i], 2);
  });

  it("16 kHz in is 16 kHz out unchanged", () => {
    const block = sine(16_000, 200, 128);
    expect(Array.from(new Resampler(16_000).push(block))).toEqual(Array.from(block));
  });

  it("refuses a rate of zero", () => {
    expect(() => new Resampler(0)).toThrow(RangeError);
  });
});

describe("floatToPcm16", () => {
  it("writes little-endian 16-bit samples, clipped", () => {
    const pcm = floatToPcm16(Float32Array.from([0, 1, -1, 2, -0.5]));
    const view = new DataView(pcm.buffer);
    expect([0, 1, 2, 3, 4].map((i) => view.getInt16(i * 2, true))).toEqual([0, 32767, -32768, 32767, -16384]);
  });
});

describe("PcmFramer", () => {
  it("frames 48 kHz capture blocks into 100 ms frames of 3,200 bytes and keeps the rest", () => {
    const framer = new PcmFramer(48_000, 100);
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 48_000; i += 128) frames.push(...framer.push(sine(48_000, 440, 128, i)));
    expect(frames.every((f) => f.length === (TARGET_RATE / 10) * 2)).toBe(true);
    const rest = framer.flush();
    const total = frames.length * 3200 + (rest?.length ?? 0);
    expect(Math.abs(total - TARGET_RATE * 2)).toBeLessThanOrEqual(4);
    expect(frames.length).toBe(10); // 16,000 samples: exactly ten 100 ms frames
    expect(framer.flush()).toBeNull();
  });

  it("every frame is under the bridge's 32 KiB limit", () => {
    const framer = new PcmFramer(16_000, 1000);
    const frames = framer.push(new Float32Array(48_000));
    expect(frames).toHaveLength(3);
    expect(Math.max(...frames.map((f) => f.length))).toBeLessThanOrEqual(32_768);
  });
});

describe("rms", () => {
  it("is 0 for silence and ~0.707 for a full-scale sine", () => {
    expect(rms(new Float32Array(10))).toBe(0);
    expect(rms(sine(16_000, 100, 16_000))).toBeCloseTo(Math.SQRT1_2, 2);
  });
});

describe("pcm16ToFloat and wavFile", () => {
  it("round-trips samples through 16-bit PCM", () => {
    const back = pcm16ToFloat(floatToPcm16(Float32Array.from([0, 0.5, -0.5, -1])));
    expect(Array.from(back).map((v) => Math.round(v * 1000) / 1000)).toEqual([0, 0.5, -0.5, -1]);
    expect(pcm16ToFloat(new Uint8Array(3))).toHaveLength(1);
  });

  it("writes a 44-byte mono 16-bit RIFF header with the rate and the data length", () => {
    const wav = wavFile(new Uint8Array(100), 22_050);
    const view = new DataView(wav.buffer);
    const text = (at: number) => String.fromCharCode(...wav.slice(at, at + 4));
    expect([text(0), text(8), text(12), text(36)]).toEqual(["RIFF", "WAVE", "fmt ", "data"]);
    expect(view.getUint32(4, true)).toBe(136);
    expect(view.getUint16(22, true)).toBe(1);
    expect(view.getUint32(24, true)).toBe(22_050);
    expect(view.getUint32(40, true)).toBe(100);
    expect(wav.length).toBe(144);
  });
});
