// STAND-IN, NOT A HYPERVISOR. Cloud Hypervisor and Firecracker cannot be installed on this
// project's machines (no reachable registry carries them) and KVM here cannot boot stock
// guests, so the drivers are exercised against this program instead: it takes the real
// binary's command line, serves the real API paths on the Unix socket, VALIDATES every
// option (CH's option grammar) and every request body (the upstream OpenAPI/Swagger
// descriptions in shared/specs; unknown paths and fields are refused with 400), and keeps
// the VM state machine the drivers depend on (boot order, pause/resume, power button,
// snapshot). No guest ever runs. Faults for the drivers' error paths are switched on with
// COCOON_STANDIN_FAULTS (comma-separated): no-socket, exit-at-start, http500=N,
// 500-then-die, ignore-power-button, ignore-sigterm, slow-start=MS.
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { parseArgv, vmConfigOf } from './ch-grammar.mjs';
import { loadSpec } from './specs.mjs';

const faults = new Map(
  (process.env.COCOON_STANDIN_FAULTS ?? '').split(',').filter(Boolean).map((f) => {
    const [k, v] = f.split('=');
    return [k, v ?? 'on'];
  }),
);

function fail(msg) {
  process.stderr.write(`stand-in: ${msg}\n`);
  process.exit(1);
}

function isElf(path) {
  try {
    const fd = openSync(path, 'r');
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, 0);
    closeSync(fd);
    return b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } catch {
    return false;
  }
}

/** Cloud Hypervisor: the VM comes from the command line and boots at once. */
function chMachine(argv) {
  let parsed;
  try {
    parsed = parseArgv(argv);
  } catch (err) {
    fail(`cloud-hypervisor: ${err.message}`);
  }
  const socket = parsed['--api-socket']?.[0]?.path;
  if (!socket) fail('cloud-hypervisor: --api-socket path=… is required');
  const spec = loadSpec('cloud-hypervisor');
  let config = null;
  if (parsed['--kernel'] || parsed['--firmware']) {
    config = vmConfigOf(parsed);
    const problems = spec.validateComponent('VmConfig', config);
    if (problems.length) fail(`cloud-hypervisor: the command line makes an invalid VmConfig: ${problems.join('; ')}`);
    for (const p of [config.payload.kernel, config.payload.initramfs, config.payload.firmware, ...(config.disks ?? []).map((d) => d.path)]) {
      if (p && !existsSync(p)) fail(`cloud-hypervisor: ${p}: no such file`);
    }
  }
  let state = config ? 'Running' : null;
  const routes = {
    'GET /vmm.ping': () => [200, { build_version: 'stand-in', version: 'v53.0-stand-in', pid: process.pid }],
    'GET /vm.info': () => (state ? [200, { config, state }] : [404, 'VM is not created']),
    'PUT /vm.pause': () => (state === 'Running' ? ((state = 'Paused'), [204]) : [405, `VM is ${state}`]),
    'PUT /vm.resume': () => (state === 'Paused' ? ((state = 'Running'), [204]) : [405, `VM is ${state}`]),
    'PUT /vm.shutdown': () => (state === 'Running' || state === 'Paused' ? ((state = 'Shutdown'), [204]) : [405, `VM is ${state}`]),
    'PUT /vm.power-button': () => {
      if (state !== 'Running') return [405, `VM is ${state}`];
      // The guest powers off; CH exits when its guest does.
      if (!faults.has('ignore-power-button')) setTimeout(() => process.exit(0), 200);
      return [204];
    },
    'PUT /vm.snapshot': (body) => {
      if (state !== 'Paused') return [405, 'VM must be paused'];
      const dir = body.destination_url.replace(/^file:\/\//, '');
      for (const f of ['config.json', 'state.json', 'memory-ranges']) writeFileSync(join(dir, f), f === 'config.json' ? JSON.stringify(config) : '{}');
      return [204];
    },
    'PUT /vm.restore': (body) => {
      if (state) return [404, 'VM already created'];
      const dir = body.source_url.replace(/^file:\/\//, '');
      if (!existsSync(join(dir, 'config.json'))) return [400, 'no snapshot there'];
      config = JSON.parse(String(readFileSyncSafe(join(dir, 'config.json'))));
      state = body.resume ? 'Running' : 'Paused';
      return [204];
    },
    'PUT /vm.add-net': (body) => (state ? ((config.net ??= []).push(body), [200, { id: body.id ?? 'net', bdf: '0000:00:05.0' }]) : [404, 'no VM']),
    'PUT /vm.add-disk': (body) => (state ? ((config.disks ??= []).push(body), [200, { id: body.id ?? 'disk', bdf: '0000:00:06.0' }]) : [404, 'no VM']),
    'PUT /vm.remove-device': (body) => {
      if (!state) return [404, 'no VM'];
      const before = (config.net ?? []).length + (config.disks ?? []).length;
      config.net = (config.net ?? []).filter((n) => n.id !== body.id);
      config.disks = (config.disks ?? []).filter((d) => d.id !== body.id);
      return before === config.net.length + config.disks.length ? [404, `no device ${body.id}`] : [204];
    },
    'PUT /vmm.shutdown': () => (setTimeout(() => process.exit(0), 10), [204]),
  };
  return { socket, spec, base: '/api/v1', routes };
}

function readFileSyncSafe(p) {
  return existsSync(p) ? readFileSync(p) : Buffer.alloc(0);
}

/** Firecracker: an empty process configured over the API, then InstanceStart. */
function fcMachine(argv) {
  const at = (flag) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const known = new Set(['--api-sock', '--id', '--log-path', '--level', '--config-file', '--no-api', '--boot-timer']);
  for (let i = 0; i < argv.length; i += 2) if (!known.has(argv[i])) fail(`firecracker: unknown argument ${argv[i]}`);
  const socket = at('--api-sock');
  if (!socket) fail('firecracker: --api-sock is required');
  const logPath = at('--log-path');
  if (logPath && !existsSync(logPath)) fail(`firecracker: --log-path ${logPath} does not exist (Firecracker will not create it)`);
  const spec = loadSpec('firecracker');
  const vm = { state: 'Not started', machine: null, boot: null, drives: {}, ifaces: {}, balloon: null, vsock: null, entropy: false, loaded: false };
  const preBoot = (fn) => (body, params) => (vm.state === 'Not started' && !vm.loaded ? fn(body, params) : [400, { fault_message: 'The requested operation is not supported after starting the microVM.' }]);
  const routes = {
    'GET /': () => [200, { app_name: 'Firecracker', id: at('--id') ?? 'anonymous-instance', state: vm.state, vmm_version: '1.16.0-stand-in' }],
    'GET /vm/config': () => [
      200,
      {
        'machine-config': vm.machine, 'boot-source': vm.boot, drives: Object.values(vm.drives), 'network-interfaces': Object.values(vm.ifaces),
        ...(vm.balloon ? { balloon: vm.balloon } : {}), ...(vm.vsock ? { vsock: vm.vsock } : {}), ...(vm.entropy ? { entropy: {} } : {}),
      },
    ],
    'PUT /machine-config': preBoot((b) => ((vm.machine = b), [204])),
    'PUT /boot-source': preBoot((b) => {
      if (!isElf(b.kernel_image_path)) return [400, { fault_message: `${b.kernel_image_path} is not an uncompressed ELF kernel` }];
      vm.boot = b;
      return [204];
    }),
    'PUT /drives/{id}': preBoot((b, id) => {
      if (b.drive_id !== id) return [400, { fault_message: 'drive_id does not match the path' }];
      if (!existsSync(b.path_on_host)) return [400, { fault_message: `${b.path_on_host}: no such file` }];
      vm.drives[id] = b;
      return [204];
    }),
    'PUT /network-interfaces/{id}': preBoot((b, id) => (b.iface_id === id ? ((vm.ifaces[id] = b), [204]) : [400, { fault_message: 'iface_id does not match the path' }])),
    'PUT /balloon': preBoot((b) => ((vm.balloon = b), [204])),
    'PUT /vsock': preBoot((b) => ((vm.vsock = b), [204])),
    'PUT /entropy': preBoot(() => ((vm.entropy = true), [204])),
    'PUT /actions': (b) => {
      if (b.action_type === 'InstanceStart') {
        if (vm.state !== 'Not started') return [400, { fault_message: 'already started' }];
        if (!vm.machine || !vm.boot) return [400, { fault_message: 'machine-config and boot-source must come before InstanceStart' }];
        vm.state = 'Running';
        process.stdout.write(`[stand-in firecracker] InstanceStart: ${Object.keys(vm.drives).length} drives, ${Object.keys(vm.ifaces).length} NICs; no guest runs here\r\n`);
        return [204];
      }
      if (b.action_type === 'SendCtrlAltDel') {
        if (vm.state !== 'Running') return [400, { fault_message: 'not running' }];
        if (!faults.has('ignore-power-button')) setTimeout(() => process.exit(0), 200);
        return [204];
      }
      return [204];
    },
    'PATCH /vm': (b) => (vm.state === 'Not started' ? [400, { fault_message: 'not started' }] : ((vm.state = b.state === 'Paused' ? 'Paused' : 'Running'), [204])),
    'PUT /snapshot/create': (b) => {
      if (vm.state !== 'Paused') return [400, { fault_message: 'the microVM must be paused' }];
      writeFileSync(b.snapshot_path, JSON.stringify(vm));
      writeFileSync(b.mem_file_path, '');
      return [204];
    },
    'PUT /snapshot/load': (b) => {
      if (vm.state !== 'Not started' || vm.machine) return [400, { fault_message: 'load only on a fresh process' }];
      if (!existsSync(b.snapshot_path) || !existsSync(b.mem_backend?.backend_path ?? '')) return [400, { fault_message: 'snapshot files missing' }];
      // As the real one: the devices come from the saved state, and the drives are reopened
      // at the paths saved there (the API has no drive override); NICs and vsock may be moved.
      const saved = JSON.parse(readFileSync(b.snapshot_path, 'utf8'));
      for (const d of Object.values(saved.drives ?? {})) {
        if (!existsSync(d.path_on_host)) return [400, { fault_message: `Load snapshot error: Block: Error manipulating the backing file: No such file or directory (os error 2) ${d.path_on_host}` }];
      }
      for (const o of b.network_overrides ?? []) {
        if (!saved.ifaces?.[o.iface_id]) return [400, { fault_message: `Load snapshot error: no network interface ${o.iface_id} in the snapshot` }];
        saved.ifaces[o.iface_id].host_dev_name = o.host_dev_name;
      }
      if (b.vsock_override && saved.vsock) saved.vsock.uds_path = b.vsock_override.uds_path;
      Object.assign(vm, { machine: saved.machine, boot: saved.boot, drives: saved.drives ?? {}, ifaces: saved.ifaces ?? {}, balloon: saved.balloon, vsock: saved.vsock, entropy: saved.entropy });
      vm.loaded = true;
      vm.state = b.resume_vm ? 'Running' : 'Paused';
      return [204];
    },
    'PATCH /drives/{id}': (b, id) => {
      if (vm.state === 'Not started') return [400, { fault_message: 'The requested operation is not supported before starting the microVM.' }];
      if (b.drive_id !== id || !vm.drives[id]) return [400, { fault_message: `no drive ${id}` }];
      if (b.path_on_host !== undefined && !existsSync(b.path_on_host)) return [400, { fault_message: `${b.path_on_host}: no such file` }];
      vm.drives[id] = { ...vm.drives[id], ...b };
      return [204];
    },
  };
  return { socket, spec, base: '', routes };
}

/** Runs the stand-in for `kind` with the real binary's argv. */
export async function runStandIn(kind, argv) {
  const m = kind === 'cloud-hypervisor' ? chMachine(argv) : fcMachine(argv);
  const logFile = process.env.COCOON_STANDIN_LOG ?? join(dirname(m.socket), 'stand-in-requests.jsonl');
  writeFileSync(join(dirname(logFile), `stand-in-${kind}-argv.json`), JSON.stringify(argv));
  if (faults.has('exit-at-start')) fail(`${kind}: exit-at-start fault`);
  if (faults.has('ignore-sigterm')) process.on('SIGTERM', () => appendFileSync(logFile, `${JSON.stringify({ signal: 'SIGTERM' })}\n`));
  else process.on('SIGTERM', () => process.exit(0));
  if (faults.has('no-socket')) {
    setInterval(() => {}, 1 << 30);
    return;
  }
  if (faults.has('slow-start')) await new Promise((r) => setTimeout(r, Number(faults.get('slow-start'))));
  let http500 = Number(faults.get('http500') ?? 0);
  mkdirSync(dirname(m.socket), { recursive: true });
  rmSync(m.socket, { force: true });
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const answer = (status, body) => {
        appendFileSync(logFile, `${JSON.stringify({ method: req.method, path: req.url, body: parsedBody, status })}\n`);
        res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
        res.end(body === undefined ? undefined : JSON.stringify(body));
      };
      let parsedBody;
      try {
        parsedBody = raw ? JSON.parse(raw) : undefined;
      } catch {
        return answer(400, { fault_message: 'body is not JSON' });
      }
      if (faults.has('500-then-die')) {
        answer(500, { fault_message: 'stand-in fault: 500, then the process dies' });
        setTimeout(() => process.exit(1), 20);
        return;
      }
      if (http500 > 0) {
        http500--;
        return answer(500, { fault_message: 'stand-in fault: transient 500' });
      }
      const problems = m.spec.validate(req.method, req.url, parsedBody);
      if (problems.length) return answer(400, { fault_message: problems.join('; ') });
      const local = req.url.slice(m.base.length);
      const entry = Object.entries(m.routes).find(([k]) => {
        const [method, path] = k.split(' ');
        return method === req.method && new RegExp(`^${path.replace('{id}', '([^/]+)').replace(/\./g, '\\.')}$`).test(local);
      });
      if (!entry) return answer(400, { fault_message: `stand-in: ${req.method} ${req.url} is in the spec but not modelled` });
      const id = new RegExp(`^${entry[0].split(' ')[1].replace('{id}', '([^/]+)').replace(/\./g, '\\.')}$`).exec(local)?.[1];
      const [status, body] = entry[1](parsedBody, id);
      answer(status, typeof body === 'string' ? { fault_message: body } : body);
    });
  });
  server.listen(m.socket);
}
