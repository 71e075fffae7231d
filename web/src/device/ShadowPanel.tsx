// The shadow editor: `desired` is edited as JSON and saved as a JSON merge patch (keys taken
// out become null) against the version it was read at; `reported` and `delta` are read-only
// and follow shadow events live.

import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, api, canOperate, session } from "../api";
import { ErrorBanner, Field, JsonView, Notice, TimeAgo, val } from "../components/ui";
import { subscribe } from "../live";
import { useStore } from "../store";
import type { Json, ShadowDoc } from "../types";

type Obj = Record<string, Json>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The merge patch (RFC 7396) that turns `from` into `to`. */
export function mergePatch(from: Obj, to: Obj): Obj {
  const patch: Obj = {};
  for (const k of Object.keys(from)) if (!(k in to)) patch[k] = null;
  for (const [k, v] of Object.entries(to)) {
    const old = from[k];
    if (isObj(old) && isObj(v)) {
      const sub = mergePatch(old, v);
      if (Object.keys(sub).length) patch[k] = sub;
    } else if (JSON.stringify(old) !== JSON.stringify(v)) patch[k] = v;
  }
  return patch;
}

const pretty = (v: unknown) => JSON.stringify(v ?? {}, null, 2);

export function ShadowPanel({ deviceId }: { deviceId: string }) {
  const user = useStore(session)!.user;
  const operate = canOperate(user);
  const [name, setName] = useState("default");
  const [nameInput, setNameInput] = useState("default");
  const [doc, setDoc] = useState<ShadowDoc | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [text, setText] = useState("{}");
  const [dirty, setDirty] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState(false);
  const dirtyRef = useRef(false);
  dirtyRef.current = dirty;

  const show = (d: ShadowDoc | null, replaceText: boolean) => {
    setDoc(d);
    if (replaceText) {
      setText(pretty(d?.state.desired));
      setDirty(false);
    }
  };

  const load = (signal?: AbortSignal) => {
    setError(null);
    return api.get<ShadowDoc>(`/api/devices/${deviceId}/shadows/${encodeURIComponent(name)}`, {}, signal).then(
      (d) => {
        show(d, true);
        setLoaded(true);
      },
      (e) => {
        if (signal?.aborted) return;
        if (e instanceof ApiError && e.status === 404) show(null, true);
        else setError(e);
        setLoaded(true);
      },
    );
  };

  useEffect(() => {
    const ctl = new AbortController();
    setLoaded(false);
    void load(ctl.signal);
    const unsubscribe = subscribe([deviceId], ["shadow"], (events) => {
      for (const e of events) {
        const d = e.data as unknown as ShadowDoc;
        if (d && d.name === name) show(d, !dirtyRef.current);
      }
    });
    return () => {
      ctl.abort();
      unsubscribe();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [deviceId, name]);

  const save = async () => {
    setNotice("");
    let desired: unknown;
    try {
      desired = JSON.parse(text);
    } catch (e) {
      setError(`Desired is not valid JSON: ${(e as Error).message}`);
      return;
    }
    if (!isObj(desired)) {
      setError("Desired must be a JSON object, e.g. {\"led\": \"on\"}.");
      return;
    }
    const patch = mergePatch(doc?.state.desired ?? {}, desired);
    if (!Object.keys(patch).length) {
      setNotice("Nothing changed.");
      setDirty(false);
      return;
    }
    const body: Record<string, unknown> = { state: { desired: patch } };
    if (doc) body.version = doc.version;
    setBusy(true);
    setError(null);
    try {
      const d = await api.patch<ShadowDoc>(`/api/devices/${deviceId}/shadows/${encodeURIComponent(name)}`, body);
      show(d, true);
      setNotice(`Saved: version ${d.version}.`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setName(nameInput.trim() || "default");
        }}
      >
        <Field label="Shadow">
          <input value={nameInput} onInput={(e) => setNameInput(val(e))} data-testid="shadow-name" />
        </Field>
        <button type="submit" class="secondary">
          Open
        </button>
      </form>
      <ErrorBanner error={error} onClose={() => setError(null)} />
      {notice && <Notice testid="shadow-status">{notice}</Notice>}
      <p class="muted small" data-testid="shadow-version" data-version={doc?.version ?? 0}>
        {!loaded
          ? "Loading…"
          : doc
            ? <>Version {doc.version}, updated <TimeAgo ms={doc.timestamp} /></>
            : "No such shadow yet: saving desired creates it."}
      </p>
      <div class="grid-2">
        <div>
          <h2 class="section-title">Desired {dirty && <small class="muted">(edited)</small>}</h2>
          <textarea
            class="code"
            rows={12}
            spellcheck={false}
            readOnly={!operate}
            value={text}
            onInput={(e) => {
              setText(val(e));
              setDirty(true);
            }}
            data-testid="shadow-desired"
          />
          {operate && (
            <div class="actions">
              <button
                type="button"
                class="secondary"
                disabled={!dirty}
                onClick={() => show(doc, true)}
                data-testid="shadow-revert"
              >
                Revert
              </button>
              <button type="button" disabled={busy} onClick={save} data-testid="shadow-save">
                {busy ? "Saving…" : "Save desired"}
              </button>
            </div>
          )}
        </div>
        <div>
          <h2 class="section-title">Reported</h2>
          <JsonView value={doc?.state.reported ?? {}} testid="shadow-reported" />
          <h2 class="section-title">Delta (desired but not reported)</h2>
          <JsonView value={doc?.state.delta ?? {}} testid="shadow-delta" />
        </div>
      </div>
    </div>
  );
}
