import type { ApiError } from './api.js';

/** What a failed call means for the person looking at the page. */
export function Problem({ error, what }: { error: ApiError; what: string }) {
  if (error.status === 401) {
    return (
      <div class="problem" role="alert">
        <strong>Not signed in.</strong> Open the dashboard link that <code>operon start</code> printed on its startup line
        (<code>/operon/dashboard?token=…</code>), or the configured management token.
      </div>
    );
  }
  if (error.status === 403) {
    return (
      <div class="problem" role="alert">
        <strong>Not allowed.</strong> Your identity lacks the role this needs ({error.message}).
      </div>
    );
  }
  if (error.status === 404) {
    return (
      <div class="notice" role="status">
        {what} {error.message.startsWith('no route') ? 'are not served by this version of the app.' : `not found: ${error.message}`}
      </div>
    );
  }
  return (
    <div class="problem" role="alert">
      Could not load {what.toLowerCase()}: {error.message}
    </div>
  );
}
