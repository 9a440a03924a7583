import { afterAll, describe, expect, it } from 'vitest';
import { Communicator, OperonDecoratorError, OperonNotAuthorizedError, Workflow, getClassRegistration, type WorkflowContext } from '@operon/sdk';
import type { OperonRuntime } from '@operon/runtime';
import { LegacyGreeter } from './fixtures/greeter.legacy-decorators.js';
import { StandardGreeter } from './fixtures/greeter.standard.js';
import { startRuntime } from './helpers/test-databases.js';

const runtimes: OperonRuntime[] = [];
afterAll(() => Promise.all(runtimes.map((rt) => rt.destroy())));

describe.each([
  ['TC39 standard decorators', StandardGreeter],
  ['experimentalDecorators', LegacyGreeter],
])('%s', (_mode, Greeter) => {
  it('records the same registration', () => {
    const registration = getClassRegistration(Greeter)!;
    expect(registration.className).toBe(Greeter.name);
    expect(registration.defaultRequiredRoles).toEqual(['user']);
    const methods = Object.fromEntries(
      [...registration.methods.values()].map((m) => [m.methodName, { kind: m.kind, http: m.http, roles: m.requiredRoles }]),
    );
    expect(methods).toEqual({
      now: { kind: 'transaction', http: undefined, roles: undefined },
      remember: { kind: 'communicator', http: undefined, roles: undefined },
      greet: { kind: 'workflow', http: undefined, roles: ['admin'] },
      greetHandler: { kind: undefined, http: { method: 'GET', path: '/greet/:name', schema: undefined }, roles: undefined },
    });
    expect(registration.methods.get('remember')!.communicatorOptions).toEqual({ maxAttempts: 2 });
    expect(registration.methods.get('now')!.transactionOptions).toEqual({ readOnly: true });
  });

  it('runs a workflow with a transaction and a communicator', async () => {
    const rt = await startRuntime([Greeter]);
    runtimes.push(rt);
    const identity = { authenticatedUser: 'ada', authenticatedRoles: ['user', 'admin'], assumedRole: '' };
    const handle = await rt.client.invoke(Greeter, { identity }).greet('ada');
    expect(await handle.getResult()).toBe('hello ada 1');
    expect(await handle.getStatus()).toMatchObject({
      workflowName: `${Greeter.name}.greet`,
      authenticatedUser: 'ada',
      authenticatedRoles: ['user', 'admin'],
      assumedRole: 'admin',
    });
  });

  it('refuses callers without a required role, for the workflow and for its operations', async () => {
    const rt = await startRuntime([Greeter]);
    runtimes.push(rt);
    const greet = rt.registry.lookup(Greeter, 'greet');
    const as = (...roles: string[]) => ({ identity: { authenticatedUser: 'bob', authenticatedRoles: roles, assumedRole: '' } });
    await expect(rt.executor.startWorkflow(greet, ['bob'])).rejects.toThrow(
      new OperonNotAuthorizedError(`${Greeter.name}.greet`, ['admin']),
    );
    await expect(rt.executor.startWorkflow(greet, ['bob'], as('user'))).rejects.toBeInstanceOf(OperonNotAuthorizedError);
    // An admin who is not a user may start the workflow, but not run its operations (class default: user).
    const handle = await rt.executor.startWorkflow(greet, ['bob'], as('admin'));
    await expect(handle.getResult()).rejects.toThrow(
      `${Greeter.name}.now requires one of the roles [user]; the caller holds none`,
    );
  });
});

describe('decorator misuse', () => {
  it('refuses an instance method with a clear error', () => {
    expect(() => {
      class Wrong {
        // @ts-expect-error: Operon decorates static methods only
        @Workflow()
        async instanceFlow(_ctx: WorkflowContext): Promise<void> {}
      }
      return Wrong;
    }).toThrow(new OperonDecoratorError('@Workflow must decorate a static method; instanceFlow is an instance method'));
  });

  it('refuses two kinds on one method', () => {
    expect(() => {
      class Both {
        @Workflow()
        @Communicator()
        static async both(_ctx: WorkflowContext): Promise<void> {}
      }
      return Both;
    }).toThrow(/marked both @Communicator and @Workflow; choose one/);
  });
});
