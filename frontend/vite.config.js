import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { defineConfig } from 'vite'

// Entries: the page script, and the Cornerstone3D viewer (src/viewer/, see docs/viewer.md).
const input = {
  pages: 'src/pages.js',
  viewer: 'src/viewer/main.js',
  // A few hundred bytes that start the first series' metadata request while viewer.js loads.
  'viewer-boot': 'src/viewer/boot.js',
  // Passkey ceremonies, loaded only by the MFA pages (src/hds/mfa/templates).
  webauthn: 'src/webauthn.js'
}
const entryNames = new Set(Object.keys(input))

// Django serves frontend/dist/ under /static/, so templates use {% static 'pages.js' %} and
// {% static 'pages.css' %}: entry scripts and their CSS keep fixed names without hashes.
// Precompressed siblings (name.js.gz, name.js.br) of the text assets: WhiteNoise serves them to
// browsers that accept them (viewer.js: 3.7 MB, about 0.8 MB as Brotli), which matters on phones.
function precompress () {
  const compressible = /\.(js|css|svg|wasm|json|html|txt|webmanifest)$/
  const walk = (dir) => readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? walk(path) : [path]
  })
  return {
    name: 'hds-precompress',
    apply: 'build',
    closeBundle () {
      for (const path of walk('dist')) {
        if (!compressible.test(path)) continue
        const data = readFileSync(path)
        if (data.length < 1024) continue
        writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }))
        writeFileSync(`${path}.br`, brotliCompressSync(data, {
          params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length }
        }))
      }
    }
  }
}

export default defineConfig({
  base: '/static/',
  plugins: [precompress()],
  publicDir: false,
  // src/upload/plan.js imports the upload rules the Python client reads too (docs/architecture.md);
  // the build reads any path, `vite` (dev server) only what is allowed here.
  server: {
    fs: {
      allow: ['.', '../src/hds/data']
    }
  },
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
