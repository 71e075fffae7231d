// Bounded time series for live charts: a ring of timestamps with one aligned ring per key.
// Memory stays fixed however long a page is open; a missing value is NaN in the ring and
// null (a gap) in what the chart gets.

import type uPlot from "uplot";

export class SeriesRing {
  private x: Float64Array;
  private ys = new Map<string, Float64Array>();
  private start = 0;
  private len = 0;

  constructor(readonly capacity: number) {
    this.x = new Float64Array(capacity);
  }

  get length(): number {
    return this.len;
  }

  keys(): string[] {
    return [...this.ys.keys()];
  }

  lastTs(): number {
    return this.len ? this.x[(this.start + this.len - 1) % this.capacity] : -Infinity;
  }

  private ensureKey(key: string): Float64Array {
    let y = this.ys.get(key);
    if (!y) {
      y = new Float64Array(this.capacity).fill(NaN);
      this.ys.set(key, y);
    }
    return y;
  }

  addKey(key: string): void {
    this.ensureKey(key);
  }

  /** Appends a point. A point at the newest timestamp is merged into it; an older one
   * (out of order) is ignored, since the chart needs sorted timestamps. Returns whether
   * it was kept. */
  push(ts: number, values: Record<string, number>): boolean {
    const last = this.lastTs();
    if (ts < last) return false;
    let i: number;
    if (ts === last) {
      i = (this.start + this.len - 1) % this.capacity;
    } else {
      if (this.len < this.capacity) {
        i = (this.start + this.len) % this.capacity;
        this.len++;
      } else {
        i = this.start;
        this.start = (this.start + 1) % this.capacity;
      }
      this.x[i] = ts;
      for (const y of this.ys.values()) y[i] = NaN;
    }
    for (const [k, v] of Object.entries(values)) this.ensureKey(k)[i] = v;
    return true;
  }

  clear(): void {
    this.start = 0;
    this.len = 0;
  }

  /** Points at or after `since`, as uPlot data for `keys` (in that order). */
  toAligned(keys: string[], since = -Infinity): uPlot.AlignedData {
    const cap = this.capacity;
    // Timestamps are sorted: binary search for the first one >= since.
    let lo = 0;
    let hi = this.len;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.x[(this.start + mid) % cap] < since) lo = mid + 1;
      else hi = mid;
    }
    const n = this.len - lo;
    const xs = new Array<number>(n);
    const cols: (number | null)[][] = keys.map(() => new Array<number | null>(n));
    const ysList = keys.map((k) => this.ys.get(k));
    for (let j = 0; j < n; j++) {
      const i = (this.start + lo + j) % cap;
      xs[j] = this.x[i];
      for (let c = 0; c < keys.length; c++) {
        const y = ysList[c];
        const v = y ? y[i] : NaN;
        cols[c][j] = v === v ? v : null;
      }
    }
    return [xs, ...cols] as uPlot.AlignedData;
  }
}
