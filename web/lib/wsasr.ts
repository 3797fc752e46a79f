// The WebSocket bridge's ASR stream (/v1/ws/asr, gateway/ws/protocol.py): the API key goes as the
// sub-protocol `ai4vc-key.<key>` beside `ai4vc.v1` (browsers cannot set headers on a WebSocket), a
// signed-in user's JWT as `ai4vc-bearer.<token>` (the edge's guard.lua turns either into the
// authorization header and answers with `ai4vc.v1` alone);
// first frame {"config": StreamingRecognitionConfig JSON}, then binary PCM frames, then
// {"event": "end"}; the bridge answers StreamingRecognizeResponse JSON frames, then
// {"event": "done"} (close 1000) or {"error": {...}} (close 1008 / 1011).

import type { ShownError } from "./api";

export const WS_PROTOCOL = "ai4vc.v1";

export interface StreamResult {
  alternatives?: { transcript?: string; confidence?: number }[];
  isFinal?: boolean;
  stability?: number;
  languageCode?: string;
}

export interface StreamMessage {
  results?: StreamResult[];
  speechEventType?: string;
  audioProcessed?: string;
}

export interface StreamError {
  code?: number;
  message?: string;
  details?: { "@type"?: string; reason?: string; fieldViolations?: { field: string; description: string }[] }[];
}

/** A stream's closing error as the page's error box shows it (reason and bad fields). */
export function streamError(error: StreamError): ShownError {
  const info = error.details?.find((d) => d.reason);
  const bad = error.details?.find((d) => d.fieldViolations);
  return { code: String(error.code ?? "stream"), message: error.message ?? "", reason: info?.reason,
           fields: bad?.fieldViolations ?? [] };
}

export interface AsrStreamHandlers {
  onMessage(message: StreamMessage): void;
  onError(error: StreamError): void;
  onDone(): void;
  /** Binary frames: audio bytes of a response (/v1/ws/tts, /v1/ws/speech-to-speech). */
  onAudio?(audio: Uint8Array): void;
}

/** ws(s)://host/v1/ws/asr for an edge URL http(s)://host. */
export function wsUrl(edgeUrl: string, path: string): string {
  const url = new URL(path, edgeUrl.endsWith("/") ? edgeUrl : edgeUrl + "/");
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

/** How a WebSocket proves who it is: an API key, or a JWT access token. */
export type WsCredential = { apiKey: string } | { bearer: string };

export function protocols(credential: string | WsCredential): string[] {
  const c: WsCredential = typeof credential === "string" ? { apiKey: credential } : credential;
  if ("bearer" in c) return c.bearer ? [WS_PROTOCOL, `ai4vc-bearer.${c.bearer}`] : [WS_PROTOCOL];
  return c.apiKey ? [WS_PROTOCOL, `ai4vc-key.${c.apiKey}`] : [WS_PROTOCOL];
}

type SocketLike = Pick<WebSocket, "send" | "close" | "readyState" | "binaryType"> & {
  onopen: ((ev: Event) => unknown) | null;
  onmessage: ((ev: MessageEvent) => unknown) | null;
  onerror: ((ev: Event) => unknown) | null;
  onclose: ((ev: CloseEvent) => unknown) | null;
};

export class AsrStream {
  private readonly queue: (string | Uint8Array)[] = [];
  private open = false;
  private finished = false;

  constructor(private readonly socket: SocketLike, config: object, handlers: AsrStreamHandlers) {
    socket.binaryType = "arraybuffer";
    this.queue.push(JSON.stringify({ config }));
    socket.onopen = () => {
      this.open = true;
      for (const item of this.queue.splice(0)) socket.send(item);
    };
    socket.onmessage = (event: MessageEvent) => {
      if (typeof event.data !== "string") {
        if (event.data instanceof ArrayBuffer) handlers.onAudio?.(new Uint8Array(event.data));
        return;
      }
      const value = JSON.parse(event.data) as Record<string, unknown>;
      if (value.event === "done") {
        this.finish();
        handlers.onDone();
      } else if (value.error) {
        this.finish();
        handlers.onError(value.error as StreamError);
      } else {
        handlers.onMessage(value as StreamMessage);
      }
    };
    socket.onclose = (event: CloseEvent) => {
      if (!this.finished) {
        this.finish();
        handlers.onError({ message: `connection closed (${event.code}${event.reason ? ": " + event.reason : ""})` });
      }
    };
    socket.onerror = () => undefined; // onclose follows with the code
  }

  static connect(edgeUrl: string, credential: string | WsCredential, config: object, handlers: AsrStreamHandlers,
                 path = "v1/ws/asr"): AsrStream {
    return new AsrStream(new WebSocket(wsUrl(edgeUrl, path), protocols(credential)), config, handlers);
  }

  /** A {"text": ...} frame (/v1/ws/tts). */
  sendText(text: string): void {
    this.send(JSON.stringify({ text }));
  }

  private send(item: string | Uint8Array): void {
    if (this.finished) return;
    if (this.open) this.socket.send(item);
    else this.queue.push(item);
  }

  sendAudio(frame: Uint8Array): void {
    this.send(frame);
  }

  end(): void {
    this.send(JSON.stringify({ event: "end" }));
  }

  private finish(): void {
    this.finished = true;
  }

  close(): void {
    this.finish();
    this.socket.close(1000);
  }
}
