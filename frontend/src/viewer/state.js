// What the viewer's modules share at run time: Cornerstone's rendering engine and tool group,
// the panes (pane.js), the active one and the layout (layout.js).
export const state = {
  engine: null,
  toolGroup: null,
  grid: null,
  panes: [],
  activePane: null,
  layout: '1x1'
}
