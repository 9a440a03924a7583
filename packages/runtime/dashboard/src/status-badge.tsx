export function StatusBadge({ status, stuck }: { status: string; stuck?: boolean }) {
  return (
    <span class={`badge status-${status.toLowerCase()}`} data-status={status}>
      {status}
      {stuck ? ' · stuck' : ''}
    </span>
  );
}
