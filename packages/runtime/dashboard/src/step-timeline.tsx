import { useState } from 'preact/hooks';
import type { Step, StepTarget } from './api.js';
import { shortTime, shown, workflowHref } from './format.js';

/** What a messaging step addressed: `topic "t" → uuid`, `key "k" of uuid`. */
function targetText(target: StepTarget): string {
  const parts: string[] = [];
  if ('topic' in target) parts.push(target.topic === null || target.topic === undefined ? 'default topic' : `topic "${target.topic}"`);
  if (target.key !== undefined) parts.push(`key "${target.key}"`);
  if (target.destinationUUID !== undefined) parts.push(`→ ${target.destinationUUID}`);
  if (target.workflowUUID !== undefined) parts.push(`of ${target.workflowUUID}`);
  return parts.join(' ');
}

/** Every operation on one time axis, from the workflow's start to its last record; a row opens to its output. */
export function StepTimeline({ steps, createdAt }: { steps: readonly Step[]; createdAt: string }) {
  const [open, setOpen] = useState<number | undefined>(undefined);
  if (steps.length === 0) return <p class="muted">No operation recorded yet.</p>;
  const begin = new Date(createdAt).getTime();
  let previousEnd = begin;
  const times = steps.map((step) => {
    const end = new Date(step.endedAt).getTime();
    // A record written before starts were recorded began at the earliest after the one before it.
    const start = step.startedAt ? new Date(step.startedAt).getTime() : Math.min(previousEnd, end);
    previousEnd = Math.max(previousEnd, end);
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
          <th>Started</th>
          <th>Took</th>
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
                {step.target ? (
                  <span class="muted target" data-testid="step-target">
                    {' '}
                    {targetText(step.target)}
                  </span>
                ) : null}
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
                    data-duration-ms={time.end - time.start}
                  />
                </div>
              </td>
              <td class="mono" data-column="started" title={step.startedAt ?? 'not recorded'}>
                {step.startedAt ? `+${time.start - begin} ms` : <span class="muted">-</span>}
              </td>
              <td class="mono">{step.startedAt ? `${time.end - time.start} ms` : <span class="muted">-</span>}</td>
              <td>{shortTime(step.endedAt)}</td>
            </tr>,
            open === index ? (
              <tr class="step-detail">
                <td colSpan={7}>
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
