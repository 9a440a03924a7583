/** What the values workflow reports (app/src/values.ts), shared with the harness that checks it. */
export const RELEASE_TOPIC = 'release';

export interface ValueReport {
  readonly valueId: string;
  /** The JSON value, as the workflow got it. */
  readonly echo: unknown;
  /** What the first run saw (recorded), and what the run that finished saw. */
  readonly firstSeen: string;
  readonly seenNow: string;
  /** The description of the JSON value alone, as the run that finished saw it. */
  readonly valueSeen: string;
  /** The processes of the first run and of the run that finished: they differ after a recovery. */
  readonly firstPid: number;
  readonly finalPid: number;
}
