// The app shell: session restore, sign-in, navigation (a menu on phones) and the routes.
// Pages with charts load on demand, so the first load carries no chart library.

import type { ComponentType } from "preact";
import { useEffect, useState } from "preact/hooks";
import { errorText, isAdmin, restoreSession, session, signOut, signedOutReason } from "./api";
import { ErrorBanner } from "./components/ui";
import { liveState, setLiveEnabled } from "./live";
import { AlarmsPage } from "./pages/Alarms";
import { DashboardsPage } from "./pages/Dashboards";
import { DevicesPage } from "./pages/Devices";
import { RulesPage } from "./pages/Rules";
import { SignIn } from "./pages/SignIn";
import { UsersPage } from "./pages/Users";
import { Link, match, navigate, useLocation } from "./router";
import { useStore } from "./store";

/** A component loaded with `import()` the first time it is shown. */
function lazy<P extends object>(load: () => Promise<ComponentType<P>>): ComponentType<P> {
  let loaded: ComponentType<P> | null = null;
  let promise: Promise<void> | null = null;
  return function Lazy(props: P) {
    const [, setReady] = useState(0);
    const [error, setError] = useState<unknown>(null);
    useEffect(() => {
      if (loaded) return;
      let live = true;
      promise ??= load().then((c) => {
        loaded = c;
      });
      promise.then(
        () => live && setReady(1),
        (e) => {
          promise = null;
          if (live) setError(e);
        },
      );
      return () => {
        live = false;
      };
    }, []);
    if (error) return <ErrorBanner error={`This page could not be loaded (${errorText(error)}); reload the app.`} />;
    if (!loaded) return <p class="muted">Loading…</p>;
    const C = loaded;
    return <C {...props} />;
  };
}

const DevicePage = lazy(() => import("./pages/DeviceDetail").then((m) => m.DeviceDetail));
const DashboardPage = lazy(() => import("./pages/Dashboard").then((m) => m.DashboardPage));

export function App() {
  const current = useStore(session);
  const [restoring, setRestoring] = useState(true);
  const [restoreError, setRestoreError] = useState<unknown>(null);

  const restore = () => {
    setRestoring(true);
    setRestoreError(null);
    restoreSession()
      .catch((e) => setRestoreError(e))
      .finally(() => setRestoring(false));
  };
  useEffect(restore, []);
  useEffect(() => setLiveEnabled(!!current), [current]);

  if (restoring) return <p class="muted center-page">Loading…</p>;
  if (restoreError)
    return (
      <div class="center-page">
        <ErrorBanner error={restoreError} />
        <button type="button" onClick={restore}>
          Retry
        </button>
      </div>
    );
  if (!current) return <SignIn />;
  return <Shell />;
}

function Shell() {
  const user = useStore(session)!.user;
  const { path } = useLocation();
  const live = useStore(liveState);
  const reason = useStore(signedOutReason);
  const [menu, setMenu] = useState(false);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => setMenu(false), [path]);
  useEffect(() => {
    if (path === "/" || path === "/signin") navigate("/devices", true);
  }, [path]);

  const links: [string, string][] = [
    ["/devices", "Devices"],
    ["/alarms", "Alarms"],
    ["/dashboards", "Dashboards"],
    ["/rules", "Rules"],
  ];
  if (isAdmin(user)) links.push(["/users", "Users"]);

  let page;
  let params: Record<string, string> | null;
  if ((params = match("/devices/:id", path))) page = <DevicePage id={params.id} />;
  else if (match("/devices", path)) page = <DevicesPage />;
  else if (match("/alarms", path)) page = <AlarmsPage />;
  else if (match("/rules", path)) page = <RulesPage />;
  else if ((params = match("/dashboards/:id", path))) page = <DashboardPage id={params.id} />;
  else if (match("/dashboards", path)) page = <DashboardsPage />;
  else if (match("/users", path)) page = isAdmin(user) ? <UsersPage /> : <p>Only admins manage users.</p>;
  else if (path === "/" || path === "/signin") page = null;
  else
    page = (
      <div>
        <h1>Not found</h1>
        <p>
          There is no page at <code>{path}</code>. <Link href="/devices">Go to the devices.</Link>
        </p>
      </div>
    );

  return (
    <div class="shell">
      <header class="topbar">
        <Link href="/devices" class="brand">
          <img src="/icons/icon.svg" alt="" width={24} height={24} />
          Strata
        </Link>
        <button
          type="button"
          class="menu-toggle"
          aria-expanded={menu}
          aria-label="Menu"
          data-testid="nav-toggle"
          onClick={() => setMenu(!menu)}
        >
          ☰
        </button>
        <nav class={menu ? "nav open" : "nav"} data-testid="nav">
          {links.map(([href, label]) => (
            <Link
              href={href}
              class={path === href || path.startsWith(href + "/") ? "active" : ""}
              data-testid={`nav-${label.toLowerCase()}`}
            >
              {label}
            </Link>
          ))}
          <span class="nav-spacer" />
          <span
            class={`live-dot live-${live}`}
            title={`Live updates: ${live}`}
            data-testid="live-status"
            data-state={live}
          />
          <span class="who" data-testid="current-user" data-role={user.role}>
            {user.username} <small>({user.role})</small>
          </span>
          <button
            type="button"
            class="secondary"
            data-testid="signout"
            onClick={() => signOut().catch(setError)}
          >
            Sign out
          </button>
        </nav>
      </header>
      <main class="content">
        {reason && <ErrorBanner error={reason} onClose={() => signedOutReason.set(null)} />}
        <ErrorBanner error={error} onClose={() => setError(null)} />
        {page}
      </main>
    </div>
  );
}
