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
// alone), 2 in parallel, retried on connection problems → summary. The request/response contract
// is in frontend/README.md.
// This module is the DOM wiring; the rest is in upload/: plan.js (which files, which groups: pure,
// with the rules shared with the hds upload client), results.js (what the answers mean: pure),
// labels.js (texts, numbers, sizes), collect.js (pickers and drops), transport.js (requests).
// CSP: no inline styles; visibility via the `hidden` attribute, looks via classes; server text
// only ever goes into textContent.

import { filesFromDrop, filesFromInput } from './upload/collect.js'
import { formatLabel, humanSize, parseLabels } from './upload/labels.js'
import { RETRY_DELAYS_S, applyPlans, baseName, dicomdirsOf, groupsOf, sortByPath } from './upload/plan.js'
import { detailOf, groupOutcome, isRetryable, safeLink, summaryOf } from './upload/results.js'
import { postWithRetries, sendFiles, sleep } from './upload/transport.js'

const PARALLEL = 2
const PLAN_RETRY_DELAYS_S = [1] // the plan is optional: one quick retry, then upload everything
const MAX_LINES = 200 // stored/duplicate lines kept in the DOM (errors always stay)

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
    const href = safeLink(studyUrl, window.location)
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

  // One result per file of the group, in order (upload/results.js), then maybe the stop.
  function handleResponse (group, res) {
    const outcome = groupOutcome(res, group.length, labels)
    group.forEach((item, n) => {
      const r = outcome.results[n]
      addResult(item, r.state, r.message, r.studyUrl)
    })
    if (outcome.stop) stop(outcome.stop)
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
    const summary = formatLabel(labels.summary, summaryOf(batch.items))
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
