// The tenant's dashboards: list, create (opens the new one in edit mode), delete.

import { useState } from "preact/hooks";
import { api, canOperate, session } from "../api";
import { ConfirmButton, ErrorBanner, Field, Spinner, TimeAgo, useChanges, useLoad, val } from "../components/ui";
import { Link, navigate } from "../router";
import { useStore } from "../store";
import type { Dashboard, DashboardSummary } from "../types";

export function DashboardsPage() {
  const user = useStore(session)!.user;
  const operate = canOperate(user);
  const { data, error, loading, reload } = useLoad(
    (signal) => api.get<DashboardSummary[]>("/api/dashboards", {}, signal),
    [],
  );
  const [name, setName] = useState("");
  const changes = useChanges(reload);
  const [busy, setBusy] = useState(false);

  // Not `changes.submit`: on success the page goes to the new dashboard, nothing to reload.
  const create = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    changes.clearError();
    try {
      const d = await api.post<Dashboard>("/api/dashboards", { name: name.trim(), widgets: [] });
      navigate(`/dashboards/${d.id}?edit=1`);
    } catch (err) {
      changes.fail(err);
      setBusy(false);
    }
  };
  const remove = async (d: DashboardSummary) => {
    await changes.change(() => api.del(`/api/dashboards/${d.id}`));
  };

  return (
    <section>
      <div class="page-head">
        <h1>Dashboards</h1>
      </div>
      {operate && (
        <form class="card inline-form" onSubmit={create}>
          <Field label="New dashboard">
            <input
              required
              maxLength={128}
              placeholder="Name"
              value={name}
              onInput={(e) => setName(val(e))}
              data-testid="dashboard-create-name"
            />
          </Field>
          <button type="submit" disabled={busy} data-testid="dashboard-create">
            Create
          </button>
        </form>
      )}
      <ErrorBanner error={error} />
      <ErrorBanner error={changes.error} onClose={changes.clearError} />
      {loading && !data && <Spinner />}
      {data && !data.length && <p class="muted">No dashboards yet.</p>}
      {data && data.length > 0 && (
        <ul class="list" data-testid="dashboard-list">
          {data.map((d) => (
            <li class="list-item" data-testid="dashboard-item" data-dashboard-id={d.id}>
              <Link href={`/dashboards/${d.id}`} data-testid="dashboard-link">
                {d.name}
              </Link>
              <span class="muted small">
                {typeof d.widgets === "number" && `${d.widgets} widget${d.widgets === 1 ? "" : "s"} · `}updated{" "}
                <TimeAgo ms={d.updated_at} />
              </span>
              {operate && (
                <ConfirmButton testid="dashboard-delete" onConfirm={() => remove(d)}>
                  Delete
                </ConfirmButton>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
