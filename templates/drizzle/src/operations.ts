import {
  Communicator,
  GetApi,
  PostApi,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type HandlerContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import { pgTable, serial, text } from 'drizzle-orm/pg-core';

/** The app database's table, as Drizzle describes it (migrations/ creates it). */
export const tasks = pgTable('tasks', {
  id: serial('id').primaryKey(),
  title: text('title').notNull().unique(),
});

export interface Task {
  id: number;
  title: string;
}

/**
 * A task list on Drizzle. `database.client: drizzle` in operon-config.yaml makes each transaction's
 * `ctx.client` a Drizzle database bound to the connection Operon opened the transaction on: the rows Drizzle
 * writes commit together with Operon's record of the transaction, so a workflow never adds the
 * same tasks twice, and a failed transaction leaves none of its rows behind.
 */
export class Tasks {
  /** Adds the tasks one by one: all of them, or (if one fails, a duplicate title say) none. */
  @Transaction()
  static async addTasks(ctx: TransactionContext<NodePgDatabase>, titles: string[]): Promise<Task[]> {
    const added: Task[] = [];
    for (const title of titles) {
      const [task] = await ctx.client.insert(tasks).values({ title }).returning({ id: tasks.id, title: tasks.title });
      added.push(task);
    }
    return added;
  }

  @Transaction({ readOnly: true })
  static async listTasks(ctx: TransactionContext<NodePgDatabase>): Promise<Task[]> {
    return ctx.client.select({ id: tasks.id, title: tasks.title }).from(tasks).orderBy(tasks.id);
  }

  /** Tells the outside world. Here it is only logged: a real app would send an email or call a webhook. */
  @Communicator()
  static async announce(ctx: CommunicatorContext, message: string): Promise<string> {
    ctx.logger.info({ message }, 'announcing');
    return message;
  }

  @Workflow()
  static async planTasks(ctx: WorkflowContext, titles: string[]): Promise<Task[]> {
    const added = await ctx.invoke(Tasks).addTasks(titles);
    await ctx.invoke(Tasks).announce(`added ${added.map((t) => t.title).join(', ')}`);
    return added;
  }

  @PostApi('/tasks')
  static async create(ctx: HandlerContext, titles: string[]): Promise<Task[]> {
    const handle = await ctx.invoke(Tasks).planTasks(titles);
    return handle.getResult();
  }

  @GetApi('/tasks')
  static async list(ctx: HandlerContext): Promise<Task[]> {
    return ctx.invoke(Tasks).listTasks();
  }
}
