/** The dashboard: a hash-routed page over the management API of the process that serves it. */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ResourceTable } from './resource-table.js';
import { WorkflowDetailView } from './workflow-detail.js';
import { WorkflowList } from './workflow-list.js';

const SECTIONS = [
  { route: 'workflows', label: 'Workflows' },
  { route: 'queues', label: 'Queues', path: '/operon/queues', explain: 'Each queue’s limits and its workflows by status.' },
  { route: 'executors', label: 'Executors', path: '/operon/executors', explain: 'Every process registered on this system database: alive or not, and how many workflows it holds.' },
  { route: 'versions', label: 'Versions', path: '/operon/versions', explain: 'Each version of the app’s code, its open workflows and which executors have it loaded.' },
  { route: 'schedules', label: 'Schedules', path: '/operon/schedules', explain: 'Each scheduled workflow, its last and next tick.' },
] as const;

function useHash(): string {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const changed = () => setHash(window.location.hash);
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return hash;
}

function App() {
  const hash = useHash();
  const [, route = 'workflows', ...rest] = hash.replace(/^#/, '').split('/');
  const section = SECTIONS.find((s) => s.route === route) ?? SECTIONS[0];
  const uuid = route === 'workflows' && rest.length > 0 ? decodeURIComponent(rest.join('/')) : undefined;
  useEffect(() => {
    document.title = uuid ? `${uuid} · Operon` : `${section.label} · Operon`;
  }, [uuid, section]);
  return (
    <>
      <header class="top">
        <a class="brand" href="#/workflows">
          Operon
        </a>
        <nav>
          {SECTIONS.map((s) => (
            <a href={`#/${s.route}`} class={s === section ? 'current' : ''}>
              {s.label}
            </a>
          ))}
        </nav>
      </header>
      <main>
        {uuid !== undefined ? (
          <WorkflowDetailView uuid={uuid} key={uuid} />
        ) : 'path' in section ? (
          <ResourceTable title={section.label} path={section.path} explain={section.explain} key={section.route} />
        ) : (
          <WorkflowList />
        )}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
