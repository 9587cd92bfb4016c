// The HDS DICOM viewer: Cornerstone3D stack viewports over our WADO-RS, with the session.
//
// The page (src/hds/viewer/templates/viewer/viewer.html) holds the toolbar with translated
// labels and a JSON config (<script type="application/json" id="viewer-config">): the study,
// its series and the labels this script needs. CSP: no inline styles or scripts are created
// here (the canvas sizes come from CSS), and DICOM text only ever goes into textContent.
import './viewer.css'
import {
  init as coreInit,
  RenderingEngine,
  Enums,
  cache,
  eventTarget,
  metaData
} from '@cornerstonejs/core'
import { init as loaderInit, wadors } from '@cornerstonejs/dicom-image-loader'
import {
  init as toolsInit,
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
  annotation,
  utilities as toolUtils,
  Enums as ToolEnums
} from '@cornerstonejs/tools'
import { loadSeriesImageIds, personName, value, values, ViewerError } from './dicom.js'
import { PRESETS, autoWindow, presetRange, windowOf } from './windowing.js'

const config = JSON.parse(document.getElementById('viewer-config').textContent)
const labels = config.labels || {}
const SIMPLE = config.mode === 'simple'
const ENGINE_ID = 'hds-engine'
const TOOL_GROUP_ID = 'hds-tools'
const MAX_PANES = 4
const LAYOUTS = { '1x1': 1, '1x2': 2, '2x2': 4 }
const { MouseBindings } = ToolEnums
const { Events } = Enums

// --- small helpers --------------------------------------------------------------------------

function t (key, params = {}) {
  const text = labels[key] || key
  return text.replace(/%\((\w+)\)s/g, (_, name) => (name in params ? String(params[name]) : ''))
}

function el (tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined && text !== null) node.textContent = String(text)
  return node
}

function formatNumber (n, digits = 0) {
  if (!Number.isFinite(n)) return ''
  return n.toLocaleString(document.documentElement.lang || undefined, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits
  })
}

const statusLine = document.querySelector('[data-status]')
function setStatus (text) {
  if (statusLine) statusLine.textContent = text || ''
}

// --- memory budget ----------------------------------------------------------------------------
// Phones get a small image cache; the cache evicts least recently used images, and prefetching
// stays inside a window that fits the cache, so a 2,000-slice CT never holds every slice.
const deviceMemoryGb = navigator.deviceMemory || 4
const coarse = window.matchMedia && window.matchMedia('(pointer: coarse)').matches
const CACHE_BYTES = Math.round(
  Math.min(1024, Math.max(128, (coarse ? 48 : 96) * deviceMemoryGb)) * 1024 * 1024
)

// --- Cornerstone set-up -----------------------------------------------------------------------

let engine = null
let toolGroup = null

// Cornerstone measures in pixels whenever an image lacks position or orientation (it then marks
// the whole image plane as defaults), although PixelSpacing alone gives real units; projection
// radiographs (DX, CR, MG, ...) often carry only ImagerPixelSpacing, the spacing at the detector.
// This provider, asked before the loader's own, keeps the loader's plane and restores the spacing.
const PROJECTION_MODALITIES = new Set(['CR', 'DX', 'MG', 'IO', 'PX', 'RF', 'XA', 'RG'])
function imagePlaneWithSpacing (type, imageId) {
  if (type !== 'imagePlaneModule') return undefined
  // Answered here either way, so the loader's provider is not asked a second time.
  const plane = wadors.metaData.metaDataProvider(type, imageId)
  if (!plane || !plane.usingDefaultValues) return plane
  const meta = wadors.metaDataManager.get(imageId)
  let spacing = numbers(meta, '00280030')
  if (!spacing && PROJECTION_MODALITIES.has(value(meta, '00080060'))) spacing = numbers(meta, '00181164')
  if (!spacing) return plane
  return { ...plane, pixelSpacing: spacing, rowPixelSpacing: spacing[0], columnPixelSpacing: spacing[1], usingDefaultValues: false }
}

function numbers (meta, tag) {
  const list = values(meta, tag).map(Number)
  return list.length === 2 && list.every((n) => n > 0) ? list : null
}

async function initCornerstone () {
  // One WebGL context serves every pane (Cornerstone's default pool of 7 costs start-up time and
  // memory, which phones feel most; panes are stack viewports and render one at a time anyway).
  await coreInit({ isMobile: coarse, rendering: { webGlContextCount: 1 } })
  // Requests are same-origin: the session cookie travels by itself.
  loaderInit({ maxWebWorkers: Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1)) })
  toolsInit()
  metaData.addProvider(imagePlaneWithSpacing, 10000)
  cache.setMaxCacheSize(CACHE_BYTES)
  for (const Tool of [WindowLevelTool, PanTool, ZoomTool, StackScrollTool, LengthTool, AngleTool, RectangleROITool, EllipticalROITool]) {
    addTool(Tool)
  }
  engine = new RenderingEngine(ENGINE_ID)
  toolGroup = ToolGroupManager.createToolGroup(TOOL_GROUP_ID)
  for (const name of [WindowLevelTool.toolName, PanTool.toolName, ZoomTool.toolName, StackScrollTool.toolName, LengthTool.toolName, AngleTool.toolName, RectangleROITool.toolName, EllipticalROITool.toolName]) {
    toolGroup.addTool(name)
  }
  // Fixed bindings: middle drag pans, right drag zooms (two-finger pinch zooms and pans), the
  // wheel scrolls. The left button (one finger) takes the tool chosen in the toolbar.
  toolGroup.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: MouseBindings.Auxiliary }] })
  toolGroup.setToolActive(ZoomTool.toolName, {
    bindings: [{ mouseButton: MouseBindings.Secondary }, { numTouchPoints: 2 }]
  })
  toolGroup.setToolActive(StackScrollTool.toolName, { bindings: [{ mouseButton: MouseBindings.Wheel }] })
  for (const name of [LengthTool.toolName, AngleTool.toolName, RectangleROITool.toolName, EllipticalROITool.toolName]) {
    toolGroup.setToolPassive(name)
  }
}

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

function setPrimaryTool (key) {
  const next = PRIMARY_TOOLS[key]
  if (!next) return
  const previous = PRIMARY_TOOLS[primaryTool]
  // Passive drops only the left-button binding: a tool that also has the wheel, the right
  // button or two fingers keeps those (setToolActive merges bindings, it never removes one).
  if (previous && previous !== next) toolGroup.setToolPassive(previous)
  toolGroup.setToolActive(next, { bindings: [{ mouseButton: MouseBindings.Primary }] })
  primaryTool = key
  for (const button of document.querySelectorAll('[data-tool]')) {
    button.setAttribute('aria-pressed', String(button.dataset.tool === key))
  }
}

// --- panes (one Cornerstone stack viewport each) ------------------------------------------------

const grid = document.querySelector('[data-grid]')
const panes = []
let activePane = null
let layout = '1x1'

// The page's picture of the first image (the JPEG made at upload, hds.viewer.stack), over the
// first pane until that pane has drawn the real one or shows an error.
function removePreview () {
  for (const img of document.querySelectorAll('[data-preview]')) img.remove()
}

class Pane {
  constructor (index) {
    this.index = index
    this.viewportId = `vp-${index}`
    this.series = null
    this.stack = null
    this.failed = new Map() // imageId -> error kind
    this.loaded = new Set()
    this.cineTimer = null
    this.enabled = false
    this.token = 0

    this.root = el('section', 'pane')
    this.root.dataset.pane = String(index)
    this.root.tabIndex = -1
    this.element = el('div', 'pane-canvas')
    this.element.dataset.viewport = ''
    // Cornerstone's own context menu must not open on a right-drag zoom.
    this.element.addEventListener('contextmenu', (event) => event.preventDefault())
    this.root.append(this.element)

    this.overlay = {
      tl: el('div', 'overlay overlay-tl'),
      tr: el('div', 'overlay overlay-tr'),
      bl: el('div', 'overlay overlay-bl'),
      br: el('div', 'overlay overlay-br')
    }
    const line = (corner, name) => {
      const node = el('div', 'overlay-line')
      node.dataset.overlay = name
      this.overlay[corner].append(node)
      return node
    }
    this.lines = {
      patient: line('tl', 'patient'),
      patientId: line('tl', 'patient-id'),
      study: line('tr', 'study'),
      studyDate: line('tr', 'study-date'),
      series: line('tr', 'series'),
      image: line('bl', 'image'),
      location: line('bl', 'location'),
      thickness: line('bl', 'thickness'),
      window: line('br', 'window'),
      zoom: line('br', 'zoom')
    }
    for (const node of Object.values(this.overlay)) this.root.append(node)

    this.progress = el('div', 'pane-progress')
    this.progress.hidden = true
    this.progressBar = el('progress')
    this.progressBar.max = 1
    this.progressBar.value = 0
    this.progressLabel = el('span', 'pane-progress-label')
    this.progress.append(this.progressBar, this.progressLabel)
    this.root.append(this.progress)

    this.message = el('div', 'pane-message')
    this.message.setAttribute('role', 'alert')
    this.message.hidden = true
    this.root.append(this.message)

    this.scrollbar = el('input', 'pane-scrollbar')
    this.scrollbar.type = 'range'
    this.scrollbar.min = '0'
    this.scrollbar.max = '0'
    this.scrollbar.value = '0'
    this.scrollbar.setAttribute('aria-label', t('slice'))
    this.scrollbar.hidden = true
    this.scrollbar.addEventListener('input', () => this.go(Number(this.scrollbar.value)))
    this.root.append(this.scrollbar)

    this.root.addEventListener('pointerdown', () => setActivePane(this), true)
    this.root.addEventListener('focusin', () => setActivePane(this))
    this.element.addEventListener(Events.STACK_NEW_IMAGE, () => this.onNewImage())
    this.element.addEventListener(Events.VOI_MODIFIED, () => this.updateWindowLine())
    // The first image's VOI can be applied by the render itself without a VOI_MODIFIED event
    // reaching us (a race seen under load): the rendered image always has its window.
    this.element.addEventListener(Events.IMAGE_RENDERED, () => {
      if (this.index === 0 && this.loaded.size && !performance.getEntriesByName('hds-first-render').length) {
        performance.mark('hds-first-render') // bench/bench_viewer.py
        removePreview()
      }
      this.updateWindowLine()
    })
    this.element.addEventListener(Events.CAMERA_MODIFIED, () => this.updateZoomLine())
  }

  get viewport () {
    return this.enabled ? engine.getViewport(this.viewportId) : null
  }

  enable () {
    if (this.enabled) return
    engine.enableElement({
      viewportId: this.viewportId,
      type: Enums.ViewportType.STACK,
      element: this.element,
      defaultOptions: { background: [0, 0, 0] }
    })
    toolGroup.addViewport(this.viewportId, ENGINE_ID)
    this.enabled = true
  }

  disable () {
    if (!this.enabled) return
    this.stopCine()
    toolGroup.removeViewports(ENGINE_ID, this.viewportId)
    engine.disableElement(this.viewportId)
    this.enabled = false
  }

  showMessage (text) {
    if (text && this.index === 0) removePreview()
    this.message.textContent = text
    this.message.hidden = !text
    this.root.classList.toggle('has-error', Boolean(text))
  }

  setProgress () {
    if (!this.stack) return
    const total = this.stack.imageIds.length
    const target = Math.min(total, this.prefetchWindow())
    const loaded = Math.min(this.loaded.size, target)
    const done = loaded >= target
    this.root.dataset.loaded = String(this.loaded.size)
    this.root.dataset.total = String(total)
    this.root.dataset.complete = String(done)
    this.progressBar.max = target
    this.progressBar.value = loaded
    this.progressLabel.textContent = t('loaded', { loaded: formatNumber(loaded), total: formatNumber(target) })
    this.progress.hidden = done
    // User Timing marks for bench/bench_viewer.py (first pane, first series only).
    if (done && this.index === 0 && !performance.getEntriesByName('hds-series-loaded').length) {
      performance.mark('hds-series-loaded', { detail: { images: loaded } })
    }
  }

  // Images to keep around the current one: as many as fit in half of the cache.
  prefetchWindow () {
    if (!this.stack) return 0
    const total = this.stack.imageIds.length
    const perImage = this.stack.bytesPerImage || 0.5 * 1024 * 1024
    return Math.max(3, Math.min(total, Math.floor((CACHE_BYTES * 0.5) / perImage)))
  }

  async show (series) {
    const token = ++this.token
    this.stopCine()
    this.series = series
    this.stack = null
    this.loaded = new Set()
    this.failed = new Map()
    this.showMessage('')
    this.root.dataset.series = series.uid
    this.root.dataset.complete = 'false'
    this.progress.hidden = false
    this.progressBar.removeAttribute('value')
    this.progressLabel.textContent = t('loading')
    for (const line of Object.values(this.lines)) line.textContent = ''
    markSeriesInPanel()
    let stack
    try {
      stack = await seriesStack(series)
    } catch (error) {
      if (token !== this.token) return
      this.progress.hidden = true
      this.showMessage(errorText(error))
      return
    }
    if (token !== this.token) return
    this.stack = stack
    this.enable()
    const viewport = this.viewport
    for (const id of stack.imageIds) if (cache.isLoaded(id)) this.loaded.add(id)
    this.scrollbar.max = String(stack.imageIds.length - 1)
    this.scrollbar.value = '0'
    this.scrollbar.hidden = stack.imageIds.length < 2
    this.setProgress()
    const start = Math.floor(stack.initialIndex || 0)
    try {
      await viewport.setStack(stack.imageIds, start)
    } catch (error) {
      // The failed image shows its message (IMAGE_LOAD_ERROR); the others still scroll.
    }
    if (token !== this.token) return
    viewport.render()
    this.updateOverlay()
    this.startPrefetch()
  }

  startPrefetch () {
    const viewport = this.viewport
    if (!viewport || !this.stack) return
    const total = this.stack.imageIds.length
    const window = this.prefetchWindow()
    toolUtils.stackPrefetch.setConfiguration({
      // A distance from the current image: the whole series when it fits the budget, else
      // half the window on each side (the cache evicts what scrolled out of it).
      maxImagesToPrefetch: window >= total ? total : Math.floor(window / 2),
      preserveExistingPool: false
    })
    toolUtils.stackPrefetch.enable(this.element)
  }

  onImageLoaded (imageId) {
    if (!this.stack || !this.stack.index.has(imageId)) return
    this.loaded.add(imageId)
    if (!this.stack.bytesPerImage) {
      const image = cache.getImage(imageId)
      if (image && image.sizeInBytes) this.stack.bytesPerImage = image.sizeInBytes
    }
    this.setProgress()
  }

  onImageEvicted (imageId) {
    if (this.loaded.delete(imageId)) this.setProgress()
  }

  onImageFailed (imageId, error) {
    if (!this.stack || !this.stack.index.has(imageId)) return
    this.failed.set(imageId, error)
    if (this.currentImageId() === imageId || this.targetImageId() === imageId) {
      this.showMessage(errorText(error))
      this.updateImageLine(this.stack.index.get(imageId))
    }
  }

  currentImageId () {
    const viewport = this.viewport
    return viewport && this.stack ? viewport.getCurrentImageId() : null
  }

  targetImageId () {
    const viewport = this.viewport
    if (!viewport || !this.stack) return null
    return this.stack.imageIds[viewport.getTargetImageIdIndex()]
  }

  onNewImage () {
    if (this.index === 0 && !performance.getEntriesByName('hds-first-image').length) {
      performance.mark('hds-first-image')
    }
    const imageId = this.currentImageId()
    this.showMessage(this.failed.has(imageId) ? errorText(this.failed.get(imageId)) : '')
    this.updateOverlay()
  }

  go (index) {
    const viewport = this.viewport
    if (!viewport || !this.stack) return
    const last = this.stack.imageIds.length - 1
    const target = Math.max(0, Math.min(last, index))
    const imageId = this.stack.imageIds[target]
    if (this.failed.has(imageId)) {
      this.showMessage(errorText(this.failed.get(imageId)))
      this.updateImageLine(target)
    }
    viewport.setImageIdIndex(target).catch(() => {})
  }

  scrollBy (delta) {
    const viewport = this.viewport
    if (!viewport || !this.stack) return
    this.go(viewport.getTargetImageIdIndex() + delta)
  }

  updateImageLine (index) {
    const total = this.stack.imageIds.length
    this.lines.image.textContent = t('image_of', { current: index + 1, total })
    this.scrollbar.value = String(index)
    this.root.dataset.index = String(index)
  }

  updateOverlay () {
    const viewport = this.viewport
    if (!viewport || !this.stack) return
    const imageId = viewport.getCurrentImageId()
    const index = this.stack.index.get(imageId) ?? viewport.getCurrentImageIdIndex()
    const meta = this.stack.metaByImageId.get(imageId) || {}
    this.lines.patient.textContent = personName(meta, '00100010') || config.patient || ''
    this.lines.patientId.textContent = value(meta, '00100020') || ''
    this.lines.study.textContent = value(meta, '00081030') || config.studyDescription || ''
    this.lines.studyDate.textContent = config.studyDate || ''
    const seriesNumber = value(meta, '00200011')
    const seriesText = [seriesNumber !== undefined ? `#${seriesNumber}` : '', value(meta, '0008103E') || '']
    this.lines.series.textContent = seriesText.filter(Boolean).join(' ')
    this.updateImageLine(index)
    const plane = metaData.get('imagePlaneModule', imageId) || {}
    const location = value(meta, '00201041')
    this.lines.location.textContent = location !== undefined && location !== null
      ? t('slice_location', { value: formatNumber(Number(location), 1) })
      : ''
    const thickness = value(meta, '00180050')
    this.lines.thickness.textContent = thickness ? t('thickness', { value: formatNumber(Number(thickness), 1) }) : ''
    this.root.dataset.pixelSpacing = plane.rowPixelSpacing ? `${plane.rowPixelSpacing}` : ''
    this.updateWindowLine()
    this.updateZoomLine()
  }

  updateWindowLine () {
    const viewport = this.viewport
    if (!viewport || !this.stack) return
    const { voiRange, invert } = viewport.getProperties() || {}
    if (!voiRange) return
    const { width, center } = windowOf(voiRange)
    this.lines.window.textContent = t('window', { width: formatNumber(width), center: formatNumber(center) })
    this.root.dataset.windowWidth = String(Math.round(width))
    this.root.dataset.windowCenter = String(Math.round(center))
    this.root.dataset.invert = String(Boolean(invert))
  }

  updateZoomLine () {
    const viewport = this.viewport
    if (!viewport || !this.stack) return
    const zoom = viewport.getZoom()
    if (Number.isFinite(zoom)) this.lines.zoom.textContent = t('zoom', { value: `${formatNumber(zoom * 100)} %` })
  }

  // --- view actions ---

  applyPreset (name) {
    const viewport = this.viewport
    if (!viewport || !this.stack) return
    let range = null
    if (name === 'default') {
      const voi = metaData.get('voiLutModule', viewport.getCurrentImageId()) || {}
      const center = Array.isArray(voi.windowCenter) ? voi.windowCenter[0] : voi.windowCenter
      const width = Array.isArray(voi.windowWidth) ? voi.windowWidth[0] : voi.windowWidth
      range = Number.isFinite(center) && Number.isFinite(width) ? presetRange({ center, width }) : null
    } else if (PRESETS[name]) {
      range = presetRange(PRESETS[name])
    }
    if (!range) {
      const image = viewport.getCornerstoneImage && viewport.getCornerstoneImage()
      range = image ? autoWindow(image) : null
    }
    if (!range) return
    viewport.setProperties({ voiRange: range })
    viewport.render()
    this.updateWindowLine()
  }

  fit () {
    const viewport = this.viewport
    if (!viewport) return
    const { rotation, flipHorizontal, flipVertical } = viewport.getViewPresentation()
    viewport.resetCamera()
    viewport.setViewPresentation({ rotation, flipHorizontal, flipVertical })
    viewport.render()
  }

  invert () {
    const viewport = this.viewport
    if (!viewport) return
    viewport.setProperties({ invert: !viewport.getProperties().invert })
    viewport.render()
    this.updateWindowLine()
  }

  rotate () {
    const viewport = this.viewport
    if (!viewport) return
    const { rotation = 0 } = viewport.getViewPresentation()
    viewport.setViewPresentation({ rotation: (Math.round(rotation) + 90) % 360 })
    viewport.render()
    this.root.dataset.rotation = String((Math.round(rotation) + 90) % 360)
  }

  flip (horizontal) {
    const viewport = this.viewport
    if (!viewport) return
    const presentation = viewport.getViewPresentation()
    if (horizontal) {
      viewport.setViewPresentation({ flipHorizontal: !presentation.flipHorizontal })
    } else {
      viewport.setViewPresentation({ flipVertical: !presentation.flipVertical })
    }
    viewport.render()
  }

  zoomBy (factor) {
    const viewport = this.viewport
    if (!viewport) return
    viewport.setZoom(viewport.getZoom() * factor)
    viewport.render()
  }

  // Brightness (level) and contrast (width) steps for the simple mode's buttons.
  adjustWindow (dCenter, widthFactor) {
    const viewport = this.viewport
    if (!viewport) return
    const { voiRange } = viewport.getProperties()
    if (!voiRange) return
    const current = windowOf(voiRange)
    const width = Math.max(1, current.width * widthFactor)
    const center = current.center + dCenter * current.width
    viewport.setProperties({ voiRange: presetRange({ center, width }) })
    viewport.render()
    this.updateWindowLine()
  }

  reset () {
    const viewport = this.viewport
    if (!viewport) return
    viewport.resetProperties()
    viewport.resetCamera()
    viewport.setViewPresentation({ rotation: 0, flipHorizontal: false, flipVertical: false })
    viewport.render()
    this.root.dataset.rotation = '0'
    this.updateOverlay()
  }

  clearMeasurements () {
    const viewport = this.viewport
    if (!viewport) return
    for (const item of annotation.state.getAllAnnotations()) {
      annotation.state.removeAnnotation(item.annotationUID)
    }
    viewport.render()
  }

  toggleCine (fps) {
    if (this.cineTimer) {
      this.stopCine()
      return false
    }
    if (!this.stack || this.stack.imageIds.length < 2) return false
    const step = () => {
      const viewport = this.viewport
      if (!viewport || !this.stack) return
      const next = (viewport.getTargetImageIdIndex() + 1) % this.stack.imageIds.length
      viewport.setImageIdIndex(next).catch(() => {})
    }
    this.cineTimer = window.setInterval(step, Math.round(1000 / fps))
    this.root.dataset.playing = 'true'
    return true
  }

  stopCine () {
    if (this.cineTimer) window.clearInterval(this.cineTimer)
    this.cineTimer = null
    this.root.dataset.playing = 'false'
  }
}

function errorText (error) {
  const kind = error instanceof ViewerError ? error.kind : classifyError(error)
  if (kind === 'session') return t('session_error')
  if (kind === 'empty') return t('no_images')
  if (kind === 'load') return t('load_error')
  return t('decode_error')
}

// Loader errors: an XHR failure carries a request and status; everything else failed to decode.
function classifyError (error) {
  const status = error && (error.status ?? (error.request && error.request.status))
  if (status === 401) return 'session'
  if (status !== undefined && status !== 200) return 'load'
  return 'decode'
}

// --- series ---------------------------------------------------------------------------------

const stacks = new Map()
function seriesStack (series) {
  if (!stacks.has(series.uid)) {
    const promise = loadSeriesImageIds(config, series.uid, wadors.metaDataManager).then((result) => {
      const index = new Map(result.imageIds.map((id, i) => [id, i]))
      return { ...result, index, initialIndex: 0, bytesPerImage: 0 }
    })
    promise.catch(() => stacks.delete(series.uid))
    stacks.set(series.uid, promise)
  }
  return stacks.get(series.uid)
}

const seriesList = document.querySelector('[data-series-list]')
function buildSeriesPanel () {
  for (const series of config.series) {
    const item = el('li', 'series-item')
    const button = el('button', 'series-button')
    button.type = 'button'
    button.dataset.seriesUid = series.uid
    if (series.thumbnail) {
      const img = el('img', 'series-thumb')
      img.src = series.thumbnail
      img.alt = ''
      img.loading = 'lazy'
      img.width = 96
      img.height = 96
      button.append(img)
    } else {
      button.append(el('span', 'series-thumb series-thumb-empty', series.modality || ''))
    }
    const text = el('span', 'series-text')
    const number = series.number !== null && series.number !== undefined ? `${formatNumber(Number(series.number))} · ` : ''
    text.append(el('strong', 'series-title', `${number}${series.description || series.modality || ''}`))
    const count = series.images === 1 ? t('image', { count: 1 }) : t('images', { count: formatNumber(series.images) })
    const countLine = el('span', 'series-count', `${series.modality || ''} · ${count}`)
    countLine.dataset.count = String(series.images)
    text.append(countLine)
    button.append(text)
    button.addEventListener('click', () => {
      if (activePane) activePane.show(series)
      if (coarse && document.body.classList.contains('series-open') && window.innerWidth < 700) {
        toggleSeriesPanel(false)
      }
    })
    item.append(button)
    seriesList.append(item)
  }
}

function markSeriesInPanel () {
  const shown = new Set(panes.filter((p) => p.enabled || p.series).map((p) => p.series && p.series.uid))
  const active = activePane && activePane.series ? activePane.series.uid : null
  for (const button of seriesList.querySelectorAll('[data-series-uid]')) {
    button.classList.toggle('is-shown', shown.has(button.dataset.seriesUid))
    button.setAttribute('aria-current', String(button.dataset.seriesUid === active))
  }
}

function setActivePane (pane) {
  if (activePane === pane) return
  activePane = pane
  for (const p of panes) p.root.classList.toggle('is-active', p === pane)
  markSeriesInPanel()
  const play = document.querySelector('[data-action="cine"]')
  if (play) play.setAttribute('aria-pressed', String(Boolean(pane && pane.cineTimer)))
}

function setLayout (name) {
  if (!(name in LAYOUTS)) return
  layout = name
  const count = LAYOUTS[name]
  grid.className = `viewer-grid layout-${name}`
  for (const pane of panes) {
    const visible = pane.index < count
    pane.root.hidden = !visible
    if (!visible) pane.disable()
  }
  for (const button of document.querySelectorAll('[data-layout]')) {
    button.setAttribute('aria-pressed', String(button.dataset.layout === name))
  }
  if (activePane && activePane.index >= count) setActivePane(panes[0])
  engine.resize(true, true)
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

function toggleSeriesPanel (open) {
  const isOpen = open ?? !document.body.classList.contains('series-open')
  document.body.classList.toggle('series-open', isOpen)
  const button = document.querySelector('[data-action="series-panel"]')
  if (button) button.setAttribute('aria-pressed', String(isOpen))
  window.requestAnimationFrame(() => engine && engine.resize(true, true))
}

// --- findings ---------------------------------------------------------------------------------

const findingsPanel = document.querySelector('[data-findings-panel]')
function buildFindings () {
  const body = findingsPanel && findingsPanel.querySelector('[data-findings-body]')
  if (!body) return
  if (!config.findings.length) {
    body.append(el('p', 'muted', t('no_findings')))
    return
  }
  const list = el('ul', 'findings-list')
  let first = true
  for (const finding of config.findings) {
    const item = el('li')
    const show = el('button', 'vbtn', finding.name || 'PDF')
    show.type = 'button'
    const open = el('a', 'vbtn', t('open_pdf'))
    open.href = finding.url
    open.target = '_blank'
    open.rel = 'noopener'
    show.addEventListener('click', () => { frame.src = finding.url })
    item.append(show, open)
    list.append(item)
    if (first) show.dataset.first = ''
    first = false
  }
  const frame = el('iframe', 'findings-frame')
  frame.title = t('findings')
  body.append(list, frame)
}

function toggleFindings () {
  if (!findingsPanel) return
  findingsPanel.hidden = !findingsPanel.hidden
  const frame = findingsPanel.querySelector('iframe')
  if (!findingsPanel.hidden && frame && !frame.getAttribute('src') && config.findings.length) {
    frame.src = config.findings[0].url
  }
  for (const button of document.querySelectorAll('[data-action="findings"][aria-pressed]')) {
    button.setAttribute('aria-pressed', String(!findingsPanel.hidden))
  }
  window.requestAnimationFrame(() => engine.resize(true, true))
}

// --- toolbar and keys ---------------------------------------------------------------------------

const PRESET_KEYS = { 1: 'default', 2: 'soft', 3: 'lung', 4: 'bone', 5: 'brain', 6: 'abdomen', 0: 'auto' }

function fps () {
  const input = document.querySelector('[data-fps]')
  const n = input ? Number(input.value) : 15
  return Math.max(1, Math.min(60, Number.isFinite(n) ? n : 15))
}

function toggleCine () {
  if (!activePane) return
  const playing = activePane.toggleCine(fps())
  const button = document.querySelector('[data-action="cine"]')
  if (button) button.setAttribute('aria-pressed', String(playing))
}

function act (action) {
  const pane = activePane
  switch (action) {
    case 'prev': return pane && pane.scrollBy(-1)
    case 'next': return pane && pane.scrollBy(1)
    case 'fit': return pane && pane.fit()
    case 'invert': return pane && pane.invert()
    case 'rotate': return pane && pane.rotate()
    case 'flip-h': return pane && pane.flip(true)
    case 'flip-v': return pane && pane.flip(false)
    case 'reset': return pane && pane.reset()
    case 'zoom-in': return pane && pane.zoomBy(1.25)
    case 'zoom-out': return pane && pane.zoomBy(0.8)
    case 'clear-measurements': return pane && pane.clearMeasurements()
    case 'cine': return toggleCine()
    case 'series-panel': return toggleSeriesPanel()
    case 'findings': return toggleFindings()
    case 'help': return openHelp()
    default:
  }
}

function openHelp () {
  const dialog = document.querySelector('[data-help]')
  if (dialog && !dialog.open) dialog.showModal()
}

function wireToolbar () {
  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target.closest('[data-tool],[data-action],[data-layout]') : null
    if (!target) return
    if (target.dataset.tool) {
      // Simple mode: the brightness button toggles between brightness and scrolling.
      const back = SIMPLE && target.dataset.tool === primaryTool
      setPrimaryTool(back ? 'StackScroll' : target.dataset.tool)
    }
    else if (target.dataset.layout) setLayout(target.dataset.layout)
    else if (target.dataset.action && target.dataset.action !== 'download') act(target.dataset.action)
  })
  const preset = document.querySelector('[data-preset]')
  if (preset) {
    preset.addEventListener('change', () => {
      if (preset.value && activePane) activePane.applyPreset(preset.value)
      preset.value = ''
    })
  }
  const fpsInput = document.querySelector('[data-fps]')
  if (fpsInput) {
    fpsInput.addEventListener('change', () => {
      if (activePane && activePane.cineTimer) {
        activePane.stopCine()
        activePane.toggleCine(fps())
      }
    })
  }
}

const KEY_TOOLS = { w: 'WindowLevel', p: 'Pan', z: 'Zoom', s: 'StackScroll', l: 'Length', a: 'Angle', r: 'RectangleROI', e: 'EllipticalROI' }

function onKey (event) {
  // (Cornerstone's own key listener on the viewport calls preventDefault: not a reason to stop.)
  if (event.ctrlKey || event.metaKey || event.altKey) return
  const target = event.target
  if (target instanceof HTMLElement && (target.isContentEditable || ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName)) && !(target instanceof HTMLInputElement && target.type === 'range')) return
  if (document.querySelector('[data-help][open]')) return
  const pane = activePane
  const key = event.key
  const handled = () => {
    event.preventDefault()
    event.stopPropagation() // ours alone: Cornerstone would take the key as a held modifier
  }
  if (key === 'ArrowUp' || key === 'ArrowLeft') { pane && pane.scrollBy(-1); return handled() }
  if (key === 'ArrowDown' || key === 'ArrowRight') { pane && pane.scrollBy(1); return handled() }
  if (key === 'PageUp') { pane && pane.scrollBy(-10); return handled() }
  if (key === 'PageDown') { pane && pane.scrollBy(10); return handled() }
  if (key === 'Home') { pane && pane.go(0); return handled() }
  if (key === 'End') { pane && pane.go(Number.MAX_SAFE_INTEGER); return handled() }
  if (key === ' ') { toggleCine(); return handled() }
  if (key === '?') { openHelp(); return handled() }
  if (key === 'Escape') { pane && pane.reset(); return handled() }
  if (key === 'Delete' || key === 'Backspace') { pane && pane.clearMeasurements(); return handled() }
  if (key === 'Tab' && panes.length && LAYOUTS[layout] > 1) {
    const visible = panes.slice(0, LAYOUTS[layout])
    const next = visible[(visible.indexOf(pane) + (event.shiftKey ? visible.length - 1 : 1)) % visible.length]
    setActivePane(next)
    return handled()
  }
  if (SIMPLE) return
  const lower = key.toLowerCase()
  if (KEY_TOOLS[lower]) { setPrimaryTool(KEY_TOOLS[lower]); return handled() }
  if (key in PRESET_KEYS) { pane && pane.applyPreset(PRESET_KEYS[key]); return handled() }
  if (lower === 'i') { pane && pane.invert(); return handled() }
  if (key === '.') { pane && pane.rotate(); return handled() }
  if (lower === 'h') { pane && pane.flip(true); return handled() }
  if (lower === 'v') { pane && pane.flip(false); return handled() }
  if (lower === 'f') { pane && pane.fit(); return handled() }
  if (lower === 'g') {
    const names = Object.keys(LAYOUTS)
    setLayout(names[(names.indexOf(layout) + 1) % names.length])
    return handled()
  }
}

// --- global loader events -----------------------------------------------------------------------

function wireEvents () {
  eventTarget.addEventListener(Events.IMAGE_LOADED, (event) => {
    const imageId = event.detail && event.detail.image && event.detail.image.imageId
    if (imageId) for (const pane of panes) pane.onImageLoaded(imageId)
  })
  eventTarget.addEventListener(Events.IMAGE_CACHE_IMAGE_REMOVED, (event) => {
    const imageId = event.detail && event.detail.imageId
    if (imageId) for (const pane of panes) pane.onImageEvicted(imageId)
  })
  const failed = (event) => {
    const details = Array.isArray(event.detail) ? event.detail : [event.detail]
    for (const detail of details) {
      if (!detail || !detail.imageId) continue
      for (const pane of panes) pane.onImageFailed(detail.imageId, detail.error)
    }
  }
  eventTarget.addEventListener(Events.IMAGE_LOAD_ERROR, failed)
  eventTarget.addEventListener(Events.IMAGE_LOAD_FAILED, failed)
  let resizeTimer = null
  new ResizeObserver(() => {
    window.clearTimeout(resizeTimer)
    resizeTimer = window.setTimeout(() => engine.resize(true, true), 30)
  }).observe(grid)
}

// --- start ----------------------------------------------------------------------------------

async function start () {
  document.documentElement.classList.add('js')
  if (!coarse || window.innerWidth >= 900) document.body.classList.add('series-open')
  else document.querySelector('[data-action="series-panel"]')?.setAttribute('aria-pressed', 'false')
  buildSeriesPanel()
  buildFindings()
  // The first series' metadata is already on its way (boot.js). It is registered with the loader
  // only after the loader's init, which starts the loader's metadata store afresh.
  try {
    await initCornerstone()
  } catch (error) {
    setStatus(t('decode_error'))
    throw error
  }
  for (let i = 0; i < MAX_PANES; i++) {
    const pane = new Pane(i)
    pane.root.hidden = i > 0
    grid.append(pane.root)
    panes.push(pane)
  }
  setActivePane(panes[0])
  wireEvents()
  wireToolbar()
  window.addEventListener('keydown', onKey, true)
  // Phones: one finger scrolls by default (window/level is one tap away); desktops: window/level.
  setPrimaryTool(SIMPLE || coarse ? 'StackScroll' : 'WindowLevel')
  if (!config.series.length) {
    panes[0].showMessage(t('no_images'))
    return
  }
  document.body.dataset.ready = 'true'
  await panes[0].show(config.series[0])
}

start()
