// Proof of work on the login form while the service is under a password-guessing attack
// (docs/security.md, Throttling). The server signs a challenge and asks for `bits` leading zero
// bits of SHA-256(challenge ":" nonce); this finds the nonce and fills it in. A person's browser
// pays a few seconds once; a guessing botnet pays for every guess.

export function leadingZeroBits (bytes) {
  let count = 0
  for (const byte of bytes) {
    if (byte === 0) { count += 8; continue }
    return count + Math.clz32(byte) - 24
  }
  return count
}

export async function solveChallenge (challenge, bits, digest = sha256) {
  const encoder = new TextEncoder()
  for (let nonce = 0; nonce < 2 ** 31; nonce++) {
    const hash = await digest(encoder.encode(`${challenge}:${nonce}`))
    if (leadingZeroBits(hash) >= bits) return String(nonce)
  }
  throw new Error('no solution')
}

async function sha256 (data) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data))
}

async function guard (form) {
  const nonceInput = form.querySelector('input[name="pow_nonce"]')
  const status = form.querySelector('[data-pow-status]')
  if (!nonceInput) return
  let submitWhenDone = false
  form.addEventListener('submit', (event) => {
    if (!nonceInput.value) {
      event.preventDefault()
      submitWhenDone = true
    }
  })
  nonceInput.value = await solveChallenge(form.dataset.pow, Number(form.dataset.powBits))
  form.dataset.powDone = 'true'
  if (status && status.dataset.done) status.textContent = status.dataset.done
  if (submitWhenDone) form.requestSubmit()
}

export function initProofOfWork (root) {
  for (const form of root.querySelectorAll('form[data-pow]')) {
    if (form.dataset.powStarted) continue
    form.dataset.powStarted = 'true'
    guard(form)
  }
}
