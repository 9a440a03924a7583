import { useState } from 'preact/hooks';
import { ApiError, post, type WorkflowDetail } from './api.js';
import { ConfirmDialog } from './confirm-dialog.js';
import { ENDED, workflowHref } from './format.js';

type Action = 'cancel' | 'resume' | 'restart' | 'fork';

const WHAT: Record<Action, { title: string; label: string; explain: string }> = {
  cancel: {
    title: 'Cancel this workflow?',
    label: 'Cancel workflow',
    explain: 'It becomes CANCELLED at once, with its children and theirs. The operation in flight finishes and is recorded; no further one starts. Resume continues it later.',
  },
  resume: {
    title: 'Resume this workflow?',
    label: 'Resume workflow',
    explain: 'It goes back to PENDING (or ENQUEUED on its queue) and continues after its last recorded operation.',
  },
  restart: {
    title: 'Restart this workflow?',
    label: 'Start a new one',
    explain: 'A new workflow starts with the same inputs. This one stays as it is.',
  },
  fork: {
    title: 'Fork this workflow?',
    label: 'Fork',
    explain: 'A new workflow starts with the same inputs; its operations before the chosen step return this one’s records, the rest run anew.',
  },
};

/** The new workflow a restart or fork started, whatever the answer calls it. */
function newWorkflowOf(answer: unknown): string | undefined {
  const found = answer as { workflowUUID?: unknown; newWorkflowUUID?: unknown } | undefined;
  const uuid = found?.newWorkflowUUID ?? found?.workflowUUID;
  return typeof uuid === 'string' ? uuid : undefined;
}

/** Cancel, resume, restart and fork, each behind a confirmation; `changed` reloads the page's data. */
export function WorkflowActions({ workflow, changed }: { workflow: WorkflowDetail; changed: () => void }) {
  const [asking, setAsking] = useState<Action | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string; link?: string } | undefined>(undefined);
  const [fromStep, setFromStep] = useState('0');
  const [forkUUID, setForkUUID] = useState('');
  const uuid = encodeURIComponent(workflow.workflowUUID);
  const ended = ENDED.has(workflow.status);
  const allowed: Record<Action, boolean> = {
    cancel: !ended,
    resume: workflow.status === 'CANCELLED' || workflow.status === 'ERROR' || workflow.status === 'RETRIES_EXCEEDED',
    restart: true,
    fork: true,
  };
  const run = async (action: Action) => {
    setBusy(true);
    try {
      const body = action === 'fork' ? { fromStep: Number(fromStep), ...(forkUUID ? { workflowUUID: forkUUID } : {}) } : {};
      const answer = await post(`/operon/workflows/${uuid}/${action}`, body);
      const started = newWorkflowOf(answer);
      setMessage({
        ok: true,
        text: action === 'cancel' ? 'Cancelled.' : action === 'resume' ? 'Resumed.' : `Started ${started ?? 'a new workflow'}.`,
        link: action === 'restart' || action === 'fork' ? started : undefined,
      });
      changed();
    } catch (error) {
      const status = error instanceof ApiError ? error.status : 0;
      const text = status === 404 ? `This version of the app cannot ${action} workflows yet.` : (error as Error).message;
      setMessage({ ok: false, text });
    } finally {
      setBusy(false);
      setAsking(undefined);
    }
  };
  return (
    <div class="actions">
      {(Object.keys(WHAT) as Action[]).map((action) => (
        <button type="button" class={action === 'cancel' ? 'danger' : ''} disabled={!allowed[action]} data-action={action} onClick={() => setAsking(action)}>
          {action[0]!.toUpperCase() + action.slice(1)}
        </button>
      ))}
      {message ? (
        <span class={message.ok ? 'ok' : 'problem-inline'} role="status">
          {message.text} {message.link ? <a href={workflowHref(message.link)}>Open it</a> : null}
        </span>
      ) : null}
      {asking ? (
        <ConfirmDialog title={WHAT[asking].title} confirmLabel={WHAT[asking].label} busy={busy} onConfirm={() => void run(asking)} onCancel={() => setAsking(undefined)}>
          <p>
            <span class="mono">{workflow.workflowUUID}</span> ({workflow.workflowName}, {workflow.status})
          </p>
          <p>{WHAT[asking].explain}</p>
          {asking === 'fork' ? (
            <div class="fork-fields">
              <label>
                From step
                <input type="number" min="0" value={fromStep} onInput={(event) => setFromStep((event.target as HTMLInputElement).value)} />
              </label>
              <label>
                New workflow UUID (optional)
                <input type="text" value={forkUUID} onInput={(event) => setForkUUID((event.target as HTMLInputElement).value)} />
              </label>
            </div>
          ) : null}
        </ConfirmDialog>
      ) : null}
    </div>
  );
}
