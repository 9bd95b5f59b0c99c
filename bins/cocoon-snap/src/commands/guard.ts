import { Command, Option } from 'clipanion';
import { CocoonCommand } from '@cocoon/common/cli';
import { UsageError } from '@cocoon/common/errors';

export class GuardCommand extends CocoonCommand {
  static override paths = [['guard']];
  static override usage = Command.Usage({
    description: 'internal: watch a snapshot save and undo it if the save dies',
    details: '`save` starts this detached. When the saving process dies while its snapshot is still pending, the guard resumes the VM and removes the half-made snapshot, then exits; it exits at once when the snapshot completes.',
    examples: [['Guard snapshot ID saved by PID 1234', '$0 guard --pid=1234 --snapshot=ID']],
  });

  pid = Option.String('--pid', { required: true, description: 'PID of the saving process' });
  snapshot = Option.String('--snapshot', { required: true, description: 'ID of the pending snapshot' });

  override async execute(): Promise<number> {
    const pid = Number(this.pid);
    if (!Number.isInteger(pid) || pid < 1) throw new UsageError(`--pid: "${this.pid}" is not a PID`);
    const { guard } = await import('../guard.ts');
    await guard(this.layout, pid, this.snapshot);
    return 0;
  }
}
