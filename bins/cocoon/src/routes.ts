/** Which nouns belong to which tool (light: loaded at every start). */

/** `cocoon <noun>` → tool, for nouns owned by another executable. */
export const DISPATCH: Record<string, string> = {
  image: 'cocoon-image',
  images: 'cocoon-image',
  net: 'cocoon-net',
  network: 'cocoon-net',
  snapshot: 'cocoon-snap',
  snap: 'cocoon-snap',
  gc: 'cocoon-gc',
  agent: 'cocoon-agent',
  console: 'cocoon-console',
};

/** The tool and its argv for `argv` (global flags already removed), or null for cocoon's own commands. */
export function route(argv: readonly string[]): { tool: string; args: string[] } | null {
  const [noun, verb, ...rest] = argv;
  if (noun === 'vm' && verb === 'console') return { tool: 'cocoon-console', args: rest };
  const tool = noun === undefined ? undefined : DISPATCH[noun];
  return tool ? { tool, args: argv.slice(1) } : null;
}
