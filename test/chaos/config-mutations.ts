/**
 * Random mutations of a valid operon-config.yaml: of its tree (a key removed, retyped, misspelt,
 * added; a section replaced), of its text (lines dropped, duplicated, re-indented; raw YAML
 * tokens and bytes that are not UTF-8 inserted; truncation), and whole documents that stress the
 * YAML parser (alias bombs, deep nesting, other encodings). Hostnames are only ever set to
 * loopback or unusable names, so no mutation sends anything off this machine.
 */
import type { SeededRandom } from './seeded-random.js';
import { toYaml } from './yaml-text.js';

type Tree = Record<string, unknown>;

const VALUES: readonly unknown[] = [
  '', ' ', 'abc', 0, -1, 1, 65535, 65536, 70000, 3.5, -0.5, 2 ** 53, true, false, null, [], {}, ['x'], { a: 1 },
  'x'.repeat(5_000), '${CHAOS_UNSET_VAR}', '${CHAOS_UNSET_VAR:-5432}', '${CHAOS_SET_VAR}', '${CHAOS_EMPTY_VAR}', '${', '${1BAD}',
  '$${CHAOS_SET_VAR}', 'trace', 'silent', 'loud', '日本語', '\u0000', '0x1F', '1_000', 'yes', 'off', 'http://', 'ftp://x',
  '/dev/null', '../../../../etc/passwd', 'dist/operations.js',
];
/** What a hostname may become: loopback, or names that cannot be looked up anywhere. */
const HOSTNAMES: readonly unknown[] = ['127.0.0.1', 'localhost', '::1', '', ' ', 'no such host!', 'a..b', 42, true, null, ['127.0.0.1']];
const RAW_TOKENS: readonly string[] = [
  '.inf', '-.inf', '.nan', '1e309', '0x1F', '0o17', '~', '!!binary aGVsbG8=', '!env PGPORT', '*nope', '&a 1', '[1, 2', '{a: 1',
  '"unterminated', "'", '|', '>', '? x', '- x', ': :', '!!int "x"', '!!float abc', '!!str', '!!map', '<<: *x', '${CHAOS_UNSET_VAR}',
  '"${CHAOS_SET_VAR}0"', '${CHAOS_SET_VAR}', '12345678901234567890', '-0', '"\\u0000"', '"\\ud800"', '"\\x"', '%', '@x', '`x`',
];
const TYPO_KEYS: readonly string[] = ['hostnme', 'prot', 'usr_database', 'entrypoints', 'logLevl', 'Port', 'DATABASE', 'runtime_config', '__proto__', 'constructor', ''];

export interface ConfigMutation {
  readonly description: string;
  readonly text: Buffer;
}

export function mutateConfig(rng: SeededRandom, base: Tree): ConfigMutation {
  const roll = rng.next();
  if (roll < 0.12) return wholeDocument(rng, base);
  const tree = structuredClone(base);
  const steps: string[] = [];
  for (let i = rng.int(1, 3); i > 0; i--) steps.push(mutateTree(rng, tree));
  let text: Buffer = Buffer.from(`# a mutation by the chaos harness\n${toYaml(tree)}`);
  if (rng.chance(0.45)) {
    const [mutatedText, step] = mutateText(rng, text);
    text = mutatedText;
    steps.push(step);
  }
  return { description: steps.join('; '), text };
}

function paths(tree: unknown, prefix: string[] = []): string[][] {
  if (typeof tree !== 'object' || tree === null || Array.isArray(tree)) return [];
  return Object.entries(tree).flatMap(([key, value]) => [[...prefix, key], ...paths(value, [...prefix, key])]);
}

function parentOf(tree: Tree, path: readonly string[]): Tree {
  let node: unknown = tree;
  for (const key of path.slice(0, -1)) node = (node as Tree)[key];
  return node as Tree;
}

function mutateTree(rng: SeededRandom, tree: Tree): string {
  const all = paths(tree);
  if (all.length === 0) {
    tree[rng.pick(TYPO_KEYS) || 'x'] = rng.pick(VALUES);
    return 'added a key to an empty tree';
  }
  const path = rng.pick(all);
  const parent = parentOf(tree, path);
  const key = path[path.length - 1]!;
  const where = path.join('.');
  const roll = rng.next();
  if (roll < 0.25) {
    delete parent[key];
    return `removed ${where}`;
  }
  if (roll < 0.65) {
    const value = key === 'hostname' || key === 'host' ? rng.pick(HOSTNAMES) : rng.pick(VALUES);
    parent[key] = value;
    return `set ${where} to ${JSON.stringify(value)?.slice(0, 40)}`;
  }
  if (roll < 0.8) {
    const typo = rng.pick(TYPO_KEYS);
    const value = parent[key];
    delete parent[key];
    // Defined as data, so a key named __proto__ is a key, not the prototype.
    Object.defineProperty(parent, typo, { value, enumerable: true, configurable: true, writable: true });
    return `renamed ${where} to ${JSON.stringify(typo)}`;
  }
  if (roll < 0.9) {
    const target = typeof parent[key] === 'object' && parent[key] !== null && !Array.isArray(parent[key]) ? (parent[key] as Tree) : parent;
    target[`unknown_${rng.int(0, 99)}`] = rng.pick(VALUES);
    return `added an unknown key next to ${where}`;
  }
  parent[key] = rng.pick([[], 'a string', 7, [parent[key]], null]);
  return `replaced ${where} with another shape`;
}

function mutateText(rng: SeededRandom, text: Buffer): [Buffer, string] {
  const lines = text.toString('utf8').split('\n');
  const at = rng.int(1, Math.max(1, lines.length - 1));
  const roll = rng.next();
  if (roll < 0.15) {
    lines.splice(at, 1);
    return [Buffer.from(lines.join('\n')), `dropped line ${at + 1}`];
  }
  if (roll < 0.3) {
    lines.splice(at, 0, lines[at] ?? '');
    return [Buffer.from(lines.join('\n')), `duplicated line ${at + 1}`];
  }
  if (roll < 0.45) {
    const line = lines[at] ?? '';
    lines[at] = rng.pick([`  ${line}`, line.trimStart(), `\t${line}`, ` ${line}`]);
    return [Buffer.from(lines.join('\n')), `re-indented line ${at + 1}`];
  }
  if (roll < 0.7) {
    const line = lines[at] ?? '';
    const colon = line.indexOf(': ');
    const token = rng.pick(RAW_TOKENS);
    lines[at] = colon >= 0 ? `${line.slice(0, colon + 2)}${token}` : `${line} ${token}`;
    return [Buffer.from(lines.join('\n')), `wrote ${JSON.stringify(token)} into line ${at + 1}`];
  }
  if (roll < 0.85) {
    const offset = rng.int(0, text.length);
    const bytes = rng.chance(0.5) ? Buffer.from([0xff, 0xfe, 0xc3, 0x28]) : rng.bytes(rng.int(1, 6));
    return [Buffer.concat([text.subarray(0, offset), bytes, text.subarray(offset)]), `inserted bytes ${bytes.toString('hex')} at ${offset}`];
  }
  const cut = rng.int(0, text.length);
  return [text.subarray(0, cut), `truncated after ${cut} bytes`];
}

function wholeDocument(rng: SeededRandom, base: Tree): ConfigMutation {
  const valid = toYaml(base);
  const choices: (() => ConfigMutation)[] = [
    () => ({ description: 'an empty file', text: Buffer.alloc(0) }),
    () => ({ description: 'a scalar document', text: Buffer.from(rng.pick(['null', '~', '42', '"text"', 'true', '- a\n- b', '[]', '{}'])) }),
    () => ({ description: 'two documents', text: Buffer.from(`${valid}---\n${valid}`) }),
    () => ({ description: 'a byte-order mark', text: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(valid)]) }),
    () => ({ description: 'CRLF line ends', text: Buffer.from(valid.replace(/\n/g, '\r\n')) }),
    () => ({ description: 'UTF-16', text: Buffer.from(valid, 'utf16le') }),
    () => ({ description: 'binary garbage', text: rng.bytes(rng.int(1, 4_000)) }),
    () => ({ description: 'an alias bomb', text: Buffer.from(aliasBomb()) }),
    () => {
      const depth = rng.int(2_000, 60_000);
      return { description: `flow collections nested ${depth} deep`, text: Buffer.from(`application:\n  deep: ${'['.repeat(depth)}${']'.repeat(depth)}\n`) };
    },
    () => {
      const depth = rng.int(500, 5_000);
      let text = 'application:\n';
      for (let i = 0; i < depth; i++) text += `${' '.repeat(i + 2)}k${i}:\n`;
      return { description: `mappings nested ${depth} deep`, text: Buffer.from(`${text}${' '.repeat(depth + 2)}end: 1\n`) };
    },
    () => ({ description: '20,000 unknown keys', text: Buffer.from(Array.from({ length: 20_000 }, (_, i) => `key${i}: ${i}`).join('\n')) }),
    () => ({ description: 'a 3 MB value', text: Buffer.from(`${valid}application:\n  big: "${'b'.repeat(3_000_000)}"\n`) }),
  ];
  return rng.pick(choices)();
}

/** Nine levels of nine aliases: 9^9 nodes if a parser expanded them all. */
function aliasBomb(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  const names = 'abcdefghi';
  for (let i = 1; i < names.length; i++) {
    const previous = names[i - 1];
    lines.push(`${names[i]}: &${names[i]} [${Array.from({ length: 9 }, () => `*${previous}`).join(',')}]`);
  }
  return `${lines.join('\n')}\napplication:\n  bomb: *i\n`;
}
