/**
 * `instanceof` against a user's subclass of an Operon error matched every instance of its parent:
 * the brand compared codes, and a subclass that declares no code inherits its parent's, so
 * `new OperonResponseError('x') instanceof PaymentDeclined` was true and a handler's
 * `catch (e) { if (e instanceof PaymentDeclined) … }` took every response error for a declined
 * payment. A subclass must match only its own instances; the parent must still match the
 * subclass's; and both must keep working across two copies of the sdk (an app bundle may carry
 * its own).
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as sdk from '../../packages/sdk/src/errors.js';

type Errors = typeof sdk;

const source = new URL('../../packages/sdk/src/errors.ts', import.meta.url).pathname;
let dir: string;
/** A second, separately loaded copy of errors.ts: other classes, other prototypes. */
let copy: Errors;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'operon-sdk-copy-'));
  copyFileSync(source, join(dir, 'errors.ts'));
  copy = (await import(/* @vite-ignore */ join(dir, 'errors.ts'))) as Errors;
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('a user subclass of OperonResponseError', () => {
  class PaymentDeclined extends sdk.OperonResponseError {
    constructor() {
      super('payment declined', 402);
    }
  }
  class OutOfStock extends sdk.OperonResponseError {}

  it('does not match instances of its parent or of a sibling', () => {
    expect(new sdk.OperonResponseError('x') instanceof PaymentDeclined).toBe(false);
    expect(new OutOfStock('x', 409) instanceof PaymentDeclined).toBe(false);
    expect(new PaymentDeclined() instanceof OutOfStock).toBe(false);
  });

  it('matches its own instances, and its parents match them too', () => {
    const declined = new PaymentDeclined();
    expect(declined instanceof PaymentDeclined).toBe(true);
    expect(declined instanceof sdk.OperonResponseError).toBe(true);
    expect(declined instanceof sdk.OperonError).toBe(true);
    expect(declined instanceof Error).toBe(true);
    expect(declined instanceof sdk.OperonWorkflowConflictError).toBe(false);
    expect(declined.code).toBe('OPERON_ERR_HTTP_RESPONSE');
    expect(declined.status).toBe(402);
  });

  it('does not match an error rebuilt from a record with its inherited code', () => {
    const rebuilt = new Error('payment declined');
    sdk.brandOperonError(rebuilt, 'OPERON_ERR_HTTP_RESPONSE');
    expect(rebuilt instanceof sdk.OperonResponseError).toBe(true);
    expect(rebuilt instanceof PaymentDeclined).toBe(false);
  });

  it('with a code of its own, is matched by that code and still by its parents', () => {
    class Overdrawn extends sdk.OperonError {
      static override readonly CODE: string = 'APP_ERR_OVERDRAWN';
    }
    class Frozen extends Overdrawn {}
    expect(new Overdrawn('x') instanceof Overdrawn).toBe(true);
    expect(new Overdrawn('x') instanceof sdk.OperonError).toBe(true);
    expect(new Overdrawn('x').code).toBe('APP_ERR_OVERDRAWN');
    expect(new sdk.OperonError('x') instanceof Overdrawn).toBe(false);
    expect(new Frozen('x') instanceof Overdrawn).toBe(true);
    expect(new Overdrawn('x') instanceof Frozen).toBe(false);
  });

  it('still rejects what is not an object', () => {
    for (const value of [null, undefined, 'OPERON_ERR_HTTP_RESPONSE', 42] as unknown as object[]) {
      expect(value instanceof sdk.OperonError).toBe(false);
      expect(value instanceof PaymentDeclined).toBe(false);
    }
  });
});

describe('across two copies of the sdk', () => {
  it('loads a distinct copy', () => {
    expect(copy.OperonResponseError).not.toBe(sdk.OperonResponseError);
  });

  it('matches Operon classes of one copy against instances of the other, by class', () => {
    expect(new copy.OperonResponseError('x', 418) instanceof sdk.OperonResponseError).toBe(true);
    expect(new sdk.OperonResponseError('x', 418) instanceof copy.OperonResponseError).toBe(true);
    expect(new copy.OperonWorkflowConflictError('u') instanceof sdk.OperonError).toBe(true);
    expect(new copy.OperonWorkflowConflictError('u') instanceof sdk.OperonWorkflowConflictError).toBe(true);
    expect(new copy.OperonWorkflowConflictError('u') instanceof sdk.OperonWorkflowNotFoundError).toBe(false);
    expect(new copy.OperonError('x') instanceof sdk.OperonResponseError).toBe(false);
  });

  it('keeps a user subclass from matching the other copy’s parent instances', () => {
    class PaymentDeclined extends sdk.OperonResponseError {}
    expect(new copy.OperonResponseError('x') instanceof PaymentDeclined).toBe(false);
    expect(new PaymentDeclined('x', 402) instanceof copy.OperonResponseError).toBe(true);
    expect(new PaymentDeclined('x', 402) instanceof copy.OperonError).toBe(true);
  });

  it('matches an error rebuilt from a record by one copy against the other copy’s class', () => {
    const rebuilt = new Error('taken');
    copy.brandOperonError(rebuilt, 'OPERON_ERR_WORKFLOW_CONFLICT');
    expect(rebuilt instanceof sdk.OperonWorkflowConflictError).toBe(true);
    expect(rebuilt instanceof sdk.OperonError).toBe(true);
    expect(rebuilt instanceof sdk.OperonResponseError).toBe(false);
  });
});
