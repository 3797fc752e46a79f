import type { Metadata } from "next";
import type { ReactNode } from "react";
import { Providers } from "./providers";
import { Shell } from "./Shell";

export const metadata: Metadata = { title: "AI4V-C console" };

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en" dir="ltr">
      <body>
        <Providers>
          <Shell>{children}</Shell>
        </Providers>
      </body>
    </html>
  );
}
