// The HDS service worker, served at the site root by hds.viewer.pwa.service_worker (docs/pwa.md).
//
// It stores the app shell and nothing else: the files under the static URL and the offline
// page, in a cache named after the shell's version (a new deploy installs a new worker with a
// new cache, and activating it deletes the old ones). It never stores a response of a page, of
// the API, of the image service or of the archive: those carry health data and are
// Cache-Control: no-store. Copies of a study exist only when the user chose "Keep on this device"
// on its study page; the page's script (frontend/src/pwa.js) writes them into a cache of their
// own, and this worker only reads them, when the network is gone. Logout's
// Clear-Site-Data: "storage" removes those caches and this worker.
const CONFIG = {{ config|safe }}

// Answers of a proxy in front of the server that stand for "the server cannot be reached".
const UNREACHABLE = new Set([502, 503, 504])

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CONFIG.shellCache)
    // No cookies: nothing in the shell may depend on who is logged in. 'reload' skips the HTTP
    // cache, so the shell is the deployed version and not a mix.
    const urls = [...CONFIG.precache, ...Object.values(CONFIG.offline)]
    await cache.addAll(urls.map((url) => new Request(url, { credentials: 'omit', cache: 'reload' })))
    await self.skipWaiting()
  })())
})

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(CONFIG.shellPrefix) && name !== CONFIG.shellCache) await caches.delete(name)
    }
    await self.clients.claim()
  })())
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin) return
  event.respondWith(url.pathname.startsWith(CONFIG.staticUrl) ? fromShell(request) : fromNetwork(request))
})

// Static files: the shell first (they change only with a deploy, which changes this worker).
async function fromShell (request) {
  const cache = await caches.open(CONFIG.shellCache)
  const hit = await cache.match(request, { ignoreVary: true })
  if (hit) return hit
  try {
    const response = await fetch(request)
    if (response.status === 200 && response.type === 'basic') await cache.put(request, response.clone())
    return response
  } catch (error) {
    return (await kept(request)) || Response.error()
  }
}

// Everything else: always the network, so the server decides (access, deletion, session). Only
// when it cannot be reached: a copy the user chose to keep, else the offline page for a page.
//
// Network first even for frames, whose bytes never change: serving a kept copy while online
// would show images the server no longer gives this browser (study deleted, access revoked,
// session ended), and the server's answers are no-store for the same reason.
async function fromNetwork (request) {
  let response
  try {
    response = await fetch(request)
  } catch (error) {
    response = Response.error()
  }
  if (response.type !== 'error' && !UNREACHABLE.has(response.status)) return response
  const copy = await kept(request)
  if (copy) return copy
  if (request.mode === 'navigate') return (await offlinePage()) || response
  return response
}

// A kept copy of this request: the study caches hold each request as the viewer makes it, but
// the server varies its answers on Accept and Cookie, which a kept copy must not depend on.
async function kept (request) {
  for (const name of await caches.keys()) {
    if (!name.startsWith(CONFIG.keptPrefix)) continue
    const hit = await (await caches.open(name)).match(request, { ignoreVary: true })
    if (hit) return hit
  }
  return undefined
}

async function offlinePage () {
  const cache = await caches.open(CONFIG.shellCache)
  const languages = [...(self.navigator.languages || []), self.navigator.language || '']
  const codes = languages.map((tag) => tag.toLowerCase().split('-')[0])
  const lang = codes.find((code) => code in CONFIG.offline) || CONFIG.defaultLanguage
  return (await cache.match(CONFIG.offline[lang])) || cache.match(CONFIG.offline[CONFIG.defaultLanguage])
}
