import { describe, expect, it } from "vitest";
import { LOCALES, MESSAGES, format, isLocale, ltr, placeholders } from "../lib/messages";

const keys = Object.keys(MESSAGES.en).sort();

describe("interface dictionaries", () => {
  it("offer English, Hindi, Tamil and Urdu, Urdu right-to-left", () => {
    expect(Object.keys(LOCALES).sort()).toEqual(["en", "hi", "ta", "ur"]);
    expect(LOCALES.ur.dir).toBe("rtl");
    expect(Object.values(LOCALES).filter((l) => l.dir === "rtl")).toHaveLength(1);
  });

  for (const [locale, dictionary] of Object.entries(MESSAGES)) {
    it(`${locale} has every key, no other, each non-empty with English's placeholders`, () => {
      expect(Object.keys(dictionary).sort()).toEqual(keys);
      for (const key of keys) {
        const text = dictionary[key as keyof typeof dictionary];
        expect(text.trim(), `${locale} ${key}`).not.toBe("");
        expect(placeholders(text), `${locale} ${key}`).toEqual(placeholders(MESSAGES.en[key as keyof typeof MESSAGES.en]));
      }
    });
  }

  it("are translated, not copies of English (in their own scripts)", () => {
    const scripts = { hi: /[\u0900-\u097f]/u, ta: /[\u0b80-\u0bff]/u, ur: /[\u0600-\u06ff]/u };
    for (const [locale, script] of Object.entries(scripts)) {
      const dictionary = MESSAGES[locale as keyof typeof MESSAGES];
      expect(script.test(dictionary["nav.settings"]), locale).toBe(true);
      const same = keys.filter((k) => dictionary[k as keyof typeof dictionary] === MESSAGES.en[k as keyof typeof MESSAGES.en]);
      // Only messages made of names and numbers stay as they are (e.g. "{name} · {type} · {kib} KiB").
      expect(same.filter((k) => k !== "asr.fileInfo"), locale).toEqual([]);
    }
  });
});

describe("right to left", () => {
  it("keeps Urdu's numbers with Latin units in left-to-right isolates (not \"Hz 22050\")", () => {
    for (const [key, text] of Object.entries(MESSAGES.ur)) {
      for (const match of text.matchAll(/\{\w+\} (Hz|KiB|dB|st|kHz)/g)) {
        expect(text.slice(0, match.index).endsWith("\u2066"), key).toBe(true);
      }
    }
    expect(ltr("22050 Hz")).toBe("\u206622050 Hz\u2069");
  });
});

describe("format", () => {
  it("fills placeholders and leaves unknown ones", () => {
    expect(format("{n} chunks of {what}", { n: 3 })).toBe("3 chunks of {what}");
    expect(format("no values")).toBe("no values");
    expect(isLocale("ur")).toBe(true);
    expect(isLocale("toString")).toBe(false);
  });
});
