// The HDS DICOM viewer: Cornerstone3D stack viewports over our WADO-RS, with the session. This
// module assembles the parts (docs/viewer.md), in the manner of OHIF's data source, mode and
// extensions:
//   config.js, modes.js   the page's config and the mode it asks for (full, or ?mode=simple)
//   dicom.js              DICOM JSON from our WADO-RS, the slice order, image ids
//   cornerstone.js        Cornerstone's core and loader, metadata, cache budget, series stacks
//   pane.js, layout.js    the panes (viewport, overlay, progress, view actions) and their grid
//   tools.js, shortcuts.js  tools, toolbar and keyboard shortcuts
//   panels.js             the series panel and the findings
//
// The page (src/hds/viewer/templates/viewer/viewer.html) holds the toolbar with translated
// labels and a JSON config (<script type="application/json" id="viewer-config">): the study,
// its series and the labels this script needs. CSP: no inline styles or scripts are created
// here (the canvas sizes come from CSS), and DICOM text only ever goes into textContent.
import './viewer.css'
import { config, mode, t } from './config.js'
import { initCornerstone } from './cornerstone.js'
import { MAX_PANES, setActivePane, wirePaneEvents } from './layout.js'
import { Pane } from './pane.js'
import { buildFindings, buildSeriesPanel } from './panels.js'
import { state } from './state.js'
import { initTools, setInitialTool, wireKeys, wireToolbar } from './tools.js'
import { coarse } from './ui.js'

const statusLine = document.querySelector('[data-status]')
function setStatus (text) {
  if (statusLine) statusLine.textContent = text || ''
}

const PANELS = { series: buildSeriesPanel, findings: buildFindings }

async function start () {
  state.grid = document.querySelector('[data-grid]')
  document.documentElement.classList.add('js')
  if (!coarse || window.innerWidth >= 900) document.body.classList.add('series-open')
  else document.querySelector('[data-action="series-panel"]')?.setAttribute('aria-pressed', 'false')
  for (const panel of mode.panels) PANELS[panel]()
  // The first series' metadata is already on its way (boot.js). It is registered with the loader
  // only after the loader's init, which starts the loader's metadata store afresh.
  try {
    await initCornerstone()
    initTools()
  } catch (error) {
    setStatus(t('decode_error'))
    throw error
  }
  for (let i = 0; i < MAX_PANES; i++) {
    const pane = new Pane(i)
    pane.root.hidden = i > 0
    state.grid.append(pane.root)
    state.panes.push(pane)
  }
  setActivePane(state.panes[0])
  wirePaneEvents()
  wireToolbar()
  wireKeys()
  setInitialTool()
  if (!config.series.length) {
    state.panes[0].showMessage(t('no_images'))
    return
  }
  document.body.dataset.ready = 'true'
  await state.panes[0].show(config.series[0])
}

start()
