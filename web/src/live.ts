// The live event stream over the `/api/ws` WebSocket.
//
// Each frame from the server is a JSON array of events. Incoming events are only queued;
// once per animation frame they are handed to the subscribers interested in their device,
// so a burst of 1,000 events per second costs one render per frame, not one per event.
// The socket reconnects with exponential back-off, and tells the server which devices are
// wanted (`{"devices": [...]}`, or `null` for all) whenever the subscriptions change.

import { createStore } from "./store";
import type { EventKind, LiveEvent } from "./types";

export type LiveHandler = (events: LiveEvent[]) => void;

interface Subscription {
  /** Device ids, or null for every device (and events without a device). */
  devices: Set<string> | null;
  kinds: Set<EventKind> | null;
  handler: LiveHandler;
}

/** Figures a test reads from `window.__strataStats`. */
export interface LiveStats {
  eventsReceived: number;
  framesRendered: number;
  /** Time to hand one frame's events to the widgets and let them draw, ms. */
  lastFrameMs: number;
  /** The last (up to 2000) frame times, ms, oldest first. */
  frameMs: number[];
  /** Events dropped because more than `MAX_PENDING` waited for a frame. */
  eventsDropped: number;
  connects: number;
}

const MAX_PENDING = 50_000;
const MAX_BACKOFF_MS = 30_000;

export type LiveState = "idle" | "connecting" | "open" | "closed";
export const liveState = createStore<LiveState>("idle");

const stats: LiveStats = {
  eventsReceived: 0,
  framesRendered: 0,
  lastFrameMs: 0,
  frameMs: [],
  eventsDropped: 0,
  connects: 0,
};
(window as unknown as { __strataStats: LiveStats }).__strataStats = stats;

const subscriptions = new Set<Subscription>();
let socket: WebSocket | null = null;
let pending: LiveEvent[] = [];
let frameScheduled = false;
let backoff = 500;
let reconnectTimer: number | undefined;
let filterDirty = false;
let lastFilter = "";
let enabled = false;

/** Subscribes to events of these devices (null: all) and kinds (null: all). */
export function subscribe(
  devices: string[] | null,
  kinds: EventKind[] | null,
  handler: LiveHandler,
): () => void {
  const sub: Subscription = {
    devices: devices ? new Set(devices) : null,
    kinds: kinds ? new Set(kinds) : null,
    handler,
  };
  subscriptions.add(sub);
  filterChanged();
  ensureSocket();
  return () => {
    subscriptions.delete(sub);
    filterChanged();
  };
}

/** Allows the socket (after sign-in); `false` closes it (sign-out). */
export function setLiveEnabled(on: boolean): void {
  enabled = on;
  if (on) {
    if (subscriptions.size) ensureSocket();
    return;
  }
  clearTimeout(reconnectTimer);
  reconnectTimer = undefined;
  if (socket) {
    const s = socket;
    socket = null;
    s.onclose = null;
    s.close(1000);
  }
  pending = [];
  lastFilter = "";
  liveState.set("idle");
}

function currentFilter(): string {
  let all = false;
  const ids = new Set<string>();
  for (const s of subscriptions) {
    if (!s.devices) all = true;
    else for (const d of s.devices) ids.add(d);
  }
  return JSON.stringify({ devices: all ? null : [...ids].sort() });
}

function filterChanged(): void {
  if (filterDirty) return;
  filterDirty = true;
  queueMicrotask(() => {
    filterDirty = false;
    sendFilter();
  });
}

function sendFilter(): void {
  if (!socket || socket.readyState !== WebSocket.OPEN) return;
  const filter = currentFilter();
  if (filter === lastFilter) return;
  lastFilter = filter;
  socket.send(filter);
}

function ensureSocket(): void {
  if (!enabled || socket || reconnectTimer !== undefined) return;
  connect();
}

function connect(): void {
  reconnectTimer = undefined;
  if (!enabled) return;
  const url = `${window.location.protocol === "https:" ? "wss" : "ws"}://${window.location.host}/api/ws`;
  liveState.set("connecting");
  let ws: WebSocket;
  try {
    ws = new WebSocket(url);
  } catch {
    scheduleReconnect();
    return;
  }
  socket = ws;
  let openedAt = 0;
  ws.onopen = () => {
    openedAt = Date.now();
    stats.connects++;
    lastFilter = "";
    liveState.set("open");
    sendFilter();
  };
  ws.onmessage = (m) => {
    if (typeof m.data !== "string") return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(m.data);
    } catch {
      return;
    }
    const events = Array.isArray(parsed) ? (parsed as LiveEvent[]) : [parsed as LiveEvent];
    stats.eventsReceived += events.length;
    for (const e of events) pending.push(e);
    if (pending.length > MAX_PENDING) {
      const drop = pending.length - MAX_PENDING;
      stats.eventsDropped += drop;
      pending.splice(0, drop);
    }
    scheduleFrame();
  };
  ws.onclose = () => {
    if (socket !== ws) return;
    socket = null;
    liveState.set("closed");
    // A connection that stayed up a while starts the back-off over.
    if (openedAt && Date.now() - openedAt > 10_000) backoff = 500;
    scheduleReconnect();
  };
  ws.onerror = () => {
    /* onclose follows */
  };
}

function scheduleReconnect(): void {
  if (!enabled || reconnectTimer !== undefined) return;
  const delay = backoff * (0.75 + Math.random() * 0.5);
  backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
  reconnectTimer = window.setTimeout(connect, delay);
}

function scheduleFrame(): void {
  if (frameScheduled) return;
  frameScheduled = true;
  // Hidden tabs get no animation frames: flush on a slow timer there instead.
  if (document.hidden) window.setTimeout(flush, 500);
  else requestAnimationFrame(flush);
}

function flush(): void {
  frameScheduled = false;
  const events = pending;
  pending = [];
  if (!events.length) return;
  const t0 = performance.now();
  // Group once by device, so each subscriber sees only its devices' events.
  const byDevice = new Map<string | null, LiveEvent[]>();
  for (const e of events) {
    const key = e.device_id ?? null;
    let list = byDevice.get(key);
    if (!list) byDevice.set(key, (list = []));
    list.push(e);
  }
  for (const sub of [...subscriptions]) {
    let mine: LiveEvent[];
    if (!sub.devices) mine = events;
    else {
      mine = [];
      for (const d of sub.devices) {
        const list = byDevice.get(d);
        if (list) for (const e of list) mine.push(e);
      }
    }
    if (sub.kinds) {
      const kinds = sub.kinds;
      mine = mine.filter((e) => kinds.has(e.kind));
    }
    if (!mine.length) continue;
    try {
      sub.handler(mine);
    } catch (err) {
      console.error("live handler failed", err);
    }
  }
  // Charts and Preact draw in microtasks queued above; measure after them.
  queueMicrotask(() => {
    const ms = performance.now() - t0;
    stats.framesRendered++;
    stats.lastFrameMs = ms;
    stats.frameMs.push(ms);
    if (stats.frameMs.length > 2000) stats.frameMs.splice(0, stats.frameMs.length - 2000);
  });
}

/** A telemetry event's numeric value for a key (booleans as 0/1), or null. */
export function numeric(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "boolean") return v ? 1 : 0;
  return null;
}
