import { listOf } from './api.js';
import { shortTime } from './format.js';
import { Problem } from './problem.js';
import { useApi } from './use-api.js';

function cell(value: unknown) {
  if (value === null || value === undefined) return <span class="muted">—</span>;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d/.test(value)) return shortTime(value);
  if (typeof value === 'object') return <span class="mono">{JSON.stringify(value)}</span>;
  return String(value);
}

/** Whatever list a route answers (executors, queues, versions, schedules), one column per field. */
export function ResourceTable({ title, path, explain }: { title: string; path: string; explain: string }) {
  const answer = useApi<unknown>(path);
  const rows = answer.data === undefined ? [] : listOf<Record<string, unknown>>(answer.data);
  const columns = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  return (
    <section>
      <h1>{title}</h1>
      <p class="muted">{explain}</p>
      {answer.error ? <Problem error={answer.error} what={title} /> : null}
      {answer.data !== undefined && rows.length === 0 ? <p class="muted">None.</p> : null}
      {rows.length > 0 ? (
        <table class="grid" data-testid={`${title.toLowerCase()}-table`}>
          <thead>
            <tr>
              {columns.map((column) => (
                <th>{column}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr class={row.alive === false ? 'dim' : ''}>
                {columns.map((column) => (
                  <td>{cell(row[column])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <button type="button" onClick={answer.reload}>
        Refresh
      </button>
    </section>
  );
}
