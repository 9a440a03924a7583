/**
 * A recovered workflow keeps the identity it started with, no more: a workflow started over HTTP
 * with a bearer JWT in a child process is killed (SIGKILL) while blocked mid-workflow, then
 * recovered by another runtime on the same databases and executor id. Its operations after
 * recovery see the same user, roles and assumed role, and are still checked against them.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperonRuntime, resolveConfig } from '@operon/runtime';
import { bundleFixture, spawnApp } from '../helpers/child-app.js';
import { jose } from '../helpers/jose.js';
import { query, testConfigInput } from '../helpers/test-databases.js';
import { Vault } from '../fixtures/auth-classes.js';

const SECRET = 'recovered-identity-secret-of-32-chars+';
const input = testConfigInput('authrec', { authentication: { jwt: { secret: SECRET } } });
let bundle: string;

beforeAll(async () => {
  bundle = await bundleFixture('auth-app.ts');
});
afterAll(() => rmSync(bundle, { force: true }));

describe('a workflow recovered after its process died', () => {
  let recovering: OperonRuntime | undefined;
  afterAll(() => recovering?.destroy());

  it('runs its remaining operations with the identity it started with, still role-checked', async () => {
    const child = spawnApp(bundle, { AUTH_CONFIG: JSON.stringify(input), VAULT_BLOCK: '1' });
    try {
      const port = Number((await child.waitForLine(/^LISTENING \d+$/)).split(' ')[1]);
      const token = await new jose.SignJWT({ roles: ['user', 'clerk', 'auditor'] })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('ada')
        .setExpirationTime('10m')
        .sign(new TextEncoder().encode(SECRET));
      const response = fetch(`http://127.0.0.1:${port}/vault/open/gold`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'operon-workflowuuid': 'vault-gold' },
      }).then(
        (res) => `answered ${res.status}`,
        () => 'connection lost',
      );
      await child.waitForLine(/^BLOCKED vault-gold$/);
      expect(await child.kill('SIGKILL')).toBe('SIGKILL');
      expect(await response).toBe('connection lost');
    } finally {
      await child.kill('SIGKILL');
    }

    const sys = input.database.system_database;
    const [pending] = await query(sys, 'SELECT status, authenticated_user, authenticated_roles, assumed_role FROM operon.workflow_status WHERE workflow_uuid = $1', ['vault-gold']);
    expect(pending).toEqual({ status: 'PENDING', authenticated_user: 'ada', authenticated_roles: '["user","clerk","auditor"]', assumed_role: 'auditor' });

    // Same databases, same (default) executor id; the communicator no longer blocks here.
    const config = resolveConfig(input, { file: '', appDir: process.cwd() });
    recovering = await OperonRuntime.create({ config, classes: [Vault] });
    expect(await recovering.recover()).toBe(1);
    const result = await recovering.client.retrieveWorkflow('vault-gold').getResult();
    expect(result).toEqual({
      audit: 'audited gold',
      purge: 'refused: Vault.purge requires one of the roles [admin]; the caller holds none',
    });

    const identity = { user: 'ada', roles: ['user', 'clerk', 'auditor'], assumedRole: 'auditor' };
    const notes = await query(input.database.user_database, 'SELECT phase, identity FROM vault_notes WHERE label = $1 ORDER BY phase DESC', ['gold']);
    expect(notes).toEqual([
      { phase: 'before', identity },
      { phase: 'after', identity },
    ]);
    expect(await recovering.client.retrieveWorkflow('vault-gold').getStatus()).toMatchObject({
      status: 'SUCCESS',
      authenticatedUser: 'ada',
      authenticatedRoles: ['user', 'clerk', 'auditor'],
      assumedRole: 'auditor',
    });
    // Nothing ran twice: the operation before the crash is recorded once, as are the rest.
    const outputs = await query(sys, 'SELECT function_id FROM operon.operation_outputs WHERE workflow_uuid = $1 ORDER BY function_id', ['vault-gold']);
    expect(outputs.map((r) => r.function_id)).toEqual([1, 3]);
  });
});
