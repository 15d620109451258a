/** Where tokens come from: a fixed string, or a callback that can mint a fresh one. */

/**
 * Returns a token (a Supabase-style JWT). Called once before the first
 * connection (`reason: "initial"`) and again whenever the server says the
 * token is invalid or expired (`reason: "expired"`: WebSocket close 4401 or
 * HTTP 401). Throwing, or returning an empty string, means "signed out".
 */
export type TokenProvider = (context: { reason: "initial" | "expired" }) => string | Promise<string>;

export type TokenInput = string | TokenProvider;

/**
 * Caches the current token and serialises refreshes: concurrent callers of
 * `refresh()` (a WebSocket close and an HTTP 401 at once) share one call of
 * the provider.
 */
export class TokenSource {
  private readonly provider: TokenProvider | null;
  private current: string | null;
  private pending: Promise<string> | null = null;

  constructor(input: TokenInput) {
    if (typeof input === "function") {
      this.provider = input;
      this.current = null;
    } else {
      if (typeof input !== "string" || !input) throw new TypeError("a token (string) or a token provider (function) is required");
      this.provider = null;
      this.current = input;
    }
  }

  /** Whether a refused token can be replaced (only with a provider). */
  get refreshable(): boolean {
    return this.provider !== null;
  }

  /** The current token; asks the provider the first time. */
  async get(): Promise<string> {
    if (this.current) return this.current;
    if (this.pending) return this.pending;
    return this.ask("initial");
  }

  /** A fresh token after a refusal, or `null` when there is no way to get one. */
  async refresh(): Promise<string | null> {
    if (!this.provider) return null;
    if (this.pending) return this.pending;
    try {
      return await this.ask("expired");
    } catch {
      return null;
    }
  }

  private ask(reason: "initial" | "expired"): Promise<string> {
    const provider = this.provider!;
    this.pending = (async () => {
      try {
        const token = await provider({ reason });
        if (typeof token !== "string" || !token) throw new Error("the token provider returned no token");
        this.current = token;
        return token;
      } finally {
        this.pending = null;
      }
    })();
    return this.pending;
  }
}
