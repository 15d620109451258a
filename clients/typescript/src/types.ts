/**
 * The wire protocol of signalhub, as TypeScript types.
 *
 * A *signal* is an event from a Temporal workflow to the user who started it
 * (status, progress, completion, error, or a type of the application's own).
 * It is not a Temporal Signal.
 *
 * The four seed types form a discriminated union (`Signal`, narrowed by
 * `signal_type`); any other type is a `CustomSignal<T, D>`, whose `data` type
 * the application states. `AnySignal` is what arrives on the wire.
 */

/** The four seed kinds of signal (their `data` is validated by the server). */
export type SignalType = "status_update" | "progress" | "completion" | "error";

export const SIGNAL_TYPES: readonly SignalType[] = ["status_update", "progress", "completion", "error"];

/** Every accepted `signal_type`, seed or custom (the server's pattern). */
export const SIGNAL_TYPE_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;

/** `data` of a `status_update` signal. Extra keys set by the sender are kept. */
export interface StatusUpdateData {
  status: string;
  message?: string | null;
  progress?: number | null;
  [key: string]: unknown;
}

/** `data` of a `progress` signal: `progress` is a fraction between 0 and 1. */
export interface ProgressData {
  progress: number;
  step?: string | null;
  message?: string | null;
  [key: string]: unknown;
}

/** `data` of a `completion` signal. */
export interface CompletionData {
  result?: unknown;
  message?: string | null;
  [key: string]: unknown;
}

/** `data` of an `error` signal. */
export interface ErrorData {
  error: string;
  error_code?: string | null;
  [key: string]: unknown;
}

interface SignalOfType<T extends SignalType, D> {
  /** Unique id (UUID); the inbox uses it to mark the signal read. */
  id: string;
  /** Per-user sequence number: increases in commit order, may skip numbers. */
  seq: number;
  signal_type: T;
  workflow_id: string;
  data: D;
  /** ISO-8601, UTC. */
  timestamp: string;
}

export type StatusUpdateSignal = SignalOfType<"status_update", StatusUpdateData>;
export type ProgressSignal = SignalOfType<"progress", ProgressData>;
export type CompletionSignal = SignalOfType<"completion", CompletionData>;
export type ErrorSignal = SignalOfType<"error", ErrorData>;

/** A signal as it arrives over the WebSocket: narrow it with `signal.signal_type`. */
export type Signal = StatusUpdateSignal | ProgressSignal | CompletionSignal | ErrorSignal;

/** The signal type whose `signal_type` is `T`. */
export type SignalOf<T extends SignalType> = Extract<Signal, { signal_type: T }>;

/**
 * A signal of a type the application defined (e.g. `approval_needed`), with
 * `data` of the type it states: `CustomSignal<"approval_needed", { question: string }>`.
 * The server checks only that `data` is an object; `D` is the application's promise.
 */
export interface CustomSignal<T extends string = string, D extends object = Record<string, unknown>> {
  id: string;
  seq: number;
  signal_type: T;
  workflow_id: string;
  data: D;
  timestamp: string;
}

/** Anything that arrives as a signal: a seed signal or a custom one. Narrow with `isSeedSignal`. */
export type AnySignal = Signal | CustomSignal<string, object>;

/** True for the four seed types (then `signal_type` narrows `data`). */
export function isSeedSignal(signal: AnySignal): signal is Signal {
  return (SIGNAL_TYPES as readonly string[]).includes(signal.signal_type);
}

/** True when `signal` is of the custom type `type`; `D` is the data type the application expects for it. */
export function isSignalOfType<T extends string, D extends object = Record<string, unknown>>(
  signal: AnySignal,
  type: T,
): signal is CustomSignal<T, D> & AnySignal {
  return signal.signal_type === type;
}

/** First frame of every connection: the user and the latest seq stored for them. */
export interface ConnectedMessage {
  type: "connected";
  user_id: string;
  seq: number;
}

/** Answer to the client's `{"type":"ping"}`. */
export interface PongMessage {
  type: "pong";
}

/** Sent after the signals missed since `since` were replayed; `recovered: false` means too many were missed: refetch the inbox. */
export interface ResumedMessage {
  type: "resumed";
  recovered: boolean;
}

/** Inbox state changed (in this tab, another tab, another device). */
export interface InboxMessage {
  type: "inbox";
  /** Unread among non-archived signals (the same as `counts.unread`). */
  unread_count: number;
  /** The counts after the change. */
  counts?: InboxCounts;
  /** What changed; absent from older servers (then: refetch). */
  change?: InboxStateChange;
}

/** `GET /api/v1/inbox/counts`: over the user's non-archived signals. */
export interface InboxCounts {
  unread: number;
  /** Not yet seen: what a bell's badge shows. */
  unseen: number;
  total: number;
}

/** The state some signals are in now (`deleted: true`: gone). */
export interface InboxStateSet {
  read?: boolean;
  seen?: boolean;
  archived?: boolean;
  deleted?: boolean;
}

/** Which signals a change or a bulk action is about: exactly one of the three. */
export type InboxTarget = { ids: string[] } | { workflow_id: string } | { all: true };

/** One change of inbox state, as the server announces it. */
export type InboxStateChange = { set: InboxStateSet } & Partial<{ ids: string[]; workflow_id: string; all: true }>;

/** What `POST /api/v1/inbox/bulk` can do. */
export type BulkAction = "read" | "unread" | "seen" | "archive" | "unarchive" | "delete";

/** `PATCH /api/v1/inbox/signals/{id}`: any of these. */
export interface InboxPatch {
  read?: boolean;
  seen?: boolean;
  archived?: boolean;
}

/**
 * Answer to `subscribe`/`unsubscribe`: the socket's whole workflow set. Empty
 * means "all of the user's signals". A socket with a set receives only those
 * workflows' signals, so its `seq`s have gaps by design (the other workflows').
 */
export interface SubscribedMessage {
  type: "subscribed";
  workflow_ids: string[];
}

export type ControlMessage = ConnectedMessage | PongMessage | ResumedMessage | InboxMessage | SubscribedMessage;

/** Anything the server sends. */
export type ServerMessage = AnySignal | ControlMessage;

/** Anything the client sends. */
export type ClientMessage =
  | { type: "ping" }
  | { type: "pong" }
  | { type: "resume"; since: number }
  | { type: "subscribe"; workflow_ids: string[] }
  | { type: "unsubscribe"; workflow_ids: string[] };

/** WebSocket close codes used by the server, and what the client does about each. */
export const CloseCode = {
  /** Clean close asked for by this client; no reconnect. */
  NORMAL: 1000,
  /** Server shutting down or restarting: reconnect and resume. */
  GOING_AWAY: 1001,
  /** The socket dropped without a close frame: reconnect and resume. */
  ABNORMAL: 1006,
  /** Bad inbound message (a bug on this side): reconnect with back-off. */
  POLICY: 1008,
  /** Inbound message too big. */
  TOO_BIG: 1009,
  /** Connection limit reached: reconnect with back-off. */
  TRY_AGAIN_LATER: 1013,
  /** Token invalid or expired: refresh it, then reconnect. */
  TOKEN: 4401,
  /** This client read too slowly: reconnect and resume. */
  TOO_SLOW: 4408,
} as const;

/**
 * Where the live connection is.
 * - `idle`: `connect()` not called yet;
 * - `connecting`: first attempt in progress;
 * - `connected`: the server's `connected` frame arrived;
 * - `reconnecting`: lost; waiting for the next attempt or attempting;
 * - `offline`: the browser says it has no network; waiting for `online`;
 * - `unauthorized`: the token was refused and could not be refreshed;
 * - `closed`: `disconnect()` was called.
 */
export type ConnectionState =
  | "idle"
  | "connecting"
  | "connected"
  | "reconnecting"
  | "offline"
  | "unauthorized"
  | "closed";

/**
 * A stored signal as the inbox returns it. `seen`/`archived` and their times
 * come from servers with inbox state (older ones omit them).
 */
export type InboxSignal = AnySignal & {
  read: boolean;
  read_at: string | null;
  seen?: boolean;
  seen_at?: string | null;
  archived?: boolean;
  archived_at?: string | null;
};

/** One page of `GET /api/v1/inbox/signals`, newest first. */
export interface InboxPage {
  signals: InboxSignal[];
  has_more: boolean;
  /** Pass as `cursor` to get the next (older) page; `null` on the last page. */
  next_cursor: string | null;
}

/** Query of `GET /api/v1/inbox/signals`. Use `cursor` (keyset) rather than `offset` for paging. */
export interface InboxQuery {
  /** 1–100, default 50. */
  limit?: number;
  offset?: number;
  cursor?: string | null;
  /** A seed or custom type. */
  signal_type?: SignalType | (string & {});
  workflow_id?: string;
  read?: boolean;
  /** `false` (the server's default): not archived; `true`: archived only; `"any"`: both. */
  archived?: boolean | "any";
  seen?: boolean;
  since?: string | Date;
  until?: string | Date;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** True for signal frames, false for control frames. */
export function isSignal(message: ServerMessage): message is AnySignal {
  return "signal_type" in message;
}

/**
 * Parse one text frame. Returns `null` for anything that is not a well-formed
 * signal or a known control message (unknown control types are ignored, so a
 * newer server does not break an older client).
 */
export function parseServerMessage(text: string): ServerMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isRecord(value)) return null;
  if (typeof value.signal_type === "string") {
    const ok =
      SIGNAL_TYPE_PATTERN.test(value.signal_type) &&
      typeof value.id === "string" &&
      typeof value.seq === "number" &&
      Number.isSafeInteger(value.seq) &&
      typeof value.workflow_id === "string" &&
      typeof value.timestamp === "string" &&
      isRecord(value.data);
    return ok ? (value as unknown as AnySignal) : null;
  }
  switch (value.type) {
    case "connected":
      return typeof value.seq === "number" && typeof value.user_id === "string" ? (value as unknown as ConnectedMessage) : null;
    case "pong":
      return { type: "pong" };
    case "resumed":
      return { type: "resumed", recovered: value.recovered === true };
    case "inbox":
      return typeof value.unread_count === "number" ? (value as unknown as InboxMessage) : null;
    case "subscribed":
      return Array.isArray(value.workflow_ids) && value.workflow_ids.every((w) => typeof w === "string")
        ? { type: "subscribed", workflow_ids: value.workflow_ids as string[] }
        : null;
    default:
      return null;
  }
}
