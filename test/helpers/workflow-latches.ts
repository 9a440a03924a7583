/**
 * Latches keyed by workflow UUID, for tests that hold an operation in flight: the operation
 * arrives at its workflow's latch and waits there until the test releases it.
 */
export interface Latch {
  /** Resolves once the operation has arrived. */
  readonly reached: Promise<void>;
  arrive(): void;
  /** Resolves once the test has released the operation. */
  readonly released: Promise<void>;
  release(): void;
}

export interface WorkflowLatches {
  /** The latch of `uuid`, made on first use. */
  of(uuid: string): Latch;
  /** Releases every latch made (for afterAll: no operation stays held). */
  releaseAll(): void;
}

export function workflowLatches(): WorkflowLatches {
  const latches = new Map<string, Latch>();
  return {
    of(uuid) {
      let latch = latches.get(uuid);
      if (!latch) {
        let arrive!: () => void;
        let release!: () => void;
        const reached = new Promise<void>((resolve) => (arrive = resolve));
        const released = new Promise<void>((resolve) => (release = resolve));
        latches.set(uuid, (latch = { reached, arrive, released, release }));
      }
      return latch;
    },
    releaseAll() {
      for (const latch of latches.values()) latch.release();
    },
  };
}
