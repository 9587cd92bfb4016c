// The panels beside the panes: the series list (thumbnails; a click shows the series in the
// active pane) and the findings (the study's PDFs in a frame). The mode lists the panels it has
// (modes.js); both modes have both.
import { config, t } from './config.js'
import { state } from './state.js'
import { coarse, el, formatNumber } from './ui.js'

// --- series ---------------------------------------------------------------------------------

const seriesList = document.querySelector('[data-series-list]')
export function buildSeriesPanel () {
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
      if (state.activePane) state.activePane.show(series)
      if (coarse && document.body.classList.contains('series-open') && window.innerWidth < 700) {
        toggleSeriesPanel(false)
      }
    })
    item.append(button)
    seriesList.append(item)
  }
}

export function markSeriesInPanel () {
  const shown = new Set(state.panes.filter((p) => p.enabled || p.series).map((p) => p.series && p.series.uid))
  const active = state.activePane && state.activePane.series ? state.activePane.series.uid : null
  for (const button of seriesList.querySelectorAll('[data-series-uid]')) {
    button.classList.toggle('is-shown', shown.has(button.dataset.seriesUid))
    button.setAttribute('aria-current', String(button.dataset.seriesUid === active))
  }
}

export function toggleSeriesPanel (open) {
  const isOpen = open ?? !document.body.classList.contains('series-open')
  document.body.classList.toggle('series-open', isOpen)
  const button = document.querySelector('[data-action="series-panel"]')
  if (button) button.setAttribute('aria-pressed', String(isOpen))
  window.requestAnimationFrame(() => state.engine && state.engine.resize(true, true))
}

// --- findings ---------------------------------------------------------------------------------

const findingsPanel = document.querySelector('[data-findings-panel]')
export function buildFindings () {
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

export function toggleFindings () {
  if (!findingsPanel) return
  findingsPanel.hidden = !findingsPanel.hidden
  const frame = findingsPanel.querySelector('iframe')
  if (!findingsPanel.hidden && frame && !frame.getAttribute('src') && config.findings.length) {
    frame.src = config.findings[0].url
  }
  for (const button of document.querySelectorAll('[data-action="findings"][aria-pressed]')) {
    button.setAttribute('aria-pressed', String(!findingsPanel.hidden))
  }
  window.requestAnimationFrame(() => state.engine.resize(true, true))
}
