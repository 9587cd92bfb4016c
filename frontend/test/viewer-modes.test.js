// The viewer's modes (src/viewer/modes.js) and keyboard shortcuts (src/viewer/shortcuts.js).
import { expect, test } from 'vitest'
import { fullMode, modeFor, simpleMode } from '../src/viewer/modes.js'
import { shortcut, shortcutFor } from '../src/viewer/shortcuts.js'

test('?mode=simple picks the simple mode, anything else the full one', () => {
  expect(modeFor('simple')).toBe(simpleMode)
  expect(modeFor('full')).toBe(fullMode)
  expect(modeFor(undefined)).toBe(fullMode)
})

test('the simple mode: one pane, scrolling first, the brightness button toggles back', () => {
  expect(simpleMode.layouts).toEqual(['1x1'])
  expect(simpleMode.initialTool).toEqual({ touch: 'StackScroll', mouse: 'StackScroll' })
  expect(simpleMode.toggleBackTo).toBe('StackScroll')
  expect(fullMode.initialTool).toEqual({ touch: 'StackScroll', mouse: 'WindowLevel' })
  expect(fullMode.toggleBackTo).toBe(null)
  expect(Object.isFrozen(simpleMode)).toBe(true)
})

test('navigation keys work in both modes', () => {
  for (const mode of [fullMode, simpleMode]) {
    expect(shortcut('ArrowUp', mode)).toEqual({ group: 'navigate', action: 'scroll', argument: -1 })
    expect(shortcut('PageDown', mode)).toEqual({ group: 'navigate', action: 'scroll', argument: 10 })
    expect(shortcut('End', mode).action).toBe('last')
    expect(shortcut(' ', mode).action).toBe('cine')
    expect(shortcut('Escape', mode).action).toBe('reset')
    expect(shortcut('Backspace', mode).action).toBe('clear-measurements')
  }
  expect(shortcutFor('Tab', { shiftKey: true })).toEqual({ group: 'navigate', action: 'next-pane', argument: -1 })
})

test('tools, presets, view and layout keys only in the full mode', () => {
  expect(shortcut('W', fullMode)).toEqual({ group: 'tools', action: 'tool', argument: 'WindowLevel' })
  expect(shortcut('e', fullMode).argument).toBe('EllipticalROI')
  expect(shortcut('3', fullMode)).toEqual({ group: 'presets', action: 'preset', argument: 'lung' })
  expect(shortcut('0', fullMode).argument).toBe('auto')
  expect(shortcut('.', fullMode).action).toBe('rotate')
  expect(shortcut('H', fullMode).action).toBe('flip-h')
  expect(shortcut('g', fullMode).action).toBe('next-layout')
  for (const key of ['w', '3', '.', 'h', 'g']) expect(shortcut(key, simpleMode)).toBe(null)
})

test('other keys are not taken', () => {
  for (const key of ['x', 'Enter', '7', 'constructor', 'F5']) expect(shortcutFor(key)).toBe(null)
})
