// Vitest for the pure modules (no DOM, no browser): slice order, upload plan and groups, code
// normalisation, proof of work, and the golden vectors shared with the Python tests in
// tests/vectors/. The pages themselves are tested in a real browser (tests/browser/).
import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/**/*.test.js']
  }
})
