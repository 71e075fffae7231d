// Latest values and a live chart fed by the WebSocket (seeded with the last 15 minutes).

import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../api";
import { Chart, type ChartApi } from "../components/Chart";
import { ErrorBanner, TimeAgo, formatValue } from "../components/ui";
import { numeric, subscribe } from "../live";
import { SeriesRing } from "../ring";
import type { LatestMap, RangeOut } from "../types";

const SEED_MS = 15 * 60_000;
const CAPACITY = 5000;

export function LivePanel({ deviceId }: { deviceId: string }) {
  const [latest, setLatest] = useState<LatestMap>({});
  const [keys, setKeys] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const ring = useRef(new SeriesRing(CAPACITY));
  const chart = useRef<ChartApi | null>(null);
  const keysRef = useRef<string[]>([]);
  const latestRef = useRef<LatestMap>({});

  const redraw = () => chart.current?.setData(ring.current.toAligned(keysRef.current));
  const setChartKeys = (next: string[]) => {
    keysRef.current = next;
    setKeys(next);
  };

  useEffect(() => {
    const ctl = new AbortController();
    ring.current = new SeriesRing(CAPACITY);
    latestRef.current = {};
    setLatest({});
    setChartKeys([]);
    // Buffer live events until the first loads are in, so nothing between them is lost.
    let buffered: Parameters<Parameters<typeof subscribe>[2]>[0] | null = [];
    const apply = (events: typeof buffered) => {
      if (!events) return;
      const next = { ...latestRef.current };
      let newKey = false;
      for (const e of events) {
        if (e.kind !== "telemetry") continue;
        const nums: Record<string, number> = {};
        for (const [k, v] of Object.entries(e.data)) {
          if (!next[k] || next[k].ts <= e.ts) next[k] = { ts: e.ts, value: v };
          const n = numeric(v);
          if (n !== null) {
            nums[k] = n;
            if (!keysRef.current.includes(k)) newKey = true;
          }
        }
        ring.current.push(e.ts, nums);
      }
      latestRef.current = next;
      setLatest(next);
      if (newKey) setChartKeys(numericKeys(next, ring.current.keys()));
      else redraw();
    };
    const unsubscribe = subscribe([deviceId], ["telemetry"], (events) => {
      if (buffered) buffered.push(...events);
      else apply(events);
    });
    const now = Date.now();
    Promise.all([
      api.get<LatestMap>(`/api/devices/${deviceId}/telemetry/latest`, {}, ctl.signal),
      api.get<RangeOut>(
        `/api/devices/${deviceId}/telemetry`,
        { start: now - SEED_MS, order: "asc", limit: 2000, max_points: 1000 },
        ctl.signal,
      ),
    ]).then(
      ([l, range]) => {
        const seed = new Map<number, Record<string, number>>();
        for (const s of range.series)
          for (const p of s.points) {
            const n = numeric(p.value);
            if (n === null) continue;
            let row = seed.get(p.ts);
            if (!row) seed.set(p.ts, (row = {}));
            row[s.key] = n;
          }
        for (const ts of [...seed.keys()].sort((a, b) => a - b)) ring.current.push(ts, seed.get(ts)!);
        const merged = { ...l };
        for (const [k, v] of Object.entries(latestRef.current)) if (!merged[k] || merged[k].ts <= v.ts) merged[k] = v;
        latestRef.current = merged;
        setLatest(merged);
        setChartKeys(numericKeys(merged, ring.current.keys()));
        const pending = buffered;
        buffered = null;
        apply(pending);
      },
      (e) => {
        if (ctl.signal.aborted) return;
        setError(e);
        const pending = buffered;
        buffered = null;
        apply(pending);
      },
    );
    return () => {
      ctl.abort();
      unsubscribe();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [deviceId]);

  const entries = Object.entries(latest).sort(([a], [b]) => a.localeCompare(b));
  return (
    <div>
      <ErrorBanner error={error} />
      <h2 class="section-title">Latest values</h2>
      {!entries.length && <p class="muted" data-testid="latest-empty">No telemetry yet: values appear here as soon as the device sends some.</p>}
      <div class="values">
        {entries.map(([k, v]) => (
          <div class="value-card" data-testid="latest-value" data-key={k} data-ts={v.ts}>
            <div class="value-key">{k}</div>
            <div class="value-big" data-testid="latest-value-text">
              {formatValue(v.value)}
            </div>
            <div class="muted small">
              <TimeAgo ms={v.ts} />
            </div>
          </div>
        ))}
      </div>
      <h2 class="section-title">Live chart</h2>
      <Chart
        keys={keys}
        testid="live-chart"
        onReady={(api) => {
          chart.current = api;
          if (api) redraw();
        }}
        empty="The chart starts with the first numeric value."
      />
    </div>
  );
}

function numericKeys(latest: LatestMap, ringKeys: string[]): string[] {
  const keys = new Set(ringKeys);
  for (const [k, v] of Object.entries(latest)) if (numeric(v.value) !== null) keys.add(k);
  return [...keys].sort();
}
