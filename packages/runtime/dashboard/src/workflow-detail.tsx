import { listOf, type Step, type WorkflowDetail } from './api.js';
import { ChildTree } from './child-tree.js';
import { shortTime, shown, workflowHref } from './format.js';
import { Problem } from './problem.js';
import { StatusBadge } from './status-badge.js';
import { StepTimeline } from './step-timeline.js';
import { useApi } from './use-api.js';
import { WorkflowActions } from './workflow-actions.js';

function waitingText(waiting: WorkflowDetail['waitingOn']): string {
  if (!waiting) return '—';
  const { kind, ...rest } = waiting;
  if (kind === 'queue') {
    const notBefore = typeof rest.notBefore === 'string' ? `, delayed until ${shortTime(rest.notBefore)}` : '';
    return `queue ${String(rest.queueName)}: number ${String(rest.position)} in line${notBefore}`;
  }
  const details = Object.entries(rest)
    .filter(([, value]) => value !== null && value !== undefined)
    .map(([key, value]) => `${key} ${typeof value === 'string' && /^\d{4}-\d\d-\d\dT/.test(value) ? shortTime(value) : String(value)}`)
    .join(', ');
  return details ? `${kind}: ${details}` : kind;
}

/** One workflow: what it is, what it waits on, its operations on a timeline, its children, and the buttons. */
export function WorkflowDetailView({ uuid }: { uuid: string }) {
  const path = `/operon/workflows/${encodeURIComponent(uuid)}`;
  const detail = useApi<WorkflowDetail>(path);
  const steps = useApi<unknown>(`${path}/steps`);
  const reload = () => {
    detail.reload();
    steps.reload();
  };
  const wf = detail.data;
  return (
    <section>
      <p>
        <a href="#/workflows">← Workflows</a>
      </p>
      <h1 class="mono">{uuid}</h1>
      {detail.error ? <Problem error={detail.error} what="Workflow" /> : null}
      {wf ? (
        <>
          <div class="summary">
            <StatusBadge status={wf.status} stuck={wf.stuck} />
            <span class="mono">{wf.workflowName}</span>
            <WorkflowActions workflow={wf} changed={reload} />
          </div>
          {wf.stuck ? (
            <div class="problem" role="alert">
              No progress for longer than <code>management.stuckAfterSeconds</code> while not waiting on a timer or a message. See what it waits on below.
            </div>
          ) : null}
          <dl class="facts">
            <dt>Waiting on</dt>
            <dd data-testid="waiting-on">{waitingText(wf.waitingOn)}</dd>
            <dt>Executor</dt>
            <dd class="mono">{wf.executorId}</dd>
            <dt>User</dt>
            <dd>
              {wf.authenticatedUser || 'anonymous'}
              {wf.assumedRole ? ` as ${wf.assumedRole}` : ''}
            </dd>
            <dt>Parent</dt>
            <dd class="mono">{wf.parentUUID ? <a href={workflowHref(wf.parentUUID)}>{wf.parentUUID}</a> : '—'}</dd>
            {wf.version ? (
              <>
                <dt>Version</dt>
                <dd class="mono">{wf.version}</dd>
              </>
            ) : null}
            {wf.queueName ? (
              <>
                <dt>Queue</dt>
                <dd class="mono">{wf.queueName}</dd>
              </>
            ) : null}
            <dt>Created</dt>
            <dd>{shortTime(wf.createdAt)}</dd>
            <dt>Updated</dt>
            <dd>{shortTime(wf.updatedAt)}</dd>
          </dl>
          <div class="values">
            <div>
              <h3>Inputs</h3>
              <pre data-testid="inputs">{shown(wf.inputs)}</pre>
            </div>
            <div>
              <h3>{wf.error !== null && wf.error !== undefined ? 'Error' : 'Output'}</h3>
              <pre data-testid="output">{shown(wf.error ?? wf.output)}</pre>
            </div>
          </div>
          <h2>Operations</h2>
          {steps.error ? <Problem error={steps.error} what="Operations" /> : null}
          {steps.data !== undefined ? <StepTimeline steps={listOf<Step>(steps.data)} createdAt={wf.createdAt} /> : null}
          <h2>Children</h2>
          <ChildTree children={wf.children ?? []} />
          {(wf.removedChildren ?? []).length > 0 ? (
            <ul class="tree" data-testid="removed-children">
              {(wf.removedChildren ?? []).map((c) => (
                <li class="muted">
                  <span class="mono">{c.workflowUUID}</span> (started by operation {c.functionID}) no longer exists
                  {c.resultRead ? '; its result was recorded' : '; its result was never recorded'}
                </li>
              ))}
            </ul>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
