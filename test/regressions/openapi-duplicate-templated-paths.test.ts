/**
 * `operon openapi` (and GET /operon/openapi.json) wrote two routes whose templated paths differ only
 * in their parameters' names (`GET /parts/:id`, `DELETE /parts/:partId`) as two paths,
 * `/parts/{id}` and `/parts/{partId}`, which OpenAPI forbids (they are the same path): the document
 * failed validation. And a route's declared response schemas (`schema.response`) were left out.
 *
 * Expected: one path per route shape, named by the first route's parameters, each operation's
 * path parameters renamed to match; a declared response schema is the response's content; and
 * the document is valid OpenAPI 3.1.
 */
import { describe, expect, it } from 'vitest';
import { Validator } from '@seriousme/openapi-schema-validator';
import { DeleteApi, GetApi, PutApi, type HandlerContext } from '@operon/sdk';
import { openApiDocument } from '@operon/runtime';

const PART = { type: 'object', required: ['id', 'name'], properties: { id: { type: 'string' }, name: { type: 'string' } } };

class Parts {
  @GetApi('/parts/:id', { schema: { response: { 200: PART } } })
  static async part(_ctx: HandlerContext, id: string): Promise<object> {
    return { id, name: 'bolt' };
  }

  @DeleteApi('/parts/:partId')
  static async remove(_ctx: HandlerContext, partId: string): Promise<void> {
    void partId;
  }

  @PutApi('/parts/:key/stock/:n', { schema: { params: { type: 'object', properties: { n: { type: 'integer' } } } } })
  static async stock(_ctx: HandlerContext, key: string, n: number): Promise<object> {
    return { key, n };
  }

  @GetApi('/parts/:partId/stock/:count')
  static async count(_ctx: HandlerContext, partId: string, count: string): Promise<string> {
    return `${partId}:${count}`;
  }
}

type Doc = { paths: Record<string, Record<string, any>> };
const document = openApiDocument([Parts], { title: 'parts', version: '1.0.0' }) as Doc;

describe('the OpenAPI document of routes whose paths differ only in parameter names', () => {
  it('is valid OpenAPI 3.1', async () => {
    const result = await new Validator().validate(document as never);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('has one path per route shape, each operation naming its path parameters as the path does', () => {
    expect(Object.keys(document.paths).sort()).toEqual(['/parts/{id}', '/parts/{key}/stock/{n}']);
    expect(Object.keys(document.paths['/parts/{id}']!).sort()).toEqual(['delete', 'get']);
    expect(document.paths['/parts/{id}']!['delete'].parameters).toEqual([{ name: 'id', in: 'path', required: true, schema: {} }]);
    expect(document.paths['/parts/{key}/stock/{n}']!['get'].parameters).toEqual([
      { name: 'key', in: 'path', required: true, schema: {} },
      { name: 'n', in: 'path', required: true, schema: {} },
    ]);
    expect(document.paths['/parts/{key}/stock/{n}']!['put'].parameters).toEqual([
      { name: 'key', in: 'path', required: true, schema: {} },
      { name: 'n', in: 'path', required: true, schema: { type: 'integer' } },
    ]);
  });

  it("gives a response the route's declared schema", () => {
    expect(document.paths['/parts/{id}']!['get'].responses['200']).toEqual({
      description: "The handler's result",
      content: { 'application/json': { schema: PART } },
    });
    expect(document.paths['/parts/{id}']!['delete'].responses['200'].content).toBeUndefined();
  });
});
