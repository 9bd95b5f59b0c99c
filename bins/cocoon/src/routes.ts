/** Which nouns belong to which tool (light: loaded at every start). */

/** A noun owned by another tool: `cocoon <path…> ARGS` runs `<tool> ARGS`. */
export interface ToolNoun {
  paths: string[][];
  tool: string;
  description: string;
  example: [string, string];
}

export const TOOL_NOUNS: readonly ToolNoun[] = [
  { paths: [['image'], ['images']], tool: 'cocoon-image', description: 'pull, import, list, inspect and remove VM images (runs cocoon-image)', example: ['Pull an image', '$0 image pull ghcr.io/cocoonstack/cocoon/ubuntu:24.04'] },
  { paths: [['snapshot'], ['snap']], tool: 'cocoon-snap', description: 'save, list, export and import VM snapshots (runs cocoon-snap)', example: ['Snapshot commands', '$0 snapshot --help'] },
  { paths: [['net'], ['network']], tool: 'cocoon-net', description: 'wire VMs into CNI networks (runs cocoon-net)', example: ['Network commands', '$0 net --help'] },
  { paths: [['gc']], tool: 'cocoon-gc', description: 'garbage-collect images, VMs, networks and snapshots (runs cocoon-gc)', example: ['Collect garbage', '$0 gc --help'] },
  { paths: [['agent']], tool: 'cocoon-agent', description: 'the guest agent and its client (runs cocoon-agent)', example: ['Agent commands', '$0 agent --help'] },
  { paths: [['vm', 'console'], ['console']], tool: 'cocoon-console', description: 'attach to the serial console of a VM (runs cocoon-console)', example: ['Attach to a console', '$0 vm console web'] },
];

/** `cocoon <noun>` → tool, for one-word nouns. */
export const DISPATCH: Record<string, string> = Object.fromEntries(
  TOOL_NOUNS.flatMap((n) => n.paths.filter((p) => p.length === 1).map((p) => [p[0] as string, n.tool])),
);

/** The tool and its argv for `argv` (global flags already removed), or null for cocoon's own commands. */
export function route(argv: readonly string[]): { tool: string; args: string[] } | null {
  for (const noun of TOOL_NOUNS) {
    const path = noun.paths.find((p) => p.every((w, i) => argv[i] === w));
    if (path) return { tool: noun.tool, args: argv.slice(path.length) };
  }
  return null;
}
