/** Types of package.mjs. */
export const TOOL_LINKS: string[];
