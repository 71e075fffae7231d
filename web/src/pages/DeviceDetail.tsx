// One device: header with status, and sections for live values, history, shadow, RPC,
// alarms and credentials (the section is in the URL: ?tab=history).

import { useEffect, useRef, useState } from "preact/hooks";
import { api, canOperate, session } from "../api";
import { AlarmList } from "../components/AlarmList";
import { ConfirmButton, Dialog, ErrorBanner, Field, Spinner, StatusBadge, Tabs, TimeAgo, useLoad, val } from "../components/ui";
import { CredentialsPanel } from "../device/CredentialsPanel";
import { HistoryPanel } from "../device/HistoryPanel";
import { LivePanel } from "../device/LivePanel";
import { RpcPanel } from "../device/RpcPanel";
import { ShadowPanel } from "../device/ShadowPanel";
import { subscribe } from "../live";
import { Link, navigate, useLocation } from "../router";
import { useStore } from "../store";
import type { Device } from "../types";

type Tab = "live" | "history" | "shadow" | "rpc" | "alarms" | "credentials";
const TABS: { id: Tab; label: string }[] = [
  { id: "live", label: "Live" },
  { id: "history", label: "History" },
  { id: "shadow", label: "Shadow" },
  { id: "rpc", label: "RPC" },
  { id: "alarms", label: "Alarms" },
  { id: "credentials", label: "Credentials" },
];

export function DeviceDetail({ id }: { id: string }) {
  const user = useStore(session)!.user;
  const { search } = useLocation();
  const tab = (TABS.find((t) => t.id === search.get("tab"))?.id ?? "live") as Tab;
  const { data: device, error, loading, reload, setData } = useLoad(
    (signal) => api.get<Device>(`/api/devices/${id}`, {}, signal),
    [id],
  );
  const [editing, setEditing] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);

  const deviceRef = useRef(device);
  deviceRef.current = device;
  useEffect(() => {
    let timer: number | undefined;
    const unsubscribe = subscribe([id], ["connect", "disconnect", "telemetry"], (events) => {
      if (events.some((e) => e.kind !== "telemetry")) {
        clearTimeout(timer);
        timer = window.setTimeout(reload, 200);
        return;
      }
      const d = deviceRef.current;
      if (d?.connectivity) setData({ ...d, connectivity: { ...d.connectivity, online: true, last_seen_at: Date.now() } });
    });
    return () => {
      clearTimeout(timer);
      unsubscribe();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id]);

  if (loading && !device) return <Spinner />;
  if (!device)
    return (
      <section>
        <p>
          <Link href="/devices">← Devices</Link>
        </p>
        <ErrorBanner error={error} />
      </section>
    );

  const operate = canOperate(user);
  const remove = async () => {
    try {
      await api.del(`/api/devices/${id}`);
      navigate("/devices");
    } catch (e) {
      setActionError(e);
    }
  };

  return (
    <section>
      <p class="crumbs">
        <Link href="/devices">← Devices</Link>
      </p>
      <div class="page-head">
        <div class="title-block">
          <h1 data-testid="device-name">{device.name}</h1>
          <div class="meta">
            <StatusBadge online={device.connectivity?.online} />
            <span class="muted small">
              {device.type} · last seen <TimeAgo ms={device.connectivity?.last_seen_at} />
            </span>
            {device.labels.map((l) => (
              <span class="chip">{l}</span>
            ))}
          </div>
          <div class="muted small mono" data-testid="device-id">
            {device.id}
          </div>
        </div>
        {operate && (
          <div class="head-actions">
            <button type="button" class="secondary" onClick={() => setEditing(true)} data-testid="device-edit">
              Edit
            </button>
            <ConfirmButton testid="device-delete" onConfirm={remove} confirmText="Delete with its data?">
              Delete
            </ConfirmButton>
          </div>
        )}
      </div>
      <ErrorBanner error={actionError} onClose={() => setActionError(null)} />
      <Tabs
        tabs={TABS}
        value={tab}
        onChange={(t) => navigate(`/devices/${id}${t === "live" ? "" : `?tab=${t}`}`, true)}
      />
      <div class="tab-body">
        {tab === "live" && <LivePanel deviceId={id} />}
        {tab === "history" && <HistoryPanel deviceId={id} />}
        {tab === "shadow" && <ShadowPanel deviceId={id} />}
        {tab === "rpc" && <RpcPanel deviceId={id} />}
        {tab === "alarms" && <AlarmList deviceId={id} compact />}
        {tab === "credentials" && <CredentialsPanel deviceId={id} />}
      </div>
      {editing && (
        <EditDevice
          device={device}
          onClose={(d) => {
            setEditing(false);
            if (d) setData({ ...device, ...d, connectivity: device.connectivity });
          }}
        />
      )}
    </section>
  );
}

function EditDevice({ device, onClose }: { device: Device; onClose: (d: Device | null) => void }) {
  const [name, setName] = useState(device.name);
  const [type, setType] = useState(device.type);
  const [labels, setLabels] = useState(device.labels.join(", "));
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      const d = await api.patch<Device>(`/api/devices/${device.id}`, {
        name: name.trim(),
        type: type.trim() || "default",
        labels: labels
          .split(",")
          .map((l) => l.trim())
          .filter(Boolean),
      });
      onClose(d);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Dialog title="Edit device" onClose={() => onClose(null)}>
      <form onSubmit={submit}>
        <ErrorBanner error={error} />
        <Field label="Name">
          <input required value={name} onInput={(e) => setName(val(e))} />
        </Field>
        <Field label="Type">
          <input value={type} onInput={(e) => setType(val(e))} />
        </Field>
        <Field label="Labels (comma-separated)">
          <input value={labels} onInput={(e) => setLabels(val(e))} />
        </Field>
        <div class="actions">
          <button type="button" class="secondary" onClick={() => onClose(null)}>
            Cancel
          </button>
          <button type="submit">Save</button>
        </div>
      </form>
    </Dialog>
  );
}
