// The REST client: cookie session, CSRF header on every change, and the API's error shape
// (`{"error": {"code", "message"}}`) turned into an `ApiError` whose message is the server's.

import { createStore } from "./store";
import type { Role, Session, User } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The signed-in user, or null. The CSRF token lives only in memory (refetched with
 * `GET /api/auth/session` after a reload). */
export const session = createStore<Session | null>(null);

/** Why the user was sent back to the sign-in page, if not by choice. */
export const signedOutReason = createStore<string | null>(null);

const CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const SESSION_PATH = "/api/auth/session";

export type Query = Record<string, string | number | boolean | null | undefined>;

/** `?a=1&b=x` from the defined entries, or "". */
export function qs(query: Query): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === "") continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? `?${parts.join("&")}` : "";
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const current = session.get();
  if (CHANGING.has(method) && current) headers["X-CSRF-Token"] = current.csrf_token;
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, "network", "The server cannot be reached; check the connection and retry.");
  }
  const text = await response.text();
  if (!response.ok) {
    let code = `http_${response.status}`;
    let message = `${response.status} ${response.statusText || "error"}`;
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
      if (parsed.error?.message) message = parsed.error.message;
      if (parsed.error?.code) code = parsed.error.code;
    } catch {
      if (text && text.length < 300) message = text;
    }
    if (response.status === 401 && path !== SESSION_PATH && session.get()) {
      session.set(null);
      signedOutReason.set("Your session has ended; sign in again.");
    }
    throw new ApiError(response.status, code, message);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

export const api = {
  get: <T>(path: string, query: Query = {}, signal?: AbortSignal) =>
    request<T>("GET", path + qs(query), undefined, signal),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, body ?? {}),
  put: <T>(path: string, body: unknown) => request<T>("PUT", path, body),
  patch: <T>(path: string, body: unknown) => request<T>("PATCH", path, body),
  del: (path: string) => request<void>("DELETE", path),
};

export async function signIn(username: string, password: string): Promise<Session> {
  const s = await request<Session>("POST", SESSION_PATH, { username, password });
  signedOutReason.set(null);
  session.set(s);
  return s;
}

/** Restores the session from the cookie; null when not signed in. */
export async function restoreSession(): Promise<Session | null> {
  try {
    const s = await request<Session>("GET", SESSION_PATH);
    session.set(s);
    return s;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return null;
    throw e;
  }
}

export async function signOut(): Promise<void> {
  try {
    await request<void>("DELETE", SESSION_PATH);
  } finally {
    signedOutReason.set(null);
    session.set(null);
  }
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Operators and admins change devices, shadows, RPC, alarms and dashboards. */
export const canOperate = (user: User | undefined | null) => !!user && RANK[user.role] >= 1;
/** Admins also manage users and rules. */
export const isAdmin = (user: User | undefined | null) => !!user && user.role === "admin";

/** The error text to show a person. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
