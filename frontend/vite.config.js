import { defineConfig } from 'vite'

// Entries: the page script, and the Cornerstone3D viewer (src/viewer/, see docs/viewer.md).
const input = {
  pages: 'src/pages.js',
  viewer: 'src/viewer/main.js'
}
const entryNames = new Set(Object.keys(input))

// Django serves frontend/dist/ under /static/, so templates use {% static 'pages.js' %} and
// {% static 'pages.css' %}: entry scripts and their CSS keep fixed names without hashes.
export default defineConfig({
  base: '/static/',
  publicDir: false,
  // The decode worker imports its codecs lazily: an ES module worker keeps those imports.
  worker: {
    format: 'es'
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    manifest: false,
    sourcemap: false,
    // The lazily loaded password dictionaries are big by nature (English 1.2 MB, German
    // 0.8 MB, common 0.4 MB); pages.js itself stays around 70 kB.
    // viewer.js (Cornerstone's rendering, tools and loader) is about 3.7 MB by nature.
    chunkSizeWarningLimit: 4000,
    // (Vite 8 name; `rollupOptions` is its deprecated alias.)
    rolldownOptions: {
      input,
      onLog (level, log, handler) {
        // htmx's eval sits behind htmx.config.allowEval, which pages.js turns off (and the CSP
        // has no 'unsafe-eval'); report direct eval anywhere else.
        if (log.code === 'EVAL' && /[\\/]node_modules[\\/]htmx\.org[\\/]/.test(log.id || '')) return
        handler(level, log)
      },
      output: {
        entryFileNames: '[name].js',
        // chunks/[name]-[hash].js, where a chunk made for a package is named after the package
        // (chunks/zxcvbn-ts-language-en-….js rather than chunks/dist-….js).
        chunkFileNames (chunk) {
          const pkg = /[\\/]node_modules[\\/]((?:@[^\\/]+[\\/])?[^\\/]+)/.exec(chunk.facadeModuleId || '')
          const name = pkg ? pkg[1].replace(/^@/, '').replace(/[\\/]/g, '-') : '[name]'
          return `chunks/${name}-[hash].js`
        },
        assetFileNames (asset) {
          const names = asset.names || (asset.name ? [asset.name] : [])
          const isEntryCss = names.some((n) => n.endsWith('.css') && entryNames.has(n.slice(0, -4)))
          return isEntryCss ? '[name][extname]' : 'assets/[name]-[hash][extname]'
        }
      }
    }
  }
})
