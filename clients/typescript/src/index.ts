/**
 * signalhub browser client: live workflow signals over WebSocket and the
 * user's inbox. React hooks are in `@signalhub/client/react`.
 */

export { SignalClient } from "./client.js";
export type {
  NetworkEnvironment,
  SignalClientEvents,
  SignalClientOptions,
  StateChange,
  Unsubscribe,
  VisibilityEnvironment,
  WebSocketFactory,
  WebSocketLike,
} from "./client.js";
export { backoffCeiling, backoffDelay, DEFAULT_BACKOFF } from "./backoff.js";
export type { BackoffOptions } from "./backoff.js";
export { TokenSource } from "./token.js";
export type { TokenInput, TokenProvider } from "./token.js";
export { HttpApi, HttpError, toQueryString } from "./http.js";
export type { FetchLike, HttpApiOptions, RequestOptions } from "./http.js";
export { InboxApi } from "./inbox.js";
export { InboxStore } from "./inbox-store.js";
export type { BroadcastChannelLike, InboxChange, InboxStoreOptions, InboxSyncMessage } from "./inbox-store.js";
export { mergeSignals, summarizeWorkflow } from "./workflow.js";
export type { WorkflowProgress, WorkflowStep } from "./workflow.js";
export { CloseCode, isSeedSignal, isSignal, isSignalOfType, parseServerMessage, SIGNAL_TYPE_PATTERN, SIGNAL_TYPES } from "./types.js";
export type {
  AnySignal,
  BulkAction,
  ClientMessage,
  CompletionData,
  CompletionSignal,
  ConnectedMessage,
  ConnectionState,
  ControlMessage,
  CustomSignal,
  ErrorData,
  ErrorSignal,
  InboxCounts,
  InboxMessage,
  InboxPage,
  InboxPatch,
  InboxQuery,
  InboxSignal,
  InboxStateChange,
  InboxStateSet,
  InboxTarget,
  PongMessage,
  ProgressData,
  ProgressSignal,
  ResumedMessage,
  ServerMessage,
  Signal,
  SignalOf,
  SignalType,
  StatusUpdateData,
  StatusUpdateSignal,
  SubscribedMessage,
} from "./types.js";
