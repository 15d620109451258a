/**
 * `SignalClient`: the live signal stream of one user over WebSocket.
 *
 * Guarantees:
 * - handlers see each signal at most once, in seq order (duplicates and
 *   replays at or below the last seen seq are dropped);
 * - after any disconnect the client reconnects with `since=<last seq>`, so the
 *   server replays what was missed (then sends `resumed`); nothing is lost
 *   unless the server says `recovered: false` (then refetch the inbox);
 * - it reconnects forever (exponential back-off, full jitter, capped at
 *   30 s), except after `disconnect()` or a token the provider cannot replace;
 * - a silent dead link is noticed by the heartbeat: an app-level ping after
 *   `heartbeatIntervalMs` of silence, declared dead `pongTimeoutMs` later
 *   (within 30 s of the last frame with the defaults);
 * - while the browser reports `offline` no attempts are made; `online` and a
 *   tab becoming visible again retry at once;
 * - with a workflow set (`workflowIds` option, `subscribe()`), the socket
 *   receives only those workflows' signals, and every (re)connect sends the
 *   current set, so a resume replays only them too. `seq` is per user, so
 *   such a socket sees gaps in `seq` by design: this client never treats a
 *   gap as a loss (it refetches nothing on a gap; only `resumed:false` means
 *   something was missed).
 */

import { backoffDelay, type BackoffOptions } from "./backoff.js";
import { defaultBaseUrl } from "./http.js";
import { TokenSource, type TokenInput } from "./token.js";
import {
  CloseCode,
  isSignal,
  parseServerMessage,
  type ConnectedMessage,
  type ConnectionState,
  type InboxMessage,
  type AnySignal,
  type CustomSignal,
  type ResumedMessage,
  type SignalOf,
  type SubscribedMessage,
  isSeedSignal,
} from "./types.js";

/** The subset of the browser WebSocket this client uses (a test can supply its own). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketFactory = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** Window-like event target: `online`/`offline` events and `navigator.onLine`. */
export interface NetworkEnvironment {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
  navigator?: { onLine?: boolean };
}

/** Document-like event target: `visibilitychange` and `visibilityState`. */
export interface VisibilityEnvironment {
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
  visibilityState?: string;
}

export interface SignalClientOptions {
  /** The API's origin (default: the page's origin). The WebSocket URL is derived from it. */
  baseUrl?: string;
  /** Full WebSocket URL, e.g. `wss://api.example.com/ws` (default: `baseUrl` + `/ws`). */
  url?: string;
  /** Resume from this seq on the first connection (e.g. one saved in sessionStorage). */
  since?: number;
  /** `protocol` (default) sends the token as `Sec-WebSocket-Protocol: bearer, <JWT>`, keeping it out of URLs and logs. */
  tokenTransport?: "protocol" | "query";
  backoff?: BackoffOptions;
  /** Send an app-level ping after this much silence (default 15 000 ms). */
  heartbeatIntervalMs?: number;
  /** Declare the link dead when nothing arrives this long after a ping (default 10 000 ms). */
  pongTimeoutMs?: number;
  /** Give up on an attempt that has not said `connected` after this long (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** How many recent signals `recent()` keeps (default 500). */
  recentLimit?: number;
  /** Follow only these workflows (sent as `?workflow_id=` on every connect); omit for all of the user's signals. */
  workflowIds?: string[];
  WebSocket?: WebSocketFactory;
  /** Default: `window` when there is one; `null` turns online/offline handling off. */
  network?: NetworkEnvironment | null;
  /** Default: `document` when there is one; `null` turns visibility handling off. */
  visibility?: VisibilityEnvironment | null;
}

/** Payload of the `state` event. */
export interface StateChange {
  state: ConnectionState;
  previous: ConnectionState;
  /** Failed attempts in a row so far (0 once connected). */
  attempt: number;
  /** When `reconnecting`: ms until the next attempt. */
  retryInMs?: number;
  /** The close code that caused this change, when there was one. */
  closeCode?: number;
  reason?: string;
}

/** Events of `SignalClient.on`: one per signal type, `signal` for all of them, and the control events. */
export interface SignalClientEvents {
  status_update: SignalOf<"status_update">;
  progress: SignalOf<"progress">;
  completion: SignalOf<"completion">;
  error: SignalOf<"error">;
  /** Every signal, seed or custom (narrow with `isSeedSignal` / `isSignalOfType`). */
  signal: AnySignal;
  /** Signals of the application's own types (`onType` gives them a data type). */
  custom: CustomSignal;
  state: StateChange;
  connected: ConnectedMessage;
  resumed: ResumedMessage;
  inbox: InboxMessage;
  /** The server's answer to `subscribe()`/`unsubscribe()`: the socket's whole set. */
  subscribed: SubscribedMessage;
}

export type Unsubscribe = () => void;

const OPEN = 1;

export class SignalClient {
  readonly url: string;
  /** The API origin (for the REST helpers). */
  readonly baseUrl: string;
  private readonly options: SignalClientOptions;
  private readonly WebSocketImpl: WebSocketFactory;
  private readonly network: NetworkEnvironment | null;
  private readonly visibility: VisibilityEnvironment | null;
  private readonly listeners = new Map<keyof SignalClientEvents, Set<(payload: never) => void>>();
  private readonly recentSignals: AnySignal[] = [];
  private readonly workflows: Set<string>;
  /** The set the current socket's server side holds (what the URL or sent messages gave it). */
  private socketWorkflows = new Set<string>();

  private _tokens: TokenSource | null = null;
  private _state: ConnectionState = "idle";
  private _lastSeq: number | null;
  private _userId: string | null = null;
  private socket: WebSocketLike | null = null;
  private generation = 0;
  private attempt = 0;
  private tokenRefusals = 0;
  private askedToResume = false;
  private _resuming = false;
  private lastMessageAt = 0;
  private pingSentAt: number | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatTimer: ReturnType<typeof setInterval> | null = null;
  private pongTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: SignalClientOptions = {}) {
    this.options = options;
    this.baseUrl = (options.baseUrl ?? (options.url ? httpOrigin(options.url) : defaultBaseUrl())).replace(/\/+$/, "");
    this.url = options.url ?? `${this.baseUrl.replace(/^http/, "ws")}/ws`;
    this._lastSeq = options.since ?? null;
    this.workflows = new Set(options.workflowIds ?? []);
    const ws = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketFactory }).WebSocket;
    if (!ws) throw new Error("no WebSocket implementation available; pass options.WebSocket");
    this.WebSocketImpl = ws;
    const g = globalThis as { window?: NetworkEnvironment; document?: VisibilityEnvironment };
    this.network = options.network === undefined ? g.window ?? null : options.network;
    this.visibility = options.visibility === undefined ? g.document ?? null : options.visibility;
  }

  // -- public API ---------------------------------------------------------------

  get state(): ConnectionState {
    return this._state;
  }

  /** The highest seq delivered to handlers (`null` before the first connection). */
  get lastSeq(): number | null {
    return this._lastSeq;
  }

  /** The user the server says the token belongs to (after `connected`). */
  get userId(): string | null {
    return this._userId;
  }

  /** True between `connected` and `resumed` on a reconnect: the signals arriving are the missed ones being replayed. */
  get resuming(): boolean {
    return this._resuming;
  }

  /** The token source given to `connect()` (shared with the REST helpers). */
  get tokens(): TokenSource {
    if (!this._tokens) throw new Error("connect() has not been called");
    return this._tokens;
  }

  /**
   * Start (or restart with a new token). A provider function is called for
   * the first token and again whenever the server refuses one (close 4401).
   */
  connect(token: TokenInput | TokenSource): void {
    this._tokens = token instanceof TokenSource ? token : new TokenSource(token);
    this.stopSocket();
    this.attachEnvironment();
    this.attempt = 0;
    this.tokenRefusals = 0;
    void this.open();
  }

  /** Close for good: no reconnects until `connect()` is called again. */
  disconnect(): void {
    this.stopSocket();
    this.detachEnvironment();
    this.setState("closed", {});
  }

  /** Retry now instead of waiting for the back-off timer (e.g. a "retry" button). */
  reconnectNow(): void {
    if (!this._tokens || this._state === "closed" || this._state === "connected") return;
    this.attempt = 0;
    this.stopSocket();
    void this.open();
  }

  /** Subscribe to an event; returns the function that unsubscribes. */
  on<K extends keyof SignalClientEvents>(event: K, handler: (payload: SignalClientEvents[K]) => void): Unsubscribe {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(handler as (payload: never) => void);
    return () => {
      set!.delete(handler as (payload: never) => void);
    };
  }

  /**
   * Handle signals of one custom type, with the data type the application expects:
   * `client.onType<ApprovalData>("approval_needed", (s) => s.data.question)`.
   */
  onType<D extends object = Record<string, unknown>>(
    signalType: string,
    handler: (signal: CustomSignal<string, D>) => void,
  ): Unsubscribe {
    return this.on("custom", (signal) => {
      if (signal.signal_type === signalType) handler(signal as unknown as CustomSignal<string, D>);
    });
  }

  /** The workflows this client follows (empty: all of the user's signals). */
  get workflowIds(): string[] {
    return [...this.workflows];
  }

  /**
   * Follow these workflows too (the socket then receives only its set's signals).
   * Sent at once when connected (else when the socket opens), and on every reconnect; earlier signals of a newly
   * followed workflow are in the inbox (`workflow_id` filter), not replayed.
   */
  subscribe(workflowIds: string[]): void {
    const added = workflowIds.filter((w) => !this.workflows.has(w));
    for (const w of added) this.workflows.add(w);
    if (added.length && this._state === "connected") this.syncSubscriptions();
  }

  /** Stop following these workflows (an empty set means all of the user's signals again). */
  unsubscribe(workflowIds: string[]): void {
    const removed = workflowIds.filter((w) => this.workflows.delete(w));
    if (removed.length && this._state === "connected") this.syncSubscriptions();
  }

  /** Signals received recently (oldest first), optionally of one workflow. */
  recent(workflowId?: string): AnySignal[] {
    return workflowId === undefined
      ? [...this.recentSignals]
      : this.recentSignals.filter((s) => s.workflow_id === workflowId);
  }

  // -- connection lifecycle -----------------------------------------------------

  private async open(): Promise<void> {
    const generation = ++this.generation;
    if (this.isOffline()) {
      this.setState("offline", {});
      return;
    }
    this.setState(this._userId === null && this._state !== "reconnecting" ? "connecting" : "reconnecting", {});
    let token: string;
    try {
      token = await this.tokens.get();
    } catch (error) {
      if (generation === this.generation) this.setState("unauthorized", { reason: String(error) });
      return;
    }
    if (generation !== this.generation) return; // disconnect() or a newer attempt won the race

    const params = new URLSearchParams();
    this.askedToResume = this._lastSeq !== null;
    if (this._lastSeq !== null) params.set("since", String(this._lastSeq));
    for (const workflowId of this.workflows) params.append("workflow_id", workflowId);
    this.socketWorkflows = new Set(this.workflows);
    const viaQuery = this.options.tokenTransport === "query";
    if (viaQuery) params.set("token", token);
    const query = params.toString();
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(query ? `${this.url}?${query}` : this.url, viaQuery ? undefined : ["bearer", token]);
    } catch (error) {
      this.onSocketGone(CloseCode.ABNORMAL, String(error));
      return;
    }
    this.socket = socket;
    this.lastMessageAt = Date.now();
    socket.onmessage = (event) => {
      if (this.socket === socket) this.onFrame(event.data);
    };
    socket.onclose = (event) => {
      if (this.socket === socket) this.onSocketGone(event.code, event.reason);
    };
    socket.onerror = () => {
      /* a close event always follows */
    };
    this.connectTimer = setTimeout(() => {
      if (this.socket === socket) this.abandon("no answer from the server");
    }, this.options.connectTimeoutMs ?? 10_000);
  }

  private onFrame(data: unknown): void {
    this.lastMessageAt = Date.now();
    this.pingSentAt = null;
    if (typeof data !== "string") return;
    const message = parseServerMessage(data);
    if (message === null) return;
    if (isSignal(message)) {
      this.deliver(message);
      return;
    }
    switch (message.type) {
      case "connected":
        this.clearTimer("connectTimer");
        if (this._userId !== null && this._userId !== message.user_id) {
          // Another user signed in on this client: the old position means nothing for them.
          this._lastSeq = null;
          this.recentSignals.length = 0;
        }
        this._userId = message.user_id;
        if (this._lastSeq !== null && message.seq < this._lastSeq) {
          // The server's history is behind ours (e.g. a restored database): our position
          // means nothing there, so take the server's and let `resumed:false` trigger a refetch.
          this._lastSeq = message.seq;
          this.recentSignals.length = 0;
        }
        this._resuming = this.askedToResume && this._lastSeq !== null;
        if (this._lastSeq === null) this._lastSeq = message.seq; // a fresh start is live from now
        this.attempt = 0;
        this.tokenRefusals = 0;
        this.startHeartbeat();
        this.syncSubscriptions(); // changes made while this socket was opening
        this.setState("connected", {});
        this.emit("connected", message);
        break;
      case "resumed":
        this._resuming = false;
        this.emit("resumed", message);
        break;
      case "inbox":
        this.emit("inbox", message);
        break;
      case "subscribed":
        this.emit("subscribed", message);
        break;
      case "pong":
        break;
    }
  }

  private deliver(signal: AnySignal): void {
    if (this._lastSeq !== null && signal.seq <= this._lastSeq) return; // already delivered
    // A seq beyond lastSeq + 1 is no loss: seqs may skip numbers, and a filtered socket
    // skips the other workflows' seqs. Only `resumed: false` says something was missed.
    this._lastSeq = signal.seq;
    this.recentSignals.push(signal);
    const limit = this.options.recentLimit ?? 500;
    if (this.recentSignals.length > limit) this.recentSignals.splice(0, this.recentSignals.length - limit);
    if (isSeedSignal(signal)) this.emit(signal.signal_type, signal as never);
    else this.emit("custom", signal as CustomSignal);
    this.emit("signal", signal);
  }

  /** The socket closed (or was declared dead): decide whether and when to come back. */
  private onSocketGone(code: number, reason: string): void {
    this.socket = null;
    this._resuming = false;
    this.clearTimer("connectTimer");
    this.stopHeartbeat();
    if (this._state === "closed") return;
    if (code === CloseCode.TOKEN) {
      void this.refreshAndReconnect(reason);
      return;
    }
    if (this.isOffline()) {
      this.setState("offline", { closeCode: code, reason });
      return;
    }
    this.scheduleReconnect(code, reason);
  }

  private async refreshAndReconnect(reason: string): Promise<void> {
    const generation = ++this.generation;
    this.setState("reconnecting", { closeCode: CloseCode.TOKEN, reason });
    const fresh = await this.tokens.refresh();
    if (generation !== this.generation) return;
    if (!fresh) {
      this.setState("unauthorized", { closeCode: CloseCode.TOKEN, reason });
      return;
    }
    // The first retry after a refresh is immediate; a provider handing out
    // refused tokens again and again is slowed down by the back-off.
    if (this.tokenRefusals++ === 0) void this.open();
    else this.scheduleReconnect(CloseCode.TOKEN, reason);
  }

  private scheduleReconnect(code: number, reason: string): void {
    this.clearTimer("reconnectTimer");
    const delay = backoffDelay(this.attempt, this.options.backoff);
    this.attempt += 1;
    this.setState("reconnecting", { closeCode: code, reason, retryInMs: delay });
    const generation = ++this.generation;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (generation === this.generation) void this.open();
    }, delay);
  }

  /** Drop a socket that cannot be trusted any more (no hello, no pong, offline). */
  private abandon(reason: string, code: number = CloseCode.ABNORMAL): void {
    const socket = this.socket;
    if (!socket) return;
    detach(socket);
    try {
      socket.close(CloseCode.NORMAL, reason);
    } catch {
      /* already closed */
    }
    this.onSocketGone(code, reason);
  }

  private stopSocket(): void {
    this.generation += 1;
    this.clearTimer("reconnectTimer");
    this.clearTimer("connectTimer");
    this.stopHeartbeat();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      detach(socket);
      try {
        socket.close(CloseCode.NORMAL, "client closed");
      } catch {
        /* already closed */
      }
    }
  }

  // -- heartbeat ----------------------------------------------------------------

  private startHeartbeat(): void {
    this.stopHeartbeat();
    const interval = this.options.heartbeatIntervalMs ?? 15_000;
    // Tick at a third of the interval so a ping follows at most ~interval after the last frame.
    this.heartbeatTimer = setInterval(() => this.heartbeat(interval), Math.max(50, Math.floor(interval / 3)));
  }

  private heartbeat(interval: number): void {
    if (this.pingSentAt !== null || Date.now() - this.lastMessageAt < interval) return;
    this.ping();
  }

  /** Bring the server's set for this socket in line with ours (two messages at most). */
  private syncSubscriptions(): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) return;
    const add = [...this.workflows].filter((w) => !this.socketWorkflows.has(w));
    const remove = [...this.socketWorkflows].filter((w) => !this.workflows.has(w));
    try {
      if (add.length) socket.send(JSON.stringify({ type: "subscribe", workflow_ids: add }));
      if (remove.length) socket.send(JSON.stringify({ type: "unsubscribe", workflow_ids: remove }));
      this.socketWorkflows = new Set(this.workflows);
    } catch {
      /* the close event follows; the next connect carries the set */
    }
  }

  private ping(): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN || this.pingSentAt !== null) return;
    this.pingSentAt = Date.now();
    try {
      socket.send(JSON.stringify({ type: "ping" }));
    } catch {
      /* the close event follows */
    }
    this.clearTimer("pongTimer");
    const sentAt = this.pingSentAt;
    this.pongTimer = setTimeout(() => {
      this.pongTimer = null;
      if (this.socket === socket && this.lastMessageAt < sentAt) this.abandon("heartbeat: no answer to ping");
    }, this.options.pongTimeoutMs ?? 10_000);
  }

  private stopHeartbeat(): void {
    this.clearTimer("pongTimer");
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.pingSentAt = null;
  }

  // -- browser environment ------------------------------------------------------

  private readonly onOnline = (): void => {
    if (this._state === "offline" || this._state === "reconnecting") {
      this.attempt = 0;
      this.stopSocket();
      void this.open();
    }
  };

  private readonly onOffline = (): void => {
    if (this._state === "closed" || this._state === "unauthorized") return;
    this.stopSocket();
    this.setState("offline", {});
  };

  private readonly onVisibility = (): void => {
    if (this.visibility?.visibilityState !== "visible") return;
    if (this._state === "reconnecting" && this.reconnectTimer !== null) {
      this.reconnectNow(); // do not make a returning user wait out the back-off
    } else if (this._state === "connected") {
      this.ping(); // check the link at once: laptops wake up with dead sockets
    }
  };

  private attachEnvironment(): void {
    this.detachEnvironment();
    this.network?.addEventListener("online", this.onOnline);
    this.network?.addEventListener("offline", this.onOffline);
    this.visibility?.addEventListener("visibilitychange", this.onVisibility);
  }

  private detachEnvironment(): void {
    this.network?.removeEventListener("online", this.onOnline);
    this.network?.removeEventListener("offline", this.onOffline);
    this.visibility?.removeEventListener("visibilitychange", this.onVisibility);
  }

  private isOffline(): boolean {
    return this.network?.navigator?.onLine === false;
  }

  // -- helpers --------------------------------------------------------------------

  private setState(state: ConnectionState, detail: Omit<StateChange, "state" | "previous" | "attempt">): void {
    const previous = this._state;
    this._state = state;
    if (previous === state && detail.retryInMs === undefined) return;
    this.emit("state", { state, previous, attempt: this.attempt, ...detail });
  }

  private emit<K extends keyof SignalClientEvents>(event: K, payload: SignalClientEvents[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const handler of [...set]) {
      try {
        (handler as (p: SignalClientEvents[K]) => void)(payload);
      } catch (error) {
        // One broken handler must not stop delivery to the others.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  private clearTimer(name: "reconnectTimer" | "connectTimer" | "pongTimer"): void {
    const timer = this[name];
    if (timer !== null) clearTimeout(timer);
    this[name] = null;
  }
}

function detach(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = null;
}

function httpOrigin(wsUrl: string): string {
  const url = new URL(wsUrl);
  return `${url.protocol === "wss:" ? "https:" : "http:"}//${url.host}`;
}
