// Proof of work (src/pow.js): leading zero bits, and the solver with an injected digest.
import { createHash } from 'node:crypto'
import { expect, test } from 'vitest'
import { leadingZeroBits, solveChallenge } from '../src/pow.js'

test('leading zero bits of a hash', () => {
  expect(leadingZeroBits(new Uint8Array([0x80]))).toBe(0)
  expect(leadingZeroBits(new Uint8Array([0x01]))).toBe(7)
  expect(leadingZeroBits(new Uint8Array([0x00, 0x00, 0x10, 0xff]))).toBe(19)
  expect(leadingZeroBits(new Uint8Array([0x00, 0x00]))).toBe(16)
  expect(leadingZeroBits(new Uint8Array([]))).toBe(0)
})

test('the solver asks the digest for "challenge:nonce" until enough bits are zero', async () => {
  const asked = []
  // A fake digest: zero bytes for nonce 3 only.
  const digest = async (data) => {
    const text = new TextDecoder().decode(data)
    asked.push(text)
    return new Uint8Array(text.endsWith(':3') ? [0, 0, 0xff] : [0xff, 0, 0])
  }
  expect(await solveChallenge('abc', 16, digest)).toBe('3')
  expect(asked).toEqual(['abc:0', 'abc:1', 'abc:2', 'abc:3'])
})

test('with SHA-256 the answer has the bits the server checks', async () => {
  const sha256 = async (data) => new Uint8Array(createHash('sha256').update(data).digest())
  const nonce = await solveChallenge('1700000000.c2lnbmVk', 8, sha256)
  const hash = createHash('sha256').update(`1700000000.c2lnbmVk:${nonce}`).digest()
  expect(leadingZeroBits(hash)).toBeGreaterThanOrEqual(8)
  // The default digest (Web Crypto, in Node too) finds the same nonce.
  expect(await solveChallenge('1700000000.c2lnbmVk', 8)).toBe(nonce)
})
