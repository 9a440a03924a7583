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
import type { Knex } from 'knex';

export interface Task {
  id: number;
  title: string;
}

/**
 * A task list on knex. `database.client: knex` in operon-config.yaml makes each transaction's
 * `ctx.client` a knex bound to the connection Operon opened the transaction on: the rows knex
 * writes commit together with Operon's record of the transaction, so a workflow never adds the
 * same tasks twice, and a failed transaction leaves none of its rows behind.
 */
export class Tasks {
  /** Adds the tasks one by one: all of them, or (if one fails, a duplicate title say) none. */
  @Transaction()
  static async addTasks(ctx: TransactionContext<Knex>, titles: string[]): Promise<Task[]> {
    const added: Task[] = [];
    for (const title of titles) {
      const [task] = await ctx.client<Task>('tasks').insert({ title }).returning(['id', 'title']);
      added.push(task);
    }
    return added;
  }

  @Transaction({ readOnly: true })
  static async listTasks(ctx: TransactionContext<Knex>): Promise<Task[]> {
    return ctx.client<Task>('tasks').select('id', 'title').orderBy('id');
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
