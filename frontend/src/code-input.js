// Grouped code inputs (access codes, activation codes, recovery codes):
//   <div class="code-input" data-code-input>
//     <input class="code-group" name="code_1" maxlength="4"> … <input class="code-group" name="code_N" maxlength="4">
//   </div>
// Crockford base32: 0-9 and A-Z without I, L, O, U; O is read as 0, I and L as 1.
// The server joins code_1..code_N and must normalise the same way (the page works without JS).

const GROUP_SELECTOR = 'input.code-group'

export function normalizeCode (text) {
  return String(text || '')
    .toUpperCase()
    .replace(/O/g, '0')
    .replace(/[IL]/g, '1')
    .replace(/[^0-9A-HJKMNP-TV-Z]/g, '')
}

function groupsOf (container) {
  return Array.from(container.querySelectorAll(GROUP_SELECTOR))
}

function sizeOf (input) {
  return input.maxLength > 0 ? input.maxLength : 4
}

// Writes `text` (already normalised) into groups[start], groups[start+1], … and returns the
// index of the group to focus afterwards.
function distribute (groups, start, text) {
  let i = start
  let rest = text
  while (i < groups.length && rest.length > 0) {
    const size = sizeOf(groups[i])
    groups[i].value = rest.slice(0, size)
    rest = rest.slice(size)
    if (rest.length > 0) i++
  }
  const last = Math.min(i, groups.length - 1)
  if (groups[last].value.length >= sizeOf(groups[last]) && last + 1 < groups.length) return last + 1
  return last
}

function focusGroup (input, where) {
  input.focus()
  const end = input.value.length
  if (where === 'all') input.setSelectionRange(0, end)
  else if (where === 'start') input.setSelectionRange(0, 0)
  else input.setSelectionRange(end, end)
}

// Fills all groups of `container` from a whole code (dashes, spaces, lower case are fine).
export function setCodeInputValue (container, value) {
  const groups = groupsOf(container)
  if (groups.length === 0) return
  for (const g of groups) g.value = ''
  distribute(groups, 0, normalizeCode(value))
  container.dispatchEvent(new CustomEvent('code-input:filled', { bubbles: true }))
}

function context (target) {
  if (!(target instanceof HTMLInputElement) || !target.matches(GROUP_SELECTOR)) return null
  const container = target.closest('[data-code-input]')
  if (!container) return null
  const groups = groupsOf(container)
  return { container, groups, index: groups.indexOf(target) }
}

function onInput (event) {
  const ctx = context(event.target)
  if (!ctx) return
  const input = event.target
  const clean = normalizeCode(input.value)
  const size = sizeOf(input)
  if (clean.length > size) {
    // Autofill or an IME can put more than maxlength into one box: spill over.
    const next = distribute(ctx.groups, ctx.index, clean)
    focusGroup(ctx.groups[next], 'end')
    return
  }
  if (clean !== input.value) {
    const caret = normalizeCode(input.value.slice(0, input.selectionStart || 0)).length
    input.value = clean
    input.setSelectionRange(caret, caret)
  }
  const inserting = !event.inputType || event.inputType.startsWith('insert')
  if (inserting && clean.length === size && ctx.index + 1 < ctx.groups.length &&
      input.selectionStart === size) {
    focusGroup(ctx.groups[ctx.index + 1], 'all')
  }
}

function onKeydown (event) {
  const ctx = context(event.target)
  if (!ctx || event.altKey || event.ctrlKey || event.metaKey) return
  const input = event.target
  const atStart = input.selectionStart === 0 && input.selectionEnd === 0
  const atEnd = input.selectionStart === input.value.length && input.selectionEnd === input.value.length
  const prev = ctx.groups[ctx.index - 1]
  const next = ctx.groups[ctx.index + 1]
  if (event.key === 'Backspace' && atStart && prev) {
    event.preventDefault()
    focusGroup(prev, 'end')
  } else if (event.key === 'ArrowLeft' && atStart && prev) {
    event.preventDefault()
    focusGroup(prev, 'end')
  } else if (event.key === 'ArrowRight' && atEnd && next) {
    event.preventDefault()
    focusGroup(next, 'start')
  }
}

function onPaste (event) {
  const ctx = context(event.target)
  if (!ctx || !event.clipboardData) return
  const pasted = normalizeCode(event.clipboardData.getData('text'))
  event.preventDefault()
  if (!pasted) return
  const total = ctx.groups.reduce((n, g) => n + sizeOf(g), 0)
  if (pasted.length >= total) {
    // A whole code: fill every group, whichever one was focused.
    for (const g of ctx.groups) g.value = ''
    const last = distribute(ctx.groups, 0, pasted.slice(0, total))
    focusGroup(ctx.groups[last], 'end')
  } else {
    // Part of a code: insert at the caret and spill over into the following groups.
    const input = event.target
    const before = input.value.slice(0, input.selectionStart || 0)
    const after = input.value.slice(input.selectionEnd || 0)
    const next = distribute(ctx.groups, ctx.index, before + pasted + after)
    focusGroup(ctx.groups[next], 'end')
  }
  ctx.container.dispatchEvent(new CustomEvent('code-input:filled', { bubbles: true }))
}

// Delegated from `document`, installed by the first initCodeInputs (pages.js calls it on load),
// so that importing this module does nothing by itself (the unit tests import normalizeCode).
let listening = false
function listen () {
  if (listening) return
  listening = true
  document.addEventListener('input', onInput)
  document.addEventListener('keydown', onKeydown)
  document.addEventListener('paste', onPaste)
}

// Idempotent attribute set-up for groups under `root` (the page, or content htmx swapped in).
export function initCodeInputs (root) {
  listen()
  const scope = root && root.querySelectorAll ? root : document
  const containers = Array.from(scope.querySelectorAll('[data-code-input]'))
  if (scope instanceof Element && scope.matches('[data-code-input]')) containers.push(scope)
  for (const container of containers) {
    for (const g of groupsOf(container)) {
      if (!g.hasAttribute('autocomplete')) g.setAttribute('autocomplete', 'off')
      if (!g.hasAttribute('autocapitalize')) g.setAttribute('autocapitalize', 'characters')
      if (!g.hasAttribute('spellcheck')) g.setAttribute('spellcheck', 'false')
      if (!g.hasAttribute('autocorrect')) g.setAttribute('autocorrect', 'off')
    }
  }
}
