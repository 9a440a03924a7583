/**
 * jose, as the runtime resolves it: tests sign tokens and make key sets with the very library the
 * JWT authenticator verifies them with. It is a dependency of @operon/runtime only, so it is
 * imported from that package's folder.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type * as Jose from '../../packages/runtime/node_modules/jose/dist/types/index.js';

const fromRuntime = createRequire(new URL('../../packages/runtime/package.json', import.meta.url));

export const jose = (await import(pathToFileURL(fromRuntime.resolve('jose')).href)) as typeof Jose;
