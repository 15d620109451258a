/** Signing in: the demo user (dev sign-in, `make run` only) or a pasted token. */

import type { TokenProvider } from "@signalhub/client";

export type SessionMode = { kind: "demo"; token: string } | { kind: "token"; token: string };

const STORAGE_KEY = "signalhub.session";

export class DevLoginUnavailable extends Error {}

/** A token for the demo user from `GET /api/v1/dev/session` (exists only under `make run`). */
export async function fetchDemoToken(): Promise<string> {
  let response: Response;
  try {
    response = await fetch("/api/v1/dev/session", { headers: { Accept: "application/json" } });
  } catch {
    throw new Error("the API is not reachable");
  }
  if (response.status === 404 || response.status === 403) {
    throw new DevLoginUnavailable("Demo sign-in is available under `make run` only. Paste a token instead (`signalhub token --user <uuid>`).");
  }
  if (!response.ok) throw new Error(`demo sign-in failed (HTTP ${response.status})`);
  const body = (await response.json()) as { token: string };
  return body.token;
}

/**
 * The client's token provider: the demo session is renewed from the API when
 * the server refuses the token (close 4401 / HTTP 401); a pasted token cannot
 * be renewed, so the page asks for a new one.
 */
export function tokenProvider(mode: SessionMode): TokenProvider {
  let first: string | null = mode.token;
  return async ({ reason }) => {
    if (reason === "initial" && first) {
      const token = first;
      first = null;
      return token;
    }
    if (mode.kind === "demo") return fetchDemoToken();
    throw new Error("the pasted token was refused; paste a new one");
  };
}

/** The user id (`sub`) a token claims, for display only (the server verifies it). */
export function tokenSubject(token: string): string | null {
  try {
    const payload = token.split(".")[1] ?? "";
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === "string" ? sub : null;
  } catch {
    return null;
  }
}

/** Kept per tab (sessionStorage), so a reload stays signed in and closing the tab forgets the token. */
export function saveSession(mode: SessionMode | null): void {
  try {
    if (mode) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(mode));
    else sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    /* storage disabled */
  }
}

export function loadSession(): SessionMode | null {
  try {
    const value = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null") as SessionMode | null;
    return value && (value.kind === "demo" || value.kind === "token") && typeof value.token === "string" ? value : null;
  } catch {
    return null;
  }
}
