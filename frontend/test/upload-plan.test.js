// The upload plan and groups (src/upload/plan.js) against the golden vectors the hds upload
// client passes too (tests/archive/test_upload_rules.py), with the shared limits.
import { describe, expect, test } from 'vitest'
import rules from '../../src/hds/data/upload_rules.json'
import vectors from '../../tests/vectors/upload_plans.json'
import {
  GROUP_BYTES, GROUP_FILES, RETRY_DELAYS_S, applyPlans, dicomdirsOf, groupsOf, isJunk, pathKey
} from '../src/upload/plan.js'

const entry = ([path, size]) => ({ path, file: { size } })
const paths = (entries) => entries.map((e) => e.path)

test('the limits come from the shared rules', () => {
  expect(GROUP_FILES).toBe(rules.group_files)
  expect(GROUP_BYTES).toBe(8 * 1024 * 1024)
  expect(RETRY_DELAYS_S).toEqual([1, 3, 9])
})

describe('golden vectors', () => {
  test.each(vectors.cases.map((c) => [c.name, c]))('%s', (_name, c) => {
    const entries = c.files.map(entry)
    const plans = dicomdirsOf(entries).map((d) => [d.path, c.plans[d.path] ?? null])
    expect(plans.length).toBe(Object.keys(c.plans).length)
    const { files, fallback } = applyPlans(entries, plans)
    expect(paths(files)).toEqual(c.expected.files)
    expect(fallback).toBe(c.expected.fallback)
    expect(groupsOf(files).map(paths)).toEqual(c.expected.groups)
  })
})

test('DICOMDIRs are asked for deepest folder first', () => {
  const entries = [['a/DICOMDIR', 1], ['a/b/c/DICOMDIR', 1], ['DICOMDIR', 1], ['a/b/DICOMDIR', 1]].map(entry)
  expect(paths(dicomdirsOf(entries))).toEqual(['a/b/c/DICOMDIR', 'a/b/DICOMDIR', 'a/DICOMDIR', 'DICOMDIR'])
})

test('empty files and system clutter never go up', () => {
  expect(isJunk(entry(['x/Thumbs.db', 10]))).toBe(true)
  expect(isJunk(entry(['x/.DS_Store', 10]))).toBe(true)
  expect(isJunk(entry(['x/IM1', 0]))).toBe(true)
  expect(isJunk(entry(['x/IM1', 1]))).toBe(false)
  const { files } = applyPlans([['x/desktop.ini', 5], ['x/IM1', 5]].map(entry), [])
  expect(paths(files)).toEqual(['x/IM1'])
})

test('path keys ignore case, ISO 9660 suffixes, trailing dots and backslashes', () => {
  expect(pathKey('CD\\DICOM\\IM000001.;1')).toBe('cd/dicom/im000001')
  expect(pathKey('/CD//./IM2;12')).toBe('cd/im2')
})
