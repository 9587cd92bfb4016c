// Keyboard shortcuts as data: a key → [group, action, argument]. The mode (modes.js) says which
// groups work; tools.js carries the actions out (the same names as the toolbar's data-action).
// Pure: tested with Vitest (frontend/test/viewer-modes.test.js). The help dialog lists them
// (src/hds/viewer/templates/viewer/viewer.html).

const NAVIGATE = {
  ArrowUp: ['scroll', -1],
  ArrowLeft: ['scroll', -1],
  ArrowDown: ['scroll', 1],
  ArrowRight: ['scroll', 1],
  PageUp: ['scroll', -10],
  PageDown: ['scroll', 10],
  Home: ['first'],
  End: ['last'],
  ' ': ['cine'],
  '?': ['help'],
  Escape: ['reset'],
  Delete: ['clear-measurements'],
  Backspace: ['clear-measurements'],
  Tab: ['next-pane'] // Shift+Tab: the argument -1
}

// Case-insensitive letters.
const TOOLS = { w: 'WindowLevel', p: 'Pan', z: 'Zoom', s: 'StackScroll', l: 'Length', a: 'Angle', r: 'RectangleROI', e: 'EllipticalROI' }
const PRESETS = { 1: 'default', 2: 'soft', 3: 'lung', 4: 'bone', 5: 'brain', 6: 'abdomen', 0: 'auto' }
const VIEW = { i: 'invert', '.': 'rotate', h: 'flip-h', v: 'flip-v', f: 'fit' }

const has = (table, key) => Object.prototype.hasOwnProperty.call(table, key)

// The shortcut of a key (KeyboardEvent.key) in any mode, or null.
export function shortcutFor (key, { shiftKey = false } = {}) {
  if (has(NAVIGATE, key)) {
    const [action, argument] = NAVIGATE[key]
    if (action === 'next-pane') return { group: 'navigate', action, argument: shiftKey ? -1 : 1 }
    return { group: 'navigate', action, argument }
  }
  const lower = String(key).toLowerCase()
  if (has(TOOLS, lower)) return { group: 'tools', action: 'tool', argument: TOOLS[lower] }
  if (has(PRESETS, key)) return { group: 'presets', action: 'preset', argument: PRESETS[key] }
  if (has(VIEW, lower)) return { group: 'view', action: VIEW[lower], argument: undefined }
  if (lower === 'g') return { group: 'layout', action: 'next-layout', argument: 1 }
  return null
}

// The shortcut of a key in `mode`, or null.
export function shortcut (key, mode, options) {
  const found = shortcutFor(key, options)
  return found && mode.shortcuts.includes(found.group) ? found : null
}
