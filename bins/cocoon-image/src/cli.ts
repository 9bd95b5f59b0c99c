import { createCli } from '@cocoon/common/cli';

/** cocoon-image: images and the blob store. Commands are registered below, one file each. */
export const cli = createCli('cocoon-image', 'pull, import, list, inspect and remove VM images');
