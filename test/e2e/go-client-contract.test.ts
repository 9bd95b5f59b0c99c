/**
 * The Go cocoon's client contract, end to end: exactly the commands vk-cocoon (the
 * virtual-kubelet provider that runs pods as cocoon VMs) runs, in its argument order, and
 * its output parsed with exactly the keys that client reads (vk-cocoon `vm/cocoon_cli.go`,
 * `vm/inspect.go`), typed as Go unmarshals them and required, so a renamed key fails here.
 *
 * The image is laid out like the Go cocoon's published images (kernel + initramfs under
 * boot/ in its layers): the default guest's OCI tarball pushed to a real registry under the
 * Go cocoon's name, pulled as vk-cocoon pulls before every run, and booted.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { VmInspectSchema } from '@cocoon/common/schemas/vm';
import { z } from 'zod';
import { BIN, cocoon, cocoonStream, env, eventually, ok, READY_MARKER, requireTools, waitForConsole } from '../helpers/cocoon.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';

/** vk-cocoon's `inspectJSON`: the keys it reads from `vm inspect`, `vm list -o json`, `vm run/clone -o json`. */
const VkVm = z.object({
  id: z.string().min(1),
  hypervisor: z.string(),
  state: z.string(),
  pid: z.number().int(),
  config: z.object({ name: z.string(), cpu: z.number().int(), memory: z.number().int() }),
  // omitempty in the Go cocoon: absent on a VM without NICs, then required per NIC.
  network_configs: z
    .array(z.object({ tap: z.string(), mac: z.string(), netns_path: z.string(), network: z.object({ ip: z.string(), gateway: z.string(), prefix: z.number().int() }).optional() }))
    .optional(),
});

/**
 * vk-cocoon's `WatchEvents` + `parseVMFromStatusJSON`: one line of `vm status --event --format
 * json`, typed as its Go structs unmarshal it: `{event string, vm RawMessage}`, then `id`,
 * `config.name`, `state` (strings), `network_configs[].mac` (string) and `.network` (a
 * pointer: null or absent is nil) `.ip` (string). A key of another type fails Go's Unmarshal
 * (the event is dropped), so it fails here too; absent keys are Go's zero values.
 */
const GoString = z.string().optional();
const VkEvent = z.object({
  event: GoString,
  vm: z.object({
    id: GoString,
    config: z.object({ name: GoString }).optional(),
    state: GoString,
    network_configs: z.array(z.object({ mac: GoString, network: z.object({ ip: GoString }).nullish() })).nullish(),
  }),
});

/** vk-cocoon's `snapshotJSON`: the keys it reads from `snapshot inspect`. */
const VkSnapshot = z.object({ id: z.string().min(1), name: z.string(), image: z.string(), image_digest: z.string(), image_type: z.string(), hypervisor: z.string() });

const scratch = mkdtempSync(join(tmpdir(), 'cocoon-contract-'));
const NAME = `vk-pod-${process.pid}`;
let registry: TestRegistry;
let ref: string;

describe('the Go cocoon\'s client contract (vk-cocoon\'s commands)', () => {
  before(async () => {
    requireTools();
    registry = await startRegistry();
    const tarball = join(scratch, 'guest.oci.tar');
    await ok(['image', 'build-default', '--output', tarball], { timeoutMs: 900_000 });
    ref = `${registry.host}/cocoonstack/cocoon/ubuntu:24.04`;
    await execa('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci-archive:${tarball}`, `docker://${ref}`]);
  });
  after(async () => {
    for (const vm of [NAME, `${NAME}-src`, `${NAME}-clone`, `${NAME}-imported`]) await cocoon(['vm', 'rm', '--force', vm]);
    for (const s of [`fork-${NAME}`, `${NAME}-hib`]) await cocoon(['snapshot', 'rm', s]);
    await cocoon(['image', 'rm', '--force', ref]);
    // `vm clone --pull` pulled the image again by digest, under `<ref>@sha256:…`.
    const images = z.array(z.object({ name: z.string() })).safeParse(JSON.parse((await cocoon(['image', 'ls', '-o', 'json'])).stdout || '[]'));
    for (const i of images.success ? images.data : []) if (i.name.startsWith(`${ref}@`)) await cocoon(['image', 'rm', '--force', i.name]);
    await registry?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('image pull, vm run -o json, inspect, list -o json, start, rm --force: every key vk-cocoon reads', async () => {
    // EnsureImage: `image pull [--force] IMAGE`, output ignored (exit code only); twice, as every run does.
    await ok(['image', 'pull', ref]);
    await ok(['image', 'pull', '--force', ref]);

    // WatchEvents: `vm status --event --format json`, started before the VM exists.
    const events = cocoonStream(['vm', 'status', '--event', '--format', 'json']);

    // Run: `vm run --output json --name N --cpu … --memory <bytes> --storage <bytes> --nics 0 IMAGE`.
    const run = VkVm.parse(JSON.parse(await ok(['vm', 'run', '--output', 'json', '--name', NAME, '--cpu', '1', '--memory', '268435456', '--storage', '1073741824', '--nics', '0', ref])));
    assert.equal(run.state, 'running', 'vk-cocoon re-inspects when the run output is not running');
    assert.ok(run.pid > 0, 'the live hypervisor PID');
    assert.equal(run.config.name, NAME);
    assert.equal(run.config.cpu, 1);
    assert.equal(run.config.memory, 268435456);
    assert.equal(run.hypervisor, 'qemu');
    assert.equal(run.network_configs, undefined, 'no NICs: the key is absent, as the Go cocoon omits it');

    // The pulled image boots (the published images' kernel + initramfs contract).
    const full = VmInspectSchema.parse(JSON.parse(await ok(['vm', 'inspect', run.id])));
    assert.equal(full.config.image, ref);
    assert.equal(full.config.image_type, 'oci');
    assert.match(full.config.image_digest, /^sha256:[0-9a-f]{64}$/);
    await waitForConsole(full.runtime.consoleSocket, READY_MARKER, 180_000);

    // Inspect by ID; List with -o json.
    assert.deepEqual(VkVm.parse(JSON.parse(await ok(['vm', 'inspect', run.id]))), run);
    const list = z.array(VkVm).parse(JSON.parse(await ok(['vm', 'list', '-o', 'json'])));
    assert.equal(list.find((v) => v.id === run.id)?.state, 'running');

    // Start of a stopped VM (vk-cocoon starts VMs it finds stopped).
    await ok(['vm', 'stop', '--force', run.id]);
    const stopped = VkVm.parse(JSON.parse(await ok(['vm', 'inspect', run.id])));
    assert.equal(stopped.state, 'stopped');
    assert.equal(stopped.pid, 0);
    await ok(['vm', 'start', run.id]);
    assert.equal(VkVm.parse(JSON.parse(await ok(['vm', 'inspect', run.id]))).state, 'running');

    // Remove: `vm rm --force ID`; then inspect is the "VM not found" vk-cocoon matches.
    await ok(['vm', 'rm', '--force', run.id]);
    const gone = await cocoon(['vm', 'inspect', run.id]);
    assert.equal(gone.code, 3);
    assert.ok(gone.stderr.toLowerCase().includes('vm not found'), gone.stderr);
    assert.deepEqual(z.array(VkVm).parse(JSON.parse(await ok(['vm', 'list', '-o', 'json']))).filter((v) => v.id === run.id), []);

    // The event stream saw it all, one JSON object a line, in vk-cocoon's keys.
    const mine = () => events.lines().map((l) => VkEvent.parse(JSON.parse(l))).filter((e) => e.vm.id === run.id);
    await eventually('DELETED event', () => mine().find((e) => e.event === 'DELETED'));
    assert.equal(await events.stop(), 0, events.stderr());
    const seen = mine();
    // Every event is one vk-cocoon keeps (it drops those with neither an id nor a name) and names its kind.
    for (const e of seen) assert.ok(['ADDED', 'MODIFIED', 'DELETED'].includes(e.event ?? ''), `event ${e.event}`);
    assert.equal(seen[0]?.event, 'ADDED');
    assert.equal(seen[0]?.vm.config?.name, NAME);
    assert.ok(seen.some((e) => e.event === 'MODIFIED' && e.vm.state === 'stopped'), 'the stop was an event');
    assert.ok(seen.some((e) => e.vm.state === 'running'), 'the VM was seen running');
    assert.equal(seen.at(-1)?.event, 'DELETED');
    assert.equal(seen[0]?.vm.network_configs, undefined, 'no NICs: no network_configs, as the Go cocoon omits it');
  });
  it('snapshot save/inspect/export/rm/import and vm clone -o json: vk-cocoon\'s fork and hibernate flows', async () => {
    const src = VkVm.parse(JSON.parse(await ok(['vm', 'run', '--output', 'json', '--name', `${NAME}-src`, '--cpu', '1', '--memory', '268435456', '--storage', '1073741824', '--nics', '0', ref])));
    const full = VmInspectSchema.parse(JSON.parse(await ok(['vm', 'inspect', src.id])));
    await waitForConsole(full.runtime.consoleSocket, READY_MARKER, 180_000);
    await ok(['vm', 'exec', '--wait-timeout', '180', src.id, '--', 'sh', '-c', 'echo forked > /fork-marker && sync']);

    // SnapshotSave: `snapshot save --name N VMID`; a second save of the name says "already exists".
    const fork = `fork-${NAME}`;
    await ok(['snapshot', 'save', '--name', fork, src.id]);
    const again = await cocoon(['snapshot', 'save', '--name', fork, src.id]);
    assert.notEqual(again.code, 0);
    assert.ok(again.stderr.toLowerCase().includes('already exists'), again.stderr);

    // Snapshot: `snapshot inspect N`, the keys vk-cocoon reads.
    const snap = VkSnapshot.parse(JSON.parse(await ok(['snapshot', 'inspect', fork])));
    assert.equal(snap.name, fork);
    assert.equal(snap.image, ref);
    assert.equal(snap.image_type, 'oci');
    assert.equal(snap.hypervisor, 'qemu');
    assert.match(snap.image_digest, /^sha256:[0-9a-f]{64}$/);

    // Clone: `vm clone --output json --name N --cpu C --memory M --storage S --nics 0 --no-direct-io --pull SNAP`,
    // with the image gone from the store so --pull fetches it by the snapshot's recorded digest.
    // Every copy of the image (an earlier run may have left one pulled by digest) goes.
    const copies = z.array(z.object({ id: z.string(), digest: z.string() })).parse(JSON.parse(await ok(['image', 'ls', '-o', 'json'])));
    for (const c of copies.filter((i) => i.digest === snap.image_digest)) await ok(['image', 'rm', '--force', c.id]);
    const noPull = await cocoon(['vm', 'clone', fork]);
    assert.equal(noPull.code, 3, noPull.stderr);
    assert.match(noPull.stderr, /--pull/);
    const clone = VkVm.parse(JSON.parse(await ok(['vm', 'clone', '--output', 'json', '--name', `${NAME}-clone`, '--cpu', '1', '--memory', '268435456', '--storage', '2147483648', '--nics', '0', '--no-direct-io', '--pull', fork])));
    assert.equal(clone.state, 'running');
    assert.ok(clone.pid > 0);
    assert.equal(clone.config.name, `${NAME}-clone`);
    assert.equal((await ok(['vm', 'exec', clone.id, '--', 'cat', '/fork-marker'])).trim(), 'forked');
    // --on-demand is Cloud Hypervisor's: a clear usage error on QEMU.
    const lazy = await cocoon(['vm', 'clone', '--output', 'json', '--on-demand', fork]);
    assert.equal(lazy.code, 2);

    // Hibernate: SnapshotExport `snapshot export N -o -` piped into SnapshotImport `snapshot import --name N --description D`.
    const hib = `${NAME}-hib`;
    // Process to process, as vk-cocoon wires the two commands' stdout and stdin.
    const piped = await execa('sh', ['-c', '"$1" snapshot export "$2" -o - | "$1" snapshot import --name "$3" --description "hibernated by vk-cocoon"', 'sh', join(BIN, 'cocoon'), fork, hib], { env, reject: false });
    assert.equal(piped.exitCode, 0, String(piped.stderr));
    assert.equal(VkSnapshot.parse(JSON.parse(await ok(['snapshot', 'inspect', hib]))).name, hib);
    const woken = VkVm.parse(JSON.parse(await ok(['vm', 'clone', '--output', 'json', '--name', `${NAME}-imported`, hib])));
    assert.equal((await ok(['vm', 'exec', woken.id, '--', 'cat', '/fork-marker'])).trim(), 'forked');

    // SnapshotRemoveIfExists: `snapshot rm N`; then "snapshot not found" (exit 3) for inspect and rm.
    await ok(['snapshot', 'rm', fork]);
    for (const args of [['snapshot', 'inspect', fork], ['snapshot', 'rm', fork]]) {
      const gone = await cocoon(args);
      assert.equal(gone.code, 3);
      assert.ok(gone.stderr.toLowerCase().includes('snapshot not found'), gone.stderr);
    }
  });
});
