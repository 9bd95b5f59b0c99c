/**
 * Just enough ELF64 reading for the default guest build: a kernel module's `.modinfo`
 * strings (its `depends=`), and whether an executable is static (no PT_INTERP), which
 * tells a busybox-static binary from the dynamic one that cannot run in an initramfs.
 */
import { InvalidDataError } from '@cocoon/common/errors';

function checkElf64(buf: Buffer, what: string): void {
  const ok = buf.length >= 64 && buf.readUInt32BE(0) === 0x7f454c46 && buf[4] === 2 && buf[5] === 1;
  if (!ok) throw new InvalidDataError(`${what}: not a little-endian ELF64 file`);
}

/** The NUL-separated `key=value` strings of a module's `.modinfo` section. */
export function readModinfo(buf: Buffer, what: string): Map<string, string[]> {
  checkElf64(buf, what);
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const shstrndx = buf.readUInt16LE(0x3e);
  const section = (i: number) => {
    const at = shoff + i * shentsize;
    if (at + 64 > buf.length) throw new InvalidDataError(`${what}: truncated section table`);
    return { name: buf.readUInt32LE(at), offset: Number(buf.readBigUInt64LE(at + 24)), size: Number(buf.readBigUInt64LE(at + 32)) };
  };
  const names = section(shstrndx);
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const start = names.offset + s.name;
    const name = buf.toString('latin1', start, buf.indexOf(0, start));
    if (name !== '.modinfo') continue;
    const info = new Map<string, string[]>();
    for (const item of buf.toString('utf8', s.offset, s.offset + s.size).split('\0')) {
      const eq = item.indexOf('=');
      if (eq <= 0) continue;
      const key = item.slice(0, eq);
      info.set(key, [...(info.get(key) ?? []), item.slice(eq + 1)]);
    }
    return info;
  }
  throw new InvalidDataError(`${what}: no .modinfo section (not a kernel module?)`);
}

/** Whether an ELF executable is statically linked (has no program interpreter). */
export function isStaticElf(buf: Buffer, what: string): boolean {
  checkElf64(buf, what);
  const phoff = Number(buf.readBigUInt64LE(0x20));
  const phentsize = buf.readUInt16LE(0x36);
  const phnum = buf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > buf.length) throw new InvalidDataError(`${what}: truncated program header table`);
    if (buf.readUInt32LE(at) === 3) return false; // PT_INTERP
  }
  return true;
}
