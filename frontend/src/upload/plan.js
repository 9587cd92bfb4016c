// Which files go up, and in which groups: pure functions of the collected files (no DOM, no
// network), tested with Vitest (frontend/test/upload-plan.test.js) against the golden vectors that
// the hds upload client passes too (tests/vectors/upload_plans.json, docs/architecture.md).
// The limits come from the same file the client reads: src/hds/data/upload_rules.json.
import rules from '../../../src/hds/data/upload_rules.json'

// Small files travel together: the server stores a request's DICOM files with one commit per
// study, so a CT of 0.5 MB slices goes up several times faster than one file per request.
export const GROUP_FILES = rules.group_files
export const GROUP_BYTES = rules.group_bytes
export const RETRY_DELAYS_S = rules.retry_delays_s // then the file is marked "connection" and the queue goes on
const JUNK_NAMES = new Set(rules.junk_names)

// --- paths ----------------------------------------------------------------------------------

export function cleanPath (path) {
  return String(path || '').replace(/\\/g, '/').replace(/^\/+/, '')
}

export function baseName (path) {
  return path.slice(path.lastIndexOf('/') + 1)
}

export function dirName (path) {
  const i = path.lastIndexOf('/')
  return i < 0 ? '' : path.slice(0, i)
}

// Comparable form of a path: "/" separated, lower case, without ISO 9660 version suffixes
// (";1") and trailing dots ("IM000001." on some CDs), without "" and "." segments.
export function pathKey (path) {
  return String(path || '').replace(/\\/g, '/').split('/')
    .map((segment) => segment.replace(/;\d+$/, '').replace(/\.+$/, '').toLowerCase())
    .filter(Boolean)
    .join('/')
}

// Entries are { file, path }: a File (only its size is read here) and its "/"-separated path.
export function isDicomdir (entry) {
  return baseName(entry.path).toLowerCase() === 'dicomdir'
}

export function isJunk (entry) {
  return entry.file.size === 0 || JUNK_NAMES.has(baseName(entry.path).toLowerCase())
}

function isPdf (entry) {
  return entry.path.toLowerCase().endsWith('.pdf')
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' })

// In place: IM2 before IM10, case-insensitively.
export function sortByPath (entries) {
  return entries.sort((a, b) => collator.compare(a.path, b.path))
}

// The DICOMDIRs among the entries, deepest folder first (the order their plans are asked for).
export function dicomdirsOf (entries) {
  return entries.filter(isDicomdir).sort((a, b) => pathKey(dirName(b.path)).length - pathKey(dirName(a.path)).length)
}

// `plans`: [DICOMDIR path, the paths its plan lists (relative to its folder) or null when the
// plan failed] for each DICOMDIR among the entries.
// Each DICOMDIR governs the folder it lies in (the deepest one wins for nested CDs): there only
// the files it lists and PDFs go up. A DICOMDIR whose plan failed, or whose list matches none
// of the files at hand, falls back to "everything but the DICOMDIR" (fallback: true, the page
// warns). Files outside every DICOMDIR's folder are treated as without a DICOMDIR. DICOMDIRs
// and junk (empty files, Thumbs.db, .DS_Store, desktop.ini) never go up.
export function applyPlans (entries, plans) {
  const candidates = entries.filter((e) => !isDicomdir(e) && !isJunk(e))
  if (!plans.length) return { files: candidates, fallback: false }
  const scopes = plans.map(([path, list]) => {
    const dir = pathKey(dirName(cleanPath(path)))
    const wanted = Array.isArray(list) ? new Set(list.map((p) => pathKey(dir ? `${dir}/${p}` : p))) : null
    return { dir, wanted, matched: 0 }
  })
  scopes.sort((a, b) => b.dir.length - a.dir.length)
  const scopeOf = (key) => scopes.find((s) => !s.dir || key.startsWith(`${s.dir}/`)) || null
  const keyed = candidates.map((entry) => {
    const key = pathKey(entry.path)
    const scope = scopeOf(key)
    if (scope && scope.wanted && scope.wanted.has(key)) scope.matched++
    return { entry, key, scope }
  })
  let fallback = false
  for (const scope of scopes) {
    if (!scope.wanted || scope.matched === 0) {
      scope.wanted = null
      fallback = true
    }
  }
  const files = keyed
    .filter(({ entry, key, scope }) => !scope || !scope.wanted || scope.wanted.has(key) || isPdf(entry))
    .map(({ entry }) => entry)
  return { files, fallback }
}

// Consecutive groups of at most GROUP_FILES files and GROUP_BYTES (a bigger file goes alone).
export function groupsOf (items, maxFiles = GROUP_FILES, maxBytes = GROUP_BYTES) {
  const groups = []
  let current = []
  let bytes = 0
  for (const item of items) {
    const size = item.file.size
    if (current.length && (current.length >= maxFiles || bytes + size > maxBytes)) {
      groups.push(current)
      current = []
      bytes = 0
    }
    current.push(item)
    bytes += size
  }
  if (current.length) groups.push(current)
  return groups
}
