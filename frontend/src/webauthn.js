// Passkey ceremonies for the server-rendered MFA pages (docs/security.md, Multi-factor
// authentication). A button [data-webauthn="create"|"get"] carries the server's options as JSON
// in data-webauthn-options; the browser's answer goes into the form's hidden
// webauthn_response field and the form is submitted. No inline script, no eval (strict CSP).

function fromB64url (text) {
  const b64 = text.replace(/-/g, '+').replace(/_/g, '/')
  const binary = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4))
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes.buffer
}

function toB64url (buffer) {
  const bytes = new Uint8Array(buffer)
  let binary = ''
  for (const b of bytes) binary += String.fromCharCode(b)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

function descriptors (list) {
  return (list || []).map((c) => ({ ...c, id: fromB64url(c.id) }))
}

function creationOptions (json) {
  const options = JSON.parse(json)
  options.challenge = fromB64url(options.challenge)
  options.user = { ...options.user, id: fromB64url(options.user.id) }
  options.excludeCredentials = descriptors(options.excludeCredentials)
  return options
}

function requestOptions (json) {
  const options = JSON.parse(json)
  options.challenge = fromB64url(options.challenge)
  options.allowCredentials = descriptors(options.allowCredentials)
  return options
}

function credentialJSON (credential) {
  const r = credential.response
  const response = { clientDataJSON: toB64url(r.clientDataJSON) }
  if (r.attestationObject) {
    response.attestationObject = toB64url(r.attestationObject)
    if (typeof r.getTransports === 'function') response.transports = r.getTransports()
  }
  if (r.authenticatorData) {
    response.authenticatorData = toB64url(r.authenticatorData)
    response.signature = toB64url(r.signature)
    if (r.userHandle) response.userHandle = toB64url(r.userHandle)
  }
  return {
    id: credential.id,
    rawId: toB64url(credential.rawId),
    type: credential.type,
    response,
    authenticatorAttachment: credential.authenticatorAttachment || undefined,
    clientExtensionResults: credential.getClientExtensionResults()
  }
}

async function ceremony (button) {
  const form = button.closest('form')
  if (!form) return
  const status = form.querySelector('[data-webauthn-status]')
  const say = (text) => { if (status) status.textContent = text || '' }
  if (!window.PublicKeyCredential || !navigator.credentials) {
    say(button.dataset.unsupported)
    return
  }
  if (!form.reportValidity()) return
  const json = button.dataset.webauthnOptions
  button.disabled = true
  say('')
  try {
    const credential = button.dataset.webauthn === 'create'
      ? await navigator.credentials.create({ publicKey: creationOptions(json) })
      : await navigator.credentials.get({ publicKey: requestOptions(json) })
    if (!credential) throw new Error('no credential')
    form.querySelector('input[name="webauthn_response"]').value = JSON.stringify(credentialJSON(credential))
    form.submit()
  } catch (error) {
    say(button.dataset.failed)
    button.disabled = false
  }
}

document.addEventListener('click', (event) => {
  const target = event.target
  const button = target instanceof Element ? target.closest('button[data-webauthn]') : null
  if (!button) return
  event.preventDefault()
  ceremony(button)
})
