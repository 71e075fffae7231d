// A uPlot time chart (canvas: 100,000 points draw in milliseconds) sized to its container.
// Declarative (`data`) for history, or imperative (`onReady` hands a `setData`) for live
// charts, which update once per animation frame without a Preact render.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";

export const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563"];

export interface ChartApi {
  setData(data: uPlot.AlignedData): void;
  width(): number;
}

interface Props {
  keys: string[];
  data?: uPlot.AlignedData | null;
  onReady?: (api: ChartApi | null) => void;
  height?: number;
  testid?: string;
  /** Shown when there are no keys. */
  empty?: string;
  /** The time axis span (ms), instead of the data's: a sliding window or a chosen range. */
  xRange?: () => [number, number];
}

export function Chart({ keys, data, onReady, height = 260, testid, empty, xRange }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const range = useRef(xRange);
  range.current = xRange;
  const plot = useRef<uPlot | null>(null);
  const latest = useRef<uPlot.AlignedData | null>(data ?? null);
  const keyList = keys.join("\u0000");

  useEffect(() => {
    const el = box.current;
    if (!el || !keys.length) {
      onReady?.(null);
      return;
    }
    const width = () => Math.max(200, Math.floor(el.clientWidth));
    const prev = latest.current;
    const initial = prev && prev.length === keys.length + 1 ? prev : emptyData(keys.length);
    const opts: uPlot.Options = {
      width: width(),
      height,
      ms: 1,
      legend: { live: false },
      cursor: { drag: { x: true, y: false } },
      scales: {
        x: {
          time: true,
          range: (_u, min, max) => {
            const r = range.current?.();
            return r && r[0] < r[1] ? r : [min, max];
          },
        },
      },
      axes: [
        { stroke: "#64748b", grid: { stroke: "#e2e8f033" }, ticks: { stroke: "#94a3b855" } },
        { stroke: "#64748b", grid: { stroke: "#94a3b833" }, ticks: { stroke: "#94a3b855" }, size: 56 },
      ],
      series: [
        {},
        ...keys.map((k, i) => ({
          label: k,
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          spanGaps: true,
        })),
      ],
    };
    const u = new uPlot(opts, initial, el);
    plot.current = u;
    el.dataset.points = String(initial[0].length);
    const api: ChartApi = {
      setData(d) {
        latest.current = d;
        el.dataset.points = String(d[0].length);
        u.setData(d);
      },
      width,
    };
    onReady?.(api);
    let lastWidth = width();
    const ro = new ResizeObserver(() => {
      const w = width();
      if (w !== lastWidth) {
        lastWidth = w;
        u.setSize({ width: w, height });
      }
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      onReady?.(null);
      u.destroy();
      plot.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [keyList, height]);

  useEffect(() => {
    if (data === undefined || !plot.current || !box.current) return;
    const d = data ?? emptyData(keys.length);
    latest.current = d;
    box.current.dataset.points = String(d[0].length);
    plot.current.setData(d);
  }, [data]);

  if (!keys.length) {
    return (
      <div class="chart chart-empty" data-testid={testid} data-points="0">
        {empty ?? "No numeric data yet."}
      </div>
    );
  }
  return <div class="chart" ref={box} data-testid={testid} />;
}

function emptyData(n: number): uPlot.AlignedData {
  return [[], ...Array.from({ length: n }, () => [])] as uPlot.AlignedData;
}
