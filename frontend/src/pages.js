// Entry for every server-rendered page: htmx plus small progressive enhancements.
// Everything here must run under a strict CSP (script-src 'self' 'nonce-…', style-src 'self'):
// no eval, no inline <style>/<script> injection, no style attributes.
import './pages.css'
import htmx from 'htmx.org'
import { initCodeInputs, setCodeInputValue } from './code-input.js'
import { applyFragmentSecrets } from './fragments.js'
import { initStrengthMeters } from './strength-meter.js'
import { initUploaders } from './upload.js'
import { initPwa, registerServiceWorker } from './pwa.js'
import { initProofOfWork } from './pow.js'

// --- htmx ------------------------------------------------------------------------------
// These run before htmx's own DOMContentLoaded init (this module is deferred), so htmx never
// inserts its indicator <style> element (our CSS styles .htmx-indicator instead).
htmx.config.includeIndicatorStyles = false
htmx.config.allowEval = false // no hx-on, no js: / javascript: values, no eval-based filters
htmx.config.allowScriptTags = false // swapped-in <script> elements are never run
htmx.config.selfRequestsOnly = true
// Pages hold decrypted health data: never keep page snapshots in sessionStorage for the back
// button; re-fetch the page from the server instead.
htmx.config.historyCacheSize = 0
htmx.config.refreshOnHistoryMiss = true
window.htmx = htmx

function csrfToken () {
  const meta = document.querySelector('meta[name="csrf-token"]')
  return meta ? meta.getAttribute('content') : null
}

document.addEventListener('htmx:configRequest', (event) => {
  const token = csrfToken()
  if (token) event.detail.headers['X-CSRFToken'] = token
})

// Lets CSS tell "scripts run" from "no scripts" (see .js-only / .no-js-only in pages.css).
document.documentElement.classList.add('js')

// --- confirm before submit ------------------------------------------------------------
// Capture phase, so the check runs before htmx's listener on the form (hx-post forms too).
document.addEventListener('submit', (event) => {
  const form = event.target
  if (!(form instanceof HTMLFormElement)) return
  const submitter = event.submitter
  const message = (submitter && submitter.dataset && submitter.dataset.confirm) || form.dataset.confirm
  if (message && !window.confirm(message)) {
    event.preventDefault()
    event.stopPropagation()
  }
}, true)

// --- print, copy, nav toggle (delegated, so htmx-swapped content works too) ------------
const COPIED_MS = 2000

async function copyText (text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text)
    return
  }
  // Fallback for plain-http development servers.
  const area = document.createElement('textarea')
  area.value = text
  area.setAttribute('readonly', '')
  area.className = 'visually-hidden'
  document.body.appendChild(area)
  area.select()
  const ok = document.execCommand('copy')
  area.remove()
  if (!ok) throw new Error('copy failed')
}

function flash (button, cls) {
  const label = button.dataset.copiedLabel
  if (label && cls === 'copied') {
    if (button.dataset.originalLabel === undefined) button.dataset.originalLabel = button.textContent
    button.textContent = label
  }
  button.classList.remove('copied', 'copy-failed')
  button.classList.add(cls)
  clearTimeout(button._copyTimer)
  button._copyTimer = setTimeout(() => {
    button.classList.remove(cls)
    if (button.dataset.originalLabel !== undefined) {
      button.textContent = button.dataset.originalLabel
      delete button.dataset.originalLabel
    }
  }, COPIED_MS)
}

function setNavOpen (toggle, open) {
  const target = document.getElementById(toggle.getAttribute('aria-controls'))
  if (!target) return
  target.classList.toggle('open', open)
  toggle.setAttribute('aria-expanded', open ? 'true' : 'false')
}

document.addEventListener('click', (event) => {
  const el = event.target instanceof Element ? event.target : null
  if (!el) return

  const printer = el.closest('[data-print]')
  if (printer) {
    event.preventDefault()
    window.print()
    return
  }

  const copier = el.closest('[data-copy]')
  if (copier) {
    event.preventDefault()
    copyText(copier.dataset.copy).then(
      () => flash(copier, 'copied'),
      () => flash(copier, 'copy-failed')
    )
    return
  }

  const toggle = el.closest('.nav-toggle[aria-controls]')
  if (toggle) {
    setNavOpen(toggle, toggle.getAttribute('aria-expanded') !== 'true')
  }
})

document.addEventListener('keydown', (event) => {
  if (event.key !== 'Escape') return
  for (const toggle of document.querySelectorAll('.nav-toggle[aria-expanded="true"]')) {
    setNavOpen(toggle, false)
    toggle.focus()
  }
})

// --- per-element set-up -----------------------------------------------------------------
initCodeInputs(document)
initStrengthMeters(document)
initProofOfWork(document)
initUploaders(document)
initPwa(document)
applyFragmentSecrets({ setCodeInputValue })
registerServiceWorker()

// Content swapped in by htmx (htmx:load fires for the body on start-up too; all inits are
// idempotent).
htmx.onLoad((root) => {
  initCodeInputs(root)
  initStrengthMeters(root)
  initUploaders(root)
  initPwa(root)
})
