/** The image a new VM boots, through the image store's shared resolver. */
import { NotFoundError } from '@cocoon/common/errors';
import { resolveImage } from '@cocoon/common/images/resolve';
import type { Layout } from '@cocoon/common/layout';
import type { ImageResolve } from '@cocoon/common/schemas/image';

/** Resolves `ref`; a missing `default` image says how to build it. */
export async function resolveVmImage(layout: Layout, ref: string): Promise<ImageResolve> {
  try {
    return await resolveImage(layout, ref);
  } catch (err) {
    if (err instanceof NotFoundError && ref === 'default') {
      throw new NotFoundError('image "default" not found: build it with "cocoon image build-default"');
    }
    if (err instanceof NotFoundError) throw new NotFoundError(`image "${ref}" not found: import or pull it first ("cocoon image --help")`);
    throw err;
  }
}
