// The microphone as the live pages use it: getUserMedia → the pcm-capture AudioWorklet
// (public/pcm-capture.js) → 16 kHz PCM frames of 100 ms (PcmFramer) handed to `onFrame`, and a
// level (0..1) for the meter every few blocks. One capture for every live page (ASR, speech to
// speech), so they behave alike.

import { PcmFramer, rms } from "./pcm";

export interface Microphone {
  /** Stops capturing; returns the last, shorter-than-a-frame piece of PCM (or null). */
  stop(): Uint8Array | null;
}

export async function openMicrophone(onFrame: (frame: Uint8Array) => void,
                                     onLevel: (level: number) => void): Promise<Microphone> {
  const media = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: false } });
  const context = new AudioContext();
  try {
    await context.audioWorklet.addModule("/ui/pcm-capture.js");
  } catch (e) {
    media.getTracks().forEach((t) => t.stop());
    void context.close();
    throw e;
  }
  const source = context.createMediaStreamSource(media);
  const node = new AudioWorkletNode(context, "pcm-capture");
  const framer = new PcmFramer(context.sampleRate, 100);
  let blocks = 0;
  let open = true;
  node.port.onmessage = (event: MessageEvent<Float32Array>) => {
    if (!open) return;
    for (const frame of framer.push(event.data)) onFrame(frame);
    if (++blocks % 8 === 0) onLevel(Math.min(1, rms(event.data) * 4));
  };
  source.connect(node);
  return {
    stop() {
      if (!open) return null;
      open = false;
      media.getTracks().forEach((t) => t.stop());
      void context.close();
      onLevel(0);
      return framer.flush();
    },
  };
}
