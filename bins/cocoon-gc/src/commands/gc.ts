import { Command, Option } from 'clipanion';
import { chooseFormat, CocoonCommand, formatOption, outputOption } from '@cocoon/common/cli';
import { ExitCode, UsageError } from '@cocoon/common/errors';

export class GcCommand extends CocoonCommand {
  static override paths = [Command.Default];
  static override usage = Command.Usage({
    description: 'remove what no image, VM, network or snapshot uses any more',
    details: [
      'One cycle over every store, as `cocoon gc` or `cocoon-gc`: every index lock is taken (when one stays busy for `--lock-wait` seconds the cycle is skipped: nothing is removed, exit 5), every index is read, and each module removes what nothing in ANY index uses: image layer disks and boot files no image, VM or snapshot uses; VM records left in `creating` by a `vm create` that died (with leftover processes, disks and dirs); run, log and lock files of VMs without a record; temporary files of imports and pulls whose process is gone (or over an hour old); pending snapshots over 24 h old whose writer is gone (resuming the VM their save paused), import staging folders of dead imports and snapshot folders no record names; and it rotates logs past `log_max_size`/`log_max_files`/`log_max_age`. A running VM\'s files are never touched.',
      'It only touches names it made under its own root: another cocoon root sharing the host (even the same log dir) keeps its VMs and files.',
      'Prints each removal and the bytes freed (on-disk blocks), or the report as JSON with `--format json`. `--dry-run` plans without removing. Exit codes: 0 done (also when nothing was found), 5 skipped (an index was locked).',
    ].join('\n\n'),
    examples: [
      ['Collect garbage', '$0'],
      ['See what would go', '$0 --dry-run'],
      ['As JSON, for a cron job', '$0 --format json'],
    ],
  });

  dryRun = Option.Boolean('--dry-run', false, { description: 'list what would be removed, remove nothing' });
  lockWait = Option.String('--lock-wait', '2', { description: 'seconds to keep trying for busy index locks before skipping the cycle (default 2)' });
  format = formatOption('text (default) or json');
  output = outputOption();

  override async execute(): Promise<number> {
    const format = chooseFormat(this.format, this.output, ['text', 'json'] as const, 'text');
    const wait = Number(this.lockWait);
    if (!Number.isFinite(wait) || wait < 0) throw new UsageError(`--lock-wait: "${this.lockWait}" must be a number of seconds ≥ 0`);
    const [{ runCycle }, { MODULES }, { rotationPolicy }, { formatSize }] = await Promise.all([
      import('../cycle.ts'),
      import('../modules/index.ts'),
      import('@cocoon/common/log-rotate'),
      import('@cocoon/common/units'),
    ]);
    const c = this.config;
    const toolEnv = { COCOON_ROOT_DIR: c.root_dir, COCOON_RUN_DIR: c.run_dir, COCOON_LOG_DIR: c.log_dir, COCOON_CNI_CONF_DIR: c.cni_conf_dir, COCOON_CNI_BIN_DIR: c.cni_bin_dir, COCOON_LOG_LEVEL: c.log_level, PATH: this.context.env.PATH ?? '' };
    const report = await runCycle(MODULES, { layout: this.layout, now: Date.now(), rotation: rotationPolicy(c), toolEnv }, { dryRun: this.dryRun, lockWaitMs: wait * 1000 });
    for (const n of report.notices) this.context.stderr.write(`cocoon-gc: note: ${n}\n`);
    for (const e of report.errors) this.context.stderr.write(`cocoon-gc: could not remove ${e.target}: ${e.error}\n`);
    if (format === 'json') {
      this.writeJson(report);
    } else {
      const verb = this.dryRun ? 'would remove' : 'removed';
      for (const item of report.removed) this.context.stdout.write(`${verb} ${item.kind} ${item.target} (${formatSize(item.bytes)}): ${item.reason}\n`);
      const total = `${report.removed.length} item${report.removed.length === 1 ? '' : 's'}, ${formatSize(report.bytes_freed)}`;
      this.context.stdout.write(report.removed.length === 0 ? 'nothing to collect\n' : `${this.dryRun ? 'would free' : 'freed'} ${total}\n`);
    }
    return report.errors.length > 0 ? ExitCode.External : 0;
  }
}
