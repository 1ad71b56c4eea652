/**
 * The layers of src/ and the only directions imports may take (README: Layout). A folder may
 * import its own files and the folders listed for it; everything else is a violation, and so is
 * any cycle. `npm run lint` runs this.
 */
const ALLOWED = {
  cli: ['monitor', 'serving', 'ann', 'engine', 'train', 'eval', 'registry', 'model', 'batch', 'session', 'ingest', 'kafka', 'metrics', 'data', 'config', 'errors', 'random'],
  monitor: ['ingest', 'kafka', 'metrics', 'data', 'config', 'errors'],
  serving: ['ann', 'engine', 'registry', 'model', 'batch', 'session', 'ingest', 'kafka', 'metrics', 'data', 'config', 'errors', 'random'],
  ann: ['errors', 'random'],
  engine: ['ann', 'model', 'data', 'config', 'errors', 'random'],
  train: ['engine', 'eval', 'registry', 'model', 'session', 'ingest', 'kafka', 'metrics', 'data', 'config', 'errors', 'random'],
  eval: ['model', 'data', 'errors', 'random'],
  registry: ['model', 'kafka', 'data', 'config', 'errors'],
  model: ['data', 'errors', 'random'],
  batch: ['errors'],
  session: ['errors'],
  ingest: ['data', 'config', 'errors'],
  kafka: ['config', 'errors'],
  metrics: ['errors'],
  data: ['errors', 'random'],
  config: ['errors'],
  errors: [],
  random: [],
};

const layers = Object.keys(ALLOWED);
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'Import cycles make layers meaningless.', from: {}, to: { circular: true } },
    {
      name: 'no-unknown-folder',
      severity: 'error',
      comment: 'Every folder under src/ has a place in the layer table above.',
      from: { path: '^src/' },
      to: { path: `^src/(?!(${layers.join('|')})/)` },
    },
    ...layers.map((layer) => ({
      name: `layer-${layer}`,
      severity: 'error',
      comment: `src/${layer} may import only: ${ALLOWED[layer].join(', ') || 'nothing outside itself'}`,
      from: { path: `^src/${layer}/` },
      to: { path: '^src/', pathNot: `^src/(${[layer, ...ALLOWED[layer]].join('|')})/` },
    })),
    {
      name: 'src-stays-in-src',
      severity: 'error',
      comment: 'Shipped code does not import tests, benchmarks or developer scripts.',
      from: { path: '^src/' },
      to: { path: '^(test|bench|scripts)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
