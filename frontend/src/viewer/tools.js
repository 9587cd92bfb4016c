// Tools and input: Cornerstone's tools and their bindings, the tool on the left button, the
// toolbar (data-tool, data-action, data-layout, the preset select, the cine rate) and the
// keyboard shortcuts (shortcuts.js), as far as the mode enables them (modes.js).
import {
  addTool,
  ToolGroupManager,
  WindowLevelTool,
  PanTool,
  ZoomTool,
  StackScrollTool,
  LengthTool,
  AngleTool,
  RectangleROITool,
  EllipticalROITool,
  Enums as ToolEnums
} from '@cornerstonejs/tools'
import { mode } from './config.js'
import { nextLayout, setActivePane, setLayout, visiblePanes } from './layout.js'
import { toggleFindings, toggleSeriesPanel } from './panels.js'
import { shortcut } from './shortcuts.js'
import { state } from './state.js'
import { coarse } from './ui.js'

const TOOL_GROUP_ID = 'hds-tools'
const { MouseBindings } = ToolEnums

const TOOLS = [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, LengthTool, AngleTool, RectangleROITool, EllipticalROITool]
const MEASUREMENTS = [LengthTool, AngleTool, RectangleROITool, EllipticalROITool]

// The tool on the left button / one finger.
const PRIMARY_TOOLS = {
  WindowLevel: WindowLevelTool.toolName,
  Pan: PanTool.toolName,
  Zoom: ZoomTool.toolName,
  StackScroll: StackScrollTool.toolName,
  Length: LengthTool.toolName,
  Angle: AngleTool.toolName,
  RectangleROI: RectangleROITool.toolName,
  EllipticalROI: EllipticalROITool.toolName
}
let primaryTool = 'WindowLevel'

// After cornerstone.js's initCornerstone: the tools, one tool group for every pane, the fixed
// bindings.
export function initTools () {
  for (const Tool of TOOLS) addTool(Tool)
  const toolGroup = ToolGroupManager.createToolGroup(TOOL_GROUP_ID)
  for (const Tool of TOOLS) toolGroup.addTool(Tool.toolName)
  // Fixed bindings: middle drag pans, right drag zooms (two-finger pinch zooms and pans), the
  // wheel scrolls. The left button (one finger) takes the tool chosen in the toolbar.
  toolGroup.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] })
  toolGroup.setToolActive(ZoomTool.toolName, {
    bindings: [{ mouseButton: MouseBindings.Secondary }, { numTouchPoints: 2 }]
  })
  toolGroup.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] })
  for (const Tool of MEASUREMENTS) toolGroup.setToolPassive(Tool.toolName)
  state.toolGroup = toolGroup
}

export function setPrimaryTool (key) {
  const next = PRIMARY_TOOLS[key]
  if (!next) return
  const previous = PRIMARY_TOOLS[primaryTool]
  // Passive drops only the left-button binding: a tool that also has the wheel, the right
  // button or two fingers keeps those (setToolActive merges bindings, it never removes one).
  if (previous && previous !== next) state.toolGroup.setToolPassive(previous)
  state.toolGroup.setToolActive(next, { bindings: [{ mouseButton: MouseBindings.Primary }] })
  primaryTool = key
  for (const button of document.querySelectorAll('[data-tool]')) {
    button.setAttribute('aria-pressed', String(button.dataset.tool === key))
  }
}

// The mode's first tool: phones scroll with one finger (window/level is one tap away).
export function setInitialTool () {
  setPrimaryTool(mode.initialTool[coarse ? 'touch' : 'mouse'])
}

// --- actions (toolbar buttons and keys) -----------------------------------------------------

function fps () {
  const input = document.querySelector('[data-fps]')
  const n = input ? Number(input.value) : 15
  return Math.max(1, Math.min(60, Number.isFinite(n) ? n : 15))
}

function toggleCine () {
  if (!state.activePane) return
  const playing = state.activePane.toggleCine(fps())
  const button = document.querySelector('[data-action="cine"]')
  if (button) button.setAttribute('aria-pressed', String(playing))
}

function openHelp () {
  const dialog = document.querySelector('[data-help]')
  if (dialog && !dialog.open) dialog.showModal()
}

// Carries out an action; false when it does not apply (the key then does its usual thing).
function act (action, argument) {
  const pane = state.activePane
  switch (action) {
    case 'prev': return pane && pane.scrollBy(-1)
    case 'next': return pane && pane.scrollBy(1)
    case 'scroll': return pane && pane.scrollBy(argument)
    case 'first': return pane && pane.go(0)
    case 'last': return pane && pane.go(Number.MAX_SAFE_INTEGER)
    case 'fit': return pane && pane.fit()
    case 'invert': return pane && pane.invert()
    case 'rotate': return pane && pane.rotate()
    case 'flip-h': return pane && pane.flip(true)
    case 'flip-v': return pane && pane.flip(false)
    case 'reset': return pane && pane.reset()
    case 'zoom-in': return pane && pane.zoomBy(1.25)
    case 'zoom-out': return pane && pane.zoomBy(0.8)
    case 'clear-measurements': return pane && pane.clearMeasurements()
    case 'preset': return pane && pane.applyPreset(argument)
    case 'tool': return setPrimaryTool(argument)
    case 'cine': return toggleCine()
    case 'series-panel': return toggleSeriesPanel()
    case 'findings': return toggleFindings()
    case 'help': return openHelp()
    case 'next-layout': return nextLayout()
    case 'next-pane': {
      const visible = visiblePanes()
      if (visible.length < 2) return false
      setActivePane(visible[(visible.indexOf(pane) + (argument < 0 ? visible.length - 1 : 1)) % visible.length])
      return undefined
    }
    default:
  }
}

export function wireToolbar () {
  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target.closest('[data-tool],[data-action],[data-layout]') : null
    if (!target) return
    if (target.dataset.tool) {
      // Simple mode: the brightness button toggles between brightness and scrolling.
      const back = mode.toggleBackTo && target.dataset.tool === primaryTool
      setPrimaryTool(back ? mode.toggleBackTo : target.dataset.tool)
    }
    else if (target.dataset.layout) setLayout(target.dataset.layout)
    else if (target.dataset.action && target.dataset.action !== 'download') act(target.dataset.action)
  })
  const preset = document.querySelector('[data-preset]')
  if (preset) {
    preset.addEventListener('change', () => {
      if (preset.value && state.activePane) state.activePane.applyPreset(preset.value)
      preset.value = ''
    })
  }
  const fpsInput = document.querySelector('[data-fps]')
  if (fpsInput) {
    fpsInput.addEventListener('change', () => {
      const pane = state.activePane
      if (pane && pane.cineTimer) {
        pane.stopCine()
        pane.toggleCine(fps())
      }
    })
  }
}

function onKey (event) {
  // (Cornerstone's own key listener on the viewport calls preventDefault: not a reason to stop.)
  if (event.ctrlKey || event.metaKey || event.altKey) return
  const target = event.target
  if (target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName)) && !(target instanceof HTMLInputElement && target.type === 'range')) return
  if (document.querySelector('[data-help][open]')) return
  const found = shortcut(event.key, mode, { shiftKey: event.shiftKey })
  if (!found || act(found.action, found.argument) === false) return
  event.preventDefault()
  event.stopPropagation() // ours alone: Cornerstone would take the key as a held modifier
}

export function wireKeys () {
  window.addEventListener('keydown', onKey, true)
}
