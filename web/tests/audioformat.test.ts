import { describe, expect, it } from "vitest";
import { ENCODINGS, FORMATS, alawToLinear, downloadMime, g711ToPcm16, mulawToLinear, peaks, playable } from "../lib/audioformat";

describe("formats", () => {
  it("name every encoding of ai4vc.audio.v1 but UNSPECIFIED, with distinct extensions", () => {
    expect([...ENCODINGS].sort()).toEqual(["ALAW", "FLAC", "LINEAR16", "MP3", "MULAW", "OGG_OPUS", "OGG_VORBIS", "WAV", "WEBM_OPUS"]);
    expect(new Set(ENCODINGS.map((e) => FORMATS[e].ext)).size).toBe(ENCODINGS.length);
    expect(downloadMime("MP3", 22050)).toBe("audio/mpeg");
    expect(downloadMime("LINEAR16", 22050)).toBe("audio/L16;rate=22050");
    expect(downloadMime("MULAW", 8000)).toBe("audio/PCMU;rate=8000");
  });
});

describe("G.711", () => {
  it("decodes mu-law's and A-law's zeros and extremes as the standard's tables say", () => {
    expect(mulawToLinear(0xff)).toBe(0);
    expect(mulawToLinear(0x7f)).toBe(0);
    expect(mulawToLinear(0x80)).toBe(32124);
    expect(mulawToLinear(0x00)).toBe(-32124);
    expect(alawToLinear(0xd5)).toBe(8);
    expect(alawToLinear(0x55)).toBe(-8);
    expect(alawToLinear(0xaa)).toBe(32256);
    expect(alawToLinear(0x2a)).toBe(-32256);
  });

  it("is monotonic over each law's positive codes (a bigger code is never a smaller sample)", () => {
    const mu = Array.from({ length: 128 }, (_, i) => mulawToLinear(0xff - i));
    for (let i = 1; i < mu.length; i++) expect(mu[i]).toBeGreaterThan(mu[i - 1]);
    const a = Array.from({ length: 128 }, (_, i) => alawToLinear((0x80 | i) ^ 0x55));
    for (let i = 1; i < a.length; i++) expect(a[i]).toBeGreaterThan(a[i - 1]);
  });

  it("turns G.711 bytes into little-endian 16-bit PCM, two bytes per sample", () => {
    const pcm = g711ToPcm16(new Uint8Array([0x80, 0xff]), "MULAW");
    expect(Array.from(new Int16Array(pcm.buffer))).toEqual([32124, 0]);
  });
});

describe("playable", () => {
  it("wraps raw samples in a WAV header of their rate and passes containers through", () => {
    const raw = playable("LINEAR16", new Uint8Array([1, 0, 2, 0]), 16000);
    expect(raw.mime).toBe("audio/wav");
    expect(new TextDecoder().decode(raw.bytes.slice(0, 4))).toBe("RIFF");
    expect(new DataView(raw.bytes.buffer).getUint32(24, true)).toBe(16000);
    expect(raw.bytes.length).toBe(44 + 4);
    const law = playable("ALAW", new Uint8Array([0xd5, 0xd5, 0xd5]), 8000);
    expect(law.bytes.length).toBe(44 + 6);
    const mp3 = playable("MP3", new Uint8Array([0x49, 0x44, 0x33]), 0);
    expect(mp3).toEqual({ bytes: new Uint8Array([0x49, 0x44, 0x33]), mime: "audio/mpeg" });
  });
});

describe("peaks", () => {
  it("gives each column the lowest and highest sample of its slice", () => {
    const { min, max } = peaks(Float32Array.from([0, 0.5, -0.25, 1, -1, 0.1]), 3);
    expect(Array.from(min)).toEqual([0, -0.25, -1]);
    expect(Array.from(max)).toEqual([0.5, 1, 0.10000000149011612]);
  });

  it("spreads fewer samples than columns and draws silence flat", () => {
    expect(Array.from(peaks(Float32Array.from([0.5]), 2).max)).toEqual([0.5, 0.5]);
    expect(Array.from(peaks(new Float32Array(0), 4).max)).toEqual([0, 0, 0, 0]);
  });
});
