// The viewer's slice order (src/viewer/dicom.js) against the golden vectors the server's
// hds.viewer.stack passes too (tests/viewer/test_slice_order.py).
import { expect, test } from 'vitest'
import vectors from '../../tests/vectors/slice_order.json'
import { stackInstances } from '../src/viewer/dicom.js'

// An instance of the series metadata (DICOM JSON, PS3.18 F.2) from a vector's instance.
function dicomJson ({ sop, number, position, orientation, pixels }) {
  const instance = { '00080018': { vr: 'UI', Value: [sop] } }
  if (number !== null) instance['00200013'] = { vr: 'IS', Value: [number] }
  if (position.length) instance['00200032'] = { vr: 'DS', Value: position }
  if (orientation.length) instance['00200037'] = { vr: 'DS', Value: orientation }
  if (pixels) instance['7FE00010'] = { vr: 'OW', BulkDataURI: `instances/${sop}/bulk/7FE00010` }
  return instance
}

test.each(vectors.cases.map((c) => [c.name, c]))('%s', (_name, c) => {
  const order = stackInstances(c.instances.map(dicomJson)).map((i) => i['00080018'].Value[0])
  expect(order).toEqual(c.expected)
})

test('an instance without a SOP Instance UID is left out', () => {
  const instances = [
    dicomJson({ sop: '1', number: 1, position: [0, 0, 0], orientation: [1, 0, 0, 0, 1, 0], pixels: true }),
    dicomJson({ sop: '2', number: 2, position: [0, 0, 5], orientation: [1, 0, 0, 0, 1, 0], pixels: true })
  ]
  delete instances[1]['00080018']
  expect(stackInstances(instances).length).toBe(1)
})
