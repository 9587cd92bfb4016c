// Password strength meter (zxcvbn-ts, loaded on first use so the page bundle stays small).
//
//   <input type="password" data-strength-meter="pw-strength"
//          data-strength-user-inputs="alice@example.org">
//   <div id="pw-strength" class="strength" data-labels='["Very weak", …, "Very strong"]'
//        data-min-length="12">
//     <meter min="0" max="4" low="2" high="3" optimum="4" value="0"></meter>
//     <span class="strength-label"></span>
//     <span class="strength-feedback"></span>   (optional: zxcvbn's warning, en or de)
//   </div>

import { createEngine } from './zxcvbn.js'

const INPUT_SELECTOR = 'input[data-strength-meter]'
const SCORE_CLASSES = ['strength-0', 'strength-1', 'strength-2', 'strength-3', 'strength-4']
const FALLBACK_LABELS = ['Very weak', 'Weak', 'Fair', 'Strong', 'Very strong']

let enginePromise = null
let engine = null

function loadEngine () {
  if (!enginePromise) {
    const lang = (document.documentElement.lang || 'en').toLowerCase()
    enginePromise = createEngine(lang)
      .then((e) => { engine = e; return e })
      .catch((err) => {
        enginePromise = null // try again on the next focus
        throw err
      })
  }
  return enginePromise
}

function labelsOf (out) {
  try {
    const labels = JSON.parse(out.dataset.labels || '')
    if (Array.isArray(labels) && labels.length === 5) return labels.map(String)
  } catch (_) { /* fall through */ }
  return FALLBACK_LABELS
}

function splitWords (text) {
  const words = []
  for (const part of String(text || '').split(/[,\s]+/)) {
    if (!part) continue
    words.push(part)
    const local = part.includes('@') ? part.slice(0, part.indexOf('@')) : null
    if (local) words.push(local)
    for (const piece of part.split(/[@._+-]+/)) if (piece.length >= 3) words.push(piece)
  }
  return words
}

// Words a password must not be built from: the attribute's list plus what the user typed
// into the same form's e-mail and text fields (name, e-mail on a registration form).
function userInputsFor (input) {
  const words = splitWords(input.dataset.strengthUserInputs)
  if (input.form) {
    for (const field of input.form.querySelectorAll('input[type="email"], input[type="text"], input:not([type])')) {
      if (field.classList.contains('code-group')) continue
      words.push(...splitWords(field.value))
    }
  }
  return Array.from(new Set(words.map((w) => w.toLowerCase())))
}

function render (out, score, text, feedback) {
  const meter = out.querySelector('meter')
  const label = out.querySelector('.strength-label')
  const feedbackEl = out.querySelector('.strength-feedback')
  out.classList.remove(...SCORE_CLASSES)
  if (score === null) {
    out.classList.add('strength-empty')
  } else {
    out.classList.remove('strength-empty')
    out.classList.add(SCORE_CLASSES[score])
  }
  if (meter) meter.value = score === null ? 0 : score
  if (label) label.textContent = text
  if (feedbackEl) feedbackEl.textContent = feedback || ''
}

function update (input) {
  const out = document.getElementById(input.dataset.strengthMeter)
  if (!out) return
  const password = input.value
  const labels = labelsOf(out)
  if (!password) {
    render(out, null, '', '')
    return
  }
  const minLength = parseInt(out.dataset.minLength || '0', 10) || 0
  if (password.length < minLength) {
    render(out, 0, labels[0], '')
    return
  }
  if (!engine) {
    loadEngine().then(() => update(input), () => {})
    return
  }
  const result = engine.check(password, userInputsFor(input))
  const score = Math.max(0, Math.min(4, result.score))
  render(out, score, labels[score], result.feedback && result.feedback.warning)
}

// Coalesce fast typing into one check per frame.
const pending = new Set()
function schedule (input) {
  if (pending.size === 0) {
    window.requestAnimationFrame(() => {
      for (const el of pending) update(el)
      pending.clear()
    })
  }
  pending.add(input)
}

document.addEventListener('focusin', (event) => {
  if (event.target instanceof Element && event.target.matches(INPUT_SELECTOR)) {
    loadEngine().catch(() => {})
  }
})

document.addEventListener('input', (event) => {
  if (event.target instanceof Element && event.target.matches(INPUT_SELECTOR)) {
    schedule(event.target)
  }
})

// Idempotent set-up for meters under `root`: a filled-in field (browser restore) gets its
// meter drawn; the output is announced politely to screen readers and describes the field.
export function initStrengthMeters (root) {
  const scope = root && root.querySelectorAll ? root : document
  for (const input of scope.querySelectorAll(INPUT_SELECTOR)) {
    const out = document.getElementById(input.dataset.strengthMeter)
    if (!out) continue
    if (!out.hasAttribute('aria-live')) out.setAttribute('aria-live', 'polite')
    const described = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean)
    if (!described.includes(out.id)) input.setAttribute('aria-describedby', [...described, out.id].join(' '))
    if (input.value) schedule(input)
  }
}
