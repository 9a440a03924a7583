import {
  Communicator,
  GetApi,
  Transaction,
  Workflow,
  type CommunicatorContext,
  type HandlerContext,
  type TransactionContext,
  type WorkflowContext,
} from '@operon/sdk';

/**
 * A greeting service. `GET /greeting/:name` runs the `greet` workflow, which records the greeting
 * in Postgres (a transaction) and then delivers it (a communicator). If the process dies between
 * the two, the next `operon start` finishes the workflow without recording the greeting twice.
 */
export class Greetings {
  /** Records a greeting; returns how many times `name` has been greeted, this time included. */
  @Transaction()
  static async recordGreeting(ctx: TransactionContext, name: string): Promise<number> {
    await ctx.client.query('INSERT INTO greetings (name) VALUES ($1)', [name]);
    const { rows } = await ctx.client.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM greetings WHERE name = $1',
      [name],
    );
    return rows[0].count;
  }

  /** Delivers a greeting. Here it is only logged: a real app would send an email or call a webhook. */
  @Communicator()
  static async deliverGreeting(ctx: CommunicatorContext, message: string): Promise<string> {
    ctx.logger.info({ message }, 'delivering a greeting');
    return message;
  }

  @Workflow()
  static async greet(ctx: WorkflowContext, name: string): Promise<string> {
    const count = await ctx.invoke(Greetings).recordGreeting(name);
    const greeting = ctx.getConfig('greeting', 'Hello');
    const message = `${greeting}, ${name}! You have been greeted ${count} time${count === 1 ? '' : 's'}.`;
    return ctx.invoke(Greetings).deliverGreeting(message);
  }

  /** Greets `name` again a day later (a durable sleep: it survives restarts and deploys). */
  @Workflow()
  static async greetTomorrow(ctx: WorkflowContext, name: string): Promise<string> {
    await ctx.sleep(24 * 60 * 60);
    const count = await ctx.invoke(Greetings).recordGreeting(name);
    return ctx.invoke(Greetings).deliverGreeting(`Hello again, ${name}! You have been greeted ${count} time${count === 1 ? '' : 's'}.`);
  }

  @GetApi('/greeting/:name')
  static async greeting(ctx: HandlerContext, name: string): Promise<string> {
    const handle = await ctx.invoke(Greetings).greet(name);
    return handle.getResult();
  }
}
