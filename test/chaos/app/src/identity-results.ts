/** What the identity workflows return (app/src/identity.ts), shared with the harness that checks it. */
export interface TaggedResult {
  readonly fn: 'child' | 'solo';
  readonly tag: string;
  readonly ranAs: string;
}

export interface ParentResult {
  readonly tag: string;
  readonly ranAs: string;
  readonly child: TaggedResult;
  /** The request's second workflow. */
  readonly second: TaggedResult;
}
