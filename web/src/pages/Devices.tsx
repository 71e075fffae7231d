// The device list: search, label and status filters, online badges and last-seen times that
// follow the live stream, and device creation with the access token shown once.

import { useEffect, useRef, useState } from "preact/hooks";
import { api, canOperate, session } from "../api";
import { ErrorBanner, Field, Spinner, StatusBadge, TimeAgo, useLoad, val } from "../components/ui";
import { subscribe } from "../live";
import { Link, location, navigate, useLocation } from "../router";
import { useStore } from "../store";
import type { Device, DevicePage } from "../types";
import { CreateDeviceDialog } from "./CreateDevice";

const PAGE = 50;

export function DevicesPage() {
  const user = useStore(session)!.user;
  const { search: params } = useLocation();
  const [search, setSearch] = useState(params.get("search") ?? "");
  const [debounced, setDebounced] = useState(search);
  const label = params.get("label") ?? "";
  const status = params.get("status") ?? "";
  const offset = Number(params.get("offset") ?? 0) || 0;
  const [creating, setCreating] = useState(false);

  useEffect(() => {
    const t = window.setTimeout(() => setDebounced(search.trim()), 250);
    return () => clearTimeout(t);
  }, [search]);

  const setParam = (k: string, v: string) => {
    const p = new URLSearchParams(location.get().search);
    if (v) p.set(k, v);
    else p.delete(k);
    if (k !== "offset") p.delete("offset");
    const q = p.toString();
    navigate(`/devices${q ? "?" + q : ""}`, true);
  };
  useEffect(() => {
    if ((params.get("search") ?? "") !== debounced) setParam("search", debounced);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [debounced]);

  const { data, error, loading, reload, setData } = useLoad(
    (signal) =>
      api.get<DevicePage>(
        "/api/devices",
        // `status` is passed for a server that filters by it; the list is filtered here too.
        { search: debounced, label, status, offset, limit: PAGE },
        signal,
      ),
    [debounced, label, status, offset],
  );

  // Live: connections and telemetry of the devices shown update their badge and last seen.
  const ids = data?.items.map((d) => d.id) ?? [];
  const idKey = ids.join(",");
  const dataRef = useRef(data);
  dataRef.current = data;
  useEffect(() => {
    if (!ids.length) return;
    return subscribe(ids, ["connect", "disconnect", "telemetry", "attributes"], (events) => {
      const page = dataRef.current;
      if (!page) return;
      const seen = new Map<string, { ts: number; online?: boolean }>();
      for (const e of events) {
        if (!e.device_id) continue;
        const s = seen.get(e.device_id) ?? { ts: 0 };
        s.ts = Date.now();
        if (e.kind === "connect" || e.kind === "telemetry" || e.kind === "attributes") s.online = true;
        if (e.kind === "disconnect") s.online = undefined; // the server decides; refetch below
        seen.set(e.device_id, s);
      }
      if (events.some((e) => e.kind === "disconnect")) {
        reload();
        return;
      }
      setData({
        ...page,
        items: page.items.map((d) => {
          const s = seen.get(d.id);
          if (!s || !d.connectivity) return d;
          return {
            ...d,
            connectivity: { ...d.connectivity, online: s.online ?? d.connectivity.online, last_seen_at: s.ts },
          };
        }),
      });
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [idKey]);

  const items = (data?.items ?? []).filter(
    (d) => !status || (status === "online") === !!d.connectivity?.online,
  );
  const labels = new Set<string>();
  for (const d of data?.items ?? []) for (const l of d.labels) labels.add(l);

  return (
    <section>
      <div class="page-head">
        <h1>Devices</h1>
        {canOperate(user) && (
          <button type="button" data-testid="device-create-open" onClick={() => setCreating(true)}>
            New device
          </button>
        )}
      </div>
      <div class="filters">
        <Field label="Search">
          <input
            type="search"
            placeholder="Name contains…"
            value={search}
            onInput={(e) => setSearch(val(e))}
            data-testid="device-search"
          />
        </Field>
        <Field label="Label">
          <input
            list="device-labels"
            placeholder="Any label"
            value={label}
            onChange={(e) => setParam("label", val(e).trim())}
            data-testid="device-label-filter"
          />
          <datalist id="device-labels">
            {[...labels].sort().map((l) => (
              <option value={l} />
            ))}
          </datalist>
        </Field>
        <Field label="Status">
          <select value={status} onChange={(e) => setParam("status", val(e))} data-testid="device-status-filter">
            <option value="">Any</option>
            <option value="online">Online</option>
            <option value="offline">Offline</option>
          </select>
        </Field>
      </div>
      <ErrorBanner error={error} />
      {loading && !data && <Spinner />}
      {data && !items.length && <p class="muted">No devices match.</p>}
      {items.length > 0 && (
        <div class="table-wrap">
          <table class="table cards" data-testid="device-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Type</th>
                <th>Labels</th>
                <th>Status</th>
                <th>Last seen</th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <DeviceRow device={d} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && data.total > PAGE && (
        <div class="pager">
          <button
            type="button"
            class="secondary"
            disabled={offset === 0}
            onClick={() => setParam("offset", String(Math.max(0, offset - PAGE)))}
          >
            Previous
          </button>
          <span class="muted">
            {offset + 1}–{Math.min(offset + PAGE, data.total)} of {data.total}
          </span>
          <button
            type="button"
            class="secondary"
            disabled={offset + PAGE >= data.total}
            onClick={() => setParam("offset", String(offset + PAGE))}
          >
            Next
          </button>
        </div>
      )}
      {creating && (
        <CreateDeviceDialog
          onClose={(created) => {
            setCreating(false);
            if (created) reload();
          }}
        />
      )}
    </section>
  );
}

function DeviceRow({ device: d }: { device: Device }) {
  return (
    <tr data-testid="device-row" data-device-id={d.id} data-online={d.connectivity?.online ? "true" : "false"}>
      <td data-label="Name">
        <Link href={`/devices/${d.id}`} data-testid="device-link">
          {d.name}
        </Link>
      </td>
      <td data-label="Type">{d.type}</td>
      <td data-label="Labels">
        {d.labels.map((l) => (
          <span class="chip">{l}</span>
        ))}
      </td>
      <td data-label="Status">
        <StatusBadge online={d.connectivity?.online} />
      </td>
      <td data-label="Last seen">
        <TimeAgo ms={d.connectivity?.last_seen_at} />
      </td>
    </tr>
  );
}
