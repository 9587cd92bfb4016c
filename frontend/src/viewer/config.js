// The page's JSON config (<script type="application/json" id="viewer-config">, made by
// hds.viewer.views): the study, its series, findings, the mode and the translated labels.
import { modeFor } from './modes.js'

export const config = JSON.parse(document.getElementById('viewer-config').textContent)
export const mode = modeFor(config.mode)
const labels = config.labels || {}

// A label with Django-style "%(name)s" placeholders filled in.
export function t (key, params = {}) {
  const text = labels[key] || key
  return text.replace(/%\((\w+)\)s/g, (_, name) => (name in params ? String(params[name]) : ''))
}
