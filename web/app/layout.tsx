import type { Metadata } from "next";
import type { ReactNode } from "react";
import Link from "next/link";
import "./globals.css";
import { Providers } from "./providers";

export const metadata: Metadata = { title: "AI4V-C console" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <Providers>
          <header>
            <Link href="/" className="brand">AI4V-C console</Link>
            <nav>
              <Link href="/asr/">ASR</Link>
              <Link href="/tts/">TTS</Link>
              <Link href="/nmt/">NMT</Link>
              <Link href="/pipeline/">Pipeline</Link>
              <Link href="/settings/">Settings</Link>
            </nav>
          </header>
          <main>{children}</main>
        </Providers>
      </body>
    </html>
  );
}
