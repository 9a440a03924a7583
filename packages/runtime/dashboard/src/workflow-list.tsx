import { useState } from 'preact/hooks';
import { listOf, type WorkflowPage } from './api.js';
import { shortTime, STATUSES, workflowHref } from './format.js';
import { Problem } from './problem.js';
import { StatusBadge } from './status-badge.js';
import { useApi } from './use-api.js';

const FILTERS = ['name', 'queue', 'executor', 'user', 'version', 'parent'] as const;
/** Filters whose input suggests the values the server knows: its queues and its versions. */
const SUGGESTED: Partial<Record<(typeof FILTERS)[number], { path: string; key: string }>> = {
  queue: { path: '/operon/queues', key: 'name' },
  version: { path: '/operon/versions', key: 'version' },
};

/** The values the server lists at `path` (empty when it does not serve it): the datalist of a filter input. */
function Suggestions({ id, path, valueKey }: { id: string; path: string; valueKey: string }) {
  const known = useApi<unknown>(path);
  const values = listOf<Record<string, unknown>>(known.data)
    .map((item) => item[valueKey])
    .filter((value): value is string => typeof value === 'string');
  return (
    <datalist id={id}>
      {values.map((value) => (
        <option value={value} />
      ))}
    </datalist>
  );
}
type Filters = { status: string; createdAfter: string; createdBefore: string; limit: string } & Record<(typeof FILTERS)[number], string>;
const EMPTY: Filters = { status: '', name: '', queue: '', executor: '', user: '', version: '', parent: '', createdAfter: '', createdBefore: '', limit: '25' };

function queryOf(filters: Filters, cursor: string | undefined): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) {
    if (value === '') continue;
    // datetime-local gives local time without a zone: sent as ISO 8601 in UTC.
    params.set(key, key.startsWith('created') ? new Date(value).toISOString() : value);
  }
  if (cursor) params.set('cursor', cursor);
  return params.toString();
}

/** The workflow list: filters, newest first, a page at a time (keyset cursors, kept to go back). */
export function WorkflowList() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const page = useApi<WorkflowPage>(`/operon/workflows?${queryOf(filters, cursor)}`);
  const apply = (event: Event) => {
    event.preventDefault();
    setCursors([]);
    setFilters(draft);
  };
  const field = (key: keyof Filters) => ({
    value: draft[key],
    onInput: (event: Event) => setDraft({ ...draft, [key]: (event.target as HTMLInputElement).value }),
  });
  return (
    <section>
      <h1>Workflows</h1>
      <form class="filters" onSubmit={apply} aria-label="filters">
        <label>
          Status
          <select name="status" {...field('status')} onChange={(event) => setDraft({ ...draft, status: (event.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {STATUSES.map((status) => (
              <option value={status}>{status}</option>
            ))}
          </select>
        </label>
        {FILTERS.map((key) => {
          const suggested = SUGGESTED[key];
          return (
            <label>
              {key[0]!.toUpperCase() + key.slice(1)}
              <input
                name={key}
                type="text"
                {...field(key)}
                placeholder={key === 'name' ? 'Class.method' : key === 'version' ? 'code hash' : ''}
                list={suggested ? `known-${key}` : undefined}
              />
              {suggested ? <Suggestions id={`known-${key}`} path={suggested.path} valueKey={suggested.key} /> : null}
            </label>
          );
        })}
        <label>
          Created after
          <input name="createdAfter" type="datetime-local" {...field('createdAfter')} />
        </label>
        <label>
          Created before
          <input name="createdBefore" type="datetime-local" {...field('createdBefore')} />
        </label>
        <label>
          Per page
          <input name="limit" type="number" min="1" max="1000" {...field('limit')} />
        </label>
        <div class="filter-actions">
          <button type="submit" class="primary">
            Apply
          </button>
          <button
            type="button"
            onClick={() => {
              setDraft(EMPTY);
              setFilters(EMPTY);
              setCursors([]);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      {page.error ? <Problem error={page.error} what="Workflows" /> : null}
      <table class="grid" data-testid="workflow-table">
        <thead>
          <tr>
            <th>Workflow</th>
            <th>Status</th>
            <th>Name</th>
            <th>Queue</th>
            <th>Version</th>
            <th>Executor</th>
            <th>User</th>
            <th>Created</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {(page.data?.workflows ?? []).map((wf) => (
            <tr data-uuid={wf.workflowUUID}>
              <td class="mono">
                <a href={workflowHref(wf.workflowUUID)}>{wf.workflowUUID}</a>
                {wf.parentUUID ? <span class="muted"> (child)</span> : null}
              </td>
              <td>
                <StatusBadge status={wf.status} />
              </td>
              <td class="mono">{wf.workflowName}</td>
              <td class="mono" data-column="queue">{wf.queueName ?? <span class="muted">-</span>}</td>
              <td class="mono" data-column="version" title={wf.version ?? undefined}>
                {wf.version ? wf.version.slice(0, 12) : <span class="muted">-</span>}
              </td>
              <td class="mono">{wf.executorId}</td>
              <td>{wf.authenticatedUser || <span class="muted">anonymous</span>}</td>
              <td>{shortTime(wf.createdAt)}</td>
              <td>{shortTime(wf.updatedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.data && page.data.workflows.length === 0 ? <p class="muted">No workflow matches these filters.</p> : null}
      <nav class="pager">
        <button type="button" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
          ← Newer
        </button>
        <span class="muted">page {cursors.length + 1}</span>
        <button type="button" disabled={!page.data?.nextCursor} onClick={() => page.data?.nextCursor && setCursors([...cursors, page.data.nextCursor])}>
          Older →
        </button>
        <button type="button" onClick={page.reload}>
          Refresh
        </button>
      </nav>
    </section>
  );
}
