// Viewer modes, in the manner of OHIF's modes: what each one enables, as data. The page picks
// one (?mode=simple, docs/viewer.md); the toolbar itself comes from the template, these say what
// the script does with it. Pure: tested with Vitest (frontend/test/viewer-modes.test.js).

// The full reading viewer: every mouse tool, presets, layouts, panels and shortcuts.
export const fullMode = Object.freeze({
  name: 'full',
  // Groups of keyboard shortcuts (shortcuts.js) that work in this mode.
  shortcuts: Object.freeze(['navigate', 'tools', 'presets', 'view', 'layout']),
  // The tool on the left button / one finger at the start: phones scroll, desktops window.
  initialTool: Object.freeze({ touch: 'StackScroll', mouse: 'WindowLevel' }),
  // Choosing the tool that is already on: stays (null), or switches to this tool.
  toggleBackTo: null,
  layouts: Object.freeze(['1x1', '1x2', '2x2']),
  panels: Object.freeze(['series', 'findings'])
})

// The simple viewer for patients: big buttons (previous/next, brightness, zoom, reset), one
// pane, scrolling by default; the brightness button toggles between brightness and scrolling.
export const simpleMode = Object.freeze({
  name: 'simple',
  shortcuts: Object.freeze(['navigate']),
  initialTool: Object.freeze({ touch: 'StackScroll', mouse: 'StackScroll' }),
  toggleBackTo: 'StackScroll',
  layouts: Object.freeze(['1x1']),
  panels: Object.freeze(['series', 'findings'])
})

export function modeFor (name) {
  return name === 'simple' ? simpleMode : fullMode
}
