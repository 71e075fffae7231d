// Users of the tenant (admins only): list, create, delete. Admins of the installation's
// default tenant also manage tenants here.

import { useState } from "preact/hooks";
import { ApiError, api, session } from "../api";
import { ConfirmButton, ErrorBanner, Field, Spinner, TimeAgo, useChanges, useLoad, val } from "../components/ui";
import { useStore } from "../store";
import type { Role, Tenant, User } from "../types";

export function UsersPage() {
  const me = useStore(session)!.user;
  const { data, error, loading, reload } = useLoad((signal) => api.get<User[]>("/api/users", {}, signal), []);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("viewer");
  const { submit, change, busy, error: actionError, clearError } = useChanges(reload);

  const create = async (e: Event) => {
    e.preventDefault();
    if (await submit(() => api.post("/api/users", { username: username.trim(), password, role }))) {
      setUsername("");
      setPassword("");
    }
  };
  const remove = async (u: User) => {
    await change(() => api.del(`/api/users/${u.id}`));
  };

  return (
    <section>
      <div class="page-head">
        <h1>Users</h1>
      </div>
      <form class="card inline-form" onSubmit={create} data-testid="user-create-form">
        <Field label="User name">
          <input required value={username} onInput={(e) => setUsername(val(e))} data-testid="user-create-username" />
        </Field>
        <Field label="Password">
          <input
            required
            type="password"
            autocomplete="new-password"
            value={password}
            onInput={(e) => setPassword(val(e))}
            data-testid="user-create-password"
          />
        </Field>
        <Field label="Role">
          <select value={role} onChange={(e) => setRole(val(e) as Role)} data-testid="user-create-role">
            <option value="viewer">viewer (reads)</option>
            <option value="operator">operator (operates devices)</option>
            <option value="admin">admin (everything)</option>
          </select>
        </Field>
        <button type="submit" disabled={busy} data-testid="user-create-submit">
          Add user
        </button>
      </form>
      <ErrorBanner error={error} />
      <ErrorBanner error={actionError} onClose={clearError} />
      {loading && !data && <Spinner />}
      {data && (
        <div class="table-wrap">
          <table class="table cards" data-testid="user-table">
            <thead>
              <tr>
                <th>User name</th>
                <th>Role</th>
                <th>Created</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.map((u) => (
                <tr data-testid="user-row" data-username={u.username}>
                  <td data-label="User name">{u.username}</td>
                  <td data-label="Role">{u.role}</td>
                  <td data-label="Created">
                    <TimeAgo ms={u.created_at} />
                  </td>
                  <td class="row-actions">
                    {u.id !== me.id && (
                      <ConfirmButton testid="user-delete" onConfirm={() => remove(u)}>
                        Delete
                      </ConfirmButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <TenantsPanel />
    </section>
  );
}

/** Tenants, for admins of the default tenant (the API answers 403 to everyone else, and
 * the panel then stays hidden). */
function TenantsPanel() {
  const me = useStore(session)!.user;
  const { data, error, reload } = useLoad((signal) => api.get<Tenant[]>("/api/tenants", {}, signal), []);
  const [name, setName] = useState("");
  const [adminName, setAdminName] = useState("");
  const [adminPassword, setAdminPassword] = useState("");
  const { submit, change, busy, error: actionError, clearError } = useChanges(reload);
  if (error instanceof ApiError && error.status === 403) return null;

  const create = async (e: Event) => {
    e.preventDefault();
    const body = { name: name.trim(), admin_username: adminName.trim(), admin_password: adminPassword };
    if (await submit(() => api.post("/api/tenants", body))) {
      setName("");
      setAdminName("");
      setAdminPassword("");
    }
  };
  const remove = async (t: Tenant) => {
    await change(() => api.del(`/api/tenants/${t.id}`));
  };

  return (
    <div data-testid="tenants">
      <div class="page-head">
        <h2>Tenants</h2>
      </div>
      <form class="card inline-form" onSubmit={create} data-testid="tenant-create-form">
        <Field label="Tenant name">
          <input required value={name} onInput={(e) => setName(val(e))} data-testid="tenant-create-name" />
        </Field>
        <Field label="Its first admin">
          <input required value={adminName} onInput={(e) => setAdminName(val(e))} data-testid="tenant-create-admin" />
        </Field>
        <Field label="Admin password">
          <input
            required
            type="password"
            autocomplete="new-password"
            value={adminPassword}
            onInput={(e) => setAdminPassword(val(e))}
            data-testid="tenant-create-password"
          />
        </Field>
        <button type="submit" disabled={busy} data-testid="tenant-create-submit">
          Add tenant
        </button>
      </form>
      <ErrorBanner error={error} />
      <ErrorBanner error={actionError} onClose={clearError} />
      {data && (
        <div class="table-wrap">
          <table class="table cards" data-testid="tenant-table">
            <thead>
              <tr>
                <th>Tenant</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.map((t) => (
                <tr data-testid="tenant-row" data-name={t.name}>
                  <td data-label="Tenant">{t.name}</td>
                  <td class="row-actions">
                    {t.id !== me.tenant_id && (
                      <ConfirmButton
                        testid="tenant-delete"
                        confirmText="Delete it and all its data?"
                        onConfirm={() => remove(t)}
                      >
                        Delete
                      </ConfirmButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
