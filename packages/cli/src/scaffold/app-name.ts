/**
 * The app name `operon init` takes from the new folder's name: it becomes the package.json name,
 * so it must be one npm accepts for a new package (the rules of validate-npm-package-name), and
 * the database names, so it is also turned into a Postgres identifier.
 */
import { builtinModules } from 'node:module';
import { OperonCliInvalidAppNameError } from '../errors.js';

const MAX_LENGTH = 214;

export function validateAppName(name: string): void {
  const fail = (reason: string): never => {
    throw new OperonCliInvalidAppNameError(name, reason);
  };
  if (name.length === 0) fail('the name is empty');
  if (name.trim() !== name) fail('it must not start or end with spaces');
  if (name.length > MAX_LENGTH) fail(`npm package names are at most ${MAX_LENGTH} characters`);
  if (name.startsWith('.') || name.startsWith('_')) fail('npm package names cannot start with "." or "_"');
  if (name !== name.toLowerCase()) fail('npm package names must be lowercase');
  if (/[~'!()*]/.test(name) || encodeURIComponent(name) !== name) {
    fail('npm package names may contain only lowercase letters, digits, "-", "." and "_"');
  }
  if (name === 'node_modules' || name === 'favicon.ico') fail('that name is reserved by npm');
  if (builtinModules.includes(name)) fail(`"${name}" is a Node.js core module name`);
}

/**
 * `my-app` → `my_app`: lower case, [a-z0-9_], not starting with a digit, at most 52 characters so
 * that `<name>_operon_sys` fits Postgres's 63-byte limit on names (the same rule as the config's
 * default database name).
 */
export function databaseName(appName: string): string {
  let id = appName.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/_+/g, '_').replace(/^_+/, '');
  if (/^[0-9]/.test(id)) id = `app_${id}`;
  id = id.slice(0, 52).replace(/_+$/, '');
  return id === '' ? 'operon_app' : id;
}
