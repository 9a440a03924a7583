import { describe, expect, it } from 'vitest';
import { OperonHttpRouteError } from '@operon/runtime';
import { handlerParameters } from '../../packages/runtime/src/http/parameter-names.js';

/** A function whose toString() is exactly `source`, as a compiler might have emitted it. */
function fromSource(source: string): (...args: never[]) => unknown {
  const fn = () => undefined;
  fn.toString = () => source;
  return fn;
}

const names = (source: string) => handlerParameters(fromSource(source), 'Api.h');

describe('handler parameter names', () => {
  it('reads a real static method, skipping the context, with defaults making parameters optional', () => {
    class Api {
      static async h(_ctx: unknown, name: string, excl = '', count: number = 3): Promise<string> {
        return `${name}${excl}${count}`;
      }
    }
    expect(handlerParameters(Api.h, 'Api.h')).toEqual([
      { name: 'name', optional: false },
      { name: 'excl', optional: true },
      { name: 'count', optional: true },
    ]);
  });

  it('ignores comments, and commas or parentheses inside default values', () => {
    expect(
      names(`async h(ctx /* the (context) */, a, // first, really
        b = "x, y)", c = \`t \${(1, 2)} )\`, d = f(1, [2, 3]), e = { k: (1) }) { return a; }`),
    ).toEqual([
      { name: 'a', optional: false },
      { name: 'b', optional: true },
      { name: 'c', optional: true },
      { name: 'd', optional: true },
      { name: 'e', optional: true },
    ]);
  });

  it('reads function, arrow and computed-name forms', () => {
    expect(names('async function h(ctx, a) { }')).toEqual([{ name: 'a', optional: false }]);
    expect(names('async (ctx, a, b = 1) => a')).toEqual([
      { name: 'a', optional: false },
      { name: 'b', optional: true },
    ]);
    expect(names('async ctx => 1')).toEqual([]);
    expect(names('async [key("(")](ctx, a) { }')).toEqual([{ name: 'a', optional: false }]);
    expect(names('h(ctx,) { }')).toEqual([]);
  });

  it("reads the inner generator of tsc's and esbuild's async lowering, where the defaults live", () => {
    const tsc = `h(ctx_1, name_1) {
        return __awaiter(this, arguments, void 0, function* (ctx, name, excl = '') { return name + excl; });
    }`;
    expect(names(tsc)).toEqual([
      { name: 'name', optional: false },
      { name: 'excl', optional: true },
    ]);
    const esbuild = `h(_0, _1) {
    return __async(this, arguments, function* (ctx, name, excl = "") { return name; });
  }`;
    expect(names(esbuild)).toEqual([
      { name: 'name', optional: false },
      { name: 'excl', optional: true },
    ]);
    // Without defaults esbuild keeps the outer list and passes null.
    expect(names('h(ctx, name) {\n return __async(this, null, function* () { return name; });\n}')).toEqual([
      { name: 'name', optional: false },
    ]);
  });

  it('refuses destructured and rest parameters, naming the handler and the parameter', () => {
    expect(() => names('async h(ctx, { a, b }) { }')).toThrow(OperonHttpRouteError);
    expect(() => names('async h(ctx, { a, b }) { }')).toThrow(/parameter 2 of handler Api\.h is destructured/);
    expect(() => names('async h(ctx, a, [b]) { }')).toThrow(/parameter 3 of handler Api\.h is destructured/);
    expect(() => names('async h(ctx, ...rest) { }')).toThrow(/parameter 2 of handler Api\.h is a rest parameter/);
    // The context itself may be destructured: it is never bound from the request.
    expect(names('async h({ logger }, a) { }')).toEqual([{ name: 'a', optional: false }]);
  });

  it('says so when the source cannot be read', () => {
    expect(() => names('not a function at all')).toThrow(/cannot read the parameter names of handler Api\.h/);
  });
});
