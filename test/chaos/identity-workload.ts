/**
 * The identity workload: client-chosen UUIDs shaped like the ones the runtime derives. Each case
 * has a parent `X` (a workflow that starts a child, in a request that starts a second workflow)
 * and client workflows at UUIDs like `X-0`, `X.1`, `X-0-0`, `X.1-0`, `X~c0` (of the child's
 * function or another), started before `X`, after it, or at the same time. At the end:
 *  - every client workflow ran as itself: its answer is its own function's, with its own tag,
 *    under its own UUID (never the parent's child or the request's second workflow);
 *  - the parent's child and the request's second workflow ran with the parent's arguments, under
 *    UUIDs no client chose (a client workflow was never adopted);
 *  - every request was answered 200 (a 409 here means a client UUID collided with a derived one),
 *    except that a UUID with a character a runtime may reserve for the UUIDs it derives (`~`, `:`,
 *    `/`, `#`) may be refused with a 400 by the identifier rule.
 */
import type { CarefulClient } from './careful-client.js';
import type { PostgresServer } from './postgres-server.js';
import type { SeededRandom } from './seeded-random.js';
import type { Timeline } from './timeline.js';
import { LoopingWorkload, answerProblem, capped, json, type Answer, type WorkloadCheck } from './workload.js';
import type { ParentResult, TaggedResult } from './app/src/identity-results.js';

type Fn = TaggedResult['fn'];

export interface ClientWorkflow {
  readonly workflowUUID: string;
  readonly fn: Fn;
  readonly tag: string;
  /** A 400 (the identifier rule) is an acceptable answer: the UUID has a character a runtime may reserve. */
  readonly mayBeRefused: boolean;
  answer?: Answer<TaggedResult>;
}

export interface IdentityCase {
  readonly parentUUID: string;
  readonly tag: string;
  readonly order: 'before' | 'after' | 'together';
  readonly clients: readonly ClientWorkflow[];
  answer?: Answer<ParentResult>;
}

/**
 * Suffixes runtimes use for derived UUIDs (children `-<n>`, a request's later workflows `.<n>`),
 * and mixes of them: ordinary UUID characters, which a client may always use.
 */
const ORDINARY_SHAPES = ['-0', '.1', '-1', '.2', '-0-0', '.1-0', '-0.1'];
/** Shapes with a character a runtime may keep for derived UUIDs (and then refuse from clients). */
const RESERVED_SHAPES = ['~c0', '~r1', '~0', ':0', '/1', '#0'];
const RESERVED = /[~:/#]/;

export class IdentityWorkload extends LoopingWorkload {
  readonly name = 'identity';
  readonly cases: IdentityCase[] = [];

  constructor(
    client: CarefulClient,
    timeline: Timeline,
    private readonly rng: SeededRandom,
    loops: number,
    maxRuns: number,
  ) {
    super(client, timeline, loops, maxRuns);
  }

  protected get runs(): number {
    return this.cases.length;
  }

  protected async runOne(): Promise<void> {
    const parentUUID = `idn-${this.rng.seed}-${this.cases.length}`;
    const shapes = this.rng.shuffle(ORDINARY_SHAPES).slice(0, this.rng.int(1, 3));
    if (!shapes.includes('-0') && !shapes.includes('.1')) shapes.push(this.rng.pick(['-0', '.1']));
    if (this.rng.chance(0.4)) shapes.push(this.rng.pick(RESERVED_SHAPES));
    const identityCase: IdentityCase = {
      parentUUID,
      tag: `parent:${parentUUID}`,
      order: this.rng.pick(['before', 'after', 'together'] as const),
      clients: shapes.map((shape) => {
        const workflowUUID = `${parentUUID}${shape}`;
        return { workflowUUID, fn: this.rng.pick(['child', 'solo'] as const), tag: `client:${workflowUUID}`, mayBeRefused: RESERVED.test(shape) };
      }),
    };
    this.cases.push(identityCase);
    const parent = async () => {
      identityCase.answer = await this.post<ParentResult>({
        path: '/identity/parent',
        body: { tag: identityCase.tag },
        workflowUUID: parentUUID,
        user: 'ivy',
        what: `parent ${parentUUID}`,
      });
    };
    const client = async (c: ClientWorkflow) => {
      c.answer = await this.post<TaggedResult>({ path: `/identity/${c.fn}`, body: { tag: c.tag }, workflowUUID: c.workflowUUID, user: 'ivy', what: `client ${c.workflowUUID}` });
    };
    if (identityCase.order === 'together') {
      await Promise.all([parent(), ...identityCase.clients.map(client)]);
      return;
    }
    if (identityCase.order === 'after') await parent();
    for (const c of identityCase.clients) await client(c);
    if (identityCase.order === 'before') await parent();
  }

  async check(_postgres: PostgresServer): Promise<WorkloadCheck> {
    return checkIdentity(this.cases);
  }
}

export function checkIdentity(cases: readonly IdentityCase[]): WorkloadCheck {
  const problems: string[] = [];
  let clientWorkflows = 0;
  let refusedByRule = 0;
  for (const c of cases) {
    // The UUIDs of client workflows that exist: one refused by the identifier rule was never started.
    const clientUUIDs = new Set(c.clients.filter((w) => !(w.answer && 'refused' in w.answer && w.answer.refused.startsWith('400 '))).map((w) => w.workflowUUID));
    const name = `parent ${c.parentUUID} (clients ${c.clients.map((w) => `${w.workflowUUID} of ${w.fn}`).join(', ')} started ${c.order === 'together' ? 'with' : c.order} it)`;
    for (const w of c.clients) {
      clientWorkflows++;
      if (w.mayBeRefused && w.answer && 'refused' in w.answer && w.answer.refused.startsWith('400 ')) {
        refusedByRule++;
        continue;
      }
      const notOk = answerProblem(w.answer);
      if (notOk) {
        problems.push(`${name}: client ${w.workflowUUID}: ${notOk}`);
        continue;
      }
      const got = (w.answer as { ok: TaggedResult }).ok;
      if (got.fn !== w.fn || got.tag !== w.tag || got.ranAs !== w.workflowUUID) {
        problems.push(`${name}: client ${w.workflowUUID} was handed ${json(got)}, not its own result ${json({ fn: w.fn, tag: w.tag, ranAs: w.workflowUUID })}`);
      }
    }
    const notOk = answerProblem(c.answer);
    if (notOk) {
      problems.push(`${name}: ${notOk}`);
      continue;
    }
    const got = (c.answer as { ok: ParentResult }).ok;
    if (got.tag !== c.tag || got.ranAs !== c.parentUUID) problems.push(`${name}: the parent answered ${json({ tag: got.tag, ranAs: got.ranAs })}`);
    const derived = [
      { what: 'its child', result: got.child, fn: 'child', tag: `${c.tag}/child` },
      { what: "its request's second workflow", result: got.second, fn: 'solo', tag: `${c.tag}/second` },
    ] as const;
    for (const d of derived) {
      if (d.result?.fn !== d.fn || d.result.tag !== d.tag) {
        problems.push(`${name}: ${d.what} returned ${json(d.result)}, not the result of ${d.fn}(${json(d.tag)})${clientUUIDs.has(d.result?.ranAs) ? ': a client workflow was adopted' : ''}`);
      } else if (clientUUIDs.has(d.result.ranAs) || d.result.ranAs === c.parentUUID) {
        problems.push(`${name}: ${d.what} ran as ${d.result.ranAs}, a UUID a client chose`);
      }
    }
  }
  return { runs: cases.length, problems: capped(problems), figures: { 'client workflows': clientWorkflows, 'client UUIDs refused by the identifier rule (allowed)': refusedByRule } };
}
