import { createCli } from '@cocoon/common/cli';

/** cocoon: the front end. VM lifecycle commands live here; other nouns dispatch to cocoon-<sub>. */
export const cli = createCli('cocoon', 'lightweight microVM engine');
