// zxcvbn-ts and its dictionaries (common, English, German; about 2.4 MB, 1.2 MB gzipped) are
// loaded on demand (strength-meter.js calls this on the first focus of a password field), each
// package as its own chunk, fetched in parallel and cached separately; none is in pages.js.

export async function createEngine (lang) {
  const [{ ZxcvbnFactory }, common, en, de] = await Promise.all([
    import('@zxcvbn-ts/core'),
    import('@zxcvbn-ts/language-common'),
    import('@zxcvbn-ts/language-en'),
    import('@zxcvbn-ts/language-de')
  ])
  // language-de (3.x) names its lists without a language suffix; give them one so they sit
  // beside the English ones ("commonWords-en") the way zxcvbn-ts 4 names them.
  const german = Object.fromEntries(
    Object.entries(de.dictionary).map(([name, list]) => [name.endsWith('-de') ? name : `${name}-de`, list])
  )
  const options = {
    dictionary: { ...common.dictionary, ...en.dictionary, ...german },
    graphs: common.adjacencyGraphs,
    translations: lang.startsWith('de') ? de.translations : en.translations,
    useLevenshteinDistance: true
  }
  try {
    return new ZxcvbnFactory(options)
  } catch (_) {
    // A translations object that does not fit this core version: keep the English ones.
    return new ZxcvbnFactory({ ...options, translations: en.translations })
  }
}
