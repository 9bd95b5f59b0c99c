/**
 * The git revision and build time of this build (set by the bundler, scripts/bundle.mjs;
 * `unknown` when run from source).
 */
declare const __COCOON_GIT_REVISION__: string | undefined;
declare const __COCOON_BUILD_TIME__: string | undefined;

export const GIT_REVISION = typeof __COCOON_GIT_REVISION__ === 'string' ? __COCOON_GIT_REVISION__ : 'unknown';
export const BUILD_TIME = typeof __COCOON_BUILD_TIME__ === 'string' ? __COCOON_BUILD_TIME__ : 'unknown';
