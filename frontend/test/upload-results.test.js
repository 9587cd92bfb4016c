// The uploader's pure parts beside the plan: what the server's answers mean
// (src/upload/results.js) and the texts (src/upload/labels.js).
import { describe, expect, test } from 'vitest'
import { DEFAULT_LABELS, formatLabel, humanSize, parseLabels } from '../src/upload/labels.js'
import { detailOf, groupOutcome, isRetryable, safeLink, summaryOf } from '../src/upload/results.js'

const labels = DEFAULT_LABELS
const answer = (status, data, extra = {}) => ({ status, body: JSON.stringify(data), redirected: false, network: false, ...extra })

describe('groupOutcome', () => {
  test('one result per file, in order; unknown statuses are errors', () => {
    const res = answer(200, {
      results: [
        { name: 'a', status: 'stored', message: '', study_url: '/studies/1/' },
        { name: 'b', status: 'duplicate', message: 'already there' },
        { name: 'c', status: 'weird', message: 7 }
      ]
    })
    expect(groupOutcome(res, 3, labels)).toEqual({
      results: [
        { state: 'stored', message: '', studyUrl: '/studies/1/' },
        { state: 'duplicate', message: 'already there', studyUrl: undefined },
        { state: 'error', message: '', studyUrl: undefined }
      ],
      stop: null
    })
  })

  test('a 2xx without one result per file: unexpected for every file', () => {
    const { results, stop } = groupOutcome(answer(200, { results: [] }), 2, labels)
    expect(results.map((r) => r.message)).toEqual([labels.unexpected, labels.unexpected])
    expect(stop).toBe(null)
  })

  test('a redirect (the login page): unexpected, and the queue stops', () => {
    const { results, stop } = groupOutcome(answer(200, {}, { redirected: true }), 1, labels)
    expect(results[0].state).toBe('error')
    expect(stop).toBe(labels.unexpected)
  })

  test('413 with per-file results: those results, then the stop with the detail', () => {
    const res = answer(413, { detail: 'Storage full', results: [{ status: 'stored' }, { status: 'error', message: 'full' }] })
    const { results, stop } = groupOutcome(res, 2, labels)
    expect(results.map((r) => r.state)).toEqual(['stored', 'error'])
    expect(stop).toBe('Storage full')
  })

  test('other refusals: the detail (or the status) for every file; 401 and 403 stop', () => {
    expect(groupOutcome(answer(400, { detail: 'Bad' }), 2, labels)).toEqual({
      results: [{ state: 'error', message: 'Bad', studyUrl: undefined }, { state: 'error', message: 'Bad', studyUrl: undefined }],
      stop: null
    })
    expect(groupOutcome({ status: 403, body: '<html>', redirected: false }, 1, labels)).toEqual({
      results: [{ state: 'error', message: 'failed (HTTP 403)', studyUrl: undefined }],
      stop: 'failed (HTTP 403)'
    })
    expect(groupOutcome(answer(401, { detail: 'Log in' }), 1, labels).stop).toBe('Log in')
  })
})

test('retryable: the connection, 5xx, 408, 429', () => {
  expect(isRetryable({ network: true, status: 0 })).toBe(true)
  for (const status of [500, 503, 408, 429]) expect(isRetryable({ network: false, status })).toBe(true)
  for (const status of [200, 400, 401, 403, 413]) expect(isRetryable({ network: false, status })).toBe(false)
})

test('detail only when it is a non-empty string', () => {
  expect(detailOf({ detail: 'x' })).toBe('x')
  expect(detailOf({ detail: ['x'] })).toBe('')
  expect(detailOf(null)).toBe('')
})

test('study links only into this site', () => {
  const location = new URL('https://hds.example.org/upload/')
  expect(safeLink('/studies/5/', location)).toBe('/studies/5/')
  expect(safeLink('https://hds.example.org/studies/5/?a=1#b', location)).toBe('/studies/5/?a=1#b')
  expect(safeLink('https://evil.example/studies/5/', location)).toBe(null)
  expect(safeLink('javascript:alert(1)', location)).toBe(null)
  expect(safeLink('', location)).toBe(null)
  expect(safeLink(5, location)).toBe(null)
})

test('the summary counts results and the files never attempted', () => {
  const items = [{ outcomes: ['stored'] }, { outcomes: ['duplicate'] }, { outcomes: ['error'] }, { outcomes: [] }]
  expect(summaryOf(items)).toEqual({ stored: 1, duplicates: 1, errors: 1, total: 4, skipped: 1 })
})

test('labels: placeholders, %%, unknown names stay; page labels over the defaults', () => {
  expect(formatLabel('%(a)s of %(b)s, 100%%, %(c)s', { a: 'x', b: 'y' })).toBe('x of y, 100%, %(c)s')
  const parsed = parseLabels('{"done": "Fertig.", "stored": "", "x": 1}')
  expect(parsed.done).toBe('Fertig.')
  expect(parsed.stored).toBe(DEFAULT_LABELS.stored)
  expect(parseLabels('not json')).toEqual(DEFAULT_LABELS)
})

test('sizes are 1024-based like Django\'s filesizeformat', () => {
  const one = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 })
  expect(humanSize(0)).toBe('0 B')
  expect(humanSize(1023)).toBe(`${new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 }).format(1023)} B`)
  expect(humanSize(1536)).toBe(`${one.format(1.5)} KB`)
  expect(humanSize(8 * 1024 * 1024)).toBe('8 MB')
})
