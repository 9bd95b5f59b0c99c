/**
 * Git-style dispatch: `cocoon image …` runs `cocoon-image …`. The sub-tool is found next
 * to the running executable first, then on PATH, and REPLACES this process (execve through
 * the native addon): same PID, same stdio, global flags as `COCOON_*` variables.
 *
 * Why exec rather than spawn-and-wait: a front end that waits is a second process that can die
 * alone. `kill -9` of it left the tool re-parented to init and still writing (an import of
 * /dev/zero wrote on, and finished an image nobody wanted). With exec there is nothing to
 * orphan: killing "cocoon" kills the tool, SIGINT/SIGTERM/SIGHUP reach the tool itself, its
 * exit code or signal is the command's without forwarding code, and one Node process is
 * resident instead of two (~45 MiB less). The alternative, a child with PR_SET_PDEATHSIG,
 * needs a fork between Node's spawn and exec that Node does not offer (a wrapper such as
 * setpriv), and still keeps two processes and the signal/exit-code relaying. Measured in the
 * README ("Reliability").
 */
import { ExternalError } from '@cocoon/common/errors';
import { globalsToEnv, type GlobalValues } from '@cocoon/common/globals';
import { native } from '@cocoon/common/native';
import { findTool } from '@cocoon/common/tools';
import { constants } from 'node:os';

/** Replaces this process with `tool args…`; returns only by throwing when the exec fails. */
export function dispatch(tool: string, args: string[], globals: GlobalValues): never {
  const file = findTool(tool);
  const env = { ...process.env, ...globalsToEnv(globals) };
  const envp = Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
  // NOTE: argv[0] is the tool's name: the multi-call executable picks the tool from it.
  const errno = native().execve(file, [tool, ...args], envp);
  const name = Object.entries(constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
  throw new ExternalError(`cannot run ${file}: ${name}`);
}
