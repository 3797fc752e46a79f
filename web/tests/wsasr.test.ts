import { describe, expect, it } from "vitest";
import { AsrStream, protocols, wsUrl, type StreamMessage } from "../lib/wsasr";

/** A fake WebSocket (no network): records what is sent and lets the test play the server. */
class FakeSocket {
  sent: (string | Uint8Array)[] = [];
  readyState = 0;
  binaryType: BinaryType = "blob";
  closed: number | null = null;
  onopen: ((ev: Event) => unknown) | null = null;
  onmessage: ((ev: MessageEvent) => unknown) | null = null;
  onerror: ((ev: Event) => unknown) | null = null;
  onclose: ((ev: CloseEvent) => unknown) | null = null;
  send(item: string | Uint8Array) { this.sent.push(item); }
  close(code: number) { this.closed = code; }
  open() { this.readyState = 1; this.onopen?.(new Event("open")); }
  server(value: object) { this.onmessage?.({ data: JSON.stringify(value) } as MessageEvent); }
  drop(code: number) { this.onclose?.({ code, reason: "" } as CloseEvent); }
}

function stream(socket: FakeSocket) {
  const seen = { messages: [] as StreamMessage[], errors: [] as object[], done: 0 };
  const s = new AsrStream(socket as unknown as WebSocket, { interimResults: true }, {
    onMessage: (m) => seen.messages.push(m), onError: (e) => seen.errors.push(e), onDone: () => { seen.done++; },
  });
  return { s, seen };
}

describe("AsrStream", () => {
  it("sends the config first, queues audio until open, then the end frame", () => {
    const socket = new FakeSocket();
    const { s } = stream(socket);
    s.sendAudio(new Uint8Array([1, 2]));
    expect(socket.sent).toEqual([]);
    socket.open();
    s.sendAudio(new Uint8Array([3]));
    s.end();
    expect(socket.binaryType).toBe("arraybuffer");
    expect(JSON.parse(socket.sent[0] as string)).toEqual({ config: { interimResults: true } });
    expect(socket.sent.slice(1, 3)).toEqual([new Uint8Array([1, 2]), new Uint8Array([3])]);
    expect(JSON.parse(socket.sent[3] as string)).toEqual({ event: "end" });
  });

  it("hands over responses, then done; a close after done is no error", () => {
    const socket = new FakeSocket();
    const { seen } = stream(socket);
    socket.open();
    socket.server({ results: [{ alternatives: [{ transcript: "hel" }], stability: 0.5 }] });
    socket.server({ results: [{ alternatives: [{ transcript: "hello" }], isFinal: true }] });
    socket.server({ event: "done" });
    socket.drop(1000);
    expect(seen.messages.map((m) => m.results?.[0].alternatives?.[0].transcript)).toEqual(["hel", "hello"]);
    expect(seen.done).toBe(1);
    expect(seen.errors).toEqual([]);
  });

  it("an error frame is the error (with its reason), and nothing is sent after it", () => {
    const socket = new FakeSocket();
    const { s, seen } = stream(socket);
    socket.open();
    socket.server({ error: { code: 3, message: "bad", details: [{ reason: "INVALID_CONFIG" }] } });
    s.sendAudio(new Uint8Array([1]));
    expect(seen.errors).toEqual([{ code: 3, message: "bad", details: [{ reason: "INVALID_CONFIG" }] }]);
    expect(socket.sent).toHaveLength(1);
  });

  it("a close without done or error is reported with its code", () => {
    const socket = new FakeSocket();
    const { seen } = stream(socket);
    socket.drop(1006);
    expect(seen.errors).toEqual([{ message: "connection closed (1006)" }]);
  });
});

describe("the TTS stream's frames", () => {
  it("sends text frames and hands binary frames over as audio", () => {
    const socket = new FakeSocket();
    const audio: Uint8Array[] = [];
    const s = new AsrStream(socket as unknown as WebSocket, { voice: { name: "v" } }, {
      onMessage: () => undefined, onError: () => undefined, onDone: () => undefined, onAudio: (a) => audio.push(a),
    });
    socket.open();
    s.sendText("नमस्ते");
    s.end();
    socket.onmessage?.({ data: new Uint8Array([1, 2, 3]).buffer } as MessageEvent);
    expect(socket.sent.slice(1)).toEqual([JSON.stringify({ text: "नमस्ते" }), JSON.stringify({ event: "end" })]);
    expect(audio).toEqual([new Uint8Array([1, 2, 3])]);
  });
});

describe("wsUrl and protocols", () => {
  it("maps the edge URL to ws(s) and sends the key as a sub-protocol", () => {
    expect(wsUrl("http://127.0.0.1:8080", "v1/ws/asr")).toBe("ws://127.0.0.1:8080/v1/ws/asr");
    expect(wsUrl("https://api.example/", "v1/ws/asr")).toBe("wss://api.example/v1/ws/asr");
    expect(protocols("k1")).toEqual(["ai4vc.v1", "ai4vc-key.k1"]);
    expect(protocols("")).toEqual(["ai4vc.v1"]);
    expect(protocols({ apiKey: "k1" })).toEqual(["ai4vc.v1", "ai4vc-key.k1"]);
    // A signed-in user's JWT (the edge's guard.lua turns it into authorization: Bearer).
    expect(protocols({ bearer: "h.p.s" })).toEqual(["ai4vc.v1", "ai4vc-bearer.h.p.s"]);
    expect(protocols({ bearer: "" })).toEqual(["ai4vc.v1"]);
  });
});
