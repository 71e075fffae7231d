import { useState } from "preact/hooks";
import { signIn, signedOutReason } from "../api";
import { ErrorBanner, Field, val } from "../components/ui";
import { navigate } from "../router";
import { useStore } from "../store";

export function SignIn() {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const reason = useStore(signedOutReason);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(username.trim(), password);
      const p = window.location.pathname;
      if (p === "/" || p === "/signin") navigate("/devices", true);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <div class="signin">
      <form class="card signin-card" onSubmit={submit} data-testid="signin-form">
        <h1 class="brand-title">
          <img src="/icons/icon.svg" alt="" width={32} height={32} /> Strata
        </h1>
        {reason && !error && <ErrorBanner error={reason} />}
        <ErrorBanner error={error} />
        <Field label="User name">
          <input
            name="username"
            autocomplete="username"
            required
            value={username}
            onInput={(e) => setUsername(val(e))}
            data-testid="signin-username"
          />
        </Field>
        <Field label="Password">
          <input
            name="password"
            type="password"
            autocomplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(val(e))}
            data-testid="signin-password"
          />
        </Field>
        <button type="submit" disabled={busy} data-testid="signin-submit">
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </div>
  );
}
