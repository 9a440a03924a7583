/**
 * An esbuild plugin that keeps handler argument binding from depending on the bundle: esbuild
 * renames a parameter that shadows a module-level name (`user` becomes `user2`), which would
 * change the HTTP argument it binds and the name `@LogMask('user')` refers to. Before bundling,
 * it reads each top-level class's decorated static methods in the TypeScript source and appends
 * a statement recording their parameters (name, optional, declared `Date`) on the class, where
 * the runtime looks first.
 */
import { readFile } from 'node:fs/promises';
import type { Plugin } from 'esbuild';
import type * as TypeScript from 'typescript';

// Loaded when a build starts: the other commands need not pay for the compiler.
let ts: (typeof TypeScript)['default'];

interface RecordedParameter {
  name: string;
  optional: boolean;
  date: boolean;
}

function hasDecorators(node: TypeScript.Node): boolean {
  return ts.canHaveDecorators(node) && (ts.getDecorators(node)?.length ?? 0) > 0;
}

function isStatic(node: TypeScript.MethodDeclaration): boolean {
  return node.modifiers?.some((m) => m.kind === ts.SyntaxKind.StaticKeyword) ?? false;
}

/** `{ method: [parameters after the context] }` for each decorated static method with a plain name. */
function methodsOf(cls: TypeScript.ClassDeclaration): Record<string, RecordedParameter[]> {
  const methods: Record<string, RecordedParameter[]> = {};
  for (const member of cls.members) {
    if (!ts.isMethodDeclaration(member) || !isStatic(member) || !hasDecorators(member)) continue;
    if (!ts.isIdentifier(member.name) && !ts.isStringLiteral(member.name)) continue;
    const parameters = member.parameters.slice(1);
    // A destructured or rest parameter has no name to record: the runtime then reports it.
    if (parameters.some((p) => !ts.isIdentifier(p.name) || p.dotDotDotToken)) continue;
    methods[member.name.text] = parameters.map((p) => ({
      name: (p.name as TypeScript.Identifier).text,
      optional: p.initializer !== undefined || p.questionToken !== undefined,
      date: p.type !== undefined && ts.isTypeReferenceNode(p.type) && p.type.typeName.getText() === 'Date',
    }));
  }
  return methods;
}

/** The statements to append to `source`, or '' when it has no decorated top-level class. */
export function parameterRecords(fileName: string, source: string): string {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  let out = '';
  for (const statement of file.statements) {
    if (!ts.isClassDeclaration(statement) || !statement.name) continue;
    const methods = methodsOf(statement);
    if (Object.keys(methods).length === 0) continue;
    out +=
      `\nObject.defineProperty(${statement.name.text}, Symbol.for('operon.parameters'), ` +
      `{ value: ${JSON.stringify(methods)}, enumerable: false, configurable: true });`;
  }
  return out;
}

export function parameterNamesPlugin(): Plugin {
  return {
    name: 'operon-parameter-names',
    async setup(build) {
      ts ??= (await import('typescript')).default;
      build.onLoad({ filter: /\.m?ts$/ }, async (args) => {
        if (args.path.includes('/node_modules/') || args.path.endsWith('.d.ts')) return undefined;
        const source = await readFile(args.path, 'utf8');
        // Appended, not inserted: line and column numbers (and the source map) stay those of the file.
        return { contents: source + parameterRecords(args.path, source), loader: 'ts' };
      });
    },
  };
}
