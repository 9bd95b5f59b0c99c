/**
 * Firecracker boots an uncompressed ELF kernel; images ship a bzImage. The payload is found
 * by its compression magic (as the kernel's own scripts/extract-vmlinux does), decompressed
 * with the standard tool and kept once beside the bzImage (written to a temp file and
 * renamed, so a reader never sees half a kernel).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { InvalidDataError } from '../../errors.ts';
import { vmlinuxPath } from './requests.ts';

const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
const CODECS: Array<{ name: string; magic: Buffer; decode: (data: Buffer) => Promise<Buffer> }> = [
  { name: 'gzip', magic: Buffer.from([0x1f, 0x8b, 0x08]), decode: async (d) => gunzipSync(d, { finishFlush: 2 }) },
  { name: 'xz', magic: Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]), decode: (d) => tool('xz', ['-dc', '--single-stream'], d) },
  { name: 'zstd', magic: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), decode: (d) => tool('zstd', ['-dcq'], d) },
  // Debian's 6.1 kernels are LZ4 (legacy frame format).
  { name: 'lz4', magic: Buffer.from([0x02, 0x21, 0x4c, 0x18]), decode: (d) => tool('lz4', ['-dcq'], d) },
];

async function tool(file: string, args: string[], input: Buffer): Promise<Buffer> {
  // NOTE: trailing data after the compressed stream makes the tools exit non-zero; the ELF check decides.
  const { execa } = await import('execa');
  const r = await execa(file, args, { input, encoding: 'buffer', reject: false, stripFinalNewline: false });
  return Buffer.from(r.stdout);
}

/** The path of the ELF kernel for `kernel` (itself when it is ELF already), extracting it once. */
export async function ensureVmlinux(kernel: string): Promise<string> {
  const fh = await open(kernel, 'r');
  const head = Buffer.alloc(4);
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (head.equals(ELF)) return kernel;
  const target = vmlinuxPath(kernel);
  if (existsSync(target)) return target;
  const data = await readFile(kernel);
  for (const codec of CODECS) {
    for (let at = data.indexOf(codec.magic); at >= 0; at = data.indexOf(codec.magic, at + 1)) {
      const out = await codec.decode(data.subarray(at)).catch(() => Buffer.alloc(0));
      if (out.subarray(0, 4).equals(ELF)) {
        const tmp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
        try {
          await writeFile(tmp, out, { mode: 0o644 });
          await rename(tmp, target);
        } finally {
          await rm(tmp, { force: true });
        }
        return target;
      }
    }
  }
  throw new InvalidDataError(`${kernel}: no gzip, xz, zstd or lz4 payload that decompresses to an ELF kernel (Firecracker needs one)`);
}

