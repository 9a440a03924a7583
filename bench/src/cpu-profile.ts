/**
 * How much of a process's time a `node --cpu-prof` profile puts inside one module: the samples
 * whose stack holds a function of a file whose URL ends with `fileSuffix` (each sample once, however
 * deep the module sits in it), beside every sample that is not idle.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ModuleTime {
  /** Sampled time that was not idle (JavaScript, native calls, GC, the runtime's own work). */
  readonly busyMs: number;
  /** Of it, with the module's functions on the stack. */
  readonly inModuleMs: number;
}

export function timeInModule(profilePath: string, fileSuffix: string): ModuleTime {
  const profile = JSON.parse(readFileSync(profilePath, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const inside = new Map<number, boolean>();
  const isInside = (id: number): boolean => {
    const known = inside.get(id);
    if (known !== undefined) return known;
    const node = byId.get(id)!;
    const up = parent.get(id);
    const result = node.callFrame.url.endsWith(fileSuffix) || (up !== undefined && isInside(up));
    inside.set(id, result);
    return result;
  };
  let busyUs = 0;
  let inModuleUs = 0;
  profile.samples.forEach((id, i) => {
    if (byId.get(id)!.callFrame.functionName === '(idle)') return;
    const us = profile.timeDeltas[i] ?? 0;
    busyUs += us;
    if (isInside(id)) inModuleUs += us;
  });
  return { busyMs: busyUs / 1000, inModuleMs: inModuleUs / 1000 };
}
