/**
 * The fence every write for a workflow carries: the statement locks the workflow's row while the
 * writer's executor instance still owns it (FOR SHARE, so the UPDATE by which another executor
 * adopts the workflow waits for this statement's commit, or this statement sees the new owner and
 * fails), and raises SQLSTATE OP001 when it does not. One index lookup and one row lock in the
 * statement that writes anyway: no extra round trip.
 */

/** SQLSTATE raised by a write for a workflow its writer no longer owns. */
export const FENCED_SQLSTATE = 'OP001';

/**
 * A CTE named `owned`: the workflow's row (its status), locked, if `owner` owns it. Parameters are
 * SQL placeholders. A cancel takes the row's lock too, so a statement reads the status the cancel
 * left, or the cancel waits for it.
 */
export function ownedCte(workflow: string, owner: string): string {
  return `owned AS (SELECT status FROM operon.workflow_status WHERE workflow_uuid = ${workflow}::text AND owner = ${owner}::text FOR SHARE)`;
}

/**
 * The workflow's status as `owned` read it, for the final select list: a statement that finds it
 * CANCELLED still writes (it is the operation in flight) and tells its site, so the run starts
 * no further operation even when it never heard the cancel's notification.
 */
export const OWNED_STATUS = '(SELECT status FROM owned) AS status';

/** Tells `site` when the row a fenced statement returned says the workflow was cancelled. */
export function noteStatus(site: { readonly onCancelled?: () => void }, row: { readonly status?: unknown } | undefined): void {
  if (row?.status === 'CANCELLED') site.onCancelled?.();
}

/** An expression, for the statement's final select list: true when `owned` found the row, else it raises OP001. */
export function ownedCheck(workflow: string): string {
  return `CASE WHEN EXISTS (SELECT 1 FROM owned) THEN true ELSE operon.fenced(${workflow}::text) END`;
}
