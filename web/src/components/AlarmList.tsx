// Alarms with status and severity filters, acknowledge and clear; refreshed by alarm events.

import { useEffect, useState } from "preact/hooks";
import { api, canOperate, session } from "../api";
import { subscribe } from "../live";
import { Link } from "../router";
import { useStore } from "../store";
import { SEVERITIES, type Alarm } from "../types";
import { ErrorBanner, Field, SeverityBadge, Spinner, TimeAgo, useLoad, val } from "./ui";

export function AlarmList({
  deviceId,
  initialStatus = "open",
  compact = false,
  limit = 100,
}: {
  deviceId?: string;
  initialStatus?: string;
  compact?: boolean;
  limit?: number;
}) {
  const user = useStore(session)!.user;
  const [status, setStatus] = useState(initialStatus);
  const [severity, setSeverity] = useState("");
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const { data, error, loading, reload, setData } = useLoad(
    (signal) =>
      api.get<Alarm[]>(
        "/api/alarms",
        { device_id: deviceId, status: status === "all" ? undefined : status, severity, limit },
        signal,
      ),
    [deviceId, status, severity, limit],
  );

  useEffect(() => {
    let timer: number | undefined;
    const unsubscribe = subscribe(deviceId ? [deviceId] : null, ["alarm"], () => {
      clearTimeout(timer);
      timer = window.setTimeout(reload, 300);
    });
    return () => {
      clearTimeout(timer);
      unsubscribe();
    };
  }, [deviceId, reload]);

  const act = async (alarm: Alarm, action: "ack" | "clear") => {
    setBusy(alarm.id + action);
    setActionError(null);
    try {
      const updated = await api.post<Alarm>(`/api/alarms/${alarm.id}/${action}`);
      if (data) setData(data.map((a) => (a.id === updated.id ? updated : a)));
    } catch (e) {
      setActionError(e);
    } finally {
      setBusy(null);
    }
  };

  const operate = canOperate(user);
  return (
    <div class="alarm-list">
      <div class="filters">
        <Field label="Status">
          <select value={status} onChange={(e) => setStatus(val(e))} data-testid="alarm-status-filter">
            <option value="open">Open (active or acknowledged)</option>
            <option value="active">Active</option>
            <option value="acknowledged">Acknowledged</option>
            <option value="cleared">Cleared</option>
            <option value="all">All</option>
          </select>
        </Field>
        <Field label="Severity">
          <select value={severity} onChange={(e) => setSeverity(val(e))} data-testid="alarm-severity-filter">
            <option value="">Any</option>
            {SEVERITIES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </Field>
      </div>
      <ErrorBanner error={error} />
      <ErrorBanner error={actionError} onClose={() => setActionError(null)} />
      {loading && !data && <Spinner />}
      {data && !data.length && <p class="muted">No alarms.</p>}
      {data && data.length > 0 && (
        <div class="table-wrap">
          <table class="table cards" data-testid="alarm-table">
            <thead>
              <tr>
                <th>Severity</th>
                <th>Type</th>
                {!deviceId && <th>Device</th>}
                <th>Status</th>
                {!compact && <th>Raised</th>}
                <th>Updated</th>
                {operate && <th />}
              </tr>
            </thead>
            <tbody>
              {data.map((a) => (
                <tr data-testid="alarm-row" data-alarm-id={a.id} data-status={a.status}>
                  <td data-label="Severity">
                    <SeverityBadge severity={a.severity} />
                  </td>
                  <td data-label="Type">
                    {a.type}
                    {a.repeats > 1 && <small class="muted"> ×{a.repeats}</small>}
                  </td>
                  {!deviceId && (
                    <td data-label="Device">
                      <Link href={`/devices/${a.device_id}`}>{a.device_name}</Link>
                    </td>
                  )}
                  <td data-label="Status">
                    <span class={`badge st-${a.status}`} data-testid="alarm-status">
                      {a.status}
                    </span>
                  </td>
                  {!compact && (
                    <td data-label="Raised">
                      <TimeAgo ms={a.created_at} />
                    </td>
                  )}
                  <td data-label="Updated">
                    <TimeAgo ms={a.updated_at} />
                  </td>
                  {operate && (
                    <td class="row-actions">
                      {a.status === "active" && (
                        <button
                          type="button"
                          class="secondary"
                          disabled={busy !== null}
                          data-testid="alarm-ack"
                          onClick={() => act(a, "ack")}
                        >
                          Acknowledge
                        </button>
                      )}
                      {a.status !== "cleared" && (
                        <button
                          type="button"
                          class="secondary"
                          disabled={busy !== null}
                          data-testid="alarm-clear"
                          onClick={() => act(a, "clear")}
                        >
                          Clear
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
