// phases.mjs FILE: reads `cocoon-image pull --progress json` NDJSON from FILE and prints
// "<download seconds> <convert seconds> <downloaded bytes>": each phase from its first start
// event to its last done event (so process start-up and the manifest fetch are excluded).
// Layers are extracted while they download; `convert` is then mkfs.erofs alone, overlapping
// the downloads of other layers.
import { readFileSync } from 'node:fs';

const events = readFileSync(process.argv[2] ?? '', 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const span = (phase) => {
  const mine = events.filter((e) => e.phase === phase && e.state !== 'cached');
  const start = Math.min(...mine.filter((e) => e.state === 'start').map((e) => Date.parse(e.ts)));
  const end = Math.max(...mine.filter((e) => e.state === 'done').map((e) => Date.parse(e.ts)));
  return mine.length ? ((end - start) / 1000).toFixed(3) : '0';
};
const bytes = events.filter((e) => e.phase === 'download' && e.state === 'done').reduce((n, e) => n + e.bytes, 0);
console.log(`${span('download')} ${span('convert')} ${bytes}`);
