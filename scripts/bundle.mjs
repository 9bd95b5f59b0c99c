#!/usr/bin/env node
// Bundles one bin (bins/<tool>/src/main.ts) into bins/<tool>/dist/<tool>.cjs with esbuild.
// CommonJS output because Node's single-executable applications run a CommonJS main;
// `import.meta.url` is mapped to the bundle's own file URL.
import { build } from 'esbuild';
import { basename, resolve } from 'node:path';

const dir = resolve(process.argv[2] ?? process.cwd());
const tool = basename(dir);
await build({
  entryPoints: [resolve(dir, 'src/main.ts')],
  outfile: resolve(dir, 'dist', `${tool}.cjs`),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: false,
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
  define: { 'import.meta.url': '__cocoon_import_meta_url' },
  banner: { js: "const __cocoon_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
});
