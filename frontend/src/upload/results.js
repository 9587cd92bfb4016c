// What the server's answers mean for the files (the upload API's contract, frontend/README.md):
// pure functions, tested with Vitest (frontend/test/upload-results.test.js).

const RESULT_STATUSES = new Set(['stored', 'duplicate', 'error'])
const FATAL_STATUSES = new Set([401, 403, 413]) // request-level refusals: stop the whole queue

export function parseJSON (text) {
  try {
    return JSON.parse(text)
  } catch (_) {
    return null
  }
}

export function detailOf (data) {
  return data && typeof data.detail === 'string' && data.detail ? data.detail : ''
}

// Worth another attempt: the connection, the server's trouble, a timeout, a throttle.
export function isRetryable (res) {
  return res.network || res.status >= 500 || res.status === 408 || res.status === 429
}

// Only links into this site (the server builds them, but they are shown next to untrusted
// names): the path of a same-origin http(s) URL, else null. `location`: the page's.
export function safeLink (url, location) {
  if (typeof url !== 'string' || !url) return null
  try {
    const u = new URL(url, location.href)
    if (u.origin !== location.origin || !/^https?:$/.test(u.protocol)) return null
    return u.pathname + u.search + u.hash
  } catch (_) {
    return null
  }
}

// The answer to one group's upload request ({ status, body, redirected }) → a result
// { state, message, studyUrl } per file, in order, and the message to stop the queue with (or
// null). One result per file of the group is the API's contract; a refusal of the whole request
// (no per-file results) applies to every file of the group.
export function groupOutcome (res, count, labels) {
  const every = (message) => Array.from({ length: count }, () => ({ state: 'error', message, studyUrl: undefined }))
  if (res.redirected) {
    // Typically a session that ended: the login page came back instead of JSON.
    return { results: every(labels.unexpected), stop: labels.unexpected }
  }
  const data = parseJSON(res.body)
  const list = data && Array.isArray(data.results) ? data.results.filter((r) => r && typeof r === 'object') : []
  const ok = res.status >= 200 && res.status < 300
  let results = null
  if (list.length === count) {
    results = list.map((r) => ({
      state: RESULT_STATUSES.has(r.status) ? r.status : 'error',
      message: typeof r.message === 'string' ? r.message : '',
      studyUrl: r.study_url
    }))
  } else if (ok) {
    return { results: every(labels.unexpected), stop: null }
  }
  if (ok) return { results, stop: null }
  const detail = detailOf(data) || `${labels.error} (HTTP ${res.status})`
  return { results: results || every(detail), stop: FATAL_STATUSES.has(res.status) ? detail : null }
}

// The summary's numbers over the batch's items ({ outcomes: [state, …] } each).
export function summaryOf (items) {
  const counts = { stored: 0, duplicate: 0, error: 0 }
  for (const item of items) for (const state of item.outcomes) counts[state]++
  const attempted = items.filter((item) => item.outcomes.length > 0).length
  return {
    stored: counts.stored,
    duplicates: counts.duplicate,
    errors: counts.error,
    total: items.length,
    skipped: items.length - attempted
  }
}
