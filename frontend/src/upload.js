// Uploader for single files, folders and patient CDs (DICOMDIR):
//
//   <section class="uploader" data-uploader data-plan-url="…" data-check-url="…" data-upload-url="…"
//            data-study="(optional)" data-labels='{"preparing": "…", …}'>
//     <div class="dropzone" data-dropzone tabindex="0">
//       <p>…</p>
//       <label class="btn btn-secondary">… <input type="file" multiple data-pick-files hidden></label>
//       <label class="btn btn-secondary">… <input type="file" webkitdirectory data-pick-folder hidden></label>
//     </div>
//     <div class="upload-status" data-status hidden>
//       <progress max="100" value="0" data-total-progress></progress> <span data-total-label></span>
//     </div>
//     <p class="alert alert-danger" data-error hidden></p>
//     <ul class="upload-results" data-results></ul>
//     <div class="actions" data-done hidden><button type="button" data-retry hidden>…</button> <a …>…</a></div>
//   </section>
//
// Flow: collect files (pickers or drop, folders walked recursively) → plan (a DICOMDIR lists the
// images worth uploading) → quota check → POSTs of up to GROUP_FILES small files each (big files
// alone), 2 in parallel, retried on connection problems → summary. The request/response contract is in frontend/README.md.
// CSP: no inline styles; visibility via the `hidden` attribute, looks via classes; server text
// only ever goes into textContent.

import {
  RETRY_DELAYS_S, applyPlans, baseName, cleanPath, dicomdirsOf, groupsOf, sortByPath
} from './upload/plan.js'

const PARALLEL = 2
const PLAN_RETRY_DELAYS_S = [1] // the plan is optional: one quick retry, then upload everything
const MAX_LINES = 200 // stored/duplicate lines kept in the DOM (errors always stay)
const STALL_MS = 60000 // no upload progress for this long: give up on this attempt
const RESPONSE_MS = 180000 // body sent, waiting for the server (it encrypts and parses)
const REQUEST_TIMEOUT_MS = 60000 // plan and check requests
const RESULT_STATUSES = new Set(['stored', 'duplicate', 'error'])
const FATAL_STATUSES = new Set([401, 403, 413]) // request-level refusals: stop the whole queue

const DEFAULT_LABELS = {
  preparing: 'Preparing…',
  uploading: 'Uploading %(current)s of %(total)s files…',
  done: 'Finished.',
  stored: 'stored',
  duplicate: 'already there',
  error: 'failed',
  retry: 'Connection problem, trying again in %(seconds)s s…',
  summary: '%(stored)s stored, %(duplicates)s already there, %(errors)s failed',
  leave: 'Files are still being uploaded. Leave this page anyway?',
  connection: 'Connection lost. Try again.',
  dicomdir_fallback: 'The CD index (DICOMDIR) could not be read, so all files are uploaded.',
  files_selected: '%(count)s files, %(size)s',
  hidden_results: '%(count)s earlier lines not shown (errors stay listed).',
  no_files: 'There are no files to upload.',
  unexpected: 'Unexpected answer from the server. Reload the page and try again.'
}

// --- small helpers ------------------------------------------------------------------------

function lang () {
  return document.documentElement.lang || undefined
}

let numberFormats = null
function formatNumber (n, fractionDigits = 0) {
  if (!numberFormats) {
    try {
      numberFormats = [0, 1].map((d) => new Intl.NumberFormat(lang(), { maximumFractionDigits: d }))
    } catch (_) {
      numberFormats = [0, 1].map((d) => new Intl.NumberFormat(undefined, { maximumFractionDigits: d }))
    }
  }
  return numberFormats[fractionDigits ? 1 : 0].format(n)
}

// 1024-based like Django's filesizeformat, so sizes match the server's quota messages.
export function humanSize (bytes) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let n = Math.max(0, Number(bytes) || 0)
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${formatNumber(n, i === 0 ? 0 : 1)} ${units[i]}`
}

// Django-style "%(name)s" placeholders; "%%" is a literal "%"; unknown names stay visible.
export function formatLabel (template, values = {}) {
  return String(template).replace(/%\((\w+)\)s|%%/g, (match, key) => {
    if (match === '%%') return '%'
    if (!Object.prototype.hasOwnProperty.call(values, key)) return match
    const value = values[key]
    return typeof value === 'number' ? formatNumber(value) : String(value)
  })
}

function parseLabels (text) {
  const labels = { ...DEFAULT_LABELS }
  try {
    const given = JSON.parse(text || '{}')
    if (given && typeof given === 'object') {
      for (const [key, value] of Object.entries(given)) {
        if (typeof value === 'string' && value) labels[key] = value
      }
    }
  } catch (_) { /* keep the defaults */ }
  return labels
}

function parseJSON (text) {
  try {
    return JSON.parse(text)
  } catch (_) {
    return null
  }
}

function detailOf (data) {
  return data && typeof data.detail === 'string' && data.detail ? data.detail : ''
}

function csrfToken () {
  const meta = document.querySelector('meta[name="csrf-token"]')
  return meta ? meta.getAttribute('content') : null
}

function requestHeaders () {
  const headers = { Accept: 'application/json' }
  const token = csrfToken()
  if (token) headers['X-CSRFToken'] = token
  return headers
}

function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

function isRetryable (res) {
  return res.network || res.status >= 500 || res.status === 408 || res.status === 429
}

// Only links into this site (the server builds them, but they are shown next to untrusted names).
function safeLink (url) {
  if (typeof url !== 'string' || !url) return null
  try {
    const u = new URL(url, window.location.href)
    if (u.origin !== window.location.origin || !/^https?:$/.test(u.protocol)) return null
    return u.pathname + u.search + u.hash
  } catch (_) {
    return null
  }
}

// --- collecting files -------------------------------------------------------------------------

function filesFromInput (input) {
  return Array.from(input.files || [], (file) => ({ file, path: cleanPath(file.webkitRelativePath || file.name) }))
}

function readBatch (reader) {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject))
}

async function walkEntry (entry, out, onCount) {
  if (entry.isFile) {
    try {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject))
      out.push({ file, path: cleanPath(entry.fullPath || file.name) })
      onCount(out.length)
    } catch (_) { /* unreadable: skip */ }
  } else if (entry.isDirectory) {
    const reader = entry.createReader()
    // readEntries hands out a directory in batches (100 in Chromium): read until empty.
    for (;;) {
      let batch
      try {
        batch = await readBatch(reader)
      } catch (_) {
        break
      }
      if (!batch.length) break
      await Promise.all(batch.map((child) => walkEntry(child, out, onCount)))
    }
  }
}

// The entries must be taken from the DataTransfer synchronously, during the drop event; the
// walk itself is asynchronous.
function filesFromDrop (dataTransfer, onCount) {
  const entries = []
  const out = []
  const items = dataTransfer.items ? Array.from(dataTransfer.items) : []
  if (items.length) {
    for (const item of items) {
      if (item.kind !== 'file') continue
      const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null
      if (entry) {
        entries.push(entry)
      } else {
        const file = item.getAsFile()
        if (file) out.push({ file, path: cleanPath(file.name) })
      }
    }
  } else {
    for (const file of Array.from(dataTransfer.files || [])) out.push({ file, path: cleanPath(file.name) })
  }
  return (async () => {
    for (const entry of entries) await walkEntry(entry, out, onCount)
    return out
  })()
}

// --- network ----------------------------------------------------------------------------------

async function post (url, body, extraHeaders = {}) {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS)
  try {
    const response = await fetch(url, {
      method: 'POST',
      body,
      headers: { ...requestHeaders(), ...extraHeaders },
      credentials: 'same-origin',
      signal: controller.signal
    })
    const text = await response.text()
    return { status: response.status, data: parseJSON(text), redirected: response.redirected, network: false }
  } catch (_) {
    return { status: 0, data: null, redirected: false, network: true }
  } finally {
    clearTimeout(timer)
  }
}

async function postWithRetries (url, makeBody, extraHeaders, delays = RETRY_DELAYS_S) {
  for (let attempt = 0; ; attempt++) {
    const res = await post(url, makeBody(), extraHeaders)
    if (!isRetryable(res) || attempt >= delays.length) return res
    await sleep(delays[attempt] * 1000)
  }
}

// Some files, one XHR (fetch has no upload progress). Resolves { status, body, network, redirected }.
function sendFiles (url, entries, study, onProgress) {
  const size = entries.reduce((n, entry) => n + entry.file.size, 0)
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest()
    let timer = null
    let timedOut = false
    const arm = (ms) => {
      clearTimeout(timer)
      timer = setTimeout(() => { timedOut = true; xhr.abort() }, ms)
    }
    const settle = (res) => {
      clearTimeout(timer)
      resolve(res)
    }
    xhr.open('POST', url)
    for (const [name, value] of Object.entries(requestHeaders())) xhr.setRequestHeader(name, value)
    xhr.responseType = 'text'
    xhr.upload.addEventListener('progress', (event) => {
      arm(STALL_MS)
      if (event.lengthComputable && event.total > 0) {
        onProgress(Math.min(1, event.loaded / event.total) * size)
      }
    })
    xhr.upload.addEventListener('load', () => {
      onProgress(size)
      arm(RESPONSE_MS)
    })
    xhr.addEventListener('load', () => {
      const expected = new URL(url, window.location.href).href
      settle({
        status: xhr.status,
        body: xhr.responseText,
        network: xhr.status === 0,
        redirected: Boolean(xhr.responseURL) && xhr.responseURL !== expected
      })
    })
    xhr.addEventListener('error', () => settle({ status: 0, body: '', network: true }))
    xhr.addEventListener('timeout', () => settle({ status: 0, body: '', network: true }))
    xhr.addEventListener('abort', () => settle({ status: 0, body: '', network: true, timedOut }))
    const form = new FormData()
    for (const entry of entries) {
      form.append('file', entry.file, baseName(entry.path) || entry.file.name)
      form.append('path', entry.path)
    }
    if (study) form.append('study', study)
    arm(STALL_MS)
    xhr.send(form)
  })
}

// --- one uploader ------------------------------------------------------------------------------

function setUpUploader (root) {
  const q = (selector) => root.querySelector(selector)
  const labels = parseLabels(root.dataset.labels)
  const urls = { plan: root.dataset.planUrl, check: root.dataset.checkUrl, upload: root.dataset.uploadUrl }
  const study = (root.dataset.study || '').trim()
  const dropzone = q('[data-dropzone]')
  const pickFiles = q('[data-pick-files]')
  const pickFolder = q('[data-pick-folder]')
  const inputs = [pickFiles, pickFolder].filter(Boolean)
  const status = q('[data-status]')
  const progress = q('[data-total-progress]')
  const totalLabel = q('[data-total-label]')
  const errorBox = q('[data-error]')
  const results = q('[data-results]')
  const done = q('[data-done]')
  const retryButton = q('[data-retry]')

  // Optional pieces the template may provide; created here if it doesn't.
  let selection = q('[data-selection]')
  if (!selection && status) {
    selection = document.createElement('p')
    selection.className = 'upload-selection'
    status.prepend(selection)
  }
  let warningBox = q('[data-warning]')
  if (!warningBox) {
    warningBox = document.createElement('p')
    warningBox.className = 'alert alert-warning'
    warningBox.hidden = true
    if (errorBox) errorBox.before(warningBox)
    else root.append(warningBox)
  }
  let hiddenCounter = null
  if (results) {
    hiddenCounter = document.createElement('p')
    hiddenCounter.className = 'upload-results-hidden'
    hiddenCounter.hidden = true
    results.before(hiddenCounter)
  }
  const live = document.createElement('p')
  live.className = 'visually-hidden'
  live.setAttribute('role', 'status')
  live.setAttribute('aria-live', 'polite')
  root.append(live)
  if (errorBox && !errorBox.hasAttribute('role')) errorBox.setAttribute('role', 'alert')
  if (progress && totalLabel) {
    if (!totalLabel.id) totalLabel.id = `upload-label-${Math.random().toString(36).slice(2, 10)}`
    progress.setAttribute('aria-describedby', totalLabel.id)
  }

  let busy = false
  let batch = null // { items, lines, hidden } for the current selection
  let run = null // the queue being worked on (the whole batch, or the files re-queued by retry)
  let renderPending = false

  const announce = (text) => { live.textContent = text }
  const setText = (el, text) => { if (el) el.textContent = text }
  const show = (el, visible) => { if (el) el.hidden = !visible }

  function showError (text) {
    setText(errorBox, text)
    show(errorBox, Boolean(text))
  }

  function showWarning (text) {
    setText(warningBox, text)
    show(warningBox, Boolean(text))
  }

  function onBeforeUnload (event) {
    event.preventDefault()
    event.returnValue = labels.leave // older browsers show it; newer ones show their own text
    return labels.leave
  }

  function setBusy (value) {
    busy = value
    root.classList.toggle('busy', value)
    if (value) root.setAttribute('aria-busy', 'true')
    else root.removeAttribute('aria-busy')
    for (const input of inputs) input.disabled = value
    if (dropzone) dropzone.setAttribute('aria-disabled', value ? 'true' : 'false')
    if (value) window.addEventListener('beforeunload', onBeforeUnload)
    else window.removeEventListener('beforeunload', onBeforeUnload)
  }

  // --- rendering (coalesced to one update per frame) ---
  function scheduleRender () {
    if (renderPending) return
    renderPending = true
    window.requestAnimationFrame(render)
  }

  function render () {
    renderPending = false
    if (!run) return
    let sent = run.bytesDone
    for (const bytes of run.inflight.values()) sent += bytes
    const percent = run.totalBytes > 0 ? Math.min(100, Math.floor((sent * 100) / run.totalBytes)) : 0
    if (progress) progress.value = percent
    if (run.waiting.size > 0) {
      setText(totalLabel, Array.from(run.waiting.values()).pop())
      return
    }
    setText(totalLabel, formatLabel(labels.uploading, {
      current: Math.min(Math.max(run.started, 1), run.items.length),
      done: run.finished,
      total: run.items.length,
      count: run.items.length,
      percent,
      sent: humanSize(sent),
      size: humanSize(run.totalBytes)
    }))
  }

  function updateHiddenCounter () {
    if (!hiddenCounter) return
    hiddenCounter.textContent = formatLabel(labels.hidden_results, { count: batch.hidden })
    hiddenCounter.hidden = batch.hidden === 0
  }

  function addResult (item, state, message, studyUrl, name) {
    item.outcomes.push(state)
    if (!results) return
    const li = document.createElement('li')
    li.className = `result ${state}`
    const href = safeLink(studyUrl)
    const pathEl = document.createElement(href ? 'a' : 'span')
    pathEl.className = 'result-path'
    pathEl.textContent = name ? `${item.path} (${name})` : item.path
    if (href) pathEl.href = href
    const stateEl = document.createElement('span')
    stateEl.className = 'result-status'
    stateEl.textContent = labels[state]
    li.append(pathEl, ' ', stateEl)
    if (message) {
      const messageEl = document.createElement('span')
      messageEl.className = 'result-message'
      messageEl.textContent = message
      li.append(' ', messageEl)
    }
    const atBottom = results.scrollTop + results.clientHeight >= results.scrollHeight - 8
    results.append(li)
    item.lines.push(li)
    if (state !== 'error') {
      batch.lines.push(li)
      if (batch.lines.length > MAX_LINES) {
        batch.lines.shift().remove()
        batch.hidden++
        updateHiddenCounter()
      }
    }
    if (atBottom) results.scrollTop = results.scrollHeight
  }

  function resetBatch () {
    batch = { items: [], lines: [], hidden: 0 }
    run = null
    if (results) results.replaceChildren()
    updateHiddenCounter()
    showError('')
    showWarning('')
    show(done, false)
    show(retryButton, false)
    setText(selection, '')
    if (progress) progress.value = 0
  }

  // --- planning: which files go up ---
  async function requestPlan (entry) {
    if (!urls.plan) return null
    const res = await postWithRetries(urls.plan, () => {
      const form = new FormData()
      form.append('dicomdir', entry.file, baseName(entry.path) || 'DICOMDIR')
      return form
    }, {}, PLAN_RETRY_DELAYS_S)
    if (res.status < 200 || res.status >= 300 || res.redirected) return null
    const files = res.data && res.data.files
    return Array.isArray(files) ? files.filter((f) => typeof f === 'string') : null
  }

  // The DICOMDIRs' lists (deepest folder first), then the choice (upload/plan.js).
  async function plan (collected) {
    const plans = []
    for (const entry of dicomdirsOf(collected)) plans.push([entry.path, await requestPlan(entry)])
    return applyPlans(collected, plans)
  }

  // --- quota check ---
  async function checkQuota (items) {
    if (!urls.check) return true
    const totalBytes = items.reduce((n, item) => n + item.file.size, 0)
    const body = JSON.stringify({ total_bytes: totalBytes, file_count: items.length })
    const res = await postWithRetries(urls.check, () => body, { 'Content-Type': 'application/json' })
    if (res.redirected) {
      showError(labels.unexpected)
      return false
    }
    if (res.status >= 200 && res.status < 300) return true
    if (isRetryable(res)) showError(labels.connection)
    else showError(detailOf(res.data) || `${labels.error} (HTTP ${res.status})`)
    return false
  }

  // --- the queue ---
  function stop (message) {
    if (!run || run.stopped) return
    run.stopped = true
    showError(message)
  }

  // One result per file of the group, in order (the API's contract); a refusal of the whole
  // request (no per-file results) applies to every file of the group.
  function handleResponse (group, res) {
    const data = parseJSON(res.body)
    if (res.redirected) {
      // Typically a session that ended: the login page came back instead of JSON.
      for (const item of group) addResult(item, 'error', labels.unexpected)
      stop(labels.unexpected)
      return
    }
    const list = data && Array.isArray(data.results) ? data.results.filter((r) => r && typeof r === 'object') : []
    const ok = res.status >= 200 && res.status < 300
    if (list.length === group.length) {
      group.forEach((item, n) => {
        const r = list[n]
        const state = RESULT_STATUSES.has(r.status) ? r.status : 'error'
        addResult(item, state, typeof r.message === 'string' ? r.message : '', r.study_url)
      })
    } else if (ok) {
      for (const item of group) addResult(item, 'error', labels.unexpected)
      return
    }
    if (ok) return
    const detail = detailOf(data) || `${labels.error} (HTTP ${res.status})`
    if (list.length !== group.length) for (const item of group) addResult(item, 'error', detail)
    if (FATAL_STATUSES.has(res.status)) stop(detail)
  }

  async function uploadGroup (group) {
    const size = group.reduce((n, item) => n + item.file.size, 0)
    for (let attempt = 0; ; attempt++) {
      run.inflight.set(group, 0)
      const res = await sendFiles(urls.upload, group, study, (bytes) => {
        run.inflight.set(group, bytes)
        scheduleRender()
      })
      run.inflight.delete(group)
      if (!isRetryable(res)) {
        handleResponse(group, res)
        break
      }
      if (attempt >= RETRY_DELAYS_S.length) {
        for (const item of group) {
          item.connectionFailed = true
          addResult(item, 'error', labels.connection)
        }
        break
      }
      const seconds = RETRY_DELAYS_S[attempt]
      run.waiting.set(group, formatLabel(labels.retry, {
        name: group[0].path, seconds, attempt: attempt + 1, max: RETRY_DELAYS_S.length
      }))
      scheduleRender()
      await sleep(seconds * 1000)
      run.waiting.delete(group)
      scheduleRender()
      if (run.stopped) return // not attempted again; not counted
    }
    run.bytesDone += size
  }

  async function runQueue (items) {
    show(status, true)
    setText(totalLabel, labels.preparing)
    if (!(await checkQuota(items))) {
      setText(totalLabel, '')
      return false
    }
    run = {
      items,
      totalBytes: items.reduce((n, item) => n + item.file.size, 0),
      bytesDone: 0,
      inflight: new Map(),
      waiting: new Map(),
      started: 0,
      finished: 0,
      stopped: false
    }
    const groups = groupsOf(items)
    let next = 0
    const worker = async () => {
      while (!run.stopped && next < groups.length) {
        const group = groups[next++]
        run.started += group.length
        scheduleRender()
        await uploadGroup(group)
        run.finished += group.length
        scheduleRender()
      }
    }
    render()
    await Promise.all(Array.from({ length: Math.min(PARALLEL, groups.length) }, worker))
    finish()
    return true
  }

  function finish () {
    const counts = { stored: 0, duplicate: 0, error: 0 }
    for (const item of batch.items) for (const state of item.outcomes) counts[state]++
    const attempted = batch.items.filter((item) => item.outcomes.length > 0).length
    const summary = formatLabel(labels.summary, {
      stored: counts.stored,
      duplicates: counts.duplicate,
      errors: counts.error,
      total: batch.items.length,
      skipped: batch.items.length - attempted
    })
    renderPending = false
    if (progress && !run.stopped) progress.value = 100
    if (totalLabel) {
      const strong = document.createElement('strong')
      strong.textContent = labels.done
      totalLabel.replaceChildren(strong, ' ', summary)
    }
    announce(`${labels.done} ${summary}`)
    show(done, true)
    show(retryButton, batch.items.some((item) => item.connectionFailed))
    run = null
  }

  // --- entry points ---
  async function start (collect) {
    if (busy) return
    resetBatch()
    setBusy(true)
    show(status, true)
    setText(totalLabel, formatLabel(labels.preparing, { count: 0 }))
    let counted = 0
    // Called synchronously: a drop's entries must be taken before the event handler returns.
    const collecting = collect((count) => {
      counted = count
      if (!renderPending) {
        renderPending = true
        window.requestAnimationFrame(() => {
          renderPending = false
          if (!run) setText(totalLabel, formatLabel(labels.preparing, { count: counted }))
        })
      }
    })
    try {
      const collected = await collecting
      sortByPath(collected)
      const { files, fallback } = await plan(collected)
      if (fallback) showWarning(labels.dicomdir_fallback)
      if (!files.length) {
        show(status, false)
        showError(labels.no_files)
        return
      }
      batch.items = files.map((entry) => ({ ...entry, outcomes: [], lines: [], connectionFailed: false }))
      const selected = formatLabel(labels.files_selected, {
        count: files.length,
        size: humanSize(files.reduce((n, e) => n + e.file.size, 0))
      })
      setText(selection, selected)
      announce(selected)
      await runQueue(batch.items)
    } finally {
      setBusy(false)
    }
  }

  async function retryFailed () {
    if (busy || !batch) return
    const items = batch.items.filter((item) => item.connectionFailed)
    if (!items.length) return
    for (const item of items) {
      for (const li of item.lines) li.remove()
      item.lines = []
      item.outcomes = []
      item.connectionFailed = false
    }
    setBusy(true)
    showError('')
    show(done, false)
    show(retryButton, false)
    if (progress) progress.value = 0
    try {
      if (!(await runQueue(items))) {
        // Refused by the quota check (message shown): offer the same files again later.
        for (const item of items) item.connectionFailed = true
        show(done, true)
        show(retryButton, true)
      }
    } finally {
      setBusy(false)
    }
  }

  for (const input of inputs) {
    input.addEventListener('change', () => {
      const picked = filesFromInput(input)
      input.value = '' // picking the same folder again fires "change" again
      if (picked.length) start(() => Promise.resolve(picked))
    })
  }

  if (retryButton) retryButton.addEventListener('click', retryFailed)

  if (dropzone) {
    const hasFiles = (event) => Boolean(event.dataTransfer) && Array.from(event.dataTransfer.types || []).includes('Files')
    const onDragOver = (event) => {
      if (!hasFiles(event)) return
      event.preventDefault()
      event.dataTransfer.dropEffect = busy ? 'none' : 'copy'
      if (!busy) dropzone.classList.add('dragover')
    }
    dropzone.addEventListener('dragenter', onDragOver)
    dropzone.addEventListener('dragover', onDragOver)
    dropzone.addEventListener('dragleave', (event) => {
      if (event.relatedTarget instanceof Node && dropzone.contains(event.relatedTarget)) return
      dropzone.classList.remove('dragover')
    })
    dropzone.addEventListener('drop', (event) => {
      event.preventDefault()
      dropzone.classList.remove('dragover')
      if (busy || !event.dataTransfer) return
      const dataTransfer = event.dataTransfer
      start((onCount) => filesFromDrop(dataTransfer, onCount))
    })
    dropzone.addEventListener('keydown', (event) => {
      if (event.target !== dropzone || (event.key !== 'Enter' && event.key !== ' ')) return
      event.preventDefault()
      if (!busy && pickFiles) pickFiles.click()
    })
  }
}

// A file dropped next to the drop zone would make the browser open it (and leave the page).
let guardInstalled = false
function installDropGuard () {
  if (guardInstalled) return
  guardInstalled = true
  const guard = (event) => {
    if (!event.dataTransfer || !Array.from(event.dataTransfer.types || []).includes('Files')) return
    if (event.target instanceof Element && event.target.closest('[data-dropzone]')) return
    event.preventDefault()
    if (event.type === 'dragover') event.dataTransfer.dropEffect = 'none'
  }
  document.addEventListener('dragover', guard)
  document.addEventListener('drop', guard)
}

const initialised = new WeakSet()

// Idempotent set-up for uploaders under `root` (the page, or content htmx swapped in).
export function initUploaders (root) {
  const scope = root && root.querySelectorAll ? root : document
  const elements = Array.from(scope.querySelectorAll('[data-uploader]'))
  if (scope instanceof Element && scope.matches('[data-uploader]')) elements.push(scope)
  for (const el of elements) {
    if (initialised.has(el)) continue
    initialised.add(el)
    setUpUploader(el)
    installDropGuard()
  }
}
