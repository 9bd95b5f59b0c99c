// Third-party notices for the packaged executable: the bundles are built without legal
// comments (smaller text to load at every start), so the licences of what they contain are
// shipped beside the executable instead, in one file: every npm package esbuild put into a
// bundle (read from the metafiles), the native addon of node-pty, and Node.js itself (the
// executable IS a copy of the node binary).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Package folders (`…/node_modules/name` or `…/node_modules/@scope/name`) of the bundles' inputs. */
export function bundledPackages(root, metafiles) {
  const dirs = new Set();
  for (const meta of metafiles) {
    for (const input of Object.keys(meta.inputs)) {
      const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (m?.[1]) dirs.add(resolve(root, m[1]));
    }
  }
  return [...dirs];
}

function licenceText(dir) {
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying|notice)(\.(md|txt))?$/i.test(f));
  return file ? readFileSync(join(dir, file), 'utf8').trim() : null;
}

/** The Node.js licence of the binary being packaged (distributions put it in different places). */
function nodeLicence(execPath) {
  const prefix = dirname(dirname(execPath));
  const candidates = [join(prefix, 'share/doc/nodejs/LICENSE'), join(prefix, 'share/doc/node/LICENSE'), '/usr/share/doc/nodejs/copyright'];
  const found = candidates.find((f) => existsSync(f));
  return found ? readFileSync(found, 'utf8').trim() : null;
}

/**
 * Writes `out`: one section per package (name, version, licence id, licence text). Throws when
 * a package has no licence text at all (rather than ship a bundle whose notice is missing).
 */
export function writeNotices(out, packageDirs, execPath) {
  const sections = [];
  const seen = new Set();
  for (const dir of packageDirs.sort()) {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const key = `${pkg.name}@${pkg.version}`;
    if (seen.has(key) || pkg.name?.startsWith('@cocoon/')) continue;
    seen.add(key);
    const text = licenceText(dir);
    if (!text && !pkg.license) throw new Error(`${dir}: no licence file and no "license" in package.json`);
    sections.push(`${key} (${pkg.license ?? 'see below'})\n\n${text ?? `Licensed under ${pkg.license}; the package ships no licence text.`}`);
  }
  const node = nodeLicence(execPath);
  sections.push(`Node.js ${process.version} (MIT; the executable is a copy of the node binary)\n\n${node ?? 'See https://github.com/nodejs/node/blob/main/LICENSE'}`);
  const head = 'cocoon: third-party software in this executable and its addons, with their licences.\n';
  writeFileSync(out, `${head}\n${sections.map((s) => `${'='.repeat(78)}\n${s}\n`).join('\n')}`);
  return sections.length;
}
