// Collecting files from the pickers and from a drop (folders walked recursively): entries
// { file, path } with "/"-separated relative paths.
import { cleanPath } from './plan.js'

export function filesFromInput (input) {
  return Array.from(input.files || [], (file) => ({ file, path: cleanPath(file.webkitRelativePath || file.name) }))
}

function readBatch (reader) {
  return new Promise((resolve, reject) => reader.readEntries(resolve, reject))
}

async function walkEntry (entry, out, onCount) {
  if (entry.isFile) {
    try {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject))
      out.push({ file, path: cleanPath(entry.fullPath || file.name) })
      onCount(out.length)
    } catch (_) { /* unreadable: skip */ }
  } else if (entry.isDirectory) {
    const reader = entry.createReader()
    // readEntries hands out a directory in batches (100 in Chromium): read until empty.
    for (;;) {
      let batch
      try {
        batch = await readBatch(reader)
      } catch (_) {
        break
      }
      if (!batch.length) break
      await Promise.all(batch.map((child) => walkEntry(child, out, onCount)))
    }
  }
}

// The entries must be taken from the DataTransfer synchronously, during the drop event; the
// walk itself is asynchronous.
export function filesFromDrop (dataTransfer, onCount) {
  const entries = []
  const out = []
  const items = dataTransfer.items ? Array.from(dataTransfer.items) : []
  if (items.length) {
    for (const item of items) {
      if (item.kind !== 'file') continue
      const entry = typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null
      if (entry) {
        entries.push(entry)
      } else {
        const file = item.getAsFile()
        if (file) out.push({ file, path: cleanPath(file.name) })
      }
    }
  } else {
    for (const file of Array.from(dataTransfer.files || [])) out.push({ file, path: cleanPath(file.name) })
  }
  return (async () => {
    for (const entry of entries) await walkEntry(entry, out, onCount)
    return out
  })()
}
