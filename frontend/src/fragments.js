// Secrets in URL fragments: links in mails and QR codes carry tokens and codes after "#"
// (e.g. /code/#t=TOKEN&ac=ABCD1234EFGH5678), which browsers never send to the server or in
// Referer headers. On load we copy them into the form and drop the fragment from the address
// bar and history.
//
//   <input type="hidden" name="token" data-fragment="t">       gets the value of "t"
//   <div class="code-input" data-code-input data-fragment="ac"> gets "ac" split into its groups
//   <p data-fragment-missing="t,ac">…</p>                       hidden unless t or ac is missing

export function applyFragmentSecrets ({ setCodeInputValue }) {
  const present = new Set()
  const raw = window.location.hash.replace(/^#/, '')
  // Only "key=value" fragments are secrets; a plain "#section" anchor is left alone.
  if (raw.includes('=')) {
    const params = new URLSearchParams(raw)
    for (const [key, value] of params) {
      if (!value) continue
      present.add(key)
      const selector = `[data-fragment="${CSS.escape(key)}"]`
      for (const el of document.querySelectorAll(`input${selector}, textarea${selector}`)) {
        el.value = value
        el.dispatchEvent(new Event('input', { bubbles: true }))
        el.dispatchEvent(new Event('change', { bubbles: true }))
      }
      for (const el of document.querySelectorAll(`[data-code-input]${selector}`)) {
        setCodeInputValue(el, value)
      }
    }
    window.history.replaceState(null, '', window.location.pathname + window.location.search)
  }

  for (const el of document.querySelectorAll('[data-fragment-missing]')) {
    const required = el.getAttribute('data-fragment-missing')
      .split(',').map((key) => key.trim()).filter(Boolean)
    if (required.every((key) => present.has(key))) el.hidden = true
  }
}
