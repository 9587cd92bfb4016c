// The uploader's texts: the page's translated labels (data-labels) over English defaults,
// Django-style placeholders, numbers and sizes for <html lang>. Pure apart from reading
// <html lang>; tested with Vitest (frontend/test/upload-results.test.js).

export const DEFAULT_LABELS = {
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

function lang () {
  return (typeof document !== 'undefined' && document.documentElement.lang) || undefined
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

export function parseLabels (text) {
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
