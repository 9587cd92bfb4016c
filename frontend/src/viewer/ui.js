// Small DOM helpers. DICOM text only ever goes into textContent.

export function el (tag, className, text) {
  const node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined && text !== null) node.textContent = String(text)
  return node
}

export function formatNumber (n, digits = 0) {
  if (!Number.isFinite(n)) return ''
  return n.toLocaleString(document.documentElement.lang || undefined, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits
  })
}

// Phones and tablets: a smaller image cache, scrolling as the first tool, the series panel closed.
export const coarse = Boolean(window.matchMedia && window.matchMedia('(pointer: coarse)').matches)
