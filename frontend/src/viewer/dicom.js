// Reading DICOM JSON (PS3.18 F.2) from our WADO-RS and turning instances into Cornerstone image ids.
// Everything here is data: DICOM text is returned as strings and only ever shown with textContent.

export class ViewerError extends Error {
  constructor (kind, status) {
    super(kind)
    this.kind = kind // 'session' | 'load' | 'decode' | 'empty'
    this.status = status
  }
}

const TAG = {
  sopInstanceUid: '00080018',
  instanceNumber: '00200013',
  numberOfFrames: '00280008',
  imagePosition: '00200032',
  imageOrientation: '00200037',
  pixelData: '7FE00010',
  floatPixelData: '7FE00008',
  doublePixelData: '7FE00009'
}

export function value (instance, tag, index = 0) {
  const element = instance && instance[tag]
  if (!element || !Array.isArray(element.Value)) return undefined
  const v = element.Value[index]
  if (v && typeof v === 'object' && 'Alphabetic' in v) return v.Alphabetic // PN
  return v
}

export function values (instance, tag) {
  const element = instance && instance[tag]
  return element && Array.isArray(element.Value) ? element.Value : []
}

export function personName (instance, tag) {
  const name = value(instance, tag)
  return typeof name === 'string' ? name.replace(/\^+/g, ' ').trim() : ''
}

// Requests started early (boot.js) whose responses the viewer takes once instead of asking again.
const prefetched = new Map()

export function prefetchDicomJson (url) {
  if (!prefetched.has(url)) {
    const promise = requestDicomJson(url)
    promise.catch(() => {}) // a failure is reported when the viewer takes it
    prefetched.set(url, promise)
  }
  return prefetched.get(url)
}

export function fetchDicomJson (url) {
  const early = prefetched.get(url)
  if (early) {
    prefetched.delete(url)
    return early
  }
  return requestDicomJson(url)
}

async function requestDicomJson (url) {
  let response
  try {
    response = await fetch(url, {
      headers: { Accept: 'application/dicom+json' },
      credentials: 'same-origin',
      cache: 'no-store'
    })
  } catch (error) {
    throw new ViewerError('load', 0)
  }
  if (response.status === 401) throw new ViewerError('session', 401)
  if (!response.ok) throw new ViewerError('load', response.status)
  return response.json()
}

function hasPixels (instance) {
  return Boolean(instance[TAG.pixelData] || instance[TAG.floatPixelData] || instance[TAG.doublePixelData])
}

// Order a stack along the slice normal when every instance has a position and orientation (so a
// series sorted by acquisition still scrolls head to foot), else by instance number; equal
// places keep the metadata's order (instance number, then SOP Instance UID).
// hds.viewer.stack does the same on the server, for the page's preview of the first image; both
// pass the golden vectors tests/vectors/slice_order.json (frontend/test/slice-order.test.js,
// tests/viewer/test_slice_order.py; docs/viewer.md).
export function sortInstances (instances) {
  const withGeometry = instances.every((i) => values(i, TAG.imagePosition).length === 3 && values(i, TAG.imageOrientation).length === 6)
  const byNumber = (a, b) => (Number(value(a, TAG.instanceNumber)) || 0) - (Number(value(b, TAG.instanceNumber)) || 0)
  if (!withGeometry || instances.length < 2) return instances.slice().sort(byNumber)
  const o = values(instances[0], TAG.imageOrientation).map(Number)
  const normal = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]]
  const distance = (i) => {
    const p = values(i, TAG.imagePosition).map(Number)
    return p[0] * normal[0] + p[1] * normal[1] + p[2] * normal[2]
  }
  return instances.slice().sort((a, b) => distance(b) - distance(a) || byNumber(a, b))
}

// The series' image ids (one per frame) and the metadata of each, registered with the loader.
function seriesUrl (config, seriesUid) {
  return `${window.location.origin}${config.dicomweb}/studies/${config.studyUid}/series/${seriesUid}`
}

export function seriesMetadataUrl (config, seriesUid) {
  return `${seriesUrl(config, seriesUid)}/metadata`
}

// The stack's instances in viewing order: those with pixel data and a SOP Instance UID (the
// same ones the server's item records count).
export function stackInstances (metadata) {
  return sortInstances(metadata.filter((instance) => hasPixels(instance) && value(instance, TAG.sopInstanceUid)))
}

export async function loadSeriesImageIds (config, seriesUid, metaDataManager) {
  const base = seriesUrl(config, seriesUid)
  const instances = stackInstances(await fetchDicomJson(seriesMetadataUrl(config, seriesUid)))
  const imageIds = []
  const metaByImageId = new Map()
  for (const instance of instances) {
    const sop = value(instance, TAG.sopInstanceUid)
    const frames = Math.max(1, Number(value(instance, TAG.numberOfFrames)) || 1)
    const root = `wadors:${base}/instances/${sop}/frames/`
    // Multi-frame: the loader derives frames 2..n from frame 1's metadata.
    metaDataManager.add(`${root}1`, instance)
    for (let frame = 1; frame <= frames; frame++) {
      imageIds.push(`${root}${frame}`)
      metaByImageId.set(`${root}${frame}`, instance)
    }
  }
  if (!imageIds.length) throw new ViewerError('empty')
  return { imageIds, metaByImageId, multiFrame: instances.length === 1 && imageIds.length > 1 }
}
