/** Authorised HTTP calls to the signalhub API (fetch-based, with one token refresh on 401). */

import { TokenSource, type TokenInput } from "./token.js";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** A non-2xx answer; `body` is the parsed JSON (FastAPI's `{"detail": …}`) when there is one. */
export class HttpError extends Error {
  readonly status: number;
  readonly body: unknown;

  constructor(status: number, body: unknown, what: string) {
    const detail =
      typeof body === "object" && body !== null && "detail" in body && typeof (body as { detail: unknown }).detail === "string"
        ? `: ${(body as { detail: string }).detail}`
        : "";
    super(`${what} failed with HTTP ${status}${detail}`);
    this.name = "HttpError";
    this.status = status;
    this.body = body;
  }
}

export interface HttpApiOptions {
  /** The API's origin, e.g. `https://api.example.com` (default: the page's own origin). */
  baseUrl?: string;
  token: TokenInput | TokenSource;
  /** Injectable for tests; default the global `fetch`. */
  fetch?: FetchLike;
}

export type QueryValue = string | number | boolean | Date | null | undefined;

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** JSON-encoded unless it is FormData (uploads). */
  body?: unknown;
  signal?: AbortSignal;
}

/** The page's origin, or a clear error outside a browser. */
export function defaultBaseUrl(): string {
  const location = (globalThis as { location?: { origin?: string } }).location;
  if (location?.origin && location.origin !== "null") return location.origin;
  throw new Error("baseUrl is required outside a browser page");
}

export function toQueryString(query: Record<string, QueryValue> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === "") continue;
    params.set(key, value instanceof Date ? value.toISOString() : String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/**
 * Sends requests with `Authorization: Bearer <token>`. On a 401 it asks the
 * token source for a fresh token once and retries; a second 401 is thrown.
 */
export class HttpApi {
  readonly baseUrl: string;
  readonly tokens: TokenSource;
  private readonly fetchImpl: FetchLike;

  constructor(options: HttpApiOptions) {
    this.baseUrl = (options.baseUrl ?? defaultBaseUrl()).replace(/\/+$/, "");
    this.tokens = options.token instanceof TokenSource ? options.token : new TokenSource(options.token);
    const f = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
    if (!f) throw new Error("no fetch implementation available");
    this.fetchImpl = (input, init) => f(input, init);
  }

  /** `method path` with the user's token; resolves to the parsed JSON body. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = `${this.baseUrl}${path}${toQueryString(options.query)}`;
    let token = await this.tokens.get();
    let response = await this.send(method, url, token, options);
    if (response.status === 401) {
      const fresh = await this.tokens.refresh();
      if (fresh && fresh !== token) {
        token = fresh;
        response = await this.send(method, url, token, options);
      }
    }
    const body = await readBody(response);
    if (!response.ok) throw new HttpError(response.status, body, `${method} ${path}`);
    return body as T;
  }

  private send(method: string, url: string, token: string, options: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    let body: BodyInit | undefined;
    if (options.body !== undefined) {
      if (typeof FormData !== "undefined" && options.body instanceof FormData) {
        body = options.body; // the browser sets the multipart boundary
      } else {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(options.body);
      }
    }
    return this.fetchImpl(url, { method, headers, body, signal: options.signal });
  }
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
