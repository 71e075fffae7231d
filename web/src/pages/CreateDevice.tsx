import { useState } from "preact/hooks";
import { api } from "../api";
import { CopyButton, Dialog, ErrorBanner, Field, val } from "../components/ui";
import { Link } from "../router";
import type { DeviceCreated } from "../types";

export function CreateDeviceDialog({ onClose }: { onClose: (created: boolean) => void }) {
  const [name, setName] = useState("");
  const [type, setType] = useState("");
  const [labels, setLabels] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<DeviceCreated | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body: Record<string, unknown> = {
        name: name.trim(),
        labels: labels
          .split(",")
          .map((l) => l.trim())
          .filter(Boolean),
      };
      if (type.trim()) body.type = type.trim();
      setCreated(await api.post<DeviceCreated>("/api/devices", body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (created) {
    return (
      <Dialog title="Device created" onClose={() => onClose(true)} testid="device-created">
        <p>
          <strong>{created.name}</strong> is registered. Its access token is shown <strong>this once</strong>: copy
          it into the device now (only a hash is stored; rotate it under Credentials if it is lost).
        </p>
        <TokenBox token={created.credentials.access_token} />
        <p class="muted small">
          Send telemetry with <code>POST /api/v1/&lt;token&gt;/telemetry</code> or over MQTT with the token as
          user name.
        </p>
        <div class="actions">
          <Link href={`/devices/${created.id}`} class="button secondary" data-testid="device-created-open">
            Open device
          </Link>
          <button type="button" onClick={() => onClose(true)} data-testid="device-token-close">
            Done
          </button>
        </div>
      </Dialog>
    );
  }

  return (
    <Dialog title="New device" onClose={() => onClose(false)} testid="device-create">
      <form onSubmit={submit}>
        <ErrorBanner error={error} />
        <Field label="Name">
          <input required maxLength={128} value={name} onInput={(e) => setName(val(e))} data-testid="device-create-name" />
        </Field>
        <Field label="Type (optional)">
          <input placeholder="default" value={type} onInput={(e) => setType(val(e))} data-testid="device-create-type" />
        </Field>
        <Field label="Labels (comma-separated)">
          <input value={labels} onInput={(e) => setLabels(val(e))} data-testid="device-create-labels" />
        </Field>
        <div class="actions">
          <button type="button" class="secondary" onClick={() => onClose(false)}>
            Cancel
          </button>
          <button type="submit" disabled={busy} data-testid="device-create-submit">
            {busy ? "Creating…" : "Create"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function TokenBox({ token }: { token: string }) {
  return (
    <div class="token-box">
      <code data-testid="device-token">{token}</code>
      <CopyButton text={token} testid="device-token-copy" />
    </div>
  );
}
