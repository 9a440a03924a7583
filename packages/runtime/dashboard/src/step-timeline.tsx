import { useState } from 'preact/hooks';
import type { Step } from './api.js';
import { shortTime, shown, workflowHref } from './format.js';

/** Every operation on one time axis, from the workflow's start to its last record; a row opens to its output. */
export function StepTimeline({ steps, createdAt }: { steps: readonly Step[]; createdAt: string }) {
  const [open, setOpen] = useState<number | undefined>(undefined);
  if (steps.length === 0) return <p class="muted">No operation recorded yet.</p>;
  const begin = new Date(createdAt).getTime();
  const times = steps.map((step) => {
    const end = new Date(step.endedAt).getTime();
    const start = new Date(step.startedAt ?? step.startedAfter ?? step.endedAt).getTime();
    return { start: Math.min(start, end), end };
  });
  const finish = Math.max(begin + 1, ...times.map((t) => t.end));
  const span = finish - begin;
  const percent = (ms: number) => `${(Math.max(0, ms - begin) / span) * 100}%`;
  return (
    <table class="grid timeline" data-testid="steps">
      <thead>
        <tr>
          <th>#</th>
          <th>Operation</th>
          <th>Kind</th>
          <th class="bar-cell">
            {shortTime(createdAt)} → +{span} ms
          </th>
          <th>Ended</th>
        </tr>
      </thead>
      <tbody>
        {steps.map((step, index) => {
          const time = times[index]!;
          const failed = step.error !== null && step.error !== undefined;
          return [
            <tr class={`step ${failed ? 'failed' : ''}`} onClick={() => setOpen(open === index ? undefined : index)} data-function-id={step.functionID}>
              <td class="mono">{step.functionID}</td>
              <td class="mono">
                {step.functionName}
                {step.childUUID ? (
                  <>
                    {' '}
                    → <a href={workflowHref(step.childUUID)}>{step.childUUID}</a>
                  </>
                ) : null}
              </td>
              <td>
                <span class={`kind kind-${step.kind}`}>{step.kind}</span>
              </td>
              <td class="bar-cell">
                <div class="track">
                  <div
                    class={`bar ${failed ? 'bar-failed' : ''}`}
                    style={{ left: percent(time.start), width: `max(3px, calc(${percent(time.end)} - ${percent(time.start)}))` }}
                    title={`${time.end - time.start} ms`}
                  />
                </div>
              </td>
              <td>{shortTime(step.endedAt)}</td>
            </tr>,
            open === index ? (
              <tr class="step-detail">
                <td colSpan={5}>
                  {failed ? (
                    <>
                      <h4>Error</h4>
                      <pre>{shown(step.error)}</pre>
                    </>
                  ) : (
                    <>
                      <h4>Output</h4>
                      <pre>{shown(step.output)}</pre>
                    </>
                  )}
                  {step.deadline ? <p>Deadline: {shortTime(step.deadline)}</p> : null}
                  {step.messageConsumed !== undefined && step.messageConsumed !== null ? (
                    <>
                      <h4>Message consumed</h4>
                      <pre>{shown(step.messageConsumed)}</pre>
                    </>
                  ) : null}
                  {step.eventSet !== undefined && step.eventSet !== null ? (
                    <>
                      <h4>Event set</h4>
                      <pre>{shown(step.eventSet)}</pre>
                    </>
                  ) : null}
                </td>
              </tr>
            ) : null,
          ];
        })}
      </tbody>
    </table>
  );
}
