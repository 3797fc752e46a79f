"use client";

import { Box, Text } from "@chakra-ui/react";
import { useEffect, useRef, useState } from "react";
import { peaks } from "./audioformat";
import { useI18n } from "./i18n";

const HEIGHT = 96;

/** The waveform of audio the browser can decode (WAV, FLAC, Ogg, MP3…): decodeAudioData on an
 * OfflineAudioContext (nothing plays, no user gesture needed), then each column's lowest and
 * highest sample drawn on a canvas. `data-peak` / `data-seconds` say what was drawn. */
export function Waveform({ bytes }: { bytes: Uint8Array<ArrayBuffer> }) {
  const { t } = useI18n();
  const canvas = useRef<HTMLCanvasElement>(null);
  const [drawn, setDrawn] = useState<{ seconds: number; peak: number } | null>(null);
  const [failed, setFailed] = useState("");
  useEffect(() => {
    let live = true;
    setDrawn(null); setFailed("");
    // decodeAudioData detaches the buffer it is given: hand it a copy.
    const copy = bytes.slice().buffer;
    new OfflineAudioContext(1, 1, 44_100).decodeAudioData(copy).then((decoded) => {
      const target = canvas.current;
      if (!live || !target) return;
      const samples = decoded.getChannelData(0);
      const width = target.clientWidth || 800;
      target.width = width * (window.devicePixelRatio || 1);
      target.height = HEIGHT * (window.devicePixelRatio || 1);
      const ctx = target.getContext("2d");
      if (!ctx) return;
      ctx.scale(window.devicePixelRatio || 1, window.devicePixelRatio || 1);
      const { min, max } = peaks(samples, width);
      let peak = 0;
      ctx.clearRect(0, 0, width, HEIGHT);
      ctx.fillStyle = "#EDF2F7";
      ctx.fillRect(0, 0, width, HEIGHT);
      ctx.strokeStyle = "#A0AEC0";
      ctx.beginPath(); ctx.moveTo(0, HEIGHT / 2); ctx.lineTo(width, HEIGHT / 2); ctx.stroke();
      ctx.fillStyle = "#2B6CB0";
      for (let x = 0; x < width; x++) {
        peak = Math.max(peak, Math.abs(min[x]), Math.abs(max[x]));
        const top = (1 - Math.min(1, max[x])) * HEIGHT / 2;
        const bottom = (1 - Math.max(-1, min[x])) * HEIGHT / 2;
        ctx.fillRect(x, top, 1, Math.max(1, bottom - top));
      }
      setDrawn({ seconds: decoded.duration, peak });
    }, (error: unknown) => { if (live) setFailed(String(error)); });
    return () => { live = false; };
  }, [bytes]);
  return (
    <Box mt={3} data-testid="waveform" data-ready={drawn ? "true" : "false"}
         data-seconds={drawn?.seconds.toFixed(2) ?? ""} data-peak={drawn?.peak.toFixed(3) ?? ""}>
      <canvas ref={canvas} style={{ width: "100%", height: `${HEIGHT}px`, borderRadius: "6px", display: "block" }}
              aria-label={t("tts.waveform")} />
      <Text className="muted" color="gray.600" fontSize="xs" mt={1}>
        {failed ? t("tts.waveformFailed", { error: failed })
          : drawn ? t("tts.waveformInfo", { seconds: drawn.seconds.toFixed(2), peak: drawn.peak.toFixed(2) }) : ""}
      </Text>
    </Box>
  );
}
