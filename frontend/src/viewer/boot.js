// The viewer's first request, started before the big viewer bundle has arrived and started
// Cornerstone: the metadata of the first series. viewer.js (cornerstone.js, seriesStack) takes
// the response from dicom.js's prefetch table instead of asking again. Kept tiny on purpose (see docs/viewer.md).
import { prefetchDicomJson, seriesMetadataUrl } from './dicom.js'

const element = document.getElementById('viewer-config')
if (element) {
  const config = JSON.parse(element.textContent)
  if (config.series && config.series.length) prefetchDicomJson(seriesMetadataUrl(config, config.series[0].uid))
}
