import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command, Option } from 'clipanion';
import { argKind, toolSpec } from './completion-spec.ts';

class Sample extends Command {
  static override paths = [['vm', 'stop'], ['vm', 'halt']];
  static override usage = Command.Usage({ description: 'stop VMs' });
  timeout = Option.String('--timeout,-t', '30', { description: 'seconds' });
  force = Option.Boolean('--force', false, { description: 'no grace' });
  secret = Option.String('--secret', { hidden: true });
  refs = Option.Rest({ name: 'VM', required: 1 });
  override async execute() {
    return 0;
  }
}
class Help extends Command {
  static override paths = [['-h'], ['--help']];
  override async execute() {
    return 0;
  }
}

describe('completion spec', () => {
  it('reads paths, options (with or without a value, hidden ones left out) and positionals from the classes', () => {
    assert.deepEqual(toolSpec('cocoon', [Sample, Help]), {
      tool: 'cocoon',
      commands: [{
        paths: [['vm', 'stop'], ['vm', 'halt']],
        description: 'stop VMs',
        options: [{ names: ['--timeout', '-t'], value: true, description: 'seconds' }, { names: ['--force'], value: false, description: 'no grace' }],
        positionals: [{ name: 'VM', kind: 'vm', repeat: true }],
      }],
    });
  });

  it('names what a positional refers to, REF by the tool', () => {
    assert.equal(argKind('cocoon-image', 'REF'), 'image');
    assert.equal(argKind('cocoon-snap', 'REF'), 'snapshot');
    assert.equal(argKind('cocoon', 'IMAGE'), 'image');
    assert.equal(argKind('cocoon-image', 'FILE'), 'file');
    assert.equal(argKind('cocoon-agent', 'argv'), 'other');
  });
});
