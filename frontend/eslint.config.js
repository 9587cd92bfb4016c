// ESLint (flat config): @eslint/js's recommended rules on the page scripts and the viewer
// (browser globals), the configs and tests (Node globals). Run by `npm run lint`, which
// scripts/test.sh runs before pytest (docs/architecture.md).
import js from '@eslint/js'
import globals from 'globals'

export default [
  {
    ignores: ['dist/', 'node_modules/']
  },
  js.configs.recommended,
  {
    files: ['src/**/*.js'],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'module',
      globals: globals.browser
    }
  },
  {
    files: ['*.config.js', 'test/**/*.js'],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'module',
      globals: globals.node
    }
  },
  {
    rules: {
      // `catch (_)` and unused arguments named with a leading underscore are deliberate.
      'no-unused-vars': ['error', { args: 'after-used', argsIgnorePattern: '^_', caughtErrors: 'none' }]
    }
  }
]
