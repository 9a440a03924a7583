/**
 * The log format `operon start` picks: on a real pseudo-terminal (util-linux `script`) readable
 * coloured lines through pino-pretty, piped pino JSON, and `pretty`/`json` force either. Runs the
 * built runtime's own logDestination and createLogger in a child process.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const runtime = pathToFileURL(join(new URL('../..', import.meta.url).pathname, 'packages/runtime/dist/index.js')).href;
const program = (format: string) =>
  `const r = await import(${JSON.stringify(runtime)}); const log = r.createLogger('info', await r.logDestination(${JSON.stringify(format)})); ` +
  `log.info({ workflowUUID: 'w-1' }, 'operon: serving'); await new Promise((done) => setTimeout(done, 200));`;
const env = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, CI: undefined };

function piped(format: string): string {
  return execFileSync(process.execPath, ['--input-type=module', '-e', program(format)], { encoding: 'utf8', env });
}

function onTerminal(format: string): string {
  const command = [process.execPath, '--input-type=module', '-e', program(format)].map((part) => `'${part.replace(/'/g, `'\\''`)}'`).join(' ');
  return execFileSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env });
}

describe('log format', () => {
  it('is coloured text on a terminal', () => {
    const out = onTerminal('auto');
    expect(out).toMatch(/\u001b\[\d+m/);
    expect(out).toMatch(/INFO.*operon: serving/);
    expect(out).toContain('w-1');
    expect(out.trimStart().startsWith('{')).toBe(false);
  });

  it('is pino JSON when piped, and on a terminal when forced', () => {
    for (const out of [piped('auto'), onTerminal('json')]) {
      const line = JSON.parse(out.trim().split('\n').at(-1)!.trim());
      expect(line).toMatchObject({ level: 30, msg: 'operon: serving', workflowUUID: 'w-1' });
    }
  });

  it('is text when forced pretty, piped', () => {
    const out = piped('pretty');
    expect(out).toMatch(/INFO.*operon: serving/);
    expect(out.trimStart().startsWith('{')).toBe(false);
  });
});
