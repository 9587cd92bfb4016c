// Window (VOI) presets and an automatic window from the pixels (for MR and anything without
// a stored window).

// Centre/width in HU, as commonly used for CT reading.
export const PRESETS = {
  soft: { center: 40, width: 400 },
  lung: { center: -600, width: 1500 },
  bone: { center: 400, width: 1800 },
  brain: { center: 40, width: 80 },
  abdomen: { center: 60, width: 400 }
}

// PS3.3 C.11.2.1.2.1 (linear): the range Cornerstone maps from a centre and width, and back.
export function presetRange ({ center, width }) {
  return { lower: center - 0.5 - (width - 1) / 2, upper: center - 0.5 + (width - 1) / 2 }
}

export function windowOf ({ lower, upper }) {
  return { width: Math.abs(upper - lower) + 1, center: (lower + upper + 1) / 2 }
}

// The 1st to 99th percentile of a sample of the displayed pixels (after the modality LUT).
export function autoWindow (image) {
  const data = image.getPixelData ? image.getPixelData() : null
  if (!data || !data.length) return null
  const samples = Math.min(data.length, 65536)
  const stride = Math.max(1, Math.floor(data.length / samples))
  const slope = image.preScale && image.preScale.scaled ? 1 : (image.slope ?? 1)
  const intercept = image.preScale && image.preScale.scaled ? 0 : (image.intercept ?? 0)
  const picked = new Float64Array(Math.ceil(data.length / stride))
  let n = 0
  for (let i = 0; i < data.length; i += stride) picked[n++] = data[i] * slope + intercept
  const sorted = picked.subarray(0, n).sort()
  const lower = sorted[Math.floor(n * 0.01)]
  let upper = sorted[Math.min(n - 1, Math.floor(n * 0.99))]
  if (!(upper > lower)) upper = lower + 1
  return { lower, upper }
}
