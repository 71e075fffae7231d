// Dashboard widgets. Each one loads its starting data, then follows the live stream for its
// device only. Updates arrive at most once per animation frame (see live.ts); the hot ones
// (chart, value, gauge) write to the canvas or DOM directly instead of re-rendering.

import { useEffect, useRef, useState } from "preact/hooks";
import { api, canOperate, session } from "../api";
import { Chart, type ChartApi } from "../components/Chart";
import { ErrorBanner, SeverityBadge, TimeAgo, formatValue } from "../components/ui";
import { numeric, subscribe } from "../live";
import { Link } from "../router";
import { SeriesRing } from "../ring";
import { useStore } from "../store";
import type { Alarm, Json, LatestMap, RangeOut, Widget } from "../types";

/** Most points a time-series widget keeps (per widget, all keys together). */
const RING_CAPACITY = 4000;
export const DEFAULT_WINDOW_MS = 10 * 60_000;

export function WidgetBody({ widget }: { widget: Widget }) {
  if (widget.type !== "alarms" && !widget.device_id) return <p class="muted">No device chosen.</p>;
  switch (widget.type) {
    case "timeseries":
      return <TimeseriesWidget widget={widget} />;
    case "value":
      return <ValueWidget widget={widget} gauge={false} />;
    case "gauge":
      return <ValueWidget widget={widget} gauge />;
    case "table":
      return <TableWidget widget={widget} />;
    case "alarms":
      return <AlarmsWidget widget={widget} />;
    default:
      return <p class="muted">Unknown widget type.</p>;
  }
}

function TimeseriesWidget({ widget }: { widget: Widget }) {
  const keys = widget.keys ?? [];
  const windowMs = Number(widget.options?.window_ms) || DEFAULT_WINDOW_MS;
  const device = widget.device_id!;
  const chart = useRef<ChartApi | null>(null);
  const ring = useRef(new SeriesRing(RING_CAPACITY));
  const [error, setError] = useState<unknown>(null);
  const keyList = keys.join(",");

  const redraw = () => chart.current?.setData(ring.current.toAligned(keys, Date.now() - windowMs));

  useEffect(() => {
    if (!keys.length) return;
    ring.current = new SeriesRing(RING_CAPACITY);
    const ctl = new AbortController();
    let buffered: { ts: number; data: Record<string, Json> }[] | null = [];
    const push = (events: { ts: number; data: Record<string, Json> }[]) => {
      for (const e of events) {
        let nums: Record<string, number> | null = null;
        for (const k of keys) {
          const n = numeric(e.data[k]);
          if (n !== null) (nums ??= {})[k] = n;
        }
        if (nums) ring.current.push(e.ts, nums);
      }
    };
    const unsubscribe = subscribe([device], ["telemetry"], (events) => {
      if (buffered) buffered.push(...events);
      else {
        push(events);
        redraw();
      }
    });
    const end = Date.now() + 1;
    const width = Math.max(200, chart.current?.width() ?? 600);
    api
      .get<RangeOut>(
        `/api/devices/${device}/telemetry`,
        { keys: keyList, start: end - windowMs, end, order: "asc", limit: 10000, max_points: width },
        ctl.signal,
      )
      .then(
        (r) => {
          const rows = new Map<number, Record<string, Json>>();
          for (const s of r.series)
            for (const p of s.points) {
              let row = rows.get(p.ts);
              if (!row) rows.set(p.ts, (row = {}));
              row[s.key] = p.value;
            }
          push([...rows.keys()].sort((a, b) => a - b).map((ts) => ({ ts, data: rows.get(ts)! })));
        },
        (e) => !ctl.signal.aborted && setError(e),
      )
      .finally(() => {
        if (ctl.signal.aborted) return;
        const pending = buffered ?? [];
        buffered = null;
        push(pending);
        redraw();
      });
    // Slide the window along even when nothing arrives.
    const slide = window.setInterval(redraw, 5000);
    return () => {
      ctl.abort();
      clearInterval(slide);
      unsubscribe();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [device, keyList, windowMs]);

  if (!keys.length) return <p class="muted">No keys chosen.</p>;
  return (
    <>
      <ErrorBanner error={error} />
      <Chart
        keys={keys}
        height={200}
        testid="widget-chart"
        xRange={() => [Date.now() - windowMs, Date.now()]}
        onReady={(api) => {
          chart.current = api;
          if (api) redraw();
        }}
      />
    </>
  );
}

/** A value card, or a gauge (an arc from `min` to `max`). */
function ValueWidget({ widget, gauge }: { widget: Widget; gauge: boolean }) {
  const key = widget.keys?.[0];
  const device = widget.device_id!;
  const unit = typeof widget.options?.unit === "string" ? widget.options.unit : "";
  const min = Number(widget.options?.min ?? 0);
  const max = Number(widget.options?.max ?? 100);
  const valueEl = useRef<HTMLDivElement>(null);
  const timeEl = useRef<HTMLDivElement>(null);
  const arcEl = useRef<SVGPathElement>(null);
  const [error, setError] = useState<unknown>(null);
  const last = useRef(-Infinity);

  useEffect(() => {
    if (!key) return;
    last.current = -Infinity;
    const ctl = new AbortController();
    const show = (ts: number, value: Json) => {
      if (ts < last.current) return;
      last.current = ts;
      const el = valueEl.current;
      if (el) {
        el.textContent = formatValue(value, unit);
        el.dataset.value = typeof value === "string" ? value : JSON.stringify(value);
        el.dataset.ts = String(ts);
      }
      if (timeEl.current) timeEl.current.textContent = new Date(ts).toLocaleTimeString();
      if (gauge && arcEl.current) {
        const n = numeric(value);
        const f = n === null || max <= min ? 0 : Math.min(1, Math.max(0, (n - min) / (max - min)));
        arcEl.current.setAttribute("d", arc(f));
      }
    };
    const unsubscribe = subscribe([device], ["telemetry"], (events) => {
      // Only the newest value matters: scan from the end.
      for (let i = events.length - 1; i >= 0; i--) {
        const v = events[i].data[key];
        if (v !== undefined) {
          show(events[i].ts, v);
          break;
        }
      }
    });
    api.get<LatestMap>(`/api/devices/${device}/telemetry/latest`, { keys: key }, ctl.signal).then(
      (l) => l[key] && show(l[key].ts, l[key].value),
      (e) => !ctl.signal.aborted && setError(e),
    );
    return () => {
      ctl.abort();
      unsubscribe();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [device, key, unit, min, max, gauge]);

  if (!key) return <p class="muted">No key chosen.</p>;
  return (
    <div class={gauge ? "gauge" : "value-widget"}>
      <ErrorBanner error={error} />
      {gauge && (
        <svg viewBox="0 0 200 120" class="gauge-svg" aria-hidden="true">
          <path d={arc(1)} class="gauge-track" />
          <path ref={arcEl} d={arc(0)} class="gauge-fill" />
          <text x="10" y="118" class="gauge-label">
            {min}
          </text>
          <text x="190" y="118" text-anchor="end" class="gauge-label">
            {max}
          </text>
        </svg>
      )}
      {/* Filled in directly by `show` (empty until a value comes; CSS shows a dash). */}
      <div class="value-big" ref={valueEl} data-testid="widget-value" data-key={key} />
      <div class="muted small">
        {key} <span class="widget-time" ref={timeEl} />
      </div>
    </div>
  );
}

/** The SVG path of a half-circle gauge filled to fraction `f`. */
function arc(f: number): string {
  const r = 80;
  const cx = 100;
  const cy = 100;
  const a = Math.PI * (1 - f);
  const x = cx + r * Math.cos(a);
  const y = cy - r * Math.sin(a);
  return `M ${cx - r} ${cy} A ${r} ${r} 0 0 1 ${x.toFixed(2)} ${y.toFixed(2)}`;
}

/** Latest value of each key (all keys when none were chosen). */
function TableWidget({ widget }: { widget: Widget }) {
  const device = widget.device_id!;
  const keys = widget.keys ?? [];
  const keyList = keys.join(",");
  const [rows, setRows] = useState<LatestMap>({});
  const [error, setError] = useState<unknown>(null);
  const rowsRef = useRef<LatestMap>({});

  useEffect(() => {
    const ctl = new AbortController();
    rowsRef.current = {};
    const merge = (ts: number, data: Record<string, Json>) => {
      for (const [k, v] of Object.entries(data)) {
        if (keys.length && !keys.includes(k)) continue;
        const cur = rowsRef.current[k];
        if (!cur || cur.ts <= ts) rowsRef.current[k] = { ts, value: v };
      }
    };
    const unsubscribe = subscribe([device], ["telemetry"], (events) => {
      for (const e of events) merge(e.ts, e.data);
      setRows({ ...rowsRef.current });
    });
    api.get<LatestMap>(`/api/devices/${device}/telemetry/latest`, { keys: keyList }, ctl.signal).then(
      (l) => {
        for (const [k, v] of Object.entries(l)) merge(v.ts, { [k]: v.value });
        setRows({ ...rowsRef.current });
      },
      (e) => !ctl.signal.aborted && setError(e),
    );
    return () => {
      ctl.abort();
      unsubscribe();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [device, keyList]);

  const names = keys.length ? keys : Object.keys(rows).sort();
  return (
    <>
      <ErrorBanner error={error} />
      <div class="table-wrap">
        <table class="table compact" data-testid="widget-table">
          <tbody>
            {names.map((k) => (
              <tr data-key={k}>
                <th>{k}</th>
                <td data-testid="widget-table-value">{formatValue(rows[k]?.value)}</td>
                <td class="muted small">{rows[k] ? new Date(rows[k].ts).toLocaleTimeString() : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

/** Open alarms of the widget's device (or of all devices). */
function AlarmsWidget({ widget }: { widget: Widget }) {
  const user = useStore(session)!.user;
  const device = widget.device_id;
  const [alarms, setAlarms] = useState<Alarm[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const ctl = new AbortController();
    api.get<Alarm[]>("/api/alarms", { device_id: device, status: "open", limit: 20 }, ctl.signal).then(
      (a) => {
        setAlarms(a);
        setError(null);
      },
      (e) => !ctl.signal.aborted && setError(e),
    );
    return () => ctl.abort();
  }, [device, tick]);

  useEffect(() => {
    let t: number | undefined;
    const un = subscribe(device ? [device] : null, ["alarm"], () => {
      clearTimeout(t);
      t = window.setTimeout(() => setTick((n) => n + 1), 300);
    });
    return () => {
      clearTimeout(t);
      un();
    };
  }, [device]);

  const ack = async (a: Alarm) => {
    try {
      await api.post(`/api/alarms/${a.id}/ack`);
      setTick((n) => n + 1);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <div data-testid="widget-alarms">
      <ErrorBanner error={error} />
      {alarms && !alarms.length && <p class="muted">No open alarms.</p>}
      <ul class="list">
        {alarms?.map((a) => (
          <li class="list-item" data-testid="widget-alarm" data-status={a.status}>
            <SeverityBadge severity={a.severity} />
            <span class="grow">
              {a.type}{" "}
              {!device && (
                <Link href={`/devices/${a.device_id}`} class="muted small">
                  {a.device_name}
                </Link>
              )}
            </span>
            <span class="muted small">
              <TimeAgo ms={a.updated_at} />
            </span>
            {a.status === "active" && canOperate(user) && (
              <button type="button" class="secondary small-btn" onClick={() => ack(a)}>
                Ack
              </button>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}
