// Small shared pieces: errors, dialogs, two-step confirmations, tabs, copy, time and values.

import type { ComponentChildren, TargetedEvent } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { errorText } from "../api";
import type { Json } from "../types";

export function ErrorBanner({ error, onClose }: { error: unknown; onClose?: () => void }) {
  if (!error) return null;
  return (
    <div class="banner banner-error" role="alert" data-testid="error">
      <span>{errorText(error)}</span>
      {onClose && (
        <button class="link" type="button" aria-label="Dismiss" onClick={onClose}>
          ×
        </button>
      )}
    </div>
  );
}

export function Notice({ children, testid }: { children: ComponentChildren; testid?: string }) {
  return (
    <div class="banner banner-ok" role="status" data-testid={testid}>
      {children}
    </div>
  );
}

export function Dialog({
  title,
  onClose,
  children,
  testid,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  testid?: string;
}) {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div class="overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-label={title} data-testid={testid}>
        <div class="dialog-head">
          <h2>{title}</h2>
          <button class="link" type="button" aria-label="Close" onClick={onClose} data-testid="dialog-close">
            ×
          </button>
        </div>
        {children}
      </div>
    </div>
  );
}

/** A button that asks "sure?" on the first click and acts on the second. */
export function ConfirmButton({
  onConfirm,
  children,
  confirmText = "Click again to confirm",
  testid,
  class: cls = "danger",
  disabled,
}: {
  onConfirm: () => void | Promise<void>;
  children: ComponentChildren;
  confirmText?: string;
  testid?: string;
  class?: string;
  disabled?: boolean;
}) {
  const [armed, setArmed] = useState(false);
  useEffect(() => {
    if (!armed) return;
    const t = window.setTimeout(() => setArmed(false), 4000);
    return () => clearTimeout(t);
  }, [armed]);
  return (
    <button
      type="button"
      class={cls + (armed ? " armed" : "")}
      data-testid={testid}
      data-armed={armed ? "true" : "false"}
      disabled={disabled}
      onClick={() => {
        if (armed) {
          setArmed(false);
          void onConfirm();
        } else setArmed(true);
      }}
    >
      {armed ? confirmText : children}
    </button>
  );
}

export function CopyButton({ text, testid }: { text: string; testid?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      type="button"
      data-testid={testid}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
        } catch {
          // No clipboard permission (or not a secure context): copy through a selection.
          const t = document.createElement("textarea");
          t.value = text;
          t.style.position = "fixed";
          t.style.opacity = "0";
          document.body.appendChild(t);
          t.select();
          document.execCommand("copy");
          t.remove();
        }
        setDone(true);
        window.setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? "Copied" : "Copy"}
    </button>
  );
}

export function Tabs<T extends string>({
  tabs,
  value,
  onChange,
}: {
  tabs: { id: T; label: string }[];
  value: T;
  onChange: (t: T) => void;
}) {
  return (
    <div class="tabs" role="tablist">
      {tabs.map((t) => (
        <button
          type="button"
          role="tab"
          aria-selected={t.id === value}
          class={t.id === value ? "tab active" : "tab"}
          data-testid={`tab-${t.id}`}
          onClick={() => onChange(t.id)}
        >
          {t.label}
        </button>
      ))}
    </div>
  );
}

export function Spinner({ text = "Loading…" }: { text?: string }) {
  return <p class="muted">{text}</p>;
}

/** `{data, error, loading, reload}` of an async load that reruns when `deps` change. */
export function useLoad<T>(load: (signal: AbortSignal) => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data: T | null; error: unknown; loading: boolean }>({
    data: null,
    error: null,
    loading: true,
  });
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    const ctl = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    loadRef.current(ctl.signal).then(
      (data) => !ctl.signal.aborted && setState({ data, error: null, loading: false }),
      (error) => !ctl.signal.aborted && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => ctl.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback((data: T) => setState({ data, error: null, loading: false }), []);
  return { ...state, reload, setData };
}

/** The changes a page makes to what it loaded: each runs, then `reload`s the page's data,
 * or leaves its error for an `ErrorBanner`. `submit` also marks the page busy (to disable
 * its form) while it runs; `change` (a row's toggle or delete) does not. Both resolve to
 * whether the change went through. */
export function useChanges(reload: () => void) {
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const run = useCallback(
    async (action: () => Promise<unknown>, markBusy: boolean) => {
      if (markBusy) setBusy(true);
      setError(null);
      try {
        await action();
        reload();
        return true;
      } catch (err) {
        setError(err);
        return false;
      } finally {
        if (markBusy) setBusy(false);
      }
    },
    [reload],
  );
  return {
    error,
    busy,
    clearError: useCallback(() => setError(null), []),
    /** Shows an error from a change the caller ran itself. */
    fail: setError,
    submit: useCallback((action: () => Promise<unknown>) => run(action, true), [run]),
    change: useCallback((action: () => Promise<unknown>) => run(action, false), [run]),
  };
}

/** "5 s ago", "3 min ago", "2 h ago", else a date. */
export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (!ms) return "never";
  const d = Math.max(0, now - ms) / 1000;
  if (d < 5) return "just now";
  if (d < 60) return `${Math.floor(d)} s ago`;
  if (d < 3600) return `${Math.floor(d / 60)} min ago`;
  if (d < 86400) return `${Math.floor(d / 3600)} h ago`;
  return new Date(ms).toLocaleDateString();
}

export function time(ms: number | null | undefined): string {
  return ms ? new Date(ms).toLocaleString() : "—";
}

export function TimeAgo({ ms }: { ms: number | null | undefined }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = window.setInterval(() => tick((n) => n + 1), 10_000);
    return () => clearInterval(t);
  }, []);
  return <span title={time(ms)}>{ago(ms)}</span>;
}

export function formatValue(v: Json | undefined, unit?: string): string {
  if (v === undefined) return "—";
  let s: string;
  if (typeof v === "number") s = Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
  else if (typeof v === "string") s = v;
  else s = JSON.stringify(v);
  return unit ? `${s} ${unit}` : s;
}

export function JsonView({ value, testid }: { value: unknown; testid?: string }) {
  return (
    <pre class="json" data-testid={testid}>
      {value === undefined ? "—" : JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function Field({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <label class="field">
      <span>{label}</span>
      {children}
    </label>
  );
}

export function StatusBadge({ online }: { online: boolean | undefined }) {
  return (
    <span class={online ? "badge badge-on" : "badge badge-off"} data-testid="status-badge">
      {online ? "online" : "offline"}
    </span>
  );
}

export function SeverityBadge({ severity }: { severity: string }) {
  return <span class={`badge sev-${severity}`}>{severity}</span>;
}

export type InputEvent = TargetedEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement, Event>;
/** The value of an input event's target. */
export const val = (e: InputEvent) => e.currentTarget.value;
