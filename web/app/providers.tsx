"use client";

import { CacheProvider } from "@chakra-ui/next-js";
import { ChakraProvider, extendTheme } from "@chakra-ui/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { useMemo, useState, type ReactNode } from "react";
import { I18nProvider, useI18n } from "../lib/i18n";

// Indic scripts and Urdu fall back to the system's Noto fonts (deploy/local/bootstrap.sh installs them).
const FONTS = `system-ui, "Noto Sans", "Noto Sans Devanagari", "Noto Sans Tamil", "Noto Nastaliq Urdu", `
  + `"Noto Naskh Arabic", "Noto Sans Arabic", sans-serif`;

/** Chakra's theme follows the interface language's direction (logical margins, icons, alerts). */
function Themed({ children }: { children: ReactNode }) {
  const { dir } = useI18n();
  const theme = useMemo(() => extendTheme({
    direction: dir,
    config: { initialColorMode: "light", useSystemColorMode: false },
    fonts: { heading: FONTS, body: FONTS },
    styles: { global: {
      body: { bg: "gray.50", color: "gray.800" },
      // Nastaliq (Urdu) rises and falls far beyond Latin's line box: more room, or headings clip.
      "html[dir=rtl] body": { lineHeight: 1.9 },
      "html[dir=rtl] :is(h1, h2, h3)": { lineHeight: 1.7 },
    } },
  }), [dir]);
  return <ChakraProvider theme={theme}>{children}</ChakraProvider>;
}

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(() => new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: 60_000 } } }));
  return (
    // CacheProvider puts emotion's styles into the streamed <head> (the app router's
    // useServerInsertedHTML), so the exported HTML is styled before the scripts run.
    <CacheProvider>
      <I18nProvider>
        <Themed>
          <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
        </Themed>
      </I18nProvider>
    </CacheProvider>
  );
}
