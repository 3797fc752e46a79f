// The console's own words in the chosen interface language (lib/messages.ts holds the
// dictionaries), kept in localStorage; Urdu turns the page right-to-left (<html dir="rtl"> and
// Chakra's theme direction). The static export renders English; a stored choice applies after
// the first render, so the server's HTML and the first client render agree (no hydration error).
"use client";

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { LOCALES, MESSAGES, format, isLocale, type Locale, type MessageKey } from "./messages";

export const LOCALE_KEY = "ai4vc.locale";

interface I18n {
  locale: Locale;
  dir: "ltr" | "rtl";
  setLocale(locale: Locale): void;
  t(key: MessageKey, values?: Record<string, string | number>): string;
}

const Context = createContext<I18n | null>(null);

/** The stored choice, else the browser's language when the console speaks it, else English. */
function initialLocale(): Locale {
  try {
    const stored = window.localStorage.getItem(LOCALE_KEY);
    if (stored && isLocale(stored)) return stored;
  } catch {
    // storage blocked: the browser's language
  }
  const browser = (navigator.language || "en").split("-")[0];
  return isLocale(browser) ? browser : "en";
}

export function I18nProvider({ children }: { children: ReactNode }) {
  const [locale, setLocaleState] = useState<Locale>("en");
  useEffect(() => setLocaleState(initialLocale()), []);
  const dir = LOCALES[locale].dir;
  useEffect(() => {
    document.documentElement.lang = locale;
    document.documentElement.dir = dir;
  }, [locale, dir]);
  const setLocale = useCallback((next: Locale) => {
    window.localStorage.setItem(LOCALE_KEY, next);
    setLocaleState(next);
  }, []);
  const value = useMemo<I18n>(() => ({
    locale, dir, setLocale,
    // Right to left, each filled-in value is its own bidi island (U+2068 … U+2069): a voice name
    // next to an encoding name would otherwise run together left to right and read backwards.
    t: (key, values) => format(MESSAGES[locale][key] || MESSAGES.en[key],
      values && dir === "rtl" ? Object.fromEntries(Object.entries(values).map(([k, v]) => [k, `\u2068${v}\u2069`])) : values),
  }), [locale, dir, setLocale]);
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useI18n(): I18n {
  const found = useContext(Context);
  if (!found) throw new Error("useI18n outside I18nProvider");
  return found;
}
