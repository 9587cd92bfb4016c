// The data side (in OHIF's terms, the data source): Cornerstone's core, the DICOM image loader
// over our WADO-RS (dicom.js), the metadata they read, the image cache budget, the rendering
// engine, and each series' stack of image ids.
import { init as coreInit, RenderingEngine, cache, metaData } from '@cornerstonejs/core'
import { init as loaderInit, wadors } from '@cornerstonejs/dicom-image-loader'
import { init as toolsInit } from '@cornerstonejs/tools'
import { loadSeriesImageIds, value, values } from './dicom.js'
import { config } from './config.js'
import { state } from './state.js'
import { coarse } from './ui.js'

export const ENGINE_ID = 'hds-engine'

// --- memory budget ----------------------------------------------------------------------------
// Phones get a small image cache; the cache evicts least recently used images, and prefetching
// stays inside a window that fits the cache, so a 2,000-slice CT never holds every slice.
const deviceMemoryGb = navigator.deviceMemory || 4
export const CACHE_BYTES = Math.round(
  Math.min(1024, Math.max(128, (coarse ? 48 : 96) * deviceMemoryGb)) * 1024 * 1024
)

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

// Cornerstone's libraries (core, loader, tools), the metadata provider, the cache, the engine.
export async function initCornerstone () {
  // One WebGL context serves every pane (Cornerstone's default pool of 7 costs start-up time and
  // memory, which phones feel most; panes are stack viewports and render one at a time anyway).
  await coreInit({ isMobile: coarse, rendering: { webGlContextCount: 1 } })
  // Requests are same-origin: the session cookie travels by itself.
  loaderInit({ maxWebWorkers: Math.max(1, Math.min(4, (navigator.hardwareConcurrency || 2) - 1)) })
  toolsInit()
  metaData.addProvider(imagePlaneWithSpacing, 10000)
  cache.setMaxCacheSize(CACHE_BYTES)
  state.engine = new RenderingEngine(ENGINE_ID)
}

// --- series ---------------------------------------------------------------------------------

// A series' stack, loaded once: { imageIds, metaByImageId, multiFrame, index (imageId → position),
// initialIndex, bytesPerImage (learnt from the first image loaded) }.
const stacks = new Map()
export function seriesStack (series) {
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
