/**
 * The dashboard in a real browser (Debian's chromium, headless, driven by playwright-core) against
 * a real server on a real socket: the startup link's token becomes a cookie and leaves the
 * address bar; the list shows the workflows and filters them; a click opens one workflow with its
 * inputs, its operations on a timeline and its child; cancel asks first, and the database then
 * holds the workflow CANCELLED; sections whose routes this app does not serve say so. The queue
 * and version filters (alone and with the status filter) show exactly the rows the database
 * holds for them, and the timeline shows each operation's start and what a recv waits on.
 * Without the token the page says how to sign in. Screenshots go to OPERON_SCREENSHOT_DIR when it is set.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Communicator, Transaction, Workflow, WorkflowQueue, type CommunicatorContext, type TransactionContext, type WorkflowContext } from '@operon/sdk';
import { createHttpServer, managementAccess, type OperonRuntime } from '@operon/runtime';
import { query, startRuntime, testConfig } from '../helpers/test-databases.js';

const CHROMIUM = '/usr/bin/chromium';

class Orders {
  @Transaction()
  static async reserve(ctx: TransactionContext, item: string): Promise<string> {
    const { rows } = await ctx.client.query<{ id: string }>("SELECT 'R-' || upper($1) AS id", [item]);
    return rows[0]!.id;
  }

  @Communicator()
  static async charge(_ctx: CommunicatorContext, amount: number): Promise<{ charged: number }> {
    return { charged: amount };
  }

  @Workflow()
  static async receipt(_ctx: WorkflowContext, id: string): Promise<string> {
    return `receipt for ${id}`;
  }

  /** Reserves, charges, starts a child, then waits for a shipping confirmation that never comes. */
  @Workflow()
  static async order(ctx: WorkflowContext, item: string, amount: number): Promise<unknown> {
    const id = await ctx.invoke(Orders).reserve(item);
    await ctx.invoke(Orders).charge(amount);
    await ctx.invokeChildWorkflow(Orders).receipt(id);
    return ctx.recv('shipped', 600);
  }
}

const mail = new WorkflowQueue('dashboard-mail');
const bulk = new WorkflowQueue('dashboard-bulk');

const config = testConfig('dashboard');
let runtime: OperonRuntime;
let app: Awaited<ReturnType<typeof createHttpServer>>;
let base: string;
let browser: Browser;
const shots = process.env.OPERON_SCREENSHOT_DIR;

async function shot(page: Page, name: string): Promise<void> {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

const statusOf = async (uuid: string) =>
  (await query<{ status: string }>(config.database.system_database, 'SELECT status FROM operon.workflow_status WHERE workflow_uuid = $1', [uuid]))[0]?.status;

beforeAll(async () => {
  expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: .ci/run installs Debian's chromium`).toBe(true);
  runtime = await startRuntime([Orders], config);
  await runtime.client.invoke(Orders, { workflowUUID: 'order-espresso' }).order('espresso', 42);
  await runtime.client.invoke(Orders, { workflowUUID: 'order-tea' }).order('tea', 7);
  // Both are waiting for their message once their child has ended.
  for (const child of ['order-espresso', 'order-tea']) {
    for (;;) {
      const rows = await query<{ status: string }>(config.database.system_database, 'SELECT status FROM operon.workflow_status WHERE parent_uuid = $1', [child]);
      if (rows[0]?.status === 'SUCCESS') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  app = await createHttpServer(runtime);
  base = await app.listen({ host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
  await runtime?.destroy({ timeoutMs: 100 });
});

describe('the dashboard in a browser', () => {
  it('without the token, says how to sign in', async () => {
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`${base}/operon/dashboard`);
      await expect.poll(() => page.getByRole('alert').textContent()).toContain('Not signed in');
    } finally {
      await context.close();
    }
  });

  it('goes from the list to a workflow and cancels it, asking first; the database holds it CANCELLED', async () => {
    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    // Nothing may be loaded from anywhere but this server.
    const foreign: string[] = [];
    context.on('request', (request) => {
      if (!request.url().startsWith(base)) foreign.push(request.url());
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${base}/operon/dashboard?token=${encodeURIComponent(managementAccess(runtime).token)}`);
      // The link's token became a cookie; the address bar no longer shows it.
      expect(page.url()).toBe(`${base}/operon/dashboard`);
      const cookies = await context.cookies();
      expect(cookies.find((c) => c.name === 'operon_token')).toMatchObject({ httpOnly: true, path: '/operon' });

      const table = page.getByTestId('workflow-table');
      await expect.poll(() => table.locator('tbody tr').count()).toBe(4);
      await expect.poll(() => table.locator('tr[data-uuid="order-espresso"] [data-status]').textContent()).toBe('PENDING');
      await shot(page, 'dashboard-list');

      // A filter: only the ended ones (the two receipts).
      await page.locator('select[name="status"]').selectOption('SUCCESS');
      await page.getByRole('button', { name: 'Apply' }).click();
      await expect.poll(() => table.locator('tbody tr').count()).toBe(2);
      expect(await table.locator('tbody').textContent()).toContain('Orders.receipt');
      await page.getByRole('button', { name: 'Clear' }).click();
      await expect.poll(() => table.locator('tbody tr').count()).toBe(4);

      await table.getByRole('link', { name: 'order-espresso', exact: true }).click();
      await expect.poll(() => page.getByTestId('steps').locator('tr.step').count()).toBeGreaterThanOrEqual(4);
      expect(JSON.parse((await page.getByTestId('inputs').textContent())!)).toEqual(['espresso', 42]);
      const steps = await page.getByTestId('steps').textContent();
      for (const name of ['Orders.reserve', 'Orders.charge', 'Orders.receipt']) expect(steps).toContain(name);
      await expect.poll(() => page.getByTestId('waiting-on').textContent()).toMatch(/^recv/);
      expect(await page.getByTestId('children').textContent()).toContain('Orders.receipt');
      // A row opens to its recorded output.
      await page.locator('tr.step', { hasText: 'Orders.charge' }).click();
      expect(await page.locator('tr.step-detail pre').textContent()).toContain('"charged": 42');
      await shot(page, 'dashboard-workflow');

      await page.locator('button[data-action="cancel"]').click();
      await expect.poll(() => page.getByRole('dialog').textContent()).toContain('Cancel this workflow?');
      await shot(page, 'dashboard-cancel-confirm');
      // Asked, not yet done.
      expect(await statusOf('order-espresso')).toBe('PENDING');
      await page.getByTestId('confirm').click();
      const cancelServed = (await app.inject({ method: 'POST', url: '/operon/workflows/order-tea/cancel', headers: { authorization: 'Bearer wrong-token' } })).statusCode !== 404;
      if (cancelServed) {
        await expect.poll(() => statusOf('order-espresso')).toBe('CANCELLED');
        await expect.poll(() => page.locator('.summary [data-status]').textContent()).toBe('CANCELLED');
      } else {
        // This app's server does not serve the cancel route yet: the page says so and nothing changed.
        await expect.poll(() => page.locator('.actions [role="status"]').textContent()).toContain('cannot cancel workflows yet');
        expect(await statusOf('order-espresso')).toBe('PENDING');
      }
      expect(await statusOf('order-tea')).toBe('PENDING');

      await page.getByRole('link', { name: 'Executors' }).click();
      await expect.poll(() => page.getByTestId('executors-table').textContent()).toContain(runtime.executor.lease.executorId);
      await shot(page, 'dashboard-executors');
      await page.getByRole('link', { name: 'Versions' }).click();
      // GET /operon/versions answers; this runtime serves no bundle, so the list is empty.
      await expect.poll(() => page.locator('main section').textContent()).toContain('None.');
      expect(await page.locator('main [role="status"]').count()).toBe(0);
      expect(errors).toEqual([]);
      expect(foreign).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it('filters the list by queue and by version, alone and with a status, showing what the database holds', async () => {
    const sys = config.database.system_database;
    const receipts = [];
    for (const [uuid, queue] of [['mail-1', mail], ['bulk-1', bulk], ['mail-2', mail], ['mail-3', mail], ['bulk-2', bulk]] as const) {
      receipts.push(await runtime.client.invoke(Orders, { workflowUUID: uuid, queue: { queue } }).receipt(uuid));
    }
    await Promise.all(receipts.map((handle) => handle.getResult()));
    // Two workflows as if started on a deployed bundle (the version is what the row holds), one a queued one.
    const version = 'c0ffee0123456789abcdef';
    await query(sys, `UPDATE operon.workflow_status SET version = $1 WHERE workflow_uuid IN ('mail-2', 'order-tea')`, [version]);
    // A second one still running on the queue, so that a status narrows the queue's rows.
    await query(sys, `UPDATE operon.workflow_status SET status = 'ERROR' WHERE workflow_uuid = 'mail-3'`);
    const expected = async (condition: string, values: unknown[]) =>
      (
        await query<{ workflow_uuid: string }>(
          sys,
          `SELECT workflow_uuid FROM operon.workflow_status WHERE kind = 'workflow' AND ${condition} ORDER BY created_at DESC, workflow_uuid DESC`,
          values,
        )
      ).map((r) => r.workflow_uuid);

    const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(`${base}/operon/dashboard?token=${encodeURIComponent(managementAccess(runtime).token)}`);
      const table = page.getByTestId('workflow-table');
      const shown = () => table.locator('tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-uuid')));
      await expect.poll(() => table.locator('tbody tr').count()).toBe(9);
      // The queue input suggests the queues the server knows.
      await expect
        .poll(() => page.locator('#known-queue option').evaluateAll((options) => options.map((o) => o.getAttribute('value') ?? '').sort()))
        .toEqual(expect.arrayContaining(['dashboard-bulk', 'dashboard-mail']));

      await page.locator('input[name="queue"]').fill('dashboard-mail');
      await page.getByRole('button', { name: 'Apply' }).click();
      const mailRows = await expected('queue_name = $1', ['dashboard-mail']);
      expect(mailRows).toEqual(['mail-3', 'mail-2', 'mail-1']);
      await expect.poll(shown).toEqual(mailRows);
      expect(await table.locator('td[data-column="queue"]').allTextContents()).toEqual(['dashboard-mail', 'dashboard-mail', 'dashboard-mail']);

      await page.locator('select[name="status"]').selectOption('SUCCESS');
      await page.getByRole('button', { name: 'Apply' }).click();
      await expect.poll(shown).toEqual(await expected('queue_name = $1 AND status = $2', ['dashboard-mail', 'SUCCESS']));
      expect(await shown()).toEqual(['mail-2', 'mail-1']);
      await shot(page, 'dashboard-list-filters');

      await page.getByRole('button', { name: 'Clear' }).click();
      await expect.poll(() => table.locator('tbody tr').count()).toBe(9);
      await page.locator('input[name="version"]').fill(version);
      await page.getByRole('button', { name: 'Apply' }).click();
      const versionRows = await expected('version = $1', [version]);
      expect(versionRows.sort()).toEqual(['mail-2', 'order-tea']);
      await expect.poll(shown).toEqual(await expected('version = $1', [version]));
      expect(await table.locator('td[data-column="version"]').allTextContents()).toEqual([version.slice(0, 12), version.slice(0, 12)]);
      await page.locator('input[name="queue"]').fill('dashboard-bulk');
      await page.getByRole('button', { name: 'Apply' }).click();
      await expect.poll(() => page.getByText('No workflow matches these filters.').count()).toBe(1);
      expect(await shown()).toEqual([]);

      // The timeline: a start per operation, and the topic the recv waits on.
      await page.goto(`${base}/operon/dashboard#/workflows/order-tea`);
      await expect.poll(() => page.getByTestId('steps').locator('tr.step').count()).toBeGreaterThanOrEqual(4);
      const recvRow = page.locator('tr.step', { hasText: 'operon.recv.deadline' });
      expect(await recvRow.getByTestId('step-target').textContent()).toContain('topic "shipped"');
      const started = await page.getByTestId('steps').locator('tr.step td[data-column="started"]').allTextContents();
      expect(started.length).toBeGreaterThanOrEqual(4);
      for (const text of started) expect(text).toMatch(/^\+\d+ ms$/);
      await expect.poll(() => page.getByTestId('waiting-on').textContent()).toContain('topic shipped');
      await shot(page, 'dashboard-workflow-steps');
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
