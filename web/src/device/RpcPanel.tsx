// The RPC console: method, params JSON, timeout; shows the outcome and the latest calls.

import { useEffect, useState } from "preact/hooks";
import { api, canOperate, errorText, session, ApiError } from "../api";
import { ErrorBanner, Field, JsonView, TimeAgo, useLoad, val } from "../components/ui";
import { subscribe } from "../live";
import { useStore } from "../store";
import type { RpcCall } from "../types";

export function RpcPanel({ deviceId }: { deviceId: string }) {
  const user = useStore(session)!.user;
  const operate = canOperate(user);
  const [method, setMethod] = useState("");
  const [params, setParams] = useState("{}");
  const [timeout, setTimeout_] = useState("10000");
  const [oneway, setOneway] = useState(false);
  const [persistent, setPersistent] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ call?: RpcCall; error?: string; status?: number } | null>(null);
  const calls = useLoad(
    (signal) => api.get<RpcCall[]>(`/api/devices/${deviceId}/rpc`, { limit: 10 }, signal),
    [deviceId],
  );

  useEffect(() => {
    let t: number | undefined;
    const un = subscribe([deviceId], ["rpc"], () => {
      clearTimeout(t);
      t = window.setTimeout(calls.reload, 300);
    });
    return () => {
      clearTimeout(t);
      un();
    };
  }, [deviceId, calls.reload]);

  const send = async (e: Event) => {
    e.preventDefault();
    let parsed: unknown;
    try {
      parsed = params.trim() ? JSON.parse(params) : null;
    } catch (err) {
      setResult({ error: `Params are not valid JSON: ${(err as Error).message}` });
      return;
    }
    const body: Record<string, unknown> = { method: method.trim(), params: parsed };
    if (oneway) body.oneway = true;
    if (persistent) body.persistent = true;
    const ms = Number(timeout);
    if (ms > 0 && !oneway && !persistent) body.timeout_ms = ms;
    setBusy(true);
    setResult(null);
    try {
      const call = await api.post<RpcCall>(`/api/devices/${deviceId}/rpc`, body);
      setResult({ call });
    } catch (err) {
      setResult({ error: errorText(err), status: err instanceof ApiError ? err.status : undefined });
    } finally {
      setBusy(false);
      calls.reload();
    }
  };

  return (
    <div class="grid-2">
      <form onSubmit={send} class="rpc-form">
        <Field label="Method">
          <input required value={method} onInput={(e) => setMethod(val(e))} placeholder="setGpio" data-testid="rpc-method" />
        </Field>
        <Field label="Params (JSON)">
          <textarea
            class="code"
            rows={5}
            spellcheck={false}
            value={params}
            onInput={(e) => setParams(val(e))}
            data-testid="rpc-params"
          />
        </Field>
        <Field label="Timeout (ms)">
          <input
            type="number"
            min={1}
            max={300000}
            value={timeout}
            onInput={(e) => setTimeout_(val(e))}
            data-testid="rpc-timeout"
          />
        </Field>
        <label class="check">
          <input type="checkbox" checked={oneway} onChange={(e) => setOneway(e.currentTarget.checked)} /> One-way (no
          answer expected)
        </label>
        <label class="check">
          <input type="checkbox" checked={persistent} onChange={(e) => setPersistent(e.currentTarget.checked)} /> Keep
          for an offline device (persistent)
        </label>
        <div class="actions">
          <button type="submit" disabled={busy || !operate} data-testid="rpc-send">
            {busy ? "Waiting for the device…" : "Send"}
          </button>
        </div>
        {!operate && <p class="muted small">Viewers cannot call devices.</p>}
        <div data-testid="rpc-result" data-status={result?.call?.status ?? (result?.error ? "error" : "")}>
          {result?.error && <ErrorBanner error={`${result.status ? result.status + ": " : ""}${result.error}`} />}
          {result?.call && (
            <div class="card">
              <div>
                Status: <span class={`badge rpc-${result.call.status}`}>{result.call.status}</span>
              </div>
              {result.call.error && <div class="muted">{result.call.error}</div>}
              <JsonView value={result.call.response} testid="rpc-response" />
            </div>
          )}
        </div>
      </form>
      <div>
        <h2 class="section-title">Latest calls</h2>
        <ErrorBanner error={calls.error} />
        {calls.data && !calls.data.length && <p class="muted">No calls yet.</p>}
        <ul class="list">
          {calls.data?.map((c) => (
            <li class="list-item column" data-testid="rpc-call">
              <div>
                <strong>{c.method}</strong> <span class={`badge rpc-${c.status}`}>{c.status}</span>{" "}
                <span class="muted small">
                  <TimeAgo ms={c.created_at} />
                </span>
              </div>
              {c.response !== null && <code class="small wrap">{JSON.stringify(c.response)}</code>}
              {c.error && <span class="muted small">{c.error}</span>}
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}
