/**
 * Completion and help, end to end on the built executables: `cocoon completion bash|zsh|fish`
 * loaded into the real shells, completing commands of every tool, options, and VM and image
 * names from the real indexes (another --root-dir, other names); `--help` with examples on
 * every command of every tool, walked from the tools' own definitions (`<tool> __spec`);
 * `cocoon version` with its git revision and build time.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { ToolSpecSchema } from '@cocoon/common/schemas/completion';
import { BIN, cocoon, ensureDefaultImage, env, ok, REPO, requireTools } from '../helpers/cocoon.ts';

const scratch = mkdtempSync(join(tmpdir(), 'cocoon-completion-'));
const VM = `compl-${process.pid}`;
const shellEnv = { ...process.env, ...env, PATH: `${BIN}:${process.env.PATH}` };
after(() => rmSync(scratch, { recursive: true, force: true }));

async function script(shell: string): Promise<string> {
  const file = join(scratch, `cocoon.${shell}`);
  writeFileSync(file, await ok(['completion', shell]));
  return file;
}

/** What bash completes for `words` (the last one being typed). */
async function bash(file: string, words: string[]): Promise<string[]> {
  const code = `source ${file}; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _cocoon; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = await execa('bash', ['-c', code, 'bash', ...words], { env: shellEnv });
  return r.stdout.split('\n').filter(Boolean);
}

describe('completion and help', () => {
  before(async () => {
    requireTools();
    await ensureDefaultImage();
    await ok(['vm', 'create', '--name', VM, '--storage', '256M', '--nics', '0', 'default']);
  });
  after(async () => {
    await cocoon(['vm', 'rm', VM]);
  });

  it('bash: commands of every tool, aliases, options, and names from the indexes', async () => {
    const file = await script('bash');
    const top = await bash(file, ['cocoon', '']);
    for (const w of ['vm', 'image', 'snapshot', 'gc', 'completion', 'version', 'console']) assert.ok(top.includes(w), `top level has ${w}: ${top.join(' ')}`);
    assert.deepEqual(await bash(file, ['cocoon', 'vm', 'st']), ['start', 'status', 'stop']);
    assert.ok((await bash(file, ['cocoon', 'image', '']))?.includes('pull'), 'cocoon-image\'s commands');
    assert.ok((await bash(file, ['cocoon', 'gc', '--']))?.includes('--dry-run'), 'cocoon-gc\'s options');
    assert.ok((await bash(file, ['cocoon', 'vm', 'console', '--']))?.includes('--escape-char'), 'cocoon-console\'s options');
    assert.ok((await bash(file, ['cocoon', 'vm', 'start', ''])).includes(VM), 'VM names');
    assert.ok((await bash(file, ['cocoon', 'vm', 'stop', '--timeout', '5', VM.slice(0, 6)])).includes(VM), 'after an option and its value');
    assert.ok((await bash(file, ['cocoon', 'image', 'rm', ''])).includes('default'), 'image names');
    assert.ok((await bash(file, ['cocoon', 'vm', 'run', '--name', 'x', ''])).includes('default'), 'the image of vm run');
    const other = join(scratch, 'other-root');
    assert.deepEqual(await bash(file, ['cocoon', '--root-dir', other, 'vm', 'start', '']), [], 'names of the root given on the line');
  });

  it('zsh (bashcompinit) and fish complete the same', async () => {
    const zsh = await script('zsh');
    const z = await execa('zsh', ['-f', '-c', `source ${zsh}; COMP_WORDS=(cocoon vm start ''); COMP_CWORD=3; _cocoon; print -l -- $COMPREPLY; print -- $_comps[cocoon]`], { env: shellEnv });
    assert.ok(z.stdout.split('\n').includes(VM), z.stdout);
    assert.match(z.stdout, /_bash_complete -F _cocoon$/m, 'registered with zsh\'s completion system');
    const fish = await script('fish');
    const complete = async (line: string) => (await execa('fish', ['-c', `source ${fish}; complete -C ${JSON.stringify(line)}`], { env: shellEnv })).stdout.split('\n');
    assert.ok((await complete('cocoon vm st')).some((l) => /^start\tstart one or more created or stopped VMs$/.test(l)));
    assert.ok((await complete('cocoon vm start ')).some((l) => l.startsWith(`${VM}\t`)));
    assert.ok((await complete('cocoon image rm ')).some((l) => l.startsWith('default\t')));
    assert.ok((await complete('cocoon vm logs --t')).some((l) => l.startsWith('--tail\t')));
  });

  it('refuses an unknown shell (exit 2)', async () => {
    const r = await cocoon(['completion', 'tcsh']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /"tcsh" is not one of bash, zsh, fish/);
  });

  it('--help with examples on every command of every tool', async () => {
    const tools = ['cocoon', 'cocoon-image', 'cocoon-snap', 'cocoon-net', 'cocoon-console', 'cocoon-gc', 'cocoon-agent'];
    let walked = 0;
    for (const tool of tools) {
      const before = walked;
      const spec = ToolSpecSchema.parse(JSON.parse(await ok(['__spec'], { tool })));
      // cocoon's tool nouns only dispatch ("(runs cocoon-image)"): the tools' own walk covers them.
      for (const command of spec.commands.filter((c) => !/\(runs cocoon-[a-z]+\)$/.test(c.description))) {
        for (const path of command.paths) {
          const r = await cocoon([...path, '--help'], { tool });
          assert.equal(r.code, 0, `${tool} ${path.join(' ')} --help: ${r.stderr}`);
          assert.match(r.stdout, /Examples?\b/i, `${tool} ${path.join(' ')} --help shows examples`);
          assert.match(r.stdout, new RegExp(`\\$ ${tool}\\b`), `${tool} ${path.join(' ')}: an example runs the tool`);
          walked++;
        }
      }
      assert.ok(walked > before, `${tool} has documented commands`);
    }
    assert.ok(walked >= 30, `walked ${walked} commands`);
  });

  it('cocoon version: version, git revision and build time', async () => {
    const head = (await execa('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO })).stdout.trim();
    const info = JSON.parse(await ok(['version', '--format', 'json'])) as Record<string, string>;
    assert.match(info.version ?? '', /^\d+\.\d+\.\d+$/);
    assert.match(info.git_revision ?? '', new RegExp(`^${head}(-dirty)?$`), 'the revision it was built from');
    assert.ok(Math.abs(Date.parse(info.build_time ?? '') - Date.now()) < 30 * 86_400_000, `a build time: ${info.build_time}`);
    assert.equal((await ok(['version'])).trim(), `cocoon ${info.version} (git ${info.git_revision}, built ${info.build_time})`);
  });
});
