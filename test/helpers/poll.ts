/** Waiting in tests for something another part does in its own time. */

/** Asks `check` every 25 ms until it holds; fails naming `what` after 400 tries (10 s and more on a loaded machine). */
export async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`never happened: ${what}`);
}
