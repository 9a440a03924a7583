import { useState } from 'preact/hooks';
import type { WorkflowDetail, WorkflowSummary } from './api.js';
import { workflowHref } from './format.js';
import { StatusBadge } from './status-badge.js';
import { useApi } from './use-api.js';

/** A workflow's children, each opening to its own children (read when opened). */
export function ChildTree({ children }: { children: readonly WorkflowSummary[] }) {
  if (children.length === 0) return <p class="muted">No child workflows.</p>;
  return (
    <ul class="tree" data-testid="children">
      {children.map((child) => (
        <ChildNode child={child} />
      ))}
    </ul>
  );
}

function ChildNode({ child }: { child: WorkflowSummary }) {
  const [open, setOpen] = useState(false);
  const detail = useApi<WorkflowDetail>(open ? `/operon/workflows/${encodeURIComponent(child.workflowUUID)}` : undefined);
  return (
    <li>
      <button type="button" class="toggle" aria-expanded={open} onClick={() => setOpen(!open)} title="show its children">
        {open ? '▾' : '▸'}
      </button>
      <a class="mono" href={workflowHref(child.workflowUUID)}>
        {child.workflowUUID}
      </a>{' '}
      <span class="mono muted">{child.workflowName}</span> <StatusBadge status={child.status} />
      {open && detail.data ? <ChildTree children={detail.data.children} /> : null}
      {open && detail.loading ? <span class="muted"> …</span> : null}
    </li>
  );
}
