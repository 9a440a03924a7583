/**
 * `@SkipLogging` and `@LogMask` in both decorator modes: named above the method (TC39 standard
 * decorators, which have no parameter decorators) and as parameter decorators
 * (experimentalDecorators). A handler starts a workflow with a communicator that fails once (so a
 * retry warning is logged) and a transaction; another handler fails with a secret in its path.
 * Every log line and every exported span is searched for the secrets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogMask, OperonDecoratorError, SkipLogging, Workflow, getClassRegistration, type WorkflowContext } from '@operon/sdk';
import { OperonRuntime, createHttpServer } from '@operon/runtime';
import { SECRETS } from '../fixtures/masked-shared.js';
import { StandardVault } from '../fixtures/masked.standard.js';
import { captureLogs, type CapturedLogs } from '../helpers/log-capture.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { testConfig } from '../helpers/test-databases.js';

type Vault = typeof StandardVault;

// Imported by a computed path so `tsc -p test` (TC39 mode) does not read its parameter decorators;
// test/fixtures/legacy/tsconfig.json type-checks it with experimentalDecorators.
const legacyModule = '../fixtures/legacy/masked.legacy-decorators.ts';
const { LegacyVault } = (await import(/* @vite-ignore */ legacyModule)) as { LegacyVault: Vault };

let receiver: OtlpReceiver;
beforeAll(async () => {
  receiver = await startOtlpReceiver();
});
afterAll(() => receiver.close());

interface Run {
  logs: CapturedLogs;
  spans: ReceivedSpan[];
  loginUUID: string;
}

/** Serves `Vault`, logs in over HTTP, fails a request carrying a pin, runs the catch-all workflows; then flushes. */
async function exercise(Vault: Vault, prefix: string): Promise<Run> {
  const logs = captureLogs('debug');
  const config = testConfig(`mask${prefix}`, { telemetry: { logs: { logLevel: 'debug' }, traces: { enabled: true, endpoint: receiver.endpoint } } });
  const runtime = await OperonRuntime.create({ config, classes: [Vault], logger: logs.logger });
  await runtime.recover();
  const app = await createHttpServer(runtime);
  let loginUUID: string;
  try {
    const login = await app.inject({ method: 'POST', url: `/${prefix}/login`, payload: { user: 'ada', password: SECRETS.password, card: SECRETS.card } });
    expect(login.body).toBe(`token for ada (${SECRETS.password.length} characters checked); charged ada`);
    loginUUID = login.headers['operon-workflowuuid'] as string;
    expect((await app.inject({ method: 'GET', url: `/${prefix}/pin/${SECRETS.pin}` })).statusCode).toBe(500);
    const skipAll = await runtime.client.invoke(Vault).skipAll(SECRETS.password, SECRETS.card);
    const maskAll = await runtime.client.invoke(Vault).maskAll(SECRETS.pin);
    await Promise.all([skipAll.getResult(), maskAll.getResult()]);
  } finally {
    await app.close();
    await runtime.destroy(); // flushes the exporter
  }
  const ours = (s: ReceivedSpan) => s.name.startsWith(`${Vault.name}.`) || String(s.attributes['http.route']).startsWith(`/${prefix}/`);
  const traceIds = new Set(receiver.spans.filter(ours).map((s) => s.traceId));
  return { logs, spans: receiver.spans.filter((s) => traceIds.has(s.traceId)), loginUUID };
}

describe.each([
  ['TC39 standard decorators, masks named above the method', () => StandardVault, 'standard'],
  ['experimentalDecorators, parameter decorators', () => LegacyVault, 'legacy'],
])('%s', (_mode, vault, prefix) => {
  let run: Run;
  let name: string;
  beforeAll(async () => {
    name = vault().name;
    run = await exercise(vault(), prefix);
  });

  it('never writes a skipped or masked value to any log line', () => {
    expect(run.logs.lines.length).toBeGreaterThan(10);
    for (const secret of Object.values(SECRETS)) {
      expect(run.logs.lines.filter((line) => line.includes(secret))).toEqual([]);
    }
  });

  it('never puts a skipped or masked value on any span', () => {
    expect(run.spans).toHaveLength(7);
    const exported = JSON.stringify(run.spans);
    for (const secret of Object.values(SECRETS)) expect(exported).not.toContain(secret);
  });

  it('logs each start at debug with its inputs: skipped ones left out, masked ones as "****"', () => {
    const starts = Object.fromEntries(
      run.logs
        .records()
        .filter((r) => typeof r['msg'] === 'string' && (r['msg'] as string).endsWith(' started') && r['inputs'] !== undefined)
        .map((r) => [`${r['operationType']} ${r['operationName']}`, r['inputs']]),
    );
    expect(starts).toEqual({
      [`handler ${name}.loginHandler`]: ['ada', '****'],
      [`workflow ${name}.login`]: ['ada', '****'],
      [`communicator ${name}.signIn`]: ['ada'],
      [`transaction ${name}.charge`]: ['ada', '****'],
      [`handler ${name}.checkPin`]: ['****'],
      [`workflow ${name}.skipAll`]: [],
      [`workflow ${name}.maskAll`]: ['****'],
    });
  });

  it('puts the same masked inputs on the spans, as operon.inputs', () => {
    const inputs = (spanName: string) => run.spans.filter((s) => s.name === spanName).map((s) => s.attributes['operon.inputs']);
    expect(inputs(`POST /${prefix}/login`)).toEqual(['["ada","****"]']);
    expect(inputs(`${name}.login`)).toEqual(['["ada","****"]']);
    expect(inputs(`${name}.signIn`)).toEqual(['["ada"]']);
    expect(inputs(`${name}.charge`)).toEqual(['["ada","****"]']);
    expect(inputs(`GET /${prefix}/pin/:pin`)).toEqual(['["****"]']);
    expect(inputs(`${name}.skipAll`)).toEqual(['[]']);
    expect(inputs(`${name}.maskAll`)).toEqual(['["****"]']);
  });

  it('logs the retry of a communicator with its error and context, not its arguments', () => {
    const retry = run.logs.records().find((r) => typeof r['msg'] === 'string' && (r['msg'] as string).startsWith(`${name}.signIn failed; retrying`));
    expect(retry).toMatchObject({
      level: 40,
      workflowUUID: run.loginUUID,
      operationName: `${name}.signIn`,
      operationType: 'communicator',
      functionID: 0,
      attempt: 1,
      err: { message: 'the sign-in service is busy' },
    });
  });

  it('logs the request of a failed handler that masks arguments by its route, not its URL', () => {
    const failed = run.logs.records().find((r) => r['level'] === 50);
    expect(failed).toMatchObject({ url: `/${prefix}/pin/:pin`, msg: expect.stringContaining(`GET /${prefix}/pin/:pin`), err: { message: 'the pin service is down (8 digits)' } });
  });

  it('tags every line written through a context with its workflow, operation and kind, and handler lines with the request id', () => {
    const records = run.logs.records();
    const workflowLine = records.find((r) => r['msg'] === 'logging in');
    expect(workflowLine).toMatchObject({ workflowUUID: run.loginUUID, operationName: `${name}.login`, operationType: 'workflow', user: 'ada' });
    const handlerLine = records.find((r) => r['msg'] === 'login requested');
    expect(handlerLine).toMatchObject({ requestID: expect.any(String), operationName: `${name}.loginHandler`, operationType: 'handler' });
    for (const record of records.filter((r) => r['operationType'] !== undefined)) {
      expect(record['operationName']).toEqual(expect.any(String));
      if (record['operationType'] === 'handler') expect(record['requestID']).toEqual(expect.any(String));
      else expect(record['workflowUUID']).toEqual(expect.any(String));
    }
  });
});

describe('mask registration', () => {
  it('stores names above the method, and positions of parameter decorators, on the method', () => {
    const standard = getClassRegistration(StandardVault)!.methods.get('login')!;
    expect([...standard.skipLoggingNames, ...standard.maskedNames]).toEqual(['password', 'card']);
    const legacy = getClassRegistration(LegacyVault)!.methods.get('login')!;
    expect([[...legacy.skipLoggingParams], [...legacy.maskedParams]]).toEqual([[1], [2]]);
    expect(getClassRegistration(LegacyVault)!.methods.get('skipAll')!.skipAllParams).toBe(true);
  });

  it('refuses to start a runtime whose mask names no parameter', async () => {
    class Typo {
      @Workflow()
      @LogMask('crd')
      static async pay(_ctx: WorkflowContext, card: string): Promise<string> {
        return card.slice(-4);
      }
    }
    await expect(OperonRuntime.create({ config: testConfig('masktypo'), classes: [Typo] })).rejects.toThrow(
      new OperonDecoratorError("@LogMask('crd') on Typo.pay names no parameter of it; its parameters after the context are card"),
    );
  });

  it('refuses @SkipLogging without parentheses above a method', () => {
    expect(() => {
      class Bare {
        // @ts-expect-error: above a method it takes parameter names: @SkipLogging('password')
        @SkipLogging
        static async login(_ctx: WorkflowContext, _password: string): Promise<void> {}
      }
      return Bare;
    }).toThrow(OperonDecoratorError);
  });
});
