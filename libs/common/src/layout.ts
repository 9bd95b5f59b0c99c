/** The on-disk layout every tool shares. All paths derive from the resolved config. */
import { join } from 'node:path';
import type { Config } from './schemas/config.ts';

export interface Layout {
  root: string;
  run: string;
  log: string;
  /** Staging area on the same filesystem as the stores, for atomic renames. */
  tmp: string;
  locks: string;
  images: { dir: string; index: string; lock: string; blobs: string; boot: string };
  vms: { dir: string; index: string; lock: string };
  snapshots: { dir: string; index: string; lock: string };
  networks: { dir: string; index: string; lock: string };
  /** CNI: where conflists are read (`--cni-conf-dir`) and plugins found (`--cni-bin-dir`, a PATH-style list). */
  cni: { confDir: string; binDir: string };
  /** Per VM: sockets, pid file, writable disks. */
  vmRunDir(id: string): string;
  /** Per VM: hypervisor and console logs. */
  vmLogDir(id: string): string;
}

/** Derives the layout from a config. */
export function layoutOf(cfg: Pick<Config, 'root_dir' | 'run_dir' | 'log_dir'> & Partial<Pick<Config, 'cni_conf_dir' | 'cni_bin_dir'>>): Layout {
  const root = cfg.root_dir;
  const locks = join(root, 'locks');
  const module = (name: string) => ({
    dir: join(root, name),
    index: join(root, name, 'index.json'),
    lock: join(locks, `${name}.lock`),
  });
  const images = module('images');
  return {
    root,
    run: cfg.run_dir,
    log: cfg.log_dir,
    tmp: join(root, 'tmp'),
    locks,
    images: { ...images, blobs: join(images.dir, 'blobs', 'sha256'), boot: join(images.dir, 'boot') },
    vms: module('vms'),
    snapshots: module('snapshots'),
    networks: module('networks'),
    cni: { confDir: cfg.cni_conf_dir ?? '/etc/cni/net.d', binDir: cfg.cni_bin_dir ?? '/opt/cni/bin:/usr/lib/cni' },
    vmRunDir: (id) => join(cfg.run_dir, id),
    vmLogDir: (id) => join(cfg.log_dir, id),
  };
}
