/**
 * Versions of an app module for in-process tests: a bundle that imports the module and re-exports
 * its `factory(n)` under `name` is version n. Loading a version imports another copy of the module.
 */
import { versionOf } from '../../packages/runtime/src/versions/bundle-version.js';

/** The bundle of version `n` of the app module at `appFile`; `tag` makes its hash new (each test's versions are its own). */
export function bundleOf(appFile: string, factory: string, name: string, n: number, tag: string) {
  const bytes = Buffer.from(`import { ${factory} } from ${JSON.stringify(appFile)};\nexport const ${name} = ${factory}(${n}); // ${tag}\n`);
  return { version: versionOf(bytes), bundle: bytes, sourceMap: null };
}

/** `make(n)`, made once for each n: one class per version within one copy of the calling module. */
export function oncePerVersion<N, C>(make: (n: N) => C): (n: N) => C {
  const made = new Map<N, C>();
  return (n) => {
    if (!made.has(n)) made.set(n, make(n));
    return made.get(n)!;
  };
}
