/**
 * An esbuild plugin that keeps handler argument binding from depending on the bundle: esbuild
 * renames a parameter that shadows a module-level name (`user` becomes `user2`), which would
 * change the HTTP argument it binds and the name `@LogMask('user')` refers to. Before bundling,
 * it reads the decorated static methods of every class in the TypeScript source (declared at the
 * top level, as an expression, or inside a function) and adds to each class a static block that
 * records their parameters (name, optional, declared `Date`) on the class, where the runtime looks
 * first.
 */
import { readFile } from 'node:fs/promises';
import type { Plugin } from 'esbuild';
import type * as TypeScript from 'typescript';

// Loaded when a build starts: the other commands need not pay for the compiler.
let ts: (typeof TypeScript)['default'];

interface RecordedParameter {
  /** Absent for a destructured or rest parameter: it has no name to bind by (the runtime says so). */
  name?: string;
  optional: boolean;
  date: boolean;
}

function hasDecorators(node: TypeScript.Node): boolean {
  return ts.canHaveDecorators(node) && (ts.getDecorators(node)?.length ?? 0) > 0;
}

function isStatic(node: TypeScript.MethodDeclaration): boolean {
  return node.modifiers?.some((m) => m.kind === ts.SyntaxKind.StaticKeyword) ?? false;
}

function recorded(p: TypeScript.ParameterDeclaration): RecordedParameter {
  const named = ts.isIdentifier(p.name) && !p.dotDotDotToken;
  return {
    ...(named && { name: (p.name as TypeScript.Identifier).text }),
    optional: p.initializer !== undefined || p.questionToken !== undefined,
    date: p.type !== undefined && ts.isTypeReferenceNode(p.type) && p.type.typeName.getText() === 'Date',
  };
}

/** `{ method: [parameters after the context] }` for each decorated static method with a plain name. */
function methodsOf(cls: TypeScript.ClassLikeDeclaration): Record<string, RecordedParameter[]> {
  const methods: Record<string, RecordedParameter[]> = {};
  for (const member of cls.members) {
    if (!ts.isMethodDeclaration(member) || !isStatic(member) || !hasDecorators(member)) continue;
    if (!ts.isIdentifier(member.name) && !ts.isStringLiteral(member.name)) continue;
    // TypeScript's `this` parameter is a type annotation only: it is not in the compiled method.
    const parameters = member.parameters.filter((p) => !(ts.isIdentifier(p.name) && p.name.text === 'this')).slice(1);
    methods[member.name.text] = parameters.map(recorded);
  }
  return methods;
}

/** Every class in `file`, at any depth: declarations and expressions alike. */
function classesOf(file: TypeScript.SourceFile): TypeScript.ClassLikeDeclaration[] {
  const classes: TypeScript.ClassLikeDeclaration[] = [];
  const visit = (node: TypeScript.Node): void => {
    if ((ts.isClassDeclaration(node) || ts.isClassExpression(node)) && !node.modifiers?.some((m) => m.kind === ts.SyntaxKind.DeclareKeyword)) classes.push(node);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return classes;
}

/**
 * `source` with a static block before the closing brace of each class that has decorated static
 * methods. Inserted on the brace's own line: the line numbers (and the source map) stay the file's.
 * The block names the class as `this`, so it works for classes that have no name in scope.
 */
export function withParameterRecords(fileName: string, source: string): string {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const inserts: { at: number; text: string }[] = [];
  for (const cls of classesOf(file)) {
    const methods = methodsOf(cls);
    const close = cls.getEnd() - 1;
    if (Object.keys(methods).length === 0 || source[close] !== '}') continue;
    inserts.push({
      at: close,
      text:
        ` static { Object.defineProperty(this, Symbol.for('operon.parameters'), ` +
        `{ value: ${JSON.stringify(methods)}, enumerable: false, configurable: true }); } `,
    });
  }
  let out = source;
  // Last first: an insertion moves nothing before it.
  for (const { at, text } of inserts.sort((a, b) => b.at - a.at)) out = out.slice(0, at) + text + out.slice(at);
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
        return { contents: withParameterRecords(args.path, source), loader: 'ts' };
      });
    },
  };
}
