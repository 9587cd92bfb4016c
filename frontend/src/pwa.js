// The installable web app on the page side (docs/pwa.md): registers the service worker, and runs
// "Keep on this device" / "Delete from this device" on a study page and the list of kept studies
// on the offline page.
//
// Study page markup (src/hds/archive/templates/archive/study.html):
//   <section data-keep data-study="<uuid>" data-offline-url="/viewer/<uuid>/offline.json"
//            data-label-keeping="…%(done)s…%(total)s…" data-label-kept="…%(size)s…"
//            data-label-failed="…" data-label-quota="…" data-label-deleted="…" hidden>
//     [data-keep-status] [data-keep-progress] [data-keep-start] [data-keep-confirm] (explanation,
//     [data-keep-yes], [data-keep-no]) [data-keep-delete]
//
// Only this script writes a study's cache; the service worker only reads it when offline.

// Same as hds.viewer.offline.KEPT_CACHE_PREFIX (tests/viewer/test_pwa.py checks).
export const KEPT_PREFIX = 'hds-kept-'
const PARALLEL = 4

function supported () {
  return window.isSecureContext && 'serviceWorker' in navigator && 'caches' in window
}

export function registerServiceWorker () {
  const meta = document.querySelector('meta[name="hds-service-worker"]')
  if (!meta || !supported()) return
  const register = () => navigator.serviceWorker.register(meta.content, { scope: '/' })
  // A registration job cut short by a navigation (the login page's, say) can fail this page's
  // too; one more try after a moment. Without a worker the site works as before, only not
  // offline.
  register().catch(() => new Promise((resolve) => setTimeout(resolve, 2000)).then(register)).catch((error) => {
    console.warn('HDS: the service worker was not registered:', error && error.message)
  })
}

function fill (text, params) {
  return (text || '').replace(/%\((\w+)\)s/g, (_, name) => (name in params ? String(params[name]) : ''))
}

export function formatBytes (bytes) {
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return new Intl.NumberFormat(document.documentElement.lang || undefined, {
    style: 'unit',
    unit: units[unit],
    unitDisplay: 'short',
    maximumFractionDigits: unit >= 2 ? 1 : 0
  }).format(value)
}

// The record of a finished keep, stored in the study's cache under its offline.json URL: what
// the study page and the offline page show. A cache without it is an interrupted keep.
async function readRecord (cacheName, recordUrl) {
  if (!(await caches.has(cacheName))) return null
  const response = await (await caches.open(cacheName)).match(recordUrl)
  return response ? response.json() : null
}

class KeepError extends Error {
  constructor (kind) {
    super(kind)
    this.kind = kind // 'failed' | 'quota'
  }
}

async function storeOne (cache, entry) {
  const headers = entry.accept ? { Accept: entry.accept } : {}
  // As the viewer asks, with the session; a redirect (to the login) is a failure, not a page.
  const request = new Request(entry.url, { headers, credentials: 'same-origin', redirect: 'error', cache: 'no-store' })
  let response
  try {
    response = await fetch(request)
  } catch (error) {
    throw new KeepError('failed')
  }
  if (response.status !== 200) throw new KeepError('failed')
  const body = await response.arrayBuffer()
  try {
    await cache.put(request, new Response(body, { status: 200, statusText: response.statusText, headers: response.headers }))
  } catch (error) {
    throw new KeepError(error && error.name === 'QuotaExceededError' ? 'quota' : 'failed')
  }
  return body.byteLength
}

// Fetch every request the viewer makes for the study (the server's list) into the study's cache.
async function keepStudy (offlineUrl, onProgress) {
  const listResponse = await fetch(offlineUrl, { credentials: 'same-origin', cache: 'no-store', redirect: 'error' })
    .catch(() => { throw new KeepError('failed') })
  if (listResponse.status !== 200) throw new KeepError('failed')
  const list = await listResponse.json()
  await caches.delete(list.cache) // what an interrupted keep left behind
  const cache = await caches.open(list.cache)
  const work = list.requests.slice()
  // The worker's shell normally holds the static files already; store any it does not.
  for (const url of list.static) {
    if (!(await caches.match(url, { ignoreVary: true }))) work.push({ url })
  }
  const total = work.length
  let done = 0
  let bytes = 0
  onProgress(0, total)
  const runner = async () => {
    while (work.length) {
      bytes += await storeOne(cache, work.shift())
      onProgress(++done, total)
    }
  }
  try {
    await Promise.all(Array.from({ length: PARALLEL }, runner))
  } catch (error) {
    work.length = 0
    await caches.delete(list.cache)
    throw error
  }
  const record = { study: list.study, title: list.title, date: list.date, viewer: list.viewer, bytes, keptAt: new Date().toISOString() }
  await cache.put(offlineUrl, new Response(JSON.stringify(record), { headers: { 'Content-Type': 'application/json' } }))
  // Ask the browser not to evict it under storage pressure (it may decide by itself).
  if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {})
  return record
}

function initKeep (card) {
  if (card.dataset.keepReady) return
  card.dataset.keepReady = 'true'
  if (!supported()) return
  const q = (selector) => card.querySelector(selector)
  const status = q('[data-keep-status]')
  const progress = q('[data-keep-progress]')
  const start = q('[data-keep-start]')
  const confirm = q('[data-keep-confirm]')
  const remove = q('[data-keep-delete]')
  const labels = card.dataset
  const cacheName = KEPT_PREFIX + card.dataset.study
  const offlineUrl = new URL(card.dataset.offlineUrl, window.location.href).href

  const show = (state, record) => {
    start.hidden = state !== 'none'
    confirm.hidden = state !== 'confirm'
    remove.hidden = state !== 'kept'
    progress.hidden = state !== 'keeping'
    card.dataset.keepState = state
    if (state === 'kept') status.textContent = fill(labels.labelKept, { size: formatBytes(record.bytes) })
  }

  start.addEventListener('click', () => {
    status.textContent = ''
    show('confirm')
    q('[data-keep-yes]').focus()
  })
  q('[data-keep-no]').addEventListener('click', () => {
    show('none')
    start.focus()
  })
  q('[data-keep-yes]').addEventListener('click', async () => {
    show('keeping')
    try {
      const record = await keepStudy(card.dataset.offlineUrl, (done, total) => {
        progress.max = Math.max(1, total)
        progress.value = done
        status.textContent = fill(labels.labelKeeping, { done, total })
      })
      show('kept', record)
    } catch (error) {
      show('none')
      status.textContent = error && error.kind === 'quota' ? labels.labelQuota : labels.labelFailed
    }
  })
  remove.addEventListener('click', async () => {
    await caches.delete(cacheName)
    show('none')
    status.textContent = labels.labelDeleted
    start.focus()
  })

  readRecord(cacheName, offlineUrl).then((record) => {
    show(record ? 'kept' : 'none', record)
    card.hidden = false
  }, () => {})
}

// The offline page: links to the viewer of every study kept in this browser.
async function listKept (section) {
  if (section.dataset.keptReady || !('caches' in window)) return
  section.dataset.keptReady = 'true'
  const list = section.querySelector('[data-kept-items]')
  const template = section.dataset.offlineUrl // /viewer/<zero uuid>/offline.json
  const zero = '00000000-0000-0000-0000-000000000000'
  for (const name of (await caches.keys()).sort()) {
    if (!name.startsWith(KEPT_PREFIX)) continue
    const url = new URL(template.replace(zero, name.slice(KEPT_PREFIX.length)), window.location.href).href
    const record = await readRecord(name, url).catch(() => null)
    if (!record) continue
    const item = document.createElement('li')
    const link = document.createElement('a')
    link.href = record.viewer
    link.textContent = record.title || record.study // study text only through textContent
    item.append(link)
    if (record.date) item.append(` · ${record.date}`)
    list.append(item)
  }
  section.hidden = !list.children.length
}

export function initPwa (root) {
  for (const card of root.querySelectorAll('[data-keep]')) initKeep(card)
  for (const section of root.querySelectorAll('[data-kept-list]')) listKept(section).catch(() => {})
}
