/**
 * Writes the entries of one layer tar into a staging folder, safely and faithfully:
 * owners, modes, mtimes, symlinks, hardlinks and device nodes are kept, OCI whiteouts become
 * overlayfs whiteouts, and no entry can write outside the folder (absolute names, `..`,
 * parents that are symlinks and hardlinks to outside are rejected with InvalidDataError).
 */
import { constants, chmodSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, rmSync, symlinkSync, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { errnoCode, ExternalError, InvalidDataError } from '@cocoon/common/errors';
import { native } from '@cocoon/common/native';
import { bytes, normalizeName } from './spool.ts';

/** The fields of a tar header the writer uses (tar-stream's `Header`). */
export interface EntryHeader {
  name: string;
  type?: string | null;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string | null;
  devmajor?: number;
  devminor?: number;
}

interface DirMeta {
  mode: number;
  uid: number;
  gid: number;
  mtime: Date | undefined;
}

const TYPE_BITS: Record<string, number> = { 'character-device': constants.S_IFCHR, 'block-device': constants.S_IFBLK, fifo: constants.S_IFIFO };
const OPAQUE = '.wh..wh..opq';
const IS_ROOT = process.getuid?.() === 0;

export class LayerWriter {
  private readonly dirs = new Map<string, DirMeta>();

  constructor(private readonly root: string, private readonly label: string) {}

  /** Writes one entry; `body` is consumed for regular files only (the caller drains the rest). */
  async write(header: EntryHeader, body: AsyncIterable<unknown>): Promise<void> {
    const name = normalizeName(header.name);
    if (name === null) this.fail(header.name, 'has an absolute path or a ".." component');
    if (name === '') {
      if (header.type === 'directory') this.dirs.set('', meta(header));
      return;
    }
    const parts = name.split('/');
    const base = parts.pop() as string;
    const parent = this.ensureParents(parts, header.name);
    if (base === OPAQUE) return this.opaque(parent, header.name);
    if (base.startsWith('.wh..wh.')) return; // aufs bookkeeping (e.g. .wh..wh.plnk): nothing to do
    if (base.startsWith('.wh.')) return this.whiteout(parent, base.slice(4), header.name);
    const path = `${parent}/${base}`;
    this.clear(path, header.type === 'directory');
    switch (header.type) {
      case 'directory':
        mkdirSync(path, { mode: 0o700, recursive: true });
        this.dirs.set(name, meta(header));
        return;
      case 'file':
      case 'contiguous-file':
      case null:
      case undefined:
        await writeFile(path, body);
        return this.finish(path, header, false);
      case 'symlink':
        symlinkSync(header.linkname ?? '', path);
        return this.finish(path, header, true);
      case 'link':
        return this.hardlink(path, header);
      case 'character-device':
      case 'block-device':
      case 'fifo':
        this.mknod(path, (TYPE_BITS[header.type] as number) | ((header.mode ?? 0o644) & 0o7777), header.devmajor ?? 0, header.devminor ?? 0);
        return this.finish(path, header, false);
      default:
        return; // pax/GNU meta entries are folded into headers by tar-stream
    }
  }

  /** Applies directory owners, modes and mtimes, deepest first (children touch parents' mtimes). */
  finalize(): void {
    // A layer without a "./" entry still gets an ordinary root directory (0755, root-owned).
    if (!this.dirs.has('')) this.dirs.set('', { mode: 0o755, uid: 0, gid: 0, mtime: undefined });
    const names = [...this.dirs.keys()].sort((a, b) => b.split('/').length - a.split('/').length);
    for (const name of names) {
      const path = name === '' ? this.root : `${this.root}/${name}`;
      const m = this.dirs.get(name) as DirMeta;
      if (IS_ROOT) lchownSync(path, m.uid, m.gid);
      chmodSync(path, m.mode);
      if (m.mtime) lutimesSync(path, m.mtime, m.mtime);
    }
  }

  /** Creates missing parent directories; refuses to go through a symlink or a file. */
  private ensureParents(parts: string[], entry: string): string {
    let path = this.root;
    for (const part of parts) {
      path = `${path}/${part}`;
      const st = lstatOrNull(path);
      if (st === null) mkdirSync(path, { mode: 0o755 });
      else if (st.isSymbolicLink()) this.fail(entry, `goes through the symlink "${path.slice(this.root.length + 1)}"`);
      else if (!st.isDirectory()) this.fail(entry, `has a parent "${path.slice(this.root.length + 1)}" that is not a directory`);
    }
    return path;
  }

  private opaque(dir: string, entry: string): void {
    const rc = native().lsetxattr(dir, 'trusted.overlay.opaque', 'y');
    if (rc !== 0) throw new ExternalError(`${this.label}: cannot mark "${entry}" opaque (errno ${rc}; needs root)`);
  }

  private whiteout(parent: string, target: string, entry: string): void {
    if (target === '' || target === '.' || target === '..') this.fail(entry, 'is a whiteout of nothing');
    const path = `${parent}/${target}`;
    this.clear(path, false);
    // NOTE: overlayfs marks a deleted lower file with a 0:0 character device of the same name.
    this.mknod(path, constants.S_IFCHR | 0o600, 0, 0);
  }

  private hardlink(path: string, header: EntryHeader): void {
    const target = normalizeName(header.linkname ?? '');
    if (target === null || target === '') this.fail(header.name, `is a hardlink to "${header.linkname}", outside the layer`);
    const parts = target.split('/');
    parts.pop();
    let dir = this.root;
    for (const part of parts) {
      dir = `${dir}/${part}`;
      const st = lstatOrNull(dir);
      if (!st?.isDirectory()) this.fail(header.name, `is a hardlink to "${header.linkname}", which does not stay inside the layer`);
    }
    const st = lstatOrNull(`${this.root}/${target}`);
    if (!st || st.isDirectory()) this.fail(header.name, `is a hardlink to "${header.linkname}", which is not an earlier file of the layer`);
    linkSync(`${this.root}/${target}`, path);
  }

  private mknod(path: string, mode: number, major: number, minor: number): void {
    const rc = native().mknod(path, mode, major, minor);
    if (rc !== 0) throw new ExternalError(`${this.label}: mknod ${path.slice(this.root.length)} failed (errno ${rc}; needs root)`);
  }

  /** Removes what an earlier entry left at `path` (a later entry wins), except dir over dir. */
  private clear(path: string, keepDir: boolean): void {
    const st = lstatOrNull(path);
    if (st === null || (keepDir && st.isDirectory())) return;
    rmSync(path, { recursive: true, force: true });
  }

  private finish(path: string, header: EntryHeader, symlink: boolean): void {
    if (IS_ROOT) lchownSync(path, header.uid ?? 0, header.gid ?? 0);
    // NOTE: chmod after chown: chown clears the setuid/setgid bits.
    if (!symlink) chmodSync(path, (header.mode ?? 0o644) & 0o7777);
    if (header.mtime) lutimesSync(path, header.mtime, header.mtime);
  }

  private fail(entry: string, why: string): never {
    throw new InvalidDataError(`${this.label}: entry "${entry}" ${why}; refusing to import`);
  }
}

async function writeFile(path: string, body: AsyncIterable<unknown>): Promise<void> {
  // NOTE: O_EXCL|O_NOFOLLOW: never write through something that appeared at this path.
  const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    for await (const chunk of body) await fh.write(bytes(chunk));
  } finally {
    await fh.close();
  }
}

function meta(h: EntryHeader): DirMeta {
  return { mode: (h.mode ?? 0o755) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, mtime: h.mtime };
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}

