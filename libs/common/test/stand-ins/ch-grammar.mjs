// Cloud Hypervisor's command-line option grammar (v53, commit ae44c29: the option names the
// parsers in vmm/src/config.rs and cloud-hypervisor/src/main.rs accept, with the kind of each
// value), restated as data for the stand-in and the contract tests. `toggle` = on|off,
// `int` = a decimal integer, `size` = bytes with an optional K/M/G suffix, `str` = any value.
const pci = { id: 'str', pci_segment: 'int', pci_device_id: 'int' };
const iommu = { ...pci, iommu: 'toggle' };
const rate = { bw_size: 'size', bw_one_time_burst: 'size', bw_refill_time: 'int', ops_size: 'int', ops_one_time_burst: 'int', ops_refill_time: 'int' };

/** flag → { keys: {key: kind}, valueless?: [...] }; `null` = the flag takes no value. */
export const CH_OPTIONS = {
  '--api-socket': { keys: { path: 'str', fd: 'int' } },
  '--cpus': { keys: { boot: 'int', max: 'int', topology: 'str', kvm_hyperv: 'toggle', max_phys_bits: 'int', affinity: 'str', features: 'str', nested: 'toggle', core_scheduling: ['vm', 'vcpu', 'off'] } },
  '--memory': { keys: { size: 'size', mergeable: 'toggle', shared: 'toggle', hugepages: 'toggle', hugepage_size: 'size', hotplug_method: ['acpi', 'virtio-mem'], hotplug_size: 'size', hotplugged_size: 'size', prefault: 'toggle', reserve: 'toggle', thp: 'toggle' } },
  '--kernel': 'path',
  '--initramfs': 'path',
  '--cmdline': 'text',
  '--firmware': 'path',
  '--disk': { repeat: true, keys: { path: 'str', readonly: 'toggle', direct: 'toggle', ...iommu, num_queues: 'int', queue_size: 'int', vhost_user: 'toggle', socket: 'str', ...rate, rate_limit_group: 'str', queue_affinity: 'str', serial: 'str', backing_files: 'toggle', sparse: 'toggle', image_type: ['raw', 'qcow2', 'vhd', 'vhdx'], lock_granularity: ['byte-range', 'full'] } },
  '--net': { repeat: true, keys: { tap: 'str', ip: 'str', mask: 'str', mac: 'str', fd: 'str', ...iommu, num_queues: 'int', queue_size: 'int', vhost_user: 'toggle', socket: 'str', vhost_mode: ['client', 'server'], ...rate, offload_tso: 'toggle', offload_ufo: 'toggle', offload_csum: 'toggle' } },
  '--rng': { keys: { src: 'str', ...iommu } },
  '--balloon': { keys: { size: 'size', deflate_on_oom: 'toggle', free_page_reporting: 'toggle', ...iommu } },
  '--vsock': { keys: { cid: 'int', socket: 'str', ...iommu } },
  '--serial': { keys: { file: 'str', socket: 'str', ...iommu }, valueless: ['off', 'pty', 'tty', 'null'] },
  '--console': { keys: { file: 'str', socket: 'str', ...iommu }, valueless: ['off', 'pty', 'tty', 'null'] },
  '--watchdog': null,
  '--log-file': 'path',
  '--restore': { keys: { source_url: 'str', prefault: 'toggle', memory_restore_mode: ['copy', 'ondemand'], resume: ['true', 'false'] } },
};

/** Splits `a=1,b="x,y",c=[1,2]` at top-level commas (CH's rules: quotes and brackets nest). */
export function splitOptions(value) {
  const parts = [];
  let cur = '';
  let quoted = false;
  let depth = 0;
  for (const c of value) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '[') depth++;
    else if (!quoted && c === ']') depth--;
    if (c === ',' && !quoted && depth === 0) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  parts.push(cur);
  if (quoted || depth !== 0) throw new Error(`unbalanced quotes or brackets in "${value}"`);
  return parts;
}

const unquote = (v) => (v.startsWith('"') && v.endsWith('"') ? v.slice(1, -1) : v);

function checkKind(flag, key, kind, value) {
  const bad = () => new Error(`${flag} ${key}=${value}: not a valid ${Array.isArray(kind) ? kind.join('|') : kind}`);
  if (Array.isArray(kind)) {
    if (!kind.includes(value.toLowerCase())) throw bad();
  } else if (kind === 'toggle') {
    if (!['on', 'off', 'true', 'false'].includes(value)) throw bad();
  } else if (kind === 'int') {
    if (!/^\d+$/.test(value)) throw bad();
  } else if (kind === 'size') {
    if (!/^\d+[KMG]?$/.test(value)) throw bad();
  }
}

/** Parses one option value against the grammar: returns {key: value} (valueless modes as {mode}). */
export function parseOption(flag, value) {
  const spec = CH_OPTIONS[flag];
  if (spec === undefined) throw new Error(`unknown option ${flag}`);
  if (spec === null || typeof spec === 'string') throw new Error(`Assertion failed: ${flag} takes no key=value list`);
  const out = {};
  for (const part of splitOptions(value)) {
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (spec.valueless?.includes(part)) {
        out.mode = part;
        continue;
      }
      throw new Error(`${flag}: "${part}" is not key=value`);
    }
    const key = part.slice(0, eq);
    const v = unquote(part.slice(eq + 1));
    if (!(key in spec.keys)) throw new Error(`${flag}: unknown option "${key}"`);
    if (key in out) throw new Error(`${flag}: "${key}" given twice`);
    checkKind(flag, key, spec.keys[key], v);
    out[key] = v;
  }
  return out;
}

/**
 * Parses a whole CH argv into {flag: [values]} with the grammar (unknown flags, keys and
 * malformed values throw). Flags that take no value map to [true].
 */
export function parseArgv(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const spec = CH_OPTIONS[flag];
    if (spec === undefined) throw new Error(`unknown option ${flag}`);
    if (spec === null) {
      out[flag] = [true];
      continue;
    }
    const value = argv[++i];
    if (value === undefined || value.startsWith('--')) throw new Error(`${flag} needs a value`);
    const parsed = typeof spec === 'string' ? value : parseOption(flag, value);
    if (out[flag] && !(typeof spec === 'object' && spec.repeat)) throw new Error(`${flag} given twice`);
    (out[flag] ??= []).push(parsed);
  }
  return out;
}

const on = (v) => v === 'on' || v === 'true';
const num = (v) => Number(v);

/** The VmConfig (the API's JSON) that CH would build from a parsed argv: the stand-in serves it as `vm.info`. */
export function vmConfigOf(parsed) {
  const one = (f) => parsed[f]?.[0];
  const cpus = one('--cpus') ?? {};
  const mem = one('--memory') ?? {};
  const mode = (o) => ({ off: 'Off', pty: 'Pty', tty: 'Tty', null: 'Null' })[o?.mode] ?? (o?.socket ? 'Socket' : o?.file ? 'File' : 'Null');
  const consoleOf = (o) => ({ mode: mode(o), ...(o?.socket ? { socket: o.socket } : {}), ...(o?.file ? { file: o.file } : {}) });
  const cfg = {
    cpus: { boot_vcpus: num(cpus.boot ?? 1), max_vcpus: num(cpus.max ?? cpus.boot ?? 1), ...(cpus.kvm_hyperv ? { kvm_hyperv: on(cpus.kvm_hyperv) } : {}) },
    memory: { size: num(mem.size ?? 512 * 2 ** 20), ...(mem.hugepages ? { hugepages: on(mem.hugepages) } : {}) },
    payload: {
      ...(one('--firmware') ? { firmware: one('--firmware') } : {}),
      ...(one('--kernel') ? { kernel: one('--kernel') } : {}),
      ...(one('--initramfs') ? { initramfs: one('--initramfs') } : {}),
      ...(one('--cmdline') ? { cmdline: one('--cmdline') } : {}),
    },
    disks: (parsed['--disk'] ?? []).map((d) => ({
      path: d.path,
      ...(d.readonly ? { readonly: on(d.readonly) } : {}),
      ...(d.direct ? { direct: on(d.direct) } : {}),
      ...(d.sparse ? { sparse: on(d.sparse) } : {}),
      ...(d.image_type ? { image_type: { raw: 'Raw', qcow2: 'Qcow2', vhd: 'FixedVhd', vhdx: 'Vhdx' }[d.image_type] } : {}),
      ...(d.backing_files ? { backing_files: on(d.backing_files) } : {}),
      ...(d.num_queues ? { num_queues: num(d.num_queues) } : {}),
      ...(d.queue_size ? { queue_size: num(d.queue_size) } : {}),
      ...(d.serial ? { serial: d.serial } : {}),
    })),
    net: (parsed['--net'] ?? []).map((n) => ({
      tap: n.tap,
      ...(n.mac ? { mac: n.mac } : {}),
      ...(n.num_queues ? { num_queues: num(n.num_queues) } : {}),
      ...(n.queue_size ? { queue_size: num(n.queue_size) } : {}),
      ...(n.offload_tso ? { offload_tso: on(n.offload_tso) } : {}),
      ...(n.offload_ufo ? { offload_ufo: on(n.offload_ufo) } : {}),
      ...(n.offload_csum ? { offload_csum: on(n.offload_csum) } : {}),
    })),
    rng: { src: one('--rng')?.src ?? '/dev/urandom' },
    ...(one('--balloon') ? { balloon: { size: num(one('--balloon').size), deflate_on_oom: on(one('--balloon').deflate_on_oom ?? 'off'), free_page_reporting: on(one('--balloon').free_page_reporting ?? 'off') } } : {}),
    ...(one('--vsock') ? { vsock: { cid: num(one('--vsock').cid), socket: one('--vsock').socket } } : {}),
    serial: consoleOf(one('--serial')),
    console: consoleOf(one('--console')),
    watchdog: Boolean(one('--watchdog')),
  };
  if (cfg.disks.length === 0) delete cfg.disks;
  if (cfg.net.length === 0) delete cfg.net;
  return cfg;
}
