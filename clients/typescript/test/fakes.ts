/**
 * Test doubles for what a browser provides: a WebSocket whose "server side"
 * the test drives, a fetch that answers from a route table, and a window /
 * document pair that can go offline or become visible.
 */

import type { WebSocketLike } from "../src/client.js";
import type { Signal, SignalType } from "../src/types.js";

export class FakeWebSocket implements WebSocketLike {
  static instances: FakeWebSocket[] = [];

  static latest(): FakeWebSocket {
    const socket = FakeWebSocket.instances.at(-1);
    if (!socket) throw new Error("no socket was opened");
    return socket;
  }

  readyState = 0;
  readonly sent: string[] = [];
  closedByClient: { code?: number; reason?: string } | null = null;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;

  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    FakeWebSocket.instances.push(this);
  }

  get query(): URLSearchParams {
    return new URL(this.url).searchParams;
  }

  get sentMessages(): unknown[] {
    return this.sent.map((text) => JSON.parse(text));
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(data);
  }

  close(code?: number, reason?: string): void {
    if (this.readyState >= 2) return;
    this.closedByClient = { code, reason };
    this.readyState = 3;
    this.onclose?.({ code: code ?? 1005, reason: reason ?? "" });
  }

  // -- the server's side -------------------------------------------------------

  accept(userId: string, latestSeq: number): void {
    this.readyState = 1;
    this.onopen?.({});
    this.serverSend({ type: "connected", user_id: userId, seq: latestSeq });
  }

  serverSend(message: unknown): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  serverClose(code: number, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

export function signal(seq: number, signal_type: SignalType = "progress", workflow_id = "wf-1", data?: Record<string, unknown>): Signal {
  const defaults: Record<SignalType, Record<string, unknown>> = {
    status_update: { status: "started" },
    progress: { progress: Math.min(1, seq / 10), step: `step-${seq}` },
    completion: { result: { status: "completed" } },
    error: { error: "boom", error_code: "E" },
  };
  return {
    id: `00000000-0000-4000-8000-${String(seq).padStart(12, "0")}`,
    seq,
    signal_type,
    workflow_id,
    data: data ?? defaults[signal_type],
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
  } as Signal;
}

/** A window-like object: `online`/`offline` events and `navigator.onLine`. */
export class FakeWindow extends EventTarget {
  navigator = { onLine: true };

  goOffline(): void {
    this.navigator.onLine = false;
    this.dispatchEvent(new Event("offline"));
  }

  goOnline(): void {
    this.navigator.onLine = true;
    this.dispatchEvent(new Event("online"));
  }
}

/** A document-like object with `visibilityState`. */
export class FakeDocument extends EventTarget {
  visibilityState = "visible";

  setVisible(visible: boolean): void {
    this.visibilityState = visible ? "visible" : "hidden";
    this.dispatchEvent(new Event("visibilitychange"));
  }
}

export interface RecordedRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: unknown;
}

type Handler = (request: RecordedRequest) => { status?: number; body?: unknown };

/** A fetch that answers `METHOD /path` from `routes` and records every request. */
export function fakeFetch(routes: Record<string, Handler>) {
  const requests: RecordedRequest[] = [];
  const fetch = async (input: string, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input);
    const method = init.method ?? "GET";
    const request: RecordedRequest = {
      method,
      url,
      headers: { ...(init.headers as Record<string, string>) },
      body: typeof init.body === "string" ? JSON.parse(init.body) : init.body,
    };
    requests.push(request);
    const handler = routes[`${method} ${url.pathname}`];
    if (!handler) return new Response(JSON.stringify({ detail: "Not Found" }), { status: 404 });
    const { status = 200, body = null } = handler(request);
    return new Response(body === null ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
  return { fetch, requests };
}
