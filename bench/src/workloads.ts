/** What the two apps share, so that both frameworks do exactly the same work. */

/** The one user statement of W3's transaction, identical for both frameworks. */
export const INSERT_ROW = "INSERT INTO app_rows(k, v) VALUES ($1, 'v') RETURNING id";

export const APP_TABLE_DDL = 'CREATE TABLE IF NOT EXISTS app_rows(id bigserial primary key, k bigint, v text)';

/** The commit ceiling's table: the same shape, apart so the workloads' table stays theirs. */
export const CEILING_TABLE_DDL = 'CREATE TABLE IF NOT EXISTS ceiling_rows(id bigserial primary key, k bigint, v text)';
export const CEILING_INSERT = "INSERT INTO ceiling_rows(k, v) VALUES ($1, 'v')";

/** A step's small object output. */
export interface StepOutput {
  readonly step: string;
  readonly input: number;
}

/** W3 returns all three outputs (W3S: three step outputs). */
export type W3Output = [StepOutput, string | StepOutput, StepOutput];

export { RECV_TIMEOUT_SECONDS, RELEASE_TOPIC } from './protocol.js';
