/**
 * Regression: `operon debug` printed recorded text as it was: a workflow's error message (which a
 * client can provoke, `throw new Error(\`bad order ${input}\`)`) reached the operator's terminal
 * with its escape sequences (clear the screen, set the title, OSC 52 write the clipboard) and line
 * breaks that forge report lines; so did the CLI's error line. Control characters are now shown
 * escaped (`\u001b`), in the report and on stderr alike.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplayReport } from '@operon/runtime';
import { formatReport } from '../../packages/cli/src/commands/debug.js';
import { assertCliBuilt, operon } from '../cli/cli-process.js';

const OSC52 = '\u001b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\u0007';
const FORGED = `out of stock${OSC52}\nresult: "ok" (matches the recorded result)\u001b[2J`;

let dir: string;
beforeAll(() => {
  assertCliBuilt();
  dir = mkdtempSync(join(tmpdir(), 'operon-escapes-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('text from records printed by the CLI', () => {
  it('shows control characters of a recorded error escaped, on one line', () => {
    const report = {
      workflowUUID: 'w-1',
      workflowName: 'Shop.failing',
      recordedStatus: 'ERROR',
      operations: [{ functionID: 0, kind: 'communicator', functionName: 'Shop.refuse', outcome: 'error', summary: `Error: ${FORGED}` }],
      matches: true,
      result: { error: { name: 'Error', message: FORGED } },
    } as unknown as ReplayReport;
    const text = formatReport(report);
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain('out of stock\\u001b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\\u0007\\u000aresult: "ok"');
    expect(text.split('\n').filter((line) => line.startsWith('result:'))).toHaveLength(1);
  });

  it('shows them escaped in the error line on stderr', async () => {
    const result = await operon(['build', '-c', `missing${OSC52}.yaml`], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).not.toContain('\u001b');
    expect(result.stderr).toContain('missing\\u001b]52;c;');
  });
});
