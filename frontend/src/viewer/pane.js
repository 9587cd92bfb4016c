// One pane: a Cornerstone stack viewport with its overlay (patient, study, series, image,
// window, zoom), loading progress, error message and slice scrollbar, and the view actions the
// toolbar and keys call (tools.js). The page holds up to four (layout.js).
import { Enums, cache, metaData } from '@cornerstonejs/core'
import { annotation, utilities as toolUtils } from '@cornerstonejs/tools'
import { CACHE_BYTES, ENGINE_ID, seriesStack } from './cornerstone.js'
import { config, t } from './config.js'
import { personName, value, ViewerError } from './dicom.js'
import { setActivePane } from './layout.js'
import { markSeriesInPanel } from './panels.js'
import { state } from './state.js'
import { el, formatNumber } from './ui.js'
import { PRESETS, autoWindow, presetRange, windowOf } from './windowing.js'

const { Events } = Enums

// The page's picture of the first image (the JPEG made at upload, hds.viewer.stack), over the
// first pane until that pane has drawn the real one or shows an error.
function removePreview () {
  for (const img of document.querySelectorAll('[data-preview]')) img.remove()
}

export class Pane {
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
    return this.enabled ? state.engine.getViewport(this.viewportId) : null
  }

  enable () {
    if (this.enabled) return
    state.engine.enableElement({
      viewportId: this.viewportId,
      type: Enums.ViewportType.STACK,
      element: this.element,
      defaultOptions: { background: [0, 0, 0] }
    })
    state.toolGroup.addViewport(this.viewportId, ENGINE_ID)
    this.enabled = true
  }

  disable () {
    if (!this.enabled) return
    this.stopCine()
    state.toolGroup.removeViewports(ENGINE_ID, this.viewportId)
    state.engine.disableElement(this.viewportId)
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
