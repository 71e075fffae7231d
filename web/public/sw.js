// Strata's service worker: keeps the app shell so the app opens (and installs) on a phone
// with a poor connection.
//
// - Navigations and index.html: network first, the cached copy when offline.
// - /assets/* (content-hashed file names): cache first, they never change.
// - Other static files (manifest, icons): stale-while-revalidate.
// - /api/*, /metrics, /healthz and other origins: never touched, never cached.
//
// On install it caches index.html plus every /assets/ file that index.html names; files of
// older builds are dropped whenever a new index.html arrives.

const CACHE = "strata-shell-v1";
const STATIC = ["/manifest.webmanifest", "/icons/icon.svg", "/icons/icon-192.png", "/icons/icon-512.png"];

function assetsOf(html) {
  const found = new Set();
  for (const m of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) found.add(m[1]);
  return [...found];
}

async function cacheShell(indexResponse) {
  const cache = await caches.open(CACHE);
  const html = await indexResponse.clone().text();
  await cache.put("/index.html", indexResponse.clone());
  const wanted = assetsOf(html);
  await Promise.all(
    wanted.map(async (url) => {
      if (!(await cache.match(url))) {
        const r = await fetch(url);
        if (r.ok) await cache.put(url, r);
      }
    }),
  );
  return wanted;
}

async function pruneAssets(keep) {
  // Keep the entry assets of the current index and every lazily loaded chunk fetched since
  // (those are cached on use); drop assets that no current file names.
  const cache = await caches.open(CACHE);
  const keepSet = new Set(keep);
  const texts = [];
  for (const req of await cache.keys()) {
    const path = new URL(req.url).pathname;
    if (path.startsWith("/assets/") && path.endsWith(".js")) {
      const r = await cache.match(req);
      if (r) texts.push(await r.text());
    }
  }
  for (const req of await cache.keys()) {
    const path = new URL(req.url).pathname;
    if (!path.startsWith("/assets/") || keepSet.has(path)) continue;
    const name = path.slice("/assets/".length);
    if (!texts.some((t) => t.includes(name))) await cache.delete(req);
  }
}

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const r = await fetch("/index.html", { cache: "no-cache" });
      if (r.ok) await cacheShell(r);
      const cache = await caches.open(CACHE);
      await Promise.all(STATIC.map((u) => cache.add(u).catch(() => undefined)));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  const path = url.pathname;
  if (path.startsWith("/api/") || path === "/api" || path === "/metrics" || path === "/healthz") return;

  if (request.mode === "navigate" || path === "/" || path === "/index.html") {
    event.respondWith(
      (async () => {
        try {
          const r = await fetch("/index.html", { cache: "no-cache" });
          if (r.ok) event.waitUntil(cacheShell(r).then(pruneAssets).catch(() => undefined));
          return r;
        } catch {
          const cached = await caches.match("/index.html");
          return cached || new Response("Offline", { status: 503, headers: { "Content-Type": "text/plain" } });
        }
      })(),
    );
    return;
  }

  if (path.startsWith("/assets/")) {
    event.respondWith(
      (async () => {
        const cache = await caches.open(CACHE);
        const cached = await cache.match(request);
        if (cached) return cached;
        const r = await fetch(request);
        if (r.ok) await cache.put(request, r.clone());
        return r;
      })(),
    );
    return;
  }

  if (STATIC.includes(path) || path.startsWith("/icons/")) {
    event.respondWith(
      (async () => {
        const cache = await caches.open(CACHE);
        const cached = await cache.match(request);
        const refresh = fetch(request)
          .then((r) => {
            if (r.ok) void cache.put(request, r.clone());
            return r;
          })
          .catch(() => undefined);
        return cached || (await refresh) || new Response("", { status: 504 });
      })(),
    );
  }
});
