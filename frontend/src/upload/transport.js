// The uploader's requests: JSON POSTs with retries (plan, quota check) and the multipart upload
// of a group of files with progress (XMLHttpRequest: fetch has no upload progress), with the
// CSRF token from <meta name="csrf-token"> and cookies (same-origin).
import { baseName, RETRY_DELAYS_S } from './plan.js'
import { isRetryable, parseJSON } from './results.js'

const STALL_MS = 60000 // no upload progress for this long: give up on this attempt
const RESPONSE_MS = 180000 // body sent, waiting for the server (it encrypts and parses)
const REQUEST_TIMEOUT_MS = 60000 // plan and check requests

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

export function sleep (ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

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

export async function postWithRetries (url, makeBody, extraHeaders, delays = RETRY_DELAYS_S) {
  for (let attempt = 0; ; attempt++) {
    const res = await post(url, makeBody(), extraHeaders)
    if (!isRetryable(res) || attempt >= delays.length) return res
    await sleep(delays[attempt] * 1000)
  }
}

// Some files, one XHR (fetch has no upload progress). Resolves { status, body, network, redirected }.
export function sendFiles (url, entries, study, onProgress) {
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
