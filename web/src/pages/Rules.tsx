// Rules: list, create and edit as JSON, enable/disable, delete (changes: admins only).

import { useState } from "preact/hooks";
import { api, isAdmin, session } from "../api";
import { ConfirmButton, Dialog, ErrorBanner, Spinner, TimeAgo, useChanges, useLoad, val } from "../components/ui";
import { useStore } from "../store";
import type { Rule } from "../types";

const TEMPLATE = {
  name: "high-temperature",
  enabled: true,
  trigger: "telemetry",
  filter: '"temperature" in msg && msg.temperature > 30',
  for_ms: 60000,
  actions: [{ type: "create_alarm", alarm_type: "HighTemperature", severity: "major" }],
};

/** The definition of a rule: what PUT and POST take. */
function definition(rule: Rule): Record<string, unknown> {
  const { id: _id, created_at: _c, updated_at: _u, ...spec } = rule;
  return spec;
}

export function RulesPage() {
  const user = useStore(session)!.user;
  const admin = isAdmin(user);
  const { data, error, loading, reload } = useLoad((signal) => api.get<Rule[]>("/api/rules", {}, signal), []);
  const [editing, setEditing] = useState<Rule | "new" | null>(null);
  const changes = useChanges(reload);

  const toggle = async (rule: Rule) => {
    await changes.change(() => api.put(`/api/rules/${rule.id}`, { ...definition(rule), enabled: !rule.enabled }));
  };
  const remove = async (rule: Rule) => {
    await changes.change(() => api.del(`/api/rules/${rule.id}`));
  };

  return (
    <section>
      <div class="page-head">
        <h1>Rules</h1>
        {admin && (
          <button type="button" data-testid="rule-create" onClick={() => setEditing("new")}>
            New rule
          </button>
        )}
      </div>
      {!admin && <p class="muted">Only admins change rules.</p>}
      <ErrorBanner error={error} />
      <ErrorBanner error={changes.error} onClose={changes.clearError} />
      {loading && !data && <Spinner />}
      {data && !data.length && <p class="muted">No rules yet.</p>}
      {data && data.length > 0 && (
        <div class="table-wrap">
          <table class="table cards" data-testid="rule-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Trigger</th>
                <th>Actions</th>
                <th>Enabled</th>
                <th>Updated</th>
                {admin && <th />}
              </tr>
            </thead>
            <tbody>
              {data.map((r) => (
                <tr data-testid="rule-row" data-rule-id={r.id}>
                  <td data-label="Name">
                    <strong>{r.name}</strong>
                    {r.filter && <div class="muted small mono">{r.filter}</div>}
                  </td>
                  <td data-label="Trigger">{r.trigger}</td>
                  <td data-label="Actions">{r.actions.map((a) => a.type).join(", ")}</td>
                  <td data-label="Enabled">
                    <label class="switch">
                      <input
                        type="checkbox"
                        checked={r.enabled}
                        disabled={!admin}
                        onChange={() => toggle(r)}
                        data-testid="rule-toggle"
                      />
                      <span>{r.enabled ? "on" : "off"}</span>
                    </label>
                  </td>
                  <td data-label="Updated">
                    <TimeAgo ms={r.updated_at} />
                  </td>
                  {admin && (
                    <td class="row-actions">
                      <button type="button" class="secondary" data-testid="rule-edit" onClick={() => setEditing(r)}>
                        Edit
                      </button>
                      <ConfirmButton testid="rule-delete" onConfirm={() => remove(r)}>
                        Delete
                      </ConfirmButton>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && (
        <RuleEditor
          rule={editing === "new" ? null : editing}
          onClose={(saved) => {
            setEditing(null);
            if (saved) reload();
          }}
        />
      )}
    </section>
  );
}

function RuleEditor({ rule, onClose }: { rule: Rule | null; onClose: (saved: boolean) => void }) {
  const [text, setText] = useState(JSON.stringify(rule ? definition(rule) : TEMPLATE, null, 2));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const save = async () => {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (e) {
      setError(`The definition is not valid JSON: ${(e as Error).message}`);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      if (rule) await api.put(`/api/rules/${rule.id}`, body);
      else await api.post("/api/rules", body);
      onClose(true);
    } catch (e) {
      setError(e);
      setBusy(false);
    }
  };
  return (
    <Dialog title={rule ? `Edit rule ${rule.name}` : "New rule"} onClose={() => onClose(false)} testid="rule-dialog">
      <p class="muted small">
        Triggers: telemetry, attributes, shadow, connect, disconnect, inactivity (with <code>inactivity_ms</code>),
        alarm. Actions: store, mqtt, webhook, amqp, email, create_alarm, clear_alarm, rpc.
      </p>
      <ErrorBanner error={error} />
      <textarea
        class="code"
        rows={16}
        spellcheck={false}
        value={text}
        onInput={(e) => setText(val(e))}
        data-testid="rule-editor"
      />
      <div class="actions">
        <button type="button" class="secondary" onClick={() => onClose(false)}>
          Cancel
        </button>
        <button type="button" disabled={busy} onClick={save} data-testid="rule-save">
          {busy ? "Saving…" : "Save"}
        </button>
      </div>
    </Dialog>
  );
}
