/**
 * Frames of the cocoon-agent protocol: one JSON object per `\n`-terminated line, both
 * directions, binary payloads base64 in `data`. The core names and fields match the Go
 * cocoon-agent (`exec {argv, env}`, `stdin`, `stdin_close`, `started {pid}`, `stdout`,
 * `stderr`, `exit {exit_code}`, `error {message}`); the rest are cocoon extensions that a
 * Go peer ignores. `session` is only present on a multiplexed byte stream (a virtio-serial
 * port): it names the session a frame belongs to, and the first frame of a new session id
 * must be `exec` (or `reseed`, the Go agent's one-frame request after a clone).
 *
 * Binary data frames are negotiated per session, never assumed: an `exec` with
 * `binary: true` asks for them and a `started` with `binary: true` grants them (an agent
 * that does not know the key ignores it and answers in JSON, so both sides stay on JSON).
 * Once granted, `stdin`/`stdout`/`stderr` MAY travel as binary frames (see `agent/codec.ts`)
 * while every other frame stays a JSON line.
 *
 * Written with `zod/mini`: the agent runs in every guest, and the tree-shaken mini build
 * costs it ~0.4 MB of resident memory where classic zod costs ~10 MB (measured in a guest).
 */
import * as z from 'zod/mini';

/** Largest frame (one line, newline excluded) either side accepts. */
export const MAX_FRAME_BYTES = 8 * 2 ** 20;

/** The vsock port the agent listens on by default (the Go agent's port). */
export const AGENT_VSOCK_PORT = 1024;

/** Name of the first virtio-serial port the agent serves (`/dev/virtio-ports/<name>`); port k > 0 is `<name>.<k>`. */
export const AGENT_SERIAL_NAME = 'org.cocoon.agent';

const Session = z.int().check(z.minimum(1), z.maximum(2 ** 31 - 1));
const OptSession = z.optional(Session);
const Base64 = z.string().check(z.regex(/^[A-Za-z0-9+/]*={0,2}$/, 'data must be base64'));
const NoNul = (what: string) => z.string().check(z.regex(/^[^\0]*$/, `${what} has no NUL`));
const Dim = z.int().check(z.minimum(1, 'a terminal size is 1 to 65535'), z.maximum(65535, 'a terminal size is 1 to 65535'));
/** Signals a host may forward (names as in `kill -l`, with the SIG prefix). */
export const SignalNameSchema = z.enum(['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGKILL', 'SIGUSR1', 'SIGUSR2', 'SIGTERM', 'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGWINCH']);

/**
 * `env` is `K=V` strings like the Go agent (`os/exec` style), or an object (cocoon's
 * preference); both mean the same thing and are added to the agent's own environment.
 */
export const EnvSchema = z.union([
  z.array(z.string().check(z.regex(/^[^=\0]+=[^\0]*$/, 'an env entry is K=V'))),
  z.record(z.string().check(z.minLength(1), z.regex(/^[^=\0]+$/, 'an environment name has no "=" or NUL')), NoNul('an env value')),
]);

export const ExecFrameSchema = z.object({
  type: z.literal('exec'),
  session: OptSession,
  argv: z.array(NoNul('an argument')).check(z.minLength(1, 'argv must not be empty')),
  env: z.optional(EnvSchema),
  /** Working directory (absolute); default `/` or the user's home. */
  cwd: z.optional(z.string().check(z.startsWith('/', 'cwd must be an absolute path'))),
  /** `name`, `uid`, `name:group` or `uid:gid`; default the agent's user (root). */
  user: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/, 'user is NAME, UID, NAME:GROUP or UID:GID'))),
  tty: z.optional(z.boolean()),
  rows: z.optional(Dim),
  cols: z.optional(Dim),
  /** Ask for binary data frames (granted by `started.binary`). */
  binary: z.optional(z.boolean()),
});
export type ExecFrame = z.infer<typeof ExecFrameSchema>;

export const StdinFrameSchema = z.object({ type: z.literal('stdin'), session: OptSession, data: Base64 });
export const StdinCloseFrameSchema = z.object({ type: z.literal('stdin_close'), session: OptSession });
export const ResizeFrameSchema = z.object({ type: z.literal('resize'), session: OptSession, rows: Dim, cols: Dim });
export const SignalFrameSchema = z.object({ type: z.literal('signal'), session: OptSession, name: SignalNameSchema });
/**
 * The Go agent's `reseed` (first and only frame of a session, answered by `exit` or `error`):
 * mix the host's entropy (`data`, base64, at most 512 bytes used) into the guest kernel's
 * pool and force a CRNG reseed, drop a saved systemd random seed, and with
 * `regen_machine_id` write a fresh `/etc/machine-id`. Clones of one snapshot must not share
 * their random generator's state or their machine id.
 */
export const ReseedFrameSchema = z.object({
  type: z.literal('reseed'),
  session: OptSession,
  data: z.optional(Base64),
  regen_machine_id: z.optional(z.boolean()),
});
export type ReseedFrame = z.infer<typeof ReseedFrameSchema>;

/** Multiplexed streams only: the host side of `session` went away; the agent kills it. */
export const CloseFrameSchema = z.object({ type: z.literal('close'), session: Session });
/**
 * Serial ports only: a new host client took the port (cocoon's port pool). Whatever the
 * port carried before belongs to a client that is gone: the agent ends those sessions.
 */
export const AttachFrameSchema = z.object({ type: z.literal('attach') });

/** Every frame the host sends. */
export const HostFrameSchema = z.discriminatedUnion('type', [
  ExecFrameSchema,
  StdinFrameSchema,
  StdinCloseFrameSchema,
  ResizeFrameSchema,
  SignalFrameSchema,
  CloseFrameSchema,
  AttachFrameSchema,
  ReseedFrameSchema,
]);
export type HostFrame = z.infer<typeof HostFrameSchema>;

export const StartedFrameSchema = z.object({
  type: z.literal('started'),
  session: OptSession,
  pid: z.int().check(z.positive()),
  /** Binary data frames granted for this session (the `exec` asked for them). */
  binary: z.optional(z.boolean()),
  /** Serial ports only: how many ports of the pool this agent serves (`org.cocoon.agent`, `.1` …). */
  ports: z.optional(z.int().check(z.minimum(1), z.maximum(64))),
});
export const OutputFrameSchema = z.object({ type: z.enum(['stdout', 'stderr']), session: OptSession, data: Base64 });
export const ExitFrameSchema = z.object({
  type: z.literal('exit'),
  session: OptSession,
  /** The child's exit status; 128 + signal number when it died of a signal (like a shell). Go omits 0. */
  exit_code: z._default(z.int(), 0),
  /** Set when the child died of a signal (`SIGKILL` …). */
  signal: z.optional(z.string()),
});
export const ErrorFrameSchema = z.object({
  type: z.literal('error'),
  session: OptSession,
  message: z.string(),
  /** The exit code a caller should report: 127 command not found, 126 not executable, 3 no such user, group or working directory. */
  exit_code: z.optional(z.int()),
});

/** Every frame the agent sends. */
export const AgentFrameSchema = z.discriminatedUnion('type', [
  StartedFrameSchema,
  OutputFrameSchema,
  ExitFrameSchema,
  ErrorFrameSchema,
]);
export type AgentFrame = z.infer<typeof AgentFrameSchema>;

/** Frame types a receiver should know; others are ignored (forward compatibility). */
export const HOST_FRAME_TYPES: ReadonlySet<string> = new Set(['exec', 'stdin', 'stdin_close', 'resize', 'signal', 'close', 'attach', 'reseed']);
export const AGENT_FRAME_TYPES: ReadonlySet<string> = new Set(['started', 'stdout', 'stderr', 'exit', 'error']);
