// The viewer's first requests, started before the big viewer bundle has arrived and started
// Cornerstone: the metadata of the first series, and then the picture of the image the viewer
// opens on. viewer.js (main.js) takes the metadata from dicom.js's prefetch table instead of
// asking again. Kept tiny on purpose (see docs/viewer.md).
//
// The picture is the JPEG made at upload (8 bit, the file's window), shown over the first pane
// until Cornerstone has drawn the real image there (main.js removes it, also when that pane
// shows an error): a phone on a slow network sees the image long before the 0.8 MB bundle has
// arrived and started. It takes no input; the toolbar works once the viewer is ready.
import { firstImagePreviewUrl, prefetchDicomJson, seriesMetadataUrl } from './dicom.js'

async function showPreview (config, seriesUid, metadata) {
  const grid = document.querySelector('[data-grid]')
  let url
  try {
    url = firstImagePreviewUrl(config, seriesUid, await metadata)
  } catch (error) {
    return // the viewer reports a failed metadata request itself
  }
  if (!grid || !url || performance.getEntriesByName('hds-first-render').length) return
  const img = document.createElement('img')
  img.className = 'viewer-preview'
  img.dataset.preview = ''
  img.alt = (config.labels && config.labels.preview) || ''
  img.hidden = true
  img.addEventListener('load', () => { img.hidden = false }, { once: true })
  img.addEventListener('error', () => img.remove(), { once: true })
  img.src = url
  grid.append(img)
}

const element = document.getElementById('viewer-config')
if (element) {
  const config = JSON.parse(element.textContent)
  const first = config.series && config.series[0]
  if (first) showPreview(config, first.uid, prefetchDicomJson(seriesMetadataUrl(config, first.uid)))
}
