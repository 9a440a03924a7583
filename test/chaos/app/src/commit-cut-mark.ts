/**
 * Text the ledger's debit and charge put in their outputs, so that their records carry it to the
 * database: the harness's commit-cut fault looks for it on the wire and loses the answer to the
 * COMMIT that makes such a record durable (see test/chaos/postgres-proxy.ts).
 */
export const COMMIT_CUT_MARK = 'chaos-cut-after-commit';
