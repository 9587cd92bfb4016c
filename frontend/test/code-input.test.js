// Code normalisation (src/code-input.js): Crockford base32, as the server normalises.
import { expect, test } from 'vitest'
import { normalizeCode } from '../src/code-input.js'

test('upper case, O read as 0, I and L as 1', () => {
  expect(normalizeCode('abcd-efgh')).toBe('ABCDEFGH')
  expect(normalizeCode('oOiIlL')).toBe('001111')
})

test('separators and letters outside the alphabet go', () => {
  expect(normalizeCode(' 12 34-56_78 ')).toBe('12345678')
  expect(normalizeCode('UuÄ!?')).toBe('')
  expect(normalizeCode('0123456789ABCDEFGHJKMNPQRSTVWXYZ')).toBe('0123456789ABCDEFGHJKMNPQRSTVWXYZ')
})

test('nothing gives an empty code', () => {
  expect(normalizeCode(null)).toBe('')
  expect(normalizeCode(undefined)).toBe('')
  expect(normalizeCode('')).toBe('')
})
