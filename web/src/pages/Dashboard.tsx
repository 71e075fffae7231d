// One dashboard: view mode follows the live stream; edit mode adds and removes widgets and
// saves the whole dashboard with PUT.

import { useEffect, useState } from "preact/hooks";
import { api, canOperate, session } from "../api";
import { ErrorBanner, Field, Spinner, useLoad, val } from "../components/ui";
import { Link, navigate, useLocation } from "../router";
import { useStore } from "../store";
import { MAX_WIDGETS, MAX_WIDGET_KEYS, WIDGET_TYPES, type Dashboard, type DevicePage, type Widget, type WidgetType } from "../types";
import { DEFAULT_WINDOW_MS, WidgetBody } from "../widgets/Widgets";

const TYPE_LABELS: Record<WidgetType, string> = {
  timeseries: "Time-series chart",
  gauge: "Gauge",
  value: "Value card",
  table: "Table of latest values",
  alarms: "Alarm list",
};

const WINDOWS: [string, number][] = [
  ["5 min", 300_000],
  ["10 min", 600_000],
  ["1 h", 3_600_000],
  ["6 h", 21_600_000],
  ["24 h", 86_400_000],
];

function newId(): string {
  if (typeof crypto !== "undefined" && "randomUUID" in crypto) return crypto.randomUUID();
  return `w-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}

export function DashboardPage({ id }: { id: string }) {
  const user = useStore(session)!.user;
  const operate = canOperate(user);
  const { search } = useLocation();
  const editing = operate && search.get("edit") === "1";
  const { data, error, loading, setData } = useLoad(
    (signal) => api.get<Dashboard>(`/api/dashboards/${id}`, {}, signal),
    [id],
  );
  const [draft, setDraft] = useState<{ name: string; widgets: Widget[] } | null>(null);
  const [adding, setAdding] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (editing && data) setDraft({ name: data.name, widgets: [...data.widgets] });
    if (!editing) {
      setDraft(null);
      setAdding(false);
    }
  }, [editing, data?.id, data?.updated_at]);

  if (loading && !data) return <Spinner />;
  if (!data)
    return (
      <section>
        <p class="crumbs">
          <Link href="/dashboards">← Dashboards</Link>
        </p>
        <ErrorBanner error={error} />
      </section>
    );

  const widgets = draft?.widgets ?? data.widgets;
  const setEditing = (on: boolean) => navigate(`/dashboards/${id}${on ? "?edit=1" : ""}`, true);
  const save = async () => {
    if (!draft) return;
    setBusy(true);
    setSaveError(null);
    try {
      const saved = await api.put<Dashboard>(`/api/dashboards/${id}`, { name: draft.name.trim(), widgets: draft.widgets });
      setData(saved);
      setEditing(false);
    } catch (e) {
      setSaveError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <p class="crumbs">
        <Link href="/dashboards">← Dashboards</Link>
      </p>
      <div class="page-head">
        {draft ? (
          <Field label="Name">
            <input
              required
              maxLength={128}
              value={draft.name}
              onInput={(e) => setDraft({ ...draft, name: val(e) })}
              data-testid="dashboard-name-input"
            />
          </Field>
        ) : (
          <h1 data-testid="dashboard-name">{data.name}</h1>
        )}
        {operate && (
          <div class="head-actions">
            {draft ? (
              <>
                <button
                  type="button"
                  class="secondary"
                  onClick={() => setAdding(true)}
                  disabled={draft.widgets.length >= MAX_WIDGETS}
                  data-testid="widget-add-open"
                >
                  Add widget
                </button>
                <button type="button" class="secondary" onClick={() => setEditing(false)} data-testid="dashboard-cancel">
                  Cancel
                </button>
                <button type="button" disabled={busy} onClick={save} data-testid="dashboard-save">
                  {busy ? "Saving…" : "Save"}
                </button>
              </>
            ) : (
              <button type="button" class="secondary" onClick={() => setEditing(true)} data-testid="dashboard-edit">
                Edit
              </button>
            )}
          </div>
        )}
      </div>
      <ErrorBanner error={saveError} onClose={() => setSaveError(null)} />
      {draft && adding && (
        <WidgetForm
          onAdd={(w) => {
            setDraft({ ...draft, widgets: [...draft.widgets, w] });
            setAdding(false);
          }}
          onCancel={() => setAdding(false)}
        />
      )}
      {!widgets.length && (
        <p class="muted">{draft ? "No widgets yet: add one." : "This dashboard has no widgets yet."}</p>
      )}
      <div class="dashboard-grid" data-testid="dashboard-grid" data-widgets={widgets.length}>
        {widgets.map((w) => (
          <div
            class={`widget widget-${w.type}`}
            key={w.id}
            data-testid="widget"
            data-widget-id={w.id}
            data-widget-type={w.type}
          >
            <div class="widget-head">
              <h3 data-testid="widget-title">{w.title}</h3>
              {draft && (
                <button
                  type="button"
                  class="link danger-text"
                  aria-label={`Remove ${w.title}`}
                  data-testid="widget-remove"
                  onClick={() => setDraft({ ...draft, widgets: draft.widgets.filter((x) => x.id !== w.id) })}
                >
                  Remove
                </button>
              )}
            </div>
            <WidgetBody widget={w} />
          </div>
        ))}
      </div>
    </section>
  );
}

function WidgetForm({ onAdd, onCancel }: { onAdd: (w: Widget) => void; onCancel: () => void }) {
  const [type, setType] = useState<WidgetType>("timeseries");
  const [title, setTitle] = useState("");
  const [device, setDevice] = useState("");
  const [picked, setPicked] = useState<string[]>([]);
  const [extraKeys, setExtraKeys] = useState("");
  const [min, setMin] = useState("0");
  const [max, setMax] = useState("100");
  const [unit, setUnit] = useState("");
  const [windowMs, setWindowMs] = useState(String(DEFAULT_WINDOW_MS));
  const [error, setError] = useState<string | null>(null);
  const devices = useLoad((signal) => api.get<DevicePage>("/api/devices", { limit: 1000 }, signal), []);
  const keys = useLoad(
    (signal) =>
      device ? api.get<string[]>(`/api/devices/${device}/telemetry/keys`, {}, signal) : Promise.resolve([]),
    [device],
  );

  const single = type === "value" || type === "gauge";
  const submit = (e: Event) => {
    e.preventDefault();
    const typed = extraKeys
      .split(",")
      .map((k) => k.trim())
      .filter(Boolean);
    let chosen = [...new Set([...picked, ...typed])];
    if (type !== "alarms" && !device) return setError("Choose a device.");
    if ((type === "timeseries" || single) && !chosen.length) return setError("Choose at least one key.");
    if (single) chosen = chosen.slice(0, 1);
    if (chosen.length > MAX_WIDGET_KEYS) return setError(`A widget shows at most ${MAX_WIDGET_KEYS} keys.`);
    const w: Widget = {
      id: newId(),
      type,
      title: title.trim() || (type === "alarms" ? "Alarms" : chosen.join(", ") || TYPE_LABELS[type]),
    };
    if (device) w.device_id = device;
    if (type !== "alarms" && chosen.length) w.keys = chosen;
    if (type === "timeseries") w.options = { window_ms: Number(windowMs) };
    if (type === "gauge") w.options = { min: Number(min), max: Number(max), ...(unit ? { unit } : {}) };
    if (type === "value" && unit) w.options = { unit };
    onAdd(w);
  };

  const toggle = (k: string) =>
    setPicked((p) => (p.includes(k) ? p.filter((x) => x !== k) : single ? [k] : [...p, k]));

  return (
    <form class="card widget-form" onSubmit={submit} data-testid="widget-form">
      <h2>Add a widget</h2>
      {error && <ErrorBanner error={error} />}
      <ErrorBanner error={devices.error} />
      <div class="form-grid">
        <Field label="Type">
          <select value={type} onChange={(e) => setType(val(e) as WidgetType)} data-testid="widget-type">
            {WIDGET_TYPES.map((t) => (
              <option value={t}>{TYPE_LABELS[t]}</option>
            ))}
          </select>
        </Field>
        <Field label="Title">
          <input
            maxLength={128}
            value={title}
            onInput={(e) => setTitle(val(e))}
            placeholder="(the keys)" data-testid="widget-title-input" />
        </Field>
        <Field label={type === "alarms" ? "Device (optional: all devices)" : "Device"}>
          <select
            value={device}
            onChange={(e) => {
              setDevice(val(e));
              setPicked([]);
            }}
            data-testid="widget-device"
          >
            <option value="">{type === "alarms" ? "All devices" : "Choose…"}</option>
            {devices.data?.items.map((d) => (
              <option value={d.id}>{d.name}</option>
            ))}
          </select>
        </Field>
        {type !== "alarms" && (
          <Field label={single ? "Other key" : "Other keys (comma-separated)"}>
            <input
              value={extraKeys}
              onInput={(e) => setExtraKeys(val(e))}
              placeholder="not sent yet, e.g. temperature"
              data-testid="widget-keys"
            />
          </Field>
        )}
        {type === "timeseries" && (
          <Field label="Time window">
            <select value={windowMs} onChange={(e) => setWindowMs(val(e))} data-testid="widget-window">
              {WINDOWS.map(([l, ms]) => (
                <option value={String(ms)}>{l}</option>
              ))}
            </select>
          </Field>
        )}
        {type === "gauge" && (
          <>
            <Field label="Min">
              <input type="number" value={min} onInput={(e) => setMin(val(e))} data-testid="widget-min" />
            </Field>
            <Field label="Max">
              <input type="number" value={max} onInput={(e) => setMax(val(e))} data-testid="widget-max" />
            </Field>
          </>
        )}
        {(type === "gauge" || type === "value") && (
          <Field label="Unit">
            <input value={unit} onInput={(e) => setUnit(val(e))} placeholder="°C" data-testid="widget-unit" />
          </Field>
        )}
      </div>
      {type !== "alarms" && device && (
        <div class="key-picker" data-testid="widget-key-picker">
          <span class="muted small">{single ? "Key:" : "Keys:"}</span>
          {keys.data?.length === 0 && <span class="muted small">no telemetry yet; type the key above</span>}
          {keys.data?.map((k) => (
            <label class="chip-check">
              <input type="checkbox" checked={picked.includes(k)} onChange={() => toggle(k)} data-key={k} /> {k}
            </label>
          ))}
        </div>
      )}
      <div class="actions">
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" data-testid="widget-add-submit">
          Add
        </button>
      </div>
    </form>
  );
}
