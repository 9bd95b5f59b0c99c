/**
 * Frames of the cocoon-agent protocol: one JSON object per `\n`-terminated line, both
 * directions, binary payloads base64 in `data`. The core names and fields match the Go
 * cocoon-agent (`exec {argv, env}`, `stdin`, `stdin_close`, `started {pid}`, `stdout`,
 * `stderr`, `exit {exit_code}`, `error {message}`); the rest are cocoon extensions that a
 * Go peer ignores. `session` is only present on a multiplexed byte stream (virtio-serial and
 * the host relay): it names the session a frame belongs to, and the first frame of a new
 * session id must be `exec`.
 */
import { z } from 'zod';

/** Largest frame (one line, newline excluded) either side accepts. */
export const MAX_FRAME_BYTES = 8 * 2 ** 20;

/** The vsock port the agent listens on by default (the Go agent's port). */
export const AGENT_VSOCK_PORT = 1024;

/** Name of the virtio-serial port the agent serves in the guest (`/dev/virtio-ports/<name>`). */
export const AGENT_SERIAL_NAME = 'org.cocoon.agent';

const Session = z.number().int().min(1).max(2 ** 31 - 1);
const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'data must be base64');
const EnvName = z.string().min(1).regex(/^[^=\0]+$/, 'an environment name has no "=" or NUL');
const Dim = z.number().int().min(1).max(65535);
/** Signals a host may forward (names as in `kill -l`, with the SIG prefix). */
export const SignalNameSchema = z.enum(['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGKILL', 'SIGUSR1', 'SIGUSR2', 'SIGTERM', 'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGWINCH']);

/**
 * `env` is `K=V` strings like the Go agent (`os/exec` style), or an object (cocoon's
 * preference); both mean the same thing and are added to the agent's own environment.
 */
export const EnvSchema = z.union([
  z.array(z.string().regex(/^[^=\0]+=[^\0]*$/, 'an env entry is K=V')),
  z.record(EnvName, z.string().regex(/^[^\0]*$/, 'an env value has no NUL')),
]);

export const ExecFrameSchema = z.object({
  type: z.literal('exec'),
  session: Session.optional(),
  argv: z.array(z.string().regex(/^[^\0]*$/, 'an argument has no NUL')).min(1, 'argv must not be empty'),
  env: EnvSchema.optional(),
  /** Working directory (absolute); default `/` or the user's home. */
  cwd: z.string().startsWith('/').optional(),
  /** `name`, `uid`, `name:group` or `uid:gid`; default the agent's user (root). */
  user: z.string().regex(/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/, 'user is NAME, UID, NAME:GROUP or UID:GID').optional(),
  tty: z.boolean().optional(),
  rows: Dim.optional(),
  cols: Dim.optional(),
});
export type ExecFrame = z.infer<typeof ExecFrameSchema>;

export const StdinFrameSchema = z.object({ type: z.literal('stdin'), session: Session.optional(), data: Base64 });
export const StdinCloseFrameSchema = z.object({ type: z.literal('stdin_close'), session: Session.optional() });
export const ResizeFrameSchema = z.object({ type: z.literal('resize'), session: Session.optional(), rows: Dim, cols: Dim });
export const SignalFrameSchema = z.object({ type: z.literal('signal'), session: Session.optional(), name: SignalNameSchema });
/**
 * The Go agent's `reseed` (first and only frame of a session, answered by `exit` or `error`):
 * mix the host's entropy (`data`, base64, at most 512 bytes used) into the guest kernel's
 * pool and force a CRNG reseed, drop a saved systemd random seed, and with
 * `regen_machine_id` write a fresh `/etc/machine-id`. Clones of one snapshot must not share
 * their random generator's state or their machine id.
 */
export const ReseedFrameSchema = z.object({
  type: z.literal('reseed'),
  session: Session.optional(),
  data: Base64.optional(),
  regen_machine_id: z.boolean().optional(),
});
export type ReseedFrame = z.infer<typeof ReseedFrameSchema>;

/** Multiplexed streams only: the host side of `session` went away; the agent kills it. */
export const CloseFrameSchema = z.object({ type: z.literal('close'), session: Session });

/** Every frame the host sends. */
export const HostFrameSchema = z.discriminatedUnion('type', [
  ExecFrameSchema,
  StdinFrameSchema,
  StdinCloseFrameSchema,
  ResizeFrameSchema,
  SignalFrameSchema,
  CloseFrameSchema,
  ReseedFrameSchema,
]);
export type HostFrame = z.infer<typeof HostFrameSchema>;

export const StartedFrameSchema = z.object({ type: z.literal('started'), session: Session.optional(), pid: z.number().int().positive() });
export const OutputFrameSchema = z.object({ type: z.enum(['stdout', 'stderr']), session: Session.optional(), data: Base64 });
export const ExitFrameSchema = z.object({
  type: z.literal('exit'),
  session: Session.optional(),
  /** The child's exit status; 128 + signal number when it died of a signal (like a shell). Go omits 0. */
  exit_code: z.number().int().default(0),
  /** Set when the child died of a signal (`SIGKILL` …). */
  signal: z.string().optional(),
});
export const ErrorFrameSchema = z.object({
  type: z.literal('error'),
  session: Session.optional(),
  message: z.string(),
  /** The exit code a caller should report: 127 command not found, 126 not executable, 3 no such user, group or working directory. */
  exit_code: z.number().int().optional(),
});

/** Every frame the agent sends. */
export const AgentFrameSchema = z.discriminatedUnion('type', [
  StartedFrameSchema,
  OutputFrameSchema,
  ExitFrameSchema,
  ErrorFrameSchema,
]);
export type AgentFrame = z.infer<typeof AgentFrameSchema>;

/** Only the routing part of a frame: what a relay reads to pick the session. */
export const RoutedFrameSchema = z.object({ type: z.string(), session: Session });

/** Frame types a receiver should know; others are ignored (forward compatibility). */
export const HOST_FRAME_TYPES: ReadonlySet<string> = new Set(['exec', 'stdin', 'stdin_close', 'resize', 'signal', 'close', 'reseed']);
/** Frames that open a session (the first frame of a connection or of a new session id). */
export const OPENING_FRAME_TYPES: ReadonlySet<string> = new Set(['exec', 'reseed']);
export const AGENT_FRAME_TYPES: ReadonlySet<string> = new Set(['started', 'stdout', 'stderr', 'exit', 'error']);
