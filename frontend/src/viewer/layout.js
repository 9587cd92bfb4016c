// The grid of panes: which one is active (keys and the series panel act on it), the layout
// (1×1, 1×2, 2×2; the mode says which are offered, modes.js), and the loader's events.
import { Enums, eventTarget } from '@cornerstonejs/core'
import { config, mode } from './config.js'
import { markSeriesInPanel } from './panels.js'
import { state } from './state.js'

const { Events } = Enums

export const MAX_PANES = 4
export const LAYOUTS = { '1x1': 1, '1x2': 2, '2x2': 4 }

// The panes the layout shows.
export function visiblePanes () {
  return state.panes.slice(0, LAYOUTS[state.layout])
}

export function setActivePane (pane) {
  if (state.activePane === pane) return
  state.activePane = pane
  for (const p of state.panes) p.root.classList.toggle('is-active', p === pane)
  markSeriesInPanel()
  const play = document.querySelector('[data-action="cine"]')
  if (play) play.setAttribute('aria-pressed', String(Boolean(pane && pane.cineTimer)))
}

export function setLayout (name) {
  if (!(name in LAYOUTS) || !mode.layouts.includes(name)) return
  state.layout = name
  const count = LAYOUTS[name]
  const panes = state.panes
  state.grid.className = `viewer-grid layout-${name}`
  for (const pane of panes) {
    const visible = pane.index < count
    pane.root.hidden = !visible
    if (!visible) pane.disable()
  }
  for (const button of document.querySelectorAll('[data-layout]')) {
    button.setAttribute('aria-pressed', String(button.dataset.layout === name))
  }
  if (state.activePane && state.activePane.index >= count) setActivePane(panes[0])
  state.engine.resize(true, true)
  // Fill new panes with the next series not shown yet (or the last one).
  for (const pane of panes.slice(0, count)) {
    if (!pane.series && config.series.length) {
      const shown = new Set(panes.filter((p) => p.series).map((p) => p.series.uid))
      const next = config.series.find((s) => !shown.has(s.uid)) || config.series[config.series.length - 1]
      pane.show(next)
    } else if (pane.series && !pane.enabled && pane.stack) {
      pane.show(pane.series)
    }
  }
}

// The next layout the mode offers (the G key).
export function nextLayout () {
  const names = mode.layouts
  setLayout(names[(names.indexOf(state.layout) + 1) % names.length])
}

// Cornerstone's loader events go to the panes (progress, eviction, errors); the engine follows
// the grid's size.
export function wirePaneEvents () {
  eventTarget.addEventListener(Events.IMAGE_LOADED, (event) => {
    const imageId = event.detail && event.detail.image && event.detail.image.imageId
    if (imageId) for (const pane of state.panes) pane.onImageLoaded(imageId)
  })
  eventTarget.addEventListener(Events.IMAGE_CACHE_IMAGE_REMOVED, (event) => {
    const imageId = event.detail && event.detail.imageId
    if (imageId) for (const pane of state.panes) pane.onImageEvicted(imageId)
  })
  const failed = (event) => {
    const details = Array.isArray(event.detail) ? event.detail : [event.detail]
    for (const detail of details) {
      if (!detail || !detail.imageId) continue
      for (const pane of state.panes) pane.onImageFailed(detail.imageId, detail.error)
    }
  }
  eventTarget.addEventListener(Events.IMAGE_LOAD_ERROR, failed)
  eventTarget.addEventListener(Events.IMAGE_LOAD_FAILED, failed)
  let resizeTimer = null
  new ResizeObserver(() => {
    window.clearTimeout(resizeTimer)
    resizeTimer = window.setTimeout(() => state.engine.resize(true, true), 30)
  }).observe(state.grid)
}
