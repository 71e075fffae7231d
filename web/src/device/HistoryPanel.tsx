// History: a time range (1 h, 24 h, 7 d or custom) of raw points, downsampled by the server
// to about one point per pixel (`max_points`), or aggregates (avg, min, max) per interval.

import { useEffect, useRef, useState } from "preact/hooks";
import uPlot from "uplot";
import { api, errorText } from "../api";
import { Chart } from "../components/Chart";
import { ErrorBanner, Field, val } from "../components/ui";
import { numeric } from "../live";
import type { AggregateOut, RangeOut } from "../types";

const PRESETS: [string, number][] = [
  ["1h", 3_600_000],
  ["24h", 86_400_000],
  ["7d", 7 * 86_400_000],
];
const INTERVALS: [string, number][] = [
  ["1 s", 1_000],
  ["10 s", 10_000],
  ["1 min", 60_000],
  ["5 min", 300_000],
  ["15 min", 900_000],
  ["1 h", 3_600_000],
  ["6 h", 21_600_000],
  ["1 day", 86_400_000],
];
/** Aggregate buckets to aim for when the interval is automatic. */
const AUTO_BUCKETS = 300;

type Agg = "none" | "avg" | "min" | "max";

function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

export function HistoryPanel({ deviceId }: { deviceId: string }) {
  const [allKeys, setAllKeys] = useState<string[] | null>(null);
  const [selected, setSelected] = useState<string[]>([]);
  const [preset, setPreset] = useState("1h");
  const [customStart, setCustomStart] = useState(toLocalInput(Date.now() - 3_600_000));
  const [customEnd, setCustomEnd] = useState(toLocalInput(Date.now()));
  const [agg, setAgg] = useState<Agg>("none");
  const [interval, setInterval_] = useState("auto");
  const [data, setData] = useState<uPlot.AlignedData | null>(null);
  const [span, setSpan] = useState<[number, number] | null>(null);
  const [shownKeys, setShownKeys] = useState<string[]>([]);
  const [info, setInfo] = useState("");
  const [downsampled, setDownsampled] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const [tick, setTick] = useState(0);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    api.get<string[]>(`/api/devices/${deviceId}/telemetry/keys`).then(
      (keys) => {
        const sorted = [...keys].sort();
        setAllKeys(sorted);
        setSelected(sorted.slice(0, 3));
      },
      (e) => setError(e),
    );
  }, [deviceId]);

  useEffect(() => {
    if (!selected.length) {
      setData(null);
      setShownKeys([]);
      return;
    }
    const ctl = new AbortController();
    let start: number;
    let end: number;
    if (preset === "custom") {
      start = new Date(customStart).getTime();
      end = new Date(customEnd).getTime();
      if (!(start < end)) {
        setError("The custom range needs a start before its end.");
        return;
      }
    } else {
      end = Date.now() + 1;
      start = end - (PRESETS.find(([p]) => p === preset)?.[1] ?? 3_600_000);
    }
    const width = Math.max(300, Math.round(box.current?.clientWidth ?? 800));
    const keys = [...selected];
    setLoading(true);
    setError(null);
    const t0 = performance.now();
    const load = async (): Promise<[uPlot.AlignedData, string, boolean]> => {
      if (agg === "none") {
        const r = await api.get<RangeOut>(
          `/api/devices/${deviceId}/telemetry`,
          { keys: keys.join(","), start, end, order: "asc", limit: 10000, max_points: width },
          ctl.signal,
        );
        const tables: uPlot.AlignedData[] = [];
        let points = 0;
        let sampled = false;
        for (const key of keys) {
          const s = r.series.find((x) => x.key === key);
          const xs: number[] = [];
          const ys: (number | null)[] = [];
          for (const p of s?.points ?? []) {
            xs.push(p.ts);
            ys.push(numeric(p.value));
          }
          points += xs.length;
          sampled ||= !!s?.downsampled;
          tables.push([xs, ys] as uPlot.AlignedData);
        }
        const more = r.series.some((s) => s.next !== null && !s.downsampled);
        return [
          join(tables, keys.length),
          `${points.toLocaleString()} points${sampled ? ", downsampled by the server (extremes kept)" : ""}${
            more ? "; more exist: narrow the range to see them all" : ""
          }`,
          sampled,
        ];
      }
      let step = Number(interval);
      if (interval === "auto") {
        const want = (end - start) / AUTO_BUCKETS;
        step = INTERVALS.find(([, ms]) => ms >= want)?.[1] ?? INTERVALS[INTERVALS.length - 1][1];
      }
      const r = await api.get<AggregateOut>(
        `/api/devices/${deviceId}/telemetry/aggregate`,
        { keys: keys.join(","), start, end, interval: step, agg },
        ctl.signal,
      );
      const tables = keys.map((key) => {
        const s = r.series.find((x) => x.key === key);
        return [s?.buckets.map((b) => b.ts) ?? [], s?.buckets.map((b) => b.value) ?? []] as uPlot.AlignedData;
      });
      const label = INTERVALS.find(([, ms]) => ms === step)?.[0] ?? `${step} ms`;
      return [join(tables, keys.length), `${agg} per ${label}`, false];
    };
    load().then(
      ([d, text, sampled]) => {
        setShownKeys(keys);
        setSpan([start, end]);
        setData(d);
        setDownsampled(sampled);
        setInfo(`${text} · loaded in ${Math.round(performance.now() - t0)} ms`);
        setLoading(false);
      },
      (e) => {
        if (ctl.signal.aborted) return;
        setError(errorText(e));
        setLoading(false);
      },
    );
    return () => ctl.abort();
  }, [deviceId, selected.join(","), preset, agg, interval, tick, preset === "custom" ? customStart + customEnd : ""]);

  const toggleKey = (k: string) =>
    setSelected((s) => (s.includes(k) ? s.filter((x) => x !== k) : [...s, k].sort()));

  return (
    <div>
      <div class="filters">
        <div class="field field-fit">
          <span>Range</span>
          <div class="segmented">
            {[...PRESETS.map(([p]) => p), "custom"].map((p) => (
              <button
                type="button"
                class={p === preset ? "seg active" : "seg"}
                data-testid={`history-preset-${p}`}
                onClick={() => setPreset(p)}
              >
                {p}
              </button>
            ))}
          </div>
        </div>
        {preset === "custom" && (
          <>
            <Field label="From">
              <input
                type="datetime-local"
                value={customStart}
                onChange={(e) => setCustomStart(val(e))}
                data-testid="history-custom-start"
              />
            </Field>
            <Field label="To">
              <input
                type="datetime-local"
                value={customEnd}
                onChange={(e) => setCustomEnd(val(e))}
                data-testid="history-custom-end"
              />
            </Field>
          </>
        )}
        <Field label="Aggregation">
          <select value={agg} onChange={(e) => setAgg(val(e) as Agg)} data-testid="history-agg">
            <option value="none">None (raw)</option>
            <option value="avg">Average</option>
            <option value="min">Minimum</option>
            <option value="max">Maximum</option>
          </select>
        </Field>
        {agg !== "none" && (
          <Field label="Interval">
            <select value={interval} onChange={(e) => setInterval_(val(e))} data-testid="history-interval">
              <option value="auto">Automatic</option>
              {INTERVALS.map(([label, ms]) => (
                <option value={String(ms)}>{label}</option>
              ))}
            </select>
          </Field>
        )}
        <button type="button" class="secondary" onClick={() => setTick((t) => t + 1)} data-testid="history-reload">
          Reload
        </button>
      </div>
      {allKeys && (
        <div class="key-picker" data-testid="history-keys">
          {allKeys.length === 0 && <span class="muted">This device has sent no telemetry.</span>}
          {allKeys.map((k) => (
            <label class="chip-check">
              <input type="checkbox" checked={selected.includes(k)} onChange={() => toggleKey(k)} /> {k}
            </label>
          ))}
        </div>
      )}
      <ErrorBanner error={error} />
      <p class="muted small" data-testid="history-info" data-downsampled={downsampled ? "true" : "false"}>
        {loading ? "Loading…" : info}
      </p>
      <div ref={box}>
        <Chart
          keys={shownKeys}
          data={data}
          xRange={() => span ?? [0, 0]}
          testid="history-chart"
          height={300}
          empty="Pick keys to chart."
        />
      </div>
    </div>
  );
}

/** One aligned table from per-key tables with their own timestamps. */
function join(tables: uPlot.AlignedData[], n: number): uPlot.AlignedData {
  if (n === 1) return tables[0];
  return uPlot.join(tables);
}
