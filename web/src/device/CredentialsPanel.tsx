// A device's credentials: list (no secrets), rotate the access token (shown once), revoke.

import { useState } from "preact/hooks";
import { api, canOperate, session } from "../api";
import { ConfirmButton, Dialog, ErrorBanner, TimeAgo, useLoad } from "../components/ui";
import { TokenBox } from "../pages/CreateDevice";
import { useStore } from "../store";
import type { AccessTokenIssued, Credential } from "../types";

export function CredentialsPanel({ deviceId }: { deviceId: string }) {
  const user = useStore(session)!.user;
  const operate = canOperate(user);
  const { data, error, reload } = useLoad(
    (signal) => api.get<Credential[]>(`/api/devices/${deviceId}/credentials`, {}, signal),
    [deviceId],
  );
  const [issued, setIssued] = useState<AccessTokenIssued | null>(null);
  const [actionError, setActionError] = useState<unknown>(null);

  const rotate = async () => {
    setActionError(null);
    try {
      setIssued(await api.post<AccessTokenIssued>(`/api/devices/${deviceId}/credentials/access-token`));
      reload();
    } catch (e) {
      setActionError(e);
    }
  };
  const revoke = async (c: Credential) => {
    setActionError(null);
    try {
      await api.del(`/api/devices/${deviceId}/credentials/${c.id}`);
      reload();
    } catch (e) {
      setActionError(e);
    }
  };

  return (
    <div>
      {operate && (
        <div class="actions left">
          <ConfirmButton
            class="secondary"
            testid="credential-rotate"
            confirmText="The old token stops working: rotate?"
            onConfirm={rotate}
          >
            Rotate access token
          </ConfirmButton>
        </div>
      )}
      <ErrorBanner error={error} />
      <ErrorBanner error={actionError} onClose={() => setActionError(null)} />
      {data && !data.length && <p class="muted">No credentials.</p>}
      {data && data.length > 0 && (
        <div class="table-wrap">
          <table class="table cards" data-testid="credential-table">
            <thead>
              <tr>
                <th>Kind</th>
                <th>Hint</th>
                <th>Created</th>
                <th>Revoked</th>
                {operate && <th />}
              </tr>
            </thead>
            <tbody>
              {data.map((c) => (
                <tr data-testid="credential-row" data-credential-id={c.id} data-revoked={c.revoked_at ? "true" : "false"}>
                  <td data-label="Kind">{c.kind}</td>
                  <td data-label="Hint" class="mono">
                    {c.hint}
                  </td>
                  <td data-label="Created">
                    <TimeAgo ms={c.created_at} />
                  </td>
                  <td data-label="Revoked">{c.revoked_at ? <TimeAgo ms={c.revoked_at} /> : "—"}</td>
                  {operate && (
                    <td class="row-actions">
                      {!c.revoked_at && (
                        <ConfirmButton testid="credential-revoke" onConfirm={() => revoke(c)}>
                          Revoke
                        </ConfirmButton>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {issued && (
        <Dialog title="New access token" onClose={() => setIssued(null)} testid="token-dialog">
          <p>
            The new token is shown <strong>this once</strong>; the previous one no longer works.
          </p>
          <TokenBox token={issued.access_token} />
          <div class="actions">
            <button type="button" onClick={() => setIssued(null)} data-testid="device-token-close">
              Done
            </button>
          </div>
        </Dialog>
      )}
    </div>
  );
}
