import { plannedCli } from '@cocoon/common/planned';

/** cocoon-agent: the in-guest exec agent and its host client. */
export const cli = plannedCli('cocoon-agent', 'in-guest exec agent (serve) and its host client', [
  'serve [--port 1024]: run commands for the host over vsock or virtio-serial',
  'client (--cid N --port P | --uds PATH | --serial PATH) -- CMD...: run a command in the guest',
]);
